"""Watching a run: console lines with a progress bar, TensorBoard, and a JSONL log of every scalar."""
import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from sggan.errors import warn
from sggan.files import write_text


class Monitor:
    """Console after the run's first iteration and every log_every (losses, it/s, ETA), a progress
    bar between them, TensorBoard scalars and images under logs/, and the same scalars in
    losses.jsonl (whose "step" is the 0-based iteration; the console counts completed ones, 1..N).

    The first iteration of a run builds the compiled step and takes far longer than the others, so
    the rate and the ETA are measured from the iterations after it."""

    def __init__(self, exp_dir, log_every, max_iters, start_step, progress_keys):
        self.log_every, self.max_iters = log_every, max_iters
        self.progress_keys = tuple(progress_keys)  # the losses the progress bar shows (the task's choice)
        self.writer = tf.summary.create_file_writer(os.path.join(exp_dir, "logs"))
        self.jsonl_path = os.path.join(exp_dir, "losses.jsonl")
        _truncate_jsonl(self.jsonl_path, start_step)
        self.jsonl = open(self.jsonl_path, "a")
        self.first = start_step + 1  # the run's first iteration, counted as completed
        self.interactive = sys.stdout.isatty()
        self._new_window(start_step)

    def _new_window(self, done):
        """Start measuring (rate, progress bar) from `done` completed iterations on."""
        self.window_start, self.window_time = done, time.time()
        # made now, not at its first update, so that it times the window's first iteration too
        self.bar = keras.utils.Progbar(self.log_every, stateful_metrics=list(self.progress_keys),
                                       unit_name="it") if self.interactive else None
        self.bar_drawn = False

    def line_due(self, done):
        """Whether the console line (and so the losses) is due after `done` completed iterations."""
        return done == self.first or done % self.log_every == 0 or done == self.max_iters

    def scalars(self, step, values):
        """Record scalars of iteration `step` (TensorBoard and JSONL)."""
        values = {k: float(v) for k, v in values.items()}
        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)
        try:
            self.jsonl.write(json.dumps({"step": step, **values}) + "\n")
            self.jsonl.flush()
        except OSError as problem:  # name the file: a full disk is reported as a user's problem
            raise OSError(problem.errno, problem.strerror, self.jsonl_path) from problem

    def image(self, step, name, grid_uint8):
        with self.writer.as_default(step=step):
            tf.summary.image(name, grid_uint8[None], max_outputs=1)

    def report(self, step, report):
        """A hook's report (see loop.Report): its scalars, images and console line."""
        if report.scalars:
            self.scalars(step, report.scalars)
        for name, picture in report.images.items():
            self.image(step, name, picture)
        if report.message:
            self.message(report.message)

    def progress(self, done, losses=None):
        """Called after every iteration (`done` completed): advances the bar, prints the console
        line when due (line_due); `losses` are given when they were fetched (always then)."""
        if self.line_due(done):
            self._console_line(done, losses)
        elif self.bar is not None:
            shown = [(k, float(v)) for k, v in (losses or {}).items() if k in self.progress_keys]
            self.bar.update(min(done - self.window_start, self.log_every), values=shown or None)
            self.bar_drawn = True

    def _console_line(self, done, losses):
        elapsed = time.time() - self.window_time
        terms = " ".join(f"{k}={float(v):.4g}" for k, v in losses.items())
        if done == self.first:  # the compiled step's building time, not a rate
            speed = f"first iteration {elapsed:.1f}s (builds the compiled step); ETA after the next ones"
        else:
            rate = (done - self.window_start) / elapsed if elapsed > 0 else float("nan")
            eta = (self.max_iters - done) / rate if rate > 0 else float("nan")
            speed = f"{rate:.3g} it/s, ETA {_duration(eta)}"
        self._end_bar()
        print(f"iter {done}/{self.max_iters} {terms} | {speed}", flush=True)
        self._new_window(done)

    def message(self, text):
        self._end_bar()
        print(text, flush=True)

    def _end_bar(self):
        """End the progress bar's line, if it drew one."""
        if self.bar_drawn:
            sys.stdout.write("\n")
            self.bar_drawn = False

    def close(self):
        """Flush and close; a failure here (a full disk) must not hide the error that ended the run."""
        for finish in (self.writer.flush, self.jsonl.close):
            try:
                finish()
            except Exception:  # noqa: BLE001 - the run's own outcome is what the user needs to see
                pass


def _duration(seconds):
    if not np.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def _truncate_jsonl(path, start_step):
    """Drop lines of iterations ≥ start_step (left by a run that stopped after its last checkpoint)
    and lines that cannot be read (the torn last line of a crash or a full disk), with a warning."""
    if not os.path.isfile(path):
        return
    kept, torn = [], 0
    with open(path, errors="replace") as f:
        for line in f:
            record = _record(line)
            if record is None:
                torn += line.strip() != ""
            elif record.get("step", -1) < start_step:
                kept.append(line.rstrip("\n") + "\n")
    if torn:
        warn(f"{path}: dropped {torn} unreadable line(s) (torn by a crash or a full disk)")
    write_text(path, "".join(kept))


def _record(line):
    """One JSONL line as a dict, or None when it is not one."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("step", -1), int) else None
