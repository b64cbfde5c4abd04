"""Faults and hostile input (issue 13): nothing lost, nothing hangs, no traceback.

One group of tests per numbered item of the issue: (1) unreadable data and stop requests,
(2) a missing or damaged checkpoint index, (3) a full disk and torn files, (4) config.json of a
refused run, (5) concurrent runs, (7) own photos (bad input, item 6, is in test_bad_input.py); then TensorFlow's chatter and the
crash report of an unexpected error.
"""
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import main
from sggan.training import checkpoints, feed, loop, monitor
from sggan.data import datasets
from sggan import files, images
from sggan.errors import UserError
from sggan.app.lock import ExperimentLock
from sggan.models.sggan import data as sggan_data
from sggan.training.distribute import local_context
from tests.helpers import BOUND_SECONDS, ROOT, SHARED_GROUPS, TINY, copy_data, make_cfg, only_error_line, run_main

LFS_POINTER = b"version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 4321\n"


@pytest.fixture
def experiment(trained, tmp_path):
    """A private copy of the shared tiny experiment (checkpoints 2 and 4) and the argv that trains or
    tests it."""
    exp = trained.copy(tmp_path / "exp")
    return exp.exp_dir, ["--data_dir", exp.data_dir, "--exp_dir", exp.exp_dir, *TINY, *SHARED_GROUPS,
                         "--deterministic"]


# 1. No readable image: an error, not a hang; a stop request honoured while waiting for data --------

def test_lfs_pointers_instead_of_images_end_with_an_error_not_a_hang(demo_dir, tmp_path):
    data = copy_data(demo_dir, tmp_path)
    for name in os.listdir(os.path.join(data, "img_align_celeba")):
        with open(os.path.join(data, "img_align_celeba", name), "wb") as f:
            f.write(LFS_POINTER)
    result = run_main("--data_dir", data, "--exp_dir", tmp_path / "exp", *TINY, "--max_iters", "4")
    only_error_line(result, "none of the 64 training images tried can be read", "git LFS pointer", "git lfs pull")
    assert not os.path.exists(tmp_path / "exp")  # the refused run left nothing behind


def test_unreadable_test_images_are_an_error(demo_dir, tmp_path):
    data = copy_data(demo_dir, tmp_path)
    cfg = make_cfg("--data_dir", data, *TINY, "--mode", "test")
    for name in datasets.prepare(cfg, sggan_data.labelling).test.files:
        open(os.path.join(data, "img_align_celeba", name), "wb").close()
    with pytest.raises(UserError, match="none of the 16 test images tried can be read.*an empty file"):
        datasets.prepare(cfg, sggan_data.labelling)


class FakeTask:
    """A task without networks whose iteration only asks for a batch."""
    networks, optimizers, state = {}, {}, {}
    progress_keys = ("loss",)

    def iteration(self, step, next_batch):
        next_batch()
        return {"loss": 0.0}


@pytest.fixture
def never_yielding():
    """make_dataset for a stream that never produces a batch, as when every image has become
    unreadable. It waits instead of spinning, and ends with the test: a stream that skipped broken
    images forever would keep a core busy for the rest of the pytest process."""
    released = threading.Event()

    def nothing_until_released():
        released.wait()
        yield from ()

    def make_dataset(start_index):
        return tf.data.Dataset.from_generator(nothing_until_released,
                                              output_signature=tf.TensorSpec([], tf.int64)).batch(2)
    yield make_dataset
    released.set()


def test_stop_request_is_honoured_while_waiting_for_data(tmp_path, capsys, never_yielding):
    cfg = make_cfg("--exp_dir", tmp_path / "exp", "--max_iters", "3")

    def make_dataset(start_index):  # called by the feed, inside the loop's signal handling
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return never_yielding(start_index)
    assert loop.train(cfg, local_context(), FakeTask(), make_dataset) is None
    out = capsys.readouterr().out
    assert "stopped while waiting for training data in iteration 0" in out
    assert checkpoints.saved(os.path.join(cfg["exp_dir"], "checkpoints")) == []


def test_images_gone_mid_run_end_with_the_readability_error(never_yielding):
    def check_data():
        raise UserError("none of the 64 training images tried can be read")
    data_feed = feed.DataFeed(never_yielding, tf.Variable(0, dtype=tf.int64), local_context().strategy, check_data=check_data,
                              recheck_seconds=0)
    with pytest.raises(UserError, match="none of the 64 training images"):
        data_feed.next_batch()


def test_feed_raises_when_stop_was_requested(never_yielding):
    data_feed = feed.DataFeed(never_yielding, tf.Variable(0, dtype=tf.int64), local_context().strategy, types.SimpleNamespace(requested=True))
    with pytest.raises(feed.StoppedWaiting):
        data_feed.next_batch()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_setup_ends_cleanly(demo_dir, tmp_path, sig):
    """A stop while the run starts (here: once it has printed its configuration) ends with a message,
    never a traceback: 130 before the loop, or 0 after a graceful stop in it."""
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), "--data_dir", demo_dir,
                                "--exp_dir", tmp_path / "exp", *TINY, "--max_iters", "1000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    watchdog = threading.Timer(300, process.kill)  # only if the run never starts
    watchdog.start()
    assert process.stdout.readline().startswith("devices:")
    assert process.stdout.readline().startswith("configuration:")
    watchdog.cancel()
    process.send_signal(sig)
    out, err = process.communicate(timeout=BOUND_SECONDS)
    assert "Traceback" not in err
    assert (process.returncode == 130 and "interrupted" in err) or (process.returncode == 0 and "stopped" in out), err


# 2. Checkpoints found from the files when the index is missing or damaged --------------------------

def test_missing_index_resumes_from_the_files_and_is_rebuilt(experiment, capsys):
    exp, argv = experiment
    os.remove(os.path.join(exp, "checkpoints", "checkpoint"))
    assert main.main([*argv, "--max_iters", "6"]) == 0
    captured = capsys.readouterr()
    assert "resuming from" in captured.out and "ckpt-4 (iteration 4)" in captured.out
    assert "rebuilt it from the files (ckpt-2, ckpt-4)" in captured.err
    state = tf.train.get_checkpoint_state(os.path.join(exp, "checkpoints"))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == ["ckpt-2", "ckpt-4", "ckpt-6"]


def test_garbage_index_in_test_mode_finds_the_checkpoints(experiment, capsys):
    exp, argv = experiment
    with open(os.path.join(exp, "checkpoints", "checkpoint"), "w") as f:
        f.write("garbage {{{\n")
    assert main.main([*argv, "--mode", "test", "--num_test", "4"]) == 0
    assert "(iteration 4)" in capsys.readouterr().out
    assert json.load(open(os.path.join(exp, "test", "metrics.json")))["checkpoint"].endswith("ckpt-4")


# 3. Full disk and torn files --------------------------------------------------------------------

def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_while_saving_a_checkpoint(experiment, monkeypatch):
    exp, argv = experiment
    before = open(os.path.join(exp, "losses.jsonl")).read()
    monkeypatch.setattr(tf.train.CheckpointManager, "save", enospc)
    with pytest.raises(UserError, match=r"saving the checkpoint of iteration 6 failed: the disk is full; "
                                        r"the last complete checkpoint \(.*ckpt-4\) is kept"):
        main.main([*argv, "--max_iters", "6"])
    assert [s for s, _ in checkpoints.saved(os.path.join(exp, "checkpoints"))] == [2, 4]
    after = open(os.path.join(exp, "losses.jsonl")).read()
    assert after.startswith(before) and all(json.loads(line) for line in after.splitlines())


class HalfWriter:
    """A file whose write stores half of the text, then fails as a full disk does."""

    def __init__(self, f):
        self.f = f

    def write(self, text):
        self.f.write(text[:len(text) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __iter__(self):
        return iter(self.f)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_full_disk_in_the_loss_log_then_resume_tolerates_the_torn_line(experiment, monkeypatch, capsys):
    exp, argv = experiment
    monkeypatch.setattr(monitor, "open", lambda *a, **k: HalfWriter(open(*a, **k)), raising=False)
    with pytest.raises(UserError, match="the disk is full .*losses.jsonl"):
        main.main([*argv, "--max_iters", "6"])
    log = open(os.path.join(exp, "losses.jsonl")).read()
    assert not log.endswith("\n")  # the torn line is there
    monkeypatch.undo()
    assert main.main([*argv, "--max_iters", "6"]) == 0
    assert "dropped 1 unreadable line(s)" in capsys.readouterr().err
    steps = [json.loads(line)["step"] for line in open(os.path.join(exp, "losses.jsonl"))]
    assert sorted(set(steps)) == list(range(6))


def test_unparsable_loss_log_lines_are_dropped_on_resume(tmp_path, capsys):
    path = tmp_path / "losses.jsonl"
    path.write_text('{"step": 0, "d_loss": 1.0}\nnot json\n[1, 2]\n{"step": 5, "d_loss": 2.0}\n{"step": 1, "d_lo')
    monitor._truncate_jsonl(str(path), start_step=4)
    assert path.read_text() == '{"step": 0, "d_loss": 1.0}\n'
    assert "dropped 3 unreadable line(s)" in capsys.readouterr().err


def test_truncated_config_json_in_test_mode(experiment):
    exp, argv = experiment
    path = os.path.join(exp, "config.json")
    text = open(path).read()
    open(path, "w").write(text[:len(text) // 2])
    with pytest.raises(UserError, match="config.json is damaged"):
        main.main([*argv, "--mode", "test"])


def test_disk_problems_from_tensorflow_are_user_errors():
    assert files.disk_problem(OSError(errno.ENOSPC, "No space left on device", "x")) == "the disk is full (x)"
    assert "the disk is full" in files.disk_problem(tf.errors.ResourceExhaustedError(None, None, "No space left on device"))
    assert files.disk_problem(ValueError("something else")) is None


# 4. A refused run does not rewrite config.json ------------------------------------------------------

def test_refused_run_keeps_config_json(experiment):
    exp, argv = experiment
    path = os.path.join(exp, "config.json")
    before = open(path).read()
    with pytest.raises(UserError, match="none can be read with this configuration"):
        main.main([*argv, "--max_iters", "6", "--ngf", "8"])
    assert open(path).read() == before
    assert main.main([*argv, "--mode", "test", "--num_test", "4"]) == 0  # still testable


# 5. One training run per experiment folder ------------------------------------------------------------

def test_second_training_run_is_refused_naming_the_holder(experiment):
    exp, argv = experiment
    with ExperimentLock(str(exp)):
        with pytest.raises(UserError, match=f"in use by another training run \\(pid {os.getpid()} on "):
            main.main([*argv, "--max_iters", "6"])
        assert main.main([*argv, "--mode", "test", "--num_test", "4"]) == 0  # reading is allowed


def test_stale_lock_of_a_dead_run_is_taken_over(experiment, capsys):
    exp, argv = experiment
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with open(os.path.join(exp, "run.lock"), "w") as f:
        f.write(f"pid {dead.stdout.strip()} on this machine\n")
    assert main.main([*argv, "--max_iters", "4"]) == 0
    assert "already trained to iteration 4" in capsys.readouterr().out


# 7. Own photos ---------------------------------------------------------------------------------------

def test_photo_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white as stored
    photo = Image.fromarray(pixels)
    exif = photo.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    photo.save(tmp_path / "phone.jpg", exif=exif)
    loaded = images.load_photo(str(tmp_path / "phone.jpg"))
    assert loaded.shape == (40, 20, 3)
    assert loaded[:15].mean() > 200 and loaded[-15:].mean() < 50  # the white half is now on top


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 32 * 64).reshape(32, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    loaded = images.load_photo(str(tmp_path / "deep.png"))
    assert loaded.dtype == np.uint8 and loaded.shape == (32, 64, 3)
    assert loaded.min() == 0 and loaded.max() == 255 and 120 <= loaded.mean() <= 135


# TensorFlow's chatter; unexpected errors ----------------------------------------------------------

def test_no_tensorflow_chatter_before_an_error(demo_dir):
    """The attribute check runs after TensorFlow is loaded: stderr holds the error line only."""
    only_error_line(run_main("--data_dir", demo_dir, "--dry_run", *TINY, "--attributes", "Blond_Hiar"),
                    "unknown attribute 'Blond_Hiar'")


def test_unexpected_error_gives_one_line_and_a_crash_report(demo_dir, tmp_path, monkeypatch, capsys):
    def broken(cfg, context):
        raise RuntimeError("a bug")
    monkeypatch.setattr(main.MODELS["sggan"], "dry_run", broken)
    monkeypatch.setattr(main.startup, "interrupt_on_sigterm", lambda: None)
    os.makedirs(tmp_path / "exp")
    assert main.run(["--dry_run", "--data_dir", demo_dir, "--exp_dir", str(tmp_path / "exp")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: internal error (RuntimeError: a bug); the full traceback is in ")
    report = lines[0].rsplit(" ", 1)[1]
    assert os.path.dirname(report) == str(tmp_path / "exp")
    assert "Traceback" in open(report).read() and "a bug" in open(report).read()


def test_error_raised_by_a_ctrl_c_inside_a_tensorflow_scope_reports_the_interrupt(demo_dir, tmp_path, monkeypatch,
                                                                                 capsys):
    """Ctrl-C while TensorFlow enters a strategy scope makes the scope's exit raise a RuntimeError
    about nesting (seen in test_signal_during_setup_ends_cleanly): that is an interrupt, not a bug."""
    def interrupted_inside_a_scope(cfg, context):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("Exiting variable_creator_scope without proper nesting.")
    monkeypatch.setattr(main.MODELS["sggan"], "dry_run", interrupted_inside_a_scope)
    monkeypatch.setattr(main.startup, "interrupt_on_sigterm", lambda: None)
    os.makedirs(tmp_path / "exp")
    assert main.run(["--dry_run", "--data_dir", demo_dir, "--exp_dir", str(tmp_path / "exp")]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not [name for name in os.listdir(tmp_path / "exp") if name.startswith("crash-")]


NATIVE = """
import os, sys, time
from sggan.app import startup
startup.drop_native_logs()
os.write(2, b"E0000 00:00:1796421552.933697   22311 util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512\\n")
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
os.write(2, b"a native line that is not a log line\\n")
print("error: a Python line", file=sys.stderr)
time.sleep(0.5)  # the filter thread passes the native line on
"""


def test_native_log_lines_are_dropped_from_a_quiet_process():
    """absl writes TensorFlow's C++ ERROR lines to stderr after the import whatever TF_CPP_MIN_LOG_LEVEL
    says; a quiet main.py process drops them and nothing else."""
    done = subprocess.run([sys.executable, "-c", NATIVE], capture_output=True, text=True, cwd=ROOT,
                          timeout=BOUND_SECONDS)
    assert done.returncode == 0
    assert sorted(done.stderr.splitlines()) == ["a native line that is not a log line", "error: a Python line"]
