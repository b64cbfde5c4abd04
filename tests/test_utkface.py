"""UTKFace: labels from file names, bad names reported, the preset, a tiny run and test mode."""
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image, ImageDraw

from sggan.data import datasets, faces, utkface
from sggan.errors import UserError
from sggan.models.sggan import photos, restore, runs
from sggan.models.sggan import data as sggan_data
from sggan.training.distribute import local_context
from tests.helpers import TINY, classifier_report_by_hand, make_cfg

BAD = ["39_1_20170116174525125.jpg.chip.jpg", "7_3_9_20170109.png", "25_1_7_20170104.jpg", "notes.txt"]


def face(age, gender, race):
    """A 200x200 stand-in face whose shading follows its labels."""
    image = Image.new("RGB", (200, 200), (40 + 30 * race, 90, 140))
    ImageDraw.Draw(image).ellipse((50, 30, 150, 170), fill=(min(255, 120 + age), 150 - 60 * gender, 120))
    return image


@pytest.fixture(scope="module")
def utk_dir(tmp_path_factory):
    """40 UTKFace-named faces (ages 1..97, both genders, all races) and four badly named files."""
    folder = tmp_path_factory.mktemp("utk") / "UTKFace"
    folder.mkdir()
    for i in range(40):
        age, gender, race = 1 + (i * 37) % 97, i % 2, i % 5
        suffix = ".jpg.chip.jpg" if i % 3 else ".jpg"
        face(age, gender, race).save(folder / f"{age}_{gender}_{race}_2017011{i:04d}{suffix}", "JPEG")
    for name in BAD:
        (folder / name).write_bytes(b"x")
    return str(folder.parent)


def test_names_parse():
    assert utkface.parse_name("100_0_0_20170112213500903.jpg.chip.jpg") == (100, 0, 0)
    assert utkface.parse_name("26_1_3_20170104235421282.jpg") == (26, 1, 3)
    assert [utkface.parse_name(n) for n in BAD] == [None] * 4


def test_folder_is_detected_read_and_bad_names_reported(utk_dir, capsys):
    folder = utkface.find_folder(utk_dir)
    assert folder == os.path.join(utk_dir, "UTKFace") and utkface.find_folder(folder) == folder
    table = utkface.read_table(folder)
    warning = capsys.readouterr().err
    assert "skipping 4 file(s)" in warning and BAD[0] in warning
    assert len(table.files) == 40 and table.names == ["age", "gender", "race"]
    for name, row in zip(table.files, table.values):
        assert tuple(row) == utkface.parse_name(name)
    assert table.values[:, 0].tolist() != sorted(table.values[:, 0].tolist())  # shuffled, not by age


def test_a_celeba_folder_is_not_taken_for_utkface(utk_dir, tmp_path):
    (tmp_path / "list_attr_celeba.txt").write_text("0\nMale\n")
    os.symlink(os.path.join(utk_dir, "UTKFace"), tmp_path / "UTKFace")
    assert utkface.find_folder(str(tmp_path)) is None


def utk_cfg(utk_dir, exp, *extra):
    return make_cfg("--preset", "utkface_age", "--data_dir", utk_dir, "--exp_dir", exp, *TINY,
                    "--split", "fraction", "--test_fraction", "0.2", *extra)


def test_preset_labels_and_dry_run_counts(utk_dir, tmp_path):
    cfg = utk_cfg(utk_dir, tmp_path / "exp")
    assert cfg["presets"] == ["utkface_age"] and cfg["attributes"][0] == "age=0-19,20-39,40-59,60-"
    ds = datasets.prepare(cfg, sggan_data.labelling)
    assert [g.class_names for g in ds.groups] == [("age 0-19", "age 20-39", "age 40-59", "age 60-"),
                                                  ("male", "female")]
    ages = ds.table.values[ds.train.rows, 0]
    summary = runs.dry_run(cfg, local_context())
    age = summary["groups"]["age=0-19,20-39,40-59,60-"]
    assert summary["train_images"] == 32 and summary["test_images"] == 8 and age["labelled"] == 32
    assert list(age["classes"].values()) == [int(((ages >= lo) & (ages <= hi)).sum())
                                             for lo, hi in ((0, 19), (20, 39), (40, 59), (60, 999))]
    assert "positives" not in age  # a four-class group has no single "on" class
    gender = summary["groups"]["gender=male,female"]
    assert gender["positives"] == int((ds.table.values[ds.train.rows, 1] == 1).sum())


def test_preset_flags(utk_dir):
    with pytest.raises(UserError, match="either --demo or --preset"):
        make_cfg("--demo", "--preset", "utkface_age")
    with pytest.raises(UserError, match="invalid choice"):
        make_cfg("--preset", "nope")


def test_tiny_run_and_test_mode_on_utkface(utk_dir, tmp_path):
    keras.utils.set_random_seed(0)
    runs.train(utk_cfg(utk_dir, tmp_path / "exp", "--max_iters", "2"), local_context())
    cfg = utk_cfg(utk_dir, tmp_path / "exp", "--mode", "test")
    runs.test(cfg, local_context())
    out = os.path.join(cfg["exp_dir"], "test")
    grid = np.asarray(Image.open(os.path.join(out, "grid_0000.png")))
    assert grid.shape[1] == 16 * (1 + 4 + 2)
    report = json.load(open(os.path.join(out, "metrics.json")))
    age = report["critic"]["age=0-19,20-39,40-59,60-"]
    assert report["images"] == 8 and list(age["classes"]) == ["age 0-19", "age 20-39", "age 40-59", "age 60-"]
    assert all(0 <= c["success"] <= 1 and 0 <= c["l1"] <= 2 for c in age["classes"].values())
    assert report["critic"]["gender=male,female"]["on"] == "female"
    assert report["integrity"]["outputs"].keys() == {"age 0-19", "age 20-39", "age 40-59", "age 60-", "male", "female"}


def test_the_landmark_template_is_recorded_and_read_from_the_experiment(utk_dir, tmp_path):
    """UTKFace is not CelebA-framed: the run records the preset's template, and photos and exports
    are aligned to it (not to CelebA's)."""
    template = [0.3, 0.3, 0.7, 0.3, 0.5, 0.52, 0.32, 0.69, 0.68, 0.69]
    runs.train(utk_cfg(utk_dir, tmp_path / "exp", "--max_iters", "1", "--landmark_template", *map(str, template)),
               local_context())
    assert json.load(open(tmp_path / "exp" / "config.json"))["landmark_template"] == template
    cfg = restore.trained_config(utk_cfg(utk_dir, tmp_path / "exp", "--mode", "export"))  # no template given
    np.testing.assert_allclose(photos.experiment_template(cfg), np.reshape(template, (5, 2)))
    runs.export(cfg, local_context())
    assert json.load(open(tmp_path / "exp" / "export" / "editor.json"))["landmark_template"] == np.reshape(
        template, (5, 2)).tolist()


def test_the_template_is_measured_as_the_median_of_detected_landmarks():
    class Stub:  # one face per image, its landmarks shifted by the image's index; none in the last
        def landmarks(self, square):
            shift = square[0, 0, 0]
            return [] if shift == 99 else [np.array([[10, 10], [30, 10], [20, 20], [12, 30], [28, 30]], float) + shift]
    squares = [np.full((40, 40, 3), i, np.uint8) for i in (0, 1, 2, 99)] * 6  # 18 faces found
    measured = faces.measure_template(squares, Stub())
    np.testing.assert_allclose(measured, (np.array([[10, 10], [30, 10], [20, 20], [12, 30], [28, 30]]) + 1.5) / 40)
    with pytest.raises(UserError, match="faces found in 6 of 8 images"):
        faces.measure_template(squares[:8], Stub())


def test_the_classifier_judges_binned_groups_and_its_report_matches_a_count_by_hand(utk_dir, tmp_path):
    """Four age bins and two genders: K logits per group; classifier.json's accuracy, per-class
    recalls and balanced accuracy equal a count by hand over the test faces."""
    keras.utils.set_random_seed(0)
    cfg = utk_cfg(utk_dir, tmp_path / "exp", "--mode", "classifier", "--classifier_steps", "20")
    assert runs.train_classifier(cfg, local_context()) == 0
    report = classifier_report_by_hand(cfg)
    assert len(report["per_class_accuracy"]["age=0-19,20-39,40-59,60-"]) == 4
