"""Training end to end on a tiny configuration: outputs, exact resume, Ctrl-C, bad images, NaN."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from sggan.core import checkpoints, datasets, loop
from sggan.models.sggan import runs
from tests.conftest import ROOT, TINY


def train(cfg):
    keras.utils.set_random_seed(cfg["seed"])
    tf.config.experimental.enable_op_determinism()
    return runs.train(cfg)


def checkpoint_weights(exp_dir, step):
    """The generator and discriminator weights stored in one checkpoint, by name."""
    reader = tf.train.load_checkpoint(os.path.join(exp_dir, "checkpoints", f"ckpt-{step}"))
    names = [n for n in reader.get_variable_to_shape_map()
             if n.startswith(("generator/", "discriminator/", "rng/", "d_optimizer/", "g_optimizer/"))]
    return {n: reader.get_tensor(n) for n in names}


def test_tiny_run_writes_checkpoints_grids_events_and_loss_log(tiny_cfg):
    cfg = tiny_cfg("--max_iters", "4")
    train(cfg)
    exp = cfg["exp_dir"]
    assert sorted(os.listdir(os.path.join(exp, "checkpoints"))) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index", "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    assert sorted(os.listdir(os.path.join(exp, "samples"))) == ["iter_000000.png", "iter_000002.png"]
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(exp, "logs")))
    rows = [json.loads(line) for line in open(os.path.join(exp, "losses.jsonl"))]
    assert [r["step"] for r in rows if "d_loss" in r] == [0, 1, 2, 3]
    for key in ("d_loss", "d_adversarial", "d_classification", "d_penalty", "g_loss", "g_adversarial",
                "g_classification", "g_reconstruction", "learning_rate"):
        assert all(np.isfinite(r[key]) for r in rows if "d_loss" in r), key
    assert any(k.startswith("accuracy/") for r in rows for k in r)
    saved = json.load(open(os.path.join(exp, "config.json")))
    assert saved["image_size"] == 16 and saved["max_iters"] == 4
    # TensorBoard events hold the scalars and the grid image.
    tags = set()
    for name in os.listdir(os.path.join(exp, "logs")):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(exp, "logs", name)):
            tags.update(v.tag for v in event.summary.value)
    assert {"d_loss", "g_reconstruction", "learning_rate", "samples"} <= tags


def run_main(*argv):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *map(str, argv)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_resume_is_exact(demo_dir, tmp_path):
    """A run stopped at 2 and resumed to 4 ends with the same bits as one run straight to 4
    (each run a fresh process, as a real resume is)."""
    common = ["--data_dir", demo_dir, *TINY, "--deterministic", "--save_every", "100"]
    run_main(*common, "--exp_dir", tmp_path / "straight", "--max_iters", "4")
    run_main(*common, "--exp_dir", tmp_path / "resumed", "--max_iters", "2")
    assert "resuming from" in run_main(*common, "--exp_dir", tmp_path / "resumed", "--max_iters", "4")
    a = checkpoint_weights(tmp_path / "straight", 4)
    b = checkpoint_weights(tmp_path / "resumed", 4)
    assert a.keys() == b.keys() and len(a) > 20
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    log = [json.loads(line)["step"] for line in open(tmp_path / "resumed" / "losses.jsonl")]
    assert sorted(set(log)) == [0, 1, 2, 3]


def test_fresh_ignores_existing_checkpoints(tiny_cfg, capsys):
    cfg = tiny_cfg("--max_iters", "2")
    train(cfg)
    train(dict(cfg, max_iters=4))
    assert "resuming from" in capsys.readouterr().out
    train(dict(cfg, max_iters=2, fresh=True))
    out = capsys.readouterr().out
    assert "resuming" not in out and "--fresh: starting again" in out


def test_unreadable_latest_checkpoint_falls_back(tiny_cfg, capsys):
    cfg = tiny_cfg("--max_iters", "4")
    train(cfg)
    with open(os.path.join(cfg["exp_dir"], "checkpoints", "ckpt-4.data-00000-of-00001"), "wb") as f:
        f.write(b"garbage")
    task = runs._model(cfg, datasets.prepare(cfg))
    saved = loop.open_checkpoints(cfg, task)
    assert saved.restore_latest().endswith("ckpt-2")
    assert int(saved.step.numpy()) == 2
    assert "ckpt-4 cannot be used" in capsys.readouterr().err


def test_corrupt_training_image_is_skipped_and_counted(demo_dir, tmp_path, tiny_cfg, capsys):
    data_dir = shutil.copytree(demo_dir, tmp_path / "faces")
    cfg = tiny_cfg("--max_iters", "3", "--batch_size", "16", "--data_dir", data_dir)
    first_training_image = open(os.path.join(data_dir, "list_eval_partition.txt")).readline().split()[0]
    with open(os.path.join(data_dir, "img_align_celeba", first_training_image), "wb") as f:
        f.write(b"\xff\xd8 truncated jpeg")
    train(cfg)  # 15 batches of 16 from 128 images: the broken one comes up at least once
    assert "warning: skipped 1 unreadable image(s)" in capsys.readouterr().out


def test_nan_loss_stops_with_a_clear_error(tiny_cfg):
    cfg = tiny_cfg("--max_iters", "6", "--learn_rate", "1e30", "--save_every", "1")
    with pytest.raises(loop.TrainingDiverged, match=r"became (nan|inf|-inf) at iteration \d+; the last good checkpoint"):
        train(cfg)


def test_ctrl_c_saves_and_resumes(demo_dir, tmp_path):
    exp = tmp_path / "exp"
    command = [sys.executable, os.path.join(ROOT, "main.py"), "--data_dir", demo_dir, "--exp_dir", str(exp),
               *TINY, "--max_iters", "100000", "--save_every", "100000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    log = exp / "losses.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or log.read_text().count("d_loss") < 3):
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopped at iteration" in out and "Run the same command again to resume" in out
    steps = checkpoints.saved(str(exp / "checkpoints"))
    assert len(steps) == 1
    stopped = steps[0][0]
    assert stopped >= 3
    again = subprocess.run(command[:-4] + ["--max_iters", str(stopped + 1)], capture_output=True, text=True,
                           cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"resuming from {exp}/checkpoints/ckpt-{stopped} (iteration {stopped})" in again.stdout


def test_checkpoints_of_another_architecture_are_not_overwritten(tiny_cfg):
    cfg = tiny_cfg("--max_iters", "2")
    train(cfg)
    with pytest.raises(loop.UserError, match="none can be read with this configuration"):
        train(dict(cfg, ngf=8, max_iters=4))
    assert [s for s, _ in checkpoints.saved(os.path.join(cfg["exp_dir"], "checkpoints"))] == [2]
