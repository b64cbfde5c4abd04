"""Training end to end on a tiny configuration: outputs, exact resume, --fresh, Ctrl-C / SIGTERM,
the loss log on resume, bad images, NaN."""
import json
import os
import shutil
import signal

import numpy as np
import pytest
import tensorflow as tf

from sggan.training import checkpoints, loop
from sggan.data import datasets
from sggan.errors import UserError
from sggan.models.sggan import runs
from sggan.models.sggan.steps import SGGANTask
from sggan.models.sggan import data as sggan_data
from sggan.training.distribute import local_context
from tests.helpers import QUIET, run


def checkpoint_weights(exp_dir, step):
    """The generator and discriminator weights stored in one checkpoint, by name."""
    reader = tf.train.load_checkpoint(os.path.join(exp_dir, "checkpoints", f"ckpt-{step}"))
    names = [n for n in reader.get_variable_to_shape_map()
             if n.startswith(("generator/", "discriminator/", "rng/", "d_optimizer/", "g_optimizer/"))]
    return {n: reader.get_tensor(n) for n in names}


def logged_steps(exp_dir):
    """The iterations in losses.jsonl that have training losses, in file order (repeats kept)."""
    rows = [json.loads(line) for line in open(os.path.join(exp_dir, "losses.jsonl"))]
    return [r["step"] for r in rows if "d_loss" in r]


def saved_steps(exp_dir):
    return [s for s, _ in checkpoints.saved(os.path.join(exp_dir, "checkpoints"))]


def test_tiny_run_writes_checkpoints_grids_events_and_loss_log(trained):
    exp = trained.exp_dir
    assert sorted(os.listdir(os.path.join(exp, "checkpoints"))) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index", "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    assert sorted(os.listdir(os.path.join(exp, "samples"))) == ["iter_000001.png", "iter_000002.png", "iter_000004.png"]
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(exp, "logs")))
    rows = [json.loads(line) for line in open(os.path.join(exp, "losses.jsonl"))]
    assert logged_steps(exp) == [0, 1, 2, 3]
    for key in ("d_loss", "d_adversarial", "d_classification", "d_penalty", "g_loss", "g_adversarial",
                "g_classification", "g_reconstruction", "learning_rate"):
        assert all(np.isfinite(r[key]) for r in rows if "d_loss" in r), key
    assert sorted(r["step"] for r in rows if any(k.startswith("accuracy/") for k in r)) == [0, 1, 3]  # after iterations 1, 2 and 4
    saved = json.load(open(os.path.join(exp, "config.json")))
    assert saved["image_size"] == 16 and saved["max_iters"] == 4
    # TensorBoard events hold the scalars and the grid image.
    tags = set()
    for name in os.listdir(os.path.join(exp, "logs")):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(exp, "logs", name)):
            tags.update(v.tag for v in event.summary.value)
    assert {"d_loss", "g_reconstruction", "learning_rate", "samples"} <= tags


def test_resume_is_exact(trained, tmp_path, capsys):
    """Resumed from its checkpoint 2 and run to 4 again, the shared run ends with the same bits as it
    did straight to 4 (same flags, --deterministic; the resumed run builds its networks, optimisers
    and stream anew, and drops the log lines of the iterations it repeats)."""
    resumed = trained.rewound_copy(tmp_path / "resumed", 2)
    run(*resumed.argv())
    out = capsys.readouterr().out
    assert f"resuming from {resumed.exp_dir}/checkpoints/ckpt-2 (iteration 2)" in out
    # completed iterations counted 1..N; no rate or ETA from the run's first (compiling) iteration
    assert "iter 3/4 " in out and "first iteration" in out and "iter 4/4 " in out and "iter 2/4" not in out
    assert out.count("it/s, ETA") == 1 and "configuration: sggan, data" in out and len(out.splitlines()[0]) < 300
    next_lines = out.split("\nnext:\n")[1].splitlines()
    assert [line.split("--mode ")[1] for line in next_lines] == [f"{mode} --exp_dir {resumed.exp_dir}"
                                                                for mode in ("classifier", "test", "export")]
    a = checkpoint_weights(trained.exp_dir, 4)
    b = checkpoint_weights(resumed.exp_dir, 4)
    assert a.keys() == b.keys() and len(a) > 20
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert logged_steps(resumed.exp_dir) == [0, 1, 2, 3]


def test_fresh_moves_old_checkpoints_aside_and_their_steps_are_refused(trained, tmp_path, capsys):
    exp = trained.copy(tmp_path / "exp")
    run(*exp.argv("--fresh", "--max_iters", "2", *QUIET))
    out = capsys.readouterr().out
    assert "resuming" not in out and "--fresh: starting again; the previous checkpoints were moved to" in out
    moved = out.split("moved to ", 1)[1].split()[0]
    assert os.path.dirname(moved) == exp.exp_dir and os.path.basename(moved).startswith("checkpoints_before_fresh_")
    assert [s for s, _ in checkpoints.saved(moved)] == [2, 4]  # kept, out of the way
    assert saved_steps(exp.exp_dir) == [2]
    assert logged_steps(exp.exp_dir) == [0, 1]
    with pytest.raises(UserError) as refused:
        runs.test(exp.cfg("--mode", "test", "--test_step", "4"), local_context())
    assert str(refused.value) == (f"no checkpoint of iteration 4 in {exp.exp_dir}/checkpoints; available: 2; "
                                  f"--fresh moved that one to {moved}")


def test_unreadable_latest_checkpoint_falls_back(trained, tmp_path, capsys):
    exp = trained.copy(tmp_path / "exp")
    with open(os.path.join(exp.exp_dir, "checkpoints", "ckpt-4.data-00000-of-00001"), "wb") as f:
        f.write(b"garbage")
    cfg = exp.cfg()
    task = runs._model(cfg, datasets.prepare(cfg, sggan_data.labelling), local_context())
    saved = loop.open_checkpoints(cfg, task)
    assert saved.restore_latest().endswith("ckpt-2")
    assert int(saved.step.numpy()) == 2
    assert "ckpt-4 cannot be used" in capsys.readouterr().err


def test_checkpoints_of_another_architecture_are_not_overwritten(trained, tmp_path):
    exp = trained.copy(tmp_path / "exp")
    with pytest.raises(UserError, match="none can be read with this configuration"):
        run(*exp.argv("--ngf", "8", "--max_iters", "6"))
    assert saved_steps(exp.exp_dir) == [2, 4]


def test_corrupt_training_image_is_skipped_and_counted(demo_dir, tmp_path, tiny_cfg, capsys):
    data_dir = shutil.copytree(demo_dir, tmp_path / "faces")
    cfg = tiny_cfg("--max_iters", "8", "--batch_size", "16", "--data_dir", data_dir, *QUIET)
    first_training_image = open(os.path.join(data_dir, "list_eval_partition.txt")).readline().split()[0]
    with open(os.path.join(data_dir, "img_align_celeba", first_training_image), "wb") as f:
        f.write(b"\xff\xd8 truncated jpeg")
    runs.train(cfg, local_context())  # 8 iterations of one batch of 16 (n_critic 1): a whole pass over the 128 images
    assert "warning: skipped 1 unreadable image(s)" in capsys.readouterr().out


def test_nan_loss_stops_with_a_clear_error(tiny_cfg):
    cfg = tiny_cfg("--max_iters", "6", "--learn_rate", "1e30", "--save_every", "1", *QUIET)
    with pytest.raises(loop.TrainingDiverged, match=r"became (nan|inf|-inf) at iteration \d+; the last good checkpoint"):
        runs.train(cfg, local_context())


def signal_after(monkeypatch, step, *signals):
    """Make the training loop receive `signals` right after iteration `step`'s updates (before the
    loop logs or saves it), as from a terminal or `kill`, at a known point instead of a timed one."""
    original = SGGANTask.iteration

    def iteration(self, current, next_batch):
        terms = original(self, current, next_batch)
        if current == step:
            for sig in signals:
                signal.raise_signal(sig)
        return terms
    monkeypatch.setattr(SGGANTask, "iteration", iteration)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_finishes_the_iteration_saves_and_resumes(trained, tmp_path, capsys, monkeypatch, sig):
    exp = trained.copy(tmp_path / "exp")
    handler = signal.getsignal(sig)
    signal_after(monkeypatch, 4, sig)
    run(*exp.argv("--max_iters", "100", "--save_every", "100", *QUIET))  # exit status 0
    out = capsys.readouterr().out
    assert "stop requested" in out
    assert f"stopped at iteration 5; saved {exp.exp_dir}/checkpoints/ckpt-5. Run the same command again to resume" in out
    assert saved_steps(exp.exp_dir) == [2, 4, 5] and logged_steps(exp.exp_dir) == [0, 1, 2, 3, 4]
    assert signal.getsignal(sig) is handler  # the loop's handler is gone again
    if sig != signal.SIGINT:
        return  # resuming does not depend on which signal stopped the run: checked once, after Ctrl-C
    monkeypatch.undo()
    run(*exp.argv("--max_iters", "6", *QUIET))
    assert f"resuming from {exp.exp_dir}/checkpoints/ckpt-5 (iteration 5)" in capsys.readouterr().out
    assert logged_steps(exp.exp_dir) == [0, 1, 2, 3, 4, 5]


def test_second_ctrl_c_stops_at_once_and_saves_nothing(trained, tmp_path, capsys, monkeypatch):
    """The log keeps the line of iteration 4, which no checkpoint holds; that resuming drops such
    lines is test_resume_is_exact's check."""
    exp = trained.copy(tmp_path / "exp")
    signal_after(monkeypatch, 5, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run(*exp.argv("--max_iters", "100", "--save_every", "100", *QUIET))
    assert "stopped at iteration" not in capsys.readouterr().out
    assert saved_steps(exp.exp_dir) == [2, 4]  # nothing saved after the second Ctrl-C
    assert logged_steps(exp.exp_dir) == [0, 1, 2, 3, 4]  # iteration 4 was logged but never saved
