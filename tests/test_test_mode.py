"""Test mode on the shared tiny experiment (conftest.trained): grids, metrics.json, your own photos,
missing checkpoints, FID of edits."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

import config
import main
from sggan.data import datasets
from sggan import images
from sggan.errors import UserError
from sggan.models.sggan import runs
from sggan.models.sggan import data as sggan_data
from sggan.training.distribute import local_context
from tests.helpers import ROOT


def test_grids_and_metrics_for_the_test_split(trained):
    cfg = trained.cfg("--mode", "test")
    runs.test(cfg, local_context())
    out = os.path.join(cfg["exp_dir"], "test")
    grids = sorted(f for f in os.listdir(out) if f.startswith("grid_"))
    assert grids == ["grid_0000.png", "grid_0001.png", "grid_0002.png", "grid_0003.png"]  # 16 images, batch 4
    grid = np.asarray(Image.open(os.path.join(out, grids[0])))
    rows, tile, columns = 4, 16, 1 + 2 * 2
    assert grid.shape[1] == columns * tile
    header = grid.shape[0] - rows * tile
    assert header >= 10  # column titles, wrapped to the 16-pixel tiles
    assert grid[:header].min() < 128  # the header has text on it
    report = json.load(open(os.path.join(out, "metrics.json")))
    assert report["images"] == 16 and report["step"] == 4 and report["checkpoint"].endswith("ckpt-4")
    assert set(report["critic"]) == {"Male", "Black_Hair/Blond_Hair-Brown_Hair"}
    for m in report["critic"].values():
        assert {"accuracy_real", "success_on", "success_off", "success", "l1_on", "l1_off"} <= set(m)
        for key in ("accuracy_real", "success_on", "success_off", "success"):
            assert 0.0 <= m[key] <= 1.0
        assert 0.0 <= m["l1_on"] <= 2.0 and 0.0 <= m["l1_off"] <= 2.0


def test_first_column_is_the_input(trained):
    cfg = trained.cfg("--mode", "test", "--num_test", "4")
    runs.test(cfg, local_context())
    ds = datasets.prepare(cfg, sggan_data.labelling)
    first = images.load_photo(os.path.join(ds.image_dir, ds.test.files[0]))
    expected = images.to_uint8(runs._photo_to_model(first, 16).numpy())
    grid = np.asarray(Image.open(os.path.join(cfg["exp_dir"], "test", "grid_0000.png")))
    header = grid.shape[0] - 4 * 16
    difference = np.abs(grid[header:header + 16, :16].astype(int) - expected.astype(int))
    assert difference.mean() < 1.5 and difference.max() <= 8  # PIL's and TF's JPEG decoders differ slightly


def test_own_photos_png_grey_jpeg_and_a_non_image(trained, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray((np.random.default_rng(0).random((90, 70, 3)) * 255).astype(np.uint8)).save(photos / "a.png")
    Image.fromarray((np.random.default_rng(1).random((218, 178)) * 255).astype(np.uint8), "L").save(photos / "b.jpg")
    (photos / "notes.txt").write_text("not an image")
    cfg = trained.cfg("--mode", "test", "--input", str(photos), "--save_single", "--align", "false")
    runs.test(cfg, local_context())
    out = os.path.join(cfg["exp_dir"], "test", "photos")
    grid = np.asarray(Image.open(os.path.join(out, "grid_0000.png")))
    assert grid.shape[1] == 5 * 16 and (grid.shape[0] - 2 * 16) > 0
    report = json.load(open(os.path.join(out, "metrics.json")))
    assert report["images"] == 2 and report["source"] == "photos"
    assert "notes.txt" in capsys.readouterr().err
    singles = sorted(os.listdir(os.path.join(out, "single")))
    assert len(singles) == 2 * 4 and "a_Male.png" in singles and "b_Blond_Hair.png" in singles


def test_missing_checkpoint_is_an_error(trained, tmp_path):
    with pytest.raises(UserError, match=r"no checkpoint of iteration 7 in .*checkpoints; available: 2, 4"):
        runs.test(trained.cfg("--mode", "test", "--test_step", "7"), local_context())
    bare = tmp_path / "bare"
    shutil.copytree(trained.exp_dir, bare, ignore=shutil.ignore_patterns("checkpoints"))
    with pytest.raises(UserError, match=r"no readable checkpoint in .*bare/checkpoints"):
        runs.test(trained.cfg("--mode", "test", "--exp_dir", bare), local_context())
    with pytest.raises(UserError, match="no trained experiment"):
        runs.test(trained.cfg("--mode", "test", "--exp_dir", tmp_path / "never"), local_context())


def test_oper_flag_in_config_py_runs_test_mode(trained, monkeypatch, capsys):
    assert "OPER_FLAG = 0" in open(os.path.join(ROOT, "config.py")).read()
    monkeypatch.setattr(config, "OPER_FLAG", 1)  # as if edited in config.py
    argv = trained.argv("--num_test", "4")
    assert main.main(argv, config_module=config) == 0  # main.py reads config.py from disk unless given one
    out = capsys.readouterr().out
    assert "testing" in out and "succ on" in out
    report = json.load(open(os.path.join(trained.exp_dir, "test", "metrics.json")))
    assert report["images"] == 4 and report["step"] == 4


def test_fid_of_edits_with_a_stand_in_extractor(trained, monkeypatch):
    """--mode fid end to end, with a small random network standing in for InceptionV3 (offline)."""
    from tests.test_vacgan import random_extractor
    monkeypatch.setattr(runs.fid, "inception_extractor", lambda: random_extractor())
    cfg = trained.cfg("--mode", "fid", "--fid_images", "16")
    runs.fid_of_edits(cfg, local_context())
    report = json.load(open(os.path.join(cfg["exp_dir"], "test", "fid.json")))
    assert report["images"] == 16 and np.isfinite(report["fid_edits"]) and report["fid_edits"] >= 0
    assert report["network"] == "keras InceptionV3 (ImageNet)"  # the default --fid_network
