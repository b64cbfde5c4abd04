"""--mode export: a SavedModel read back in a fresh process with TensorFlow alone edits as the
training code does; the Editor API on top of it."""
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from sggan import Editor
from sggan.errors import UserError
from sggan.models.sggan import editor, photos, restore, runs
from sggan.training.distribute import local_context
from tests.helpers import ROOT, TINY, make_cfg

SERVE = """
import sys, numpy as np, tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
images = np.load(sys.argv[2])
as_uint8 = model.signatures["serving_default"](images=tf.constant(images))
as_float = model.signatures["edit_float"](images=tf.constant(images.astype(np.float32) / 127.5 - 1))
np.savez(sys.argv[3], **{"u_" + k: v.numpy() for k, v in as_uint8.items()},
         **{"f_" + k: v.numpy() for k, v in as_float.items()})
assert not any(name.startswith("sggan") for name in sys.modules), "only TensorFlow may be loaded"
"""


@pytest.fixture(scope="module")
def exported(demo_dir, tmp_path_factory):
    exp = tmp_path_factory.mktemp("export") / "exp"

    def cfg(*extra):
        return make_cfg("--data_dir", demo_dir, "--exp_dir", exp, *TINY,
                        "--attributes", "Male", "Black_Hair/Blond_Hair/Brown_Hair", *extra)
    keras.utils.set_random_seed(0)
    runs.train(cfg("--max_iters", "2"), local_context())
    runs.export(cfg("--mode", "export"), local_context())
    return cfg


def test_output_keys_are_names():
    assert editor.output_keys(["not Male", "age 20-39", "age 60-", "Male", "male"]) == [
        "not_male", "age_20_39", "age_60", "male", "male_4"]


def test_saved_model_in_a_fresh_process_edits_as_the_training_code(exported, tmp_path):
    cfg = exported("--mode", "test")
    images = (np.random.default_rng(0).random((3, 16, 16, 3)) * 255).astype(np.uint8)
    np.save(tmp_path / "in.npy", images)
    path = os.path.join(cfg["exp_dir"], "export", "editor")
    result = subprocess.run([sys.executable, "-c", SERVE, path, str(tmp_path / "in.npy"), str(tmp_path / "out.npz")],
                            capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    served = np.load(tmp_path / "out.npz")
    model = restore.restore_generator(cfg["exp_dir"])
    expected = model.generator(images.astype(np.float32) / 127.5 - 1)
    titles = [o.title for o in model.outputs]
    keys = editor.output_keys(titles)
    assert sorted(k[2:] for k in served if k.startswith("f_")) == sorted(keys) and len(keys) == 5
    for key, edit in zip(keys, expected):
        np.testing.assert_allclose(served["f_" + key], edit.numpy(), atol=1e-5)
        as_uint8 = np.clip((edit.numpy() + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
        assert np.abs(served["u_" + key].astype(int) - as_uint8).max() <= 1
    loaded = Editor.load(cfg["exp_dir"])
    edits = loaded.edit(images[0])
    assert list(edits) == titles and edits["Male"].dtype == np.uint8 and edits["Male"].shape == (16, 16, 3)
    np.testing.assert_array_equal(edits["Blond Hair"], served["u_blond_hair"][0])
    floats = loaded.edit(images.astype(np.float32) / 127.5 - 1)
    np.testing.assert_allclose(floats["Brown Hair"], served["f_brown_hair"], atol=1e-6)


def test_an_experiment_folder_alone_tests_photos_exports_and_loads(exported, tmp_path, monkeypatch):
    """A trained experiment copied to another machine without the training data: --input photos
    (aligned and not), --mode export and Editor.load work from config.json and a checkpoint."""
    source = exported("--mode", "test")["exp_dir"]
    exp = tmp_path / "elsewhere"
    shutil.copytree(source, exp, ignore=shutil.ignore_patterns("export", "test"))
    photo = tmp_path / "face.png"
    Image.fromarray((np.random.default_rng(1).random((40, 30, 3)) * 255).astype(np.uint8)).save(photo)
    gone = ["--data_dir", tmp_path / "no_such_data", "--exp_dir", exp]
    assert runs.test(make_cfg(*gone, "--mode", "test", "--input", photo, "--align", "false"), local_context()) == 0
    report = json.load(open(exp / "test" / "photos" / "metrics.json"))
    assert report["images"] == 1 and report["source"] == "photos"

    class OneFace:  # MTCNN's stand-in: the photo's face at the experiment's template
        def landmarks(self, pixels):
            return [photos.faces.target_landmarks(photos.experiment_template(restore.read_config(str(exp))), 30)]
    monkeypatch.setattr(photos.faces, "Detector", OneFace)
    monkeypatch.setattr(runs.faces, "Detector", OneFace)
    assert runs.test(make_cfg(*gone, "--mode", "test", "--input", photo), local_context()) == 0
    assert sorted(os.listdir(exp / "test" / "photos")) == sorted(
        ["face_faces.png", "metrics.json", "grid_0000.png"] + [f"face_{k}.png" for k in editor.output_keys(
            [o.title for o in restore.restore_generator(str(exp)).outputs])])
    assert runs.export(make_cfg(*gone, "--mode", "export"), local_context()) == 0
    assert list(Editor.load(str(exp)).edit(np.zeros((16, 16, 3), np.uint8))) == [
        o.title for o in restore.restore_generator(str(exp)).outputs]
    with pytest.raises(UserError, match="no_such_data"):  # the test split does need the data
        runs.test(make_cfg(*gone, "--mode", "test"), local_context())


def test_load_without_an_export_says_what_to_run(tmp_path):
    with pytest.raises(UserError, match=f"python3 main.py --mode export --exp_dir {tmp_path}"):
        Editor.load(str(tmp_path))


def test_edit_crops_non_square_faces_as_training_did(exported):
    loaded = Editor.load(exported()["exp_dir"])
    celeba = (np.random.default_rng(1).random((218, 178, 3)) * 255).astype(np.uint8)
    crop = celeba[20:198, :]  # the model's crop (sggan.models.sggan.data.TRANSFORM)
    for title, edit in loaded.edit(celeba).items():
        np.testing.assert_array_equal(edit, loaded.edit(crop)[title], err_msg=title)
    wide = np.zeros((16, 40, 3), np.uint8)
    wide[:, 12:28] = celeba[:16, :16]
    for title, edit in loaded.edit(wide).items():
        np.testing.assert_array_equal(edit, loaded.edit(celeba[:16, :16])[title], err_msg=title)


QUIET_LOAD = """
import sys, numpy as np
import sggan
from sggan import Editor
Editor.load(sys.argv[1]).edit(np.zeros((16, 16, 3), np.uint8))
"""


def test_importing_sggan_and_loading_an_editor_is_quiet(exported):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}  # not the test session's settings
    result = subprocess.run([sys.executable, "-c", QUIET_LOAD, exported()["exp_dir"]], capture_output=True,
                            text=True, timeout=300, cwd=ROOT, env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
