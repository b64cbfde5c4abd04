"""VAC+GAN: networks against the reference layer list, losses against NumPy, a tiny run with
resume, sampling by attribute names, FID, and TFRecord input matching the folder."""
import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from sggan.training import checkpoints, precision
from sggan.data import datasets, pipeline, tfrecord
from sggan.metrics import fid
from sggan.models import vacgan
from sggan.models.sggan.networks import trainable_count
from sggan.models.vacgan import evaluation, losses, networks
from sggan.errors import UserError
from sggan.models.sggan.data import TRANSFORM
from sggan.models.sggan import data as sggan_data
from sggan.training.distribute import local_context
from tests.helpers import make_cfg, rewind, run

TINY_VAC = ["--model", "vacgan", "--image_size", "16", "--batch_size", "8", "--split", "partition",
            "--log_every", "2", "--sample_every", "2", "--eval_every", "2", "--save_every", "2", "--z_dim", "8"]


def dense(n_in, n_out):
    return n_in * n_out + n_out


def conv(k, n_in, n_out):
    return k * k * n_in * n_out + n_out


def test_parameter_counts_follow_the_reference_layer_list():
    generator, critic, classifier = networks.build({"image_size": 64, "z_dim": 100}, 40)
    expected_generator = (dense(140, 2048) + dense(2048, 8 * 8 * 256) + 2 * 8 * 8 * 256
                          + conv(5, 256, 128) + 2 * 128 + conv(5, 128, 64) + 2 * 64 + conv(5, 64, 3))
    expected_critic = conv(5, 3, 32) + conv(5, 32, 64) + conv(5, 64, 128) + conv(5, 128, 256) + dense(256, 1)
    expected_classifier = (conv(2, 3, 64) + conv(2, 64, 128) + conv(2, 128, 256) + conv(2, 256, 512)
                           + 2 * (64 + 128 + 256 + 512) + dense(512, 40))
    assert trainable_count(generator) == expected_generator == 34_921_731
    assert trainable_count(critic) == expected_critic
    assert trainable_count(classifier) == expected_classifier
    faces = generator(tf.random.normal((3, 100)), tf.ones((3, 40)))
    assert faces.shape == (3, 64, 64, 3) and np.abs(faces.numpy()).max() <= 1
    assert critic(faces).shape == (3,) and classifier(faces).shape == (3, 40)


def test_hinge_and_classifier_losses_against_numpy():
    real, fake = np.array([0.5, 2.0, -1.0], np.float32), np.array([-2.0, 0.3, 1.5], np.float32)
    expected = (np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean()) / 2
    np.testing.assert_allclose(losses.hinge_critic_loss(real, fake).numpy().mean(), expected, rtol=1e-6)
    logits = np.array([[2.0, -1.0, 0.0], [-0.5, 0.5, 3.0]], np.float32)
    labels = np.array([[1, 0, 1], [0, 0, 1]], np.float32)
    target = labels * 0.9
    p = 1 / (1 + np.exp(-logits))
    expected = -(target * np.log(p) + (1 - target) * np.log(1 - p)).mean()
    np.testing.assert_allclose(losses.smoothed_bce(logits, labels).numpy().mean(), expected, rtol=1e-5)


@pytest.fixture(scope="module")
def vac_run(demo_dir, tmp_path_factory):
    """A tiny VAC+GAN trained straight to iteration 4 with bit-exact ops; returns its argv."""
    argv = ["--data_dir", demo_dir, "--exp_dir", tmp_path_factory.mktemp("vac") / "exp", *TINY_VAC,
            "--deterministic", "--max_iters", "4"]
    run(*argv)
    return argv


def test_tiny_run_writes_checkpoints_grids_and_loss_log(vac_run):
    exp = make_cfg(*vac_run)["exp_dir"]
    assert [s for s, _ in checkpoints.saved(os.path.join(exp, "checkpoints"))] == [2, 4]
    assert sorted(os.listdir(os.path.join(exp, "samples"))) == ["iter_000001.png", "iter_000002.png", "iter_000004.png"]
    rows = [json.loads(line) for line in open(os.path.join(exp, "losses.jsonl"))]
    assert [r["step"] for r in rows if "g_classification" in r] == [0, 1, 2, 3]
    assert [r["step"] for r in rows if "agreement/generated" in r] == [0, 1, 3]  # after iterations 1, 2 and 4


def test_resume_is_exact(vac_run, tmp_path, capsys):
    """Resumed from its checkpoint 2 and run to 4 again, VAC+GAN ends with the same bits as it did
    straight to 4."""
    resumed_dir = rewind(shutil.copytree(make_cfg(*vac_run)["exp_dir"], tmp_path / "resumed"), 2)
    run(*vac_run, "--exp_dir", resumed_dir)
    assert f"resuming from {resumed_dir}/checkpoints/ckpt-2 (iteration 2)" in capsys.readouterr().out
    straight = tf.train.load_checkpoint(os.path.join(make_cfg(*vac_run)["exp_dir"], "checkpoints", "ckpt-4"))
    again = tf.train.load_checkpoint(str(tmp_path / "resumed" / "checkpoints" / "ckpt-4"))
    names = [n for n in straight.get_variable_to_shape_map() if not n.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")]
    assert names and sorted(names) == sorted(n for n in again.get_variable_to_shape_map()
                                             if not n.startswith("_CHECKPOINTABLE_OBJECT_GRAPH"))
    for name in names:
        np.testing.assert_array_equal(straight.get_tensor(name), again.get_tensor(name), err_msg=name)


def test_sampling_by_attribute_names_and_fid(vac_run, capsys, monkeypatch):
    cfg = make_cfg(*vac_run)
    vacgan.run(dict(cfg, mode="sample", set=["Male=1", "Blond_Hair=1", "/", "row=0", "Smiling=0"]), local_context())
    out = capsys.readouterr().out
    assert "restored" in out and "ckpt-4" in out
    assert "2 row(s) x 8 noise draws" in out and "Blond_Hair" in out
    grid = keras.utils.load_img(os.path.join(cfg["exp_dir"], "samples", "requested.png"))
    assert grid.size[1] > 2 * 16  # header plus two rows of 16-pixel faces
    with pytest.raises(UserError, match="unknown attribute 'Blnd_Hair'; valid names: 5_o_Clock_Shadow"):
        vacgan.run(dict(cfg, mode="sample", set=["Blnd_Hair=1"]), local_context())
    monkeypatch.setattr(fid, "inception_extractor", lambda: random_extractor())  # offline stand-in
    vacgan.run(dict(cfg, mode="fid", fid_images=16), local_context())
    assert "FID (16 real random images of the whole set vs 16 generated" in capsys.readouterr().out


def test_settings_parser():
    names = ["Male", "Smiling", "Young"]
    test_classes = np.array([[1, 0, 1]])
    vectors, shown = evaluation.parse_settings(["Male=1", "/", "row=0", "Smiling=1"], names, test_classes)
    assert [v.tolist() for v in vectors] == [[1, 0, 0], [1, 1, 1]] and shown == ["Male", "Smiling"]
    with pytest.raises(UserError, match="must be 0 or 1"):
        evaluation.parse_settings(["Male=2"], names, test_classes)


def random_extractor(seed=0):
    """A small random-weight convolutional feature extractor (stands in for InceptionV3)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(6)])
    return lambda images: model(images)


def test_fid_identical_sets_near_zero_and_shifted_sets_far():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (256, 16, 16, 3)).astype(np.float32)
    other = rng.uniform(-1, 1, (256, 16, 16, 3)).astype(np.float32)
    extractor = random_extractor()
    same = fid.distance(extractor, [(real[:128], real[:128]), (real[128:], real[128:])])
    resampled = fid.distance(extractor, [(real, other)])
    shifted = fid.distance(extractor, [(real, np.clip(other + 0.5, -1, 1))])
    assert abs(same) < 1e-6
    assert shifted > 20 * max(resampled, 1e-3)


def test_frechet_distance_closed_form():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 1.0])
    # Diagonal: ‖μ₁−μ₂‖² + Σ (σ₁ − σ₂)² over standard deviations = 5 + (1−2)² + (2−1)² = 7.
    assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(7.0)


def test_missing_inception_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(UserError, match="not available offline .* copy the file into that folder"):
        fid.inception_extractor()


def test_inception_is_built_in_float32_under_mixed_precision(tmp_path, monkeypatch):
    """FID's features are the standard protocol's whatever --precision the run uses."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / fid.INCEPTION_WEIGHTS).write_bytes(b"")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    policies = []
    monkeypatch.setattr(keras.applications, "InceptionV3",
                        lambda **kwargs: policies.append(keras.mixed_precision.global_policy().name))
    with precision.policy("mixed_bfloat16"):
        fid.inception_extractor()
    assert policies == ["float32"]


def test_tfrecord_round_trip_matches_the_folder(demo_dir, tmp_path):
    shards = tmp_path / "shards"
    folder_cfg = make_cfg("--data_dir", demo_dir, "--split", "partition", "--image_size", "16", "--d_layers", "2")
    folder = datasets.prepare(folder_cfg, sggan_data.labelling)
    tfrecord.write_shards(folder.table, folder.image_dir, str(shards), shard_size=50)
    assert len(list(shards.glob("celeba-*-of-00004.tfrecord"))) == 4
    os.link(os.path.join(demo_dir, "list_eval_partition.txt"), shards / "list_eval_partition.txt")
    record = datasets.prepare(dict(folder_cfg, data_dir=str(shards)), sggan_data.labelling)  # auto-detected
    assert record.image_dir is None
    assert record.table.files == folder.table.files and record.table.names == folder.table.names
    assert np.array_equal(record.table.values, folder.table.values)
    assert record.train.files == folder.train.files and np.array_equal(record.train.masks, folder.train.masks)
    for name in folder.train.files[:5]:
        assert record.source.read(tf.constant(name)).numpy() == folder.source.read(tf.constant(name)).numpy()
    a = next(iter(pipeline.training_dataset(folder.source, folder.train, 16, 8, 3, TRANSFORM)))
    b = next(iter(pipeline.training_dataset(record.source, record.train, 16, 8, 3, TRANSFORM)))
    assert np.array_equal(a["image"].numpy(), b["image"].numpy())
    assert np.array_equal(a["classes"].numpy(), b["classes"].numpy())
