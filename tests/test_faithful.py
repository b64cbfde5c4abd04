"""Details of the originals reproduced: PIL's decoding and antialiased resize, Adam's epsilon,
gradients through the spectral norm's power iteration, VAC+GAN's frozen generator, smoothed
attributes and FID protocol, and shards written by VAC+GAN's original converter."""
import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sggan.data import datasets, pipeline
from sggan.nn.layers import SpectralNormConv2D
from sggan.models.sggan import runs
from sggan.models.vacgan import evaluation, networks
from sggan.models.vacgan import runs as vacgan_runs
from sggan.models.vacgan.steps import VACGANTask
from sggan.models.sggan.data import TRANSFORM
from sggan.models.sggan import data as sggan_data
from sggan.models.vacgan import data as vacgan_data
from sggan.training.distribute import local_context
from tests.helpers import make_cfg


def pil_reference(jpeg_bytes, size):
    """The original's transform: PIL decode, crop rows 20..197, PIL bilinear resize (uint8)."""
    image = np.asarray(Image.open(io.BytesIO(jpeg_bytes)).convert("RGB"))[20:198, 0:178]
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR)).astype(np.float64)


@pytest.mark.parametrize("size", [32, 128])
def test_training_image_of_a_jpeg_matches_pil_within_one_grey_level(demo_dir, size):
    folder = os.path.join(demo_dir, "img_align_celeba")
    for name in ("000001.jpg", "000002.jpg", "000003.jpg"):
        raw = open(os.path.join(folder, name), "rb").read()
        reference = pil_reference(raw, size)
        trained = (pipeline.load_image(tf.constant(raw), size, TRANSFORM).numpy() + 1.0) * 127.5
        photo = (runs._photo_to_model(np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")), size).numpy() + 1) * 127.5
        for image in (trained, photo):
            assert np.abs(image - reference).max() <= 1.0 + 1e-3
            assert np.abs(image - reference).mean() < 0.05  # almost every value is identical


def test_png_still_decodes_and_matches_the_jpeg_path():
    pixels = np.random.default_rng(0).integers(0, 256, (218, 178, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    square = pipeline.decode_square(tf.constant(buffer.getvalue()), TRANSFORM.crop).numpy()
    assert np.array_equal(square, pixels[20:198])


def test_sggan_adam_epsilon_is_the_originals_and_vacgan_keeps_keras_default(tiny_cfg):
    cfg = tiny_cfg()
    task = runs._model(cfg, datasets.prepare(cfg, sggan_data.labelling), local_context())
    assert task.g_optimizer.epsilon == task.d_optimizer.epsilon == 1e-8
    vac = VACGANTask(dict(make_cfg("--model", "vacgan"), image_size=16, z_dim=8), 40, local_context().strategy)
    assert vac.g_optimizer.epsilon == vac.d_optimizer.epsilon == vac.c_optimizer.epsilon == 1e-7


def test_gradient_flows_through_the_power_iteration():
    """The layer's gradient equals a finite-difference one taken with the same starting u: with the
    power iteration's u and v held constant it would differ by tens of percent here."""
    layer = SpectralNormConv2D(3, 2, dtype="float64")
    layer.build((None, 4, 4, 2))
    start = layer.u.numpy().copy()
    weights = tf.constant(np.random.default_rng(1).normal(size=layer.kernel.shape))

    def value():
        layer.u.assign(start)
        return tf.reduce_sum(weights * layer.normalized_kernel(training=True))

    with tf.GradientTape() as tape:
        result = value()
    analytic = tape.gradient(result, layer.kernel).numpy()
    kernel, numeric = layer.kernel.numpy(), np.zeros_like(analytic)
    for index in np.ndindex(kernel.shape):
        for sign in (1, -1):
            moved = kernel.copy()
            moved[index] += sign * 1e-6
            layer.kernel.assign(moved)
            numeric[index] += sign * value().numpy() / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


def tiny_vacgan(demo_dir):
    cfg = make_cfg("--model", "vacgan", "--data_dir", demo_dir, "--split", "partition", "--image_size", "16",
                   "--batch_size", "8", "--z_dim", "8")
    ds = datasets.prepare(cfg, vacgan_data.labelling)
    stream = next(iter(vacgan_runs.make_dataset(cfg, ds)(0)))  # [batch, n_critic, ...]
    task = VACGANTask(cfg, len(ds.table.names), local_context().strategy)
    batch = {"image": stream["image"][:, 0], "classes": stream["classes"][:, 0], "noise": tf.random.normal((8, 8)),
             "dropout": [[tf.random.uniform(s) for s in task.generator.dropout_shapes(8)] for _ in range(3)]}
    return cfg, ds, task, batch


def critic_round(task, batch):
    task.critic_step(batch["image"], batch["classes"], batch["noise"], batch["dropout"][0])


def generator_updates(task, batch):
    task.generator_step(batch["classes"], batch["noise"], batch["dropout"][1:])


def moving_statistics(model):
    return [w.numpy().copy() for w in model.non_trainable_weights if "moving" in w.path]


def test_vacgan_critic_step_leaves_the_generators_moving_statistics_unchanged(demo_dir):
    _, _, task, batch = tiny_vacgan(demo_dir)
    before = moving_statistics(task.generator)
    assert len(before) == 6  # mean and variance of three batch norms
    critic_round(task, batch)
    assert all(np.array_equal(a, b) for a, b in zip(before, moving_statistics(task.generator)))
    classifier_before = moving_statistics(task.classifier)
    critic_u = [w.numpy().copy() for w in task.critic.non_trainable_weights]
    generator_updates(task, batch)  # the generator's own steps do update them
    assert not any(np.array_equal(a, b) for a, b in zip(before, moving_statistics(task.generator)))
    # the frozen classifier keeps its statistics; the frozen critic's power iteration still steps
    assert all(np.array_equal(a, b) for a, b in zip(classifier_before, moving_statistics(task.classifier)))
    assert not any(np.array_equal(a, w.numpy()) for a, w in zip(critic_u, task.critic.non_trainable_weights))


def test_generator_gets_smoothed_attributes_in_training_and_0_1_when_sampling(demo_dir, monkeypatch):
    _, ds, task, batch = tiny_vacgan(demo_dir)
    seen = []
    original_call = networks.Generator.call

    def recording_call(self, z, attributes, *args, **kwargs):
        seen.append(np.asarray(attributes))
        return original_call(self, z, attributes, *args, **kwargs)

    monkeypatch.setattr(networks.Generator, "call", recording_call)
    tf.config.run_functions_eagerly(True)
    try:
        critic_round(task, batch)
        generator_updates(task, batch)
        smoothed = batch["classes"].numpy() * 0.9
        assert len(seen) == 3 and all(np.allclose(s, smoothed) for s in seen)
        assert smoothed.max() == pytest.approx(0.9)
        seen.clear()
        evaluation.agreement(task, ds.test.classes[:4])
        evaluation.sample_grid(task, ds.test.classes[:2], ["a", "b"], draws=2)
        assert seen and all(set(np.unique(s)) <= {0.0, 1.0} for s in seen)
        assert np.array_equal(seen[0], ds.test.classes[:4])
    finally:
        tf.config.run_functions_eagerly(False)


def test_default_vacgan_fid_protocol_is_the_originals(demo_dir):
    defaults = make_cfg("--model", "vacgan")
    assert (defaults["fid_real"], defaults["fid_images"], defaults["split"]) == ("random", 10000, "all")
    cfg = make_cfg("--model", "vacgan", "--data_dir", demo_dir, "--split", "partition", "--fid_images", "40")
    ds = datasets.prepare(cfg, vacgan_data.labelling, check_images=False)
    listing, _ = vacgan_runs.fid_listing(cfg, ds)
    assert len(listing.files) == len(set(listing.files)) == 40
    assert not set(listing.rows) <= set(ds.test.rows)  # drawn from the whole set, not the test split
    assert np.array_equal(listing.classes, (ds.table.values[listing.rows] == 1).astype(np.int32))
    again, _ = vacgan_runs.fid_listing(cfg, ds)
    assert again.files == listing.files  # seeded
    first, _ = vacgan_runs.fid_listing(dict(cfg, fid_real="test"), ds)
    assert first.files == ds.test.files[:16]
    everything = make_cfg("--model", "vacgan", "--data_dir", demo_dir)
    whole = datasets.prepare(everything, vacgan_data.labelling, check_images=False)
    assert len(whole.train.files) == len(whole.test.files) == len(whole.table.files) == 160


def write_original_shards(table, image_dir, out_dir, count):
    """Shards as VAC+GAN's celeba_tfrec.py writes them: tfrecord_N.tfrec with {image, labels}, no
    file name, N // count records per file (the last takes the rest), and attribute_list.tfrec."""
    per_file = len(table.files) // count
    for shard in range(count):
        stop = len(table.files) if shard == count - 1 else (shard + 1) * per_file
        with tf.io.TFRecordWriter(os.path.join(out_dir, f"tfrecord_{shard}.tfrec")) as writer:
            for row in range(shard * per_file, stop):
                image = open(os.path.join(image_dir, table.files[row]), "rb").read()
                labels = [int(v == 1) for v in table.values[row]]
                writer.write(tf.train.Example(features=tf.train.Features(feature={
                    "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
                    "labels": tf.train.Feature(int64_list=tf.train.Int64List(value=labels))})).SerializeToString())
    names = str(list(table.names)).strip("[]").encode()
    with tf.io.TFRecordWriter(os.path.join(out_dir, "attribute_list.tfrec")) as writer:
        writer.write(tf.train.Example(features=tf.train.Features(feature={
            "names": tf.train.Feature(bytes_list=tf.train.BytesList(value=[names]))})).SerializeToString())


def test_shards_of_the_original_converter_are_detected_and_read_as_the_folder(demo_dir, tmp_path):
    folder_cfg = make_cfg("--data_dir", demo_dir, "--split", "partition", "--image_size", "16", "--d_layers", "2")
    folder = datasets.prepare(folder_cfg, sggan_data.labelling)
    shards = tmp_path / "tfrecs"
    shards.mkdir()
    write_original_shards(folder.table, folder.image_dir, str(shards), count=12)  # tfrecord_10 sorts before _2
    os.link(os.path.join(demo_dir, "list_eval_partition.txt"), shards / "list_eval_partition.txt")
    record = datasets.prepare(dict(folder_cfg, data_dir=str(shards)), sggan_data.labelling)  # auto-detected
    assert record.image_dir is None
    assert record.table.names == folder.table.names and record.table.names[0] == "5_o_Clock_Shadow"
    assert record.table.files == folder.table.files  # synthetic names 000001.jpg … by position
    assert np.array_equal(record.table.values, folder.table.values)
    assert record.train.files == folder.train.files and record.test.files == folder.test.files
    for name in folder.table.files:
        assert record.source.read(tf.constant(name)).numpy() == folder.source.read(tf.constant(name)).numpy()
    a = next(iter(pipeline.training_dataset(folder.source, folder.train, 16, 8, 3, TRANSFORM)))
    b = next(iter(pipeline.training_dataset(record.source, record.train, 16, 8, 3, TRANSFORM)))
    assert np.array_equal(a["image"].numpy(), b["image"].numpy())
    assert np.array_equal(a["classes"].numpy(), b["classes"].numpy())
