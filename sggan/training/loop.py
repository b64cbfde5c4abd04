"""The training loop both models share: resume, iterate, watch, save, stop cleanly.

A model plugs in as a "task" with
- `networks`: {name: Keras model}, `optimizers`: {name: Keras optimiser} and `state`: {name:
  random generator, …}, what a checkpoint must hold to resume exactly;
- `iteration(step, next_batch)`: one training iteration, returning its scalar losses (tensors);
and a list of Hooks for periodic work such as sample grids and accuracy checks.

The losses stay on the device until they are logged, a checkpoint is saved or a hook runs; they
are then fetched together and checked, so a loss that became NaN or Inf still stops the run before
anything is saved after it. The console says how many replicas train in sync.
"""
import math
import os
import signal
from dataclasses import dataclass, field
from typing import Callable

import tensorflow as tf

from sggan.training import checkpoints as ckpt
from sggan.training import distribute
from sggan.errors import UserError
from sggan.training.feed import DataFeed, StoppedWaiting
from sggan.files import disk_problem, write_json
from sggan.training.monitor import Monitor


class TrainingDiverged(UserError):
    """A loss became NaN or Inf."""


@dataclass(frozen=True)
class Report:
    """What a hook hands back to the loop: scalars, images (uint8 arrays) and a console line."""
    scalars: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class Hook:
    """Periodic work after the first iteration, every `every` completed iterations and the last one:
    run(done) → Report, `done` the number of iterations completed (the weights after `done` updates)."""
    name: str
    every: int
    run: Callable


class StopRequest:
    """Ctrl-C / SIGTERM set a flag; the loop finishes its step, saves and exits (or, when the flag is
    set while it waits for data, exits without saving). A second Ctrl-C interrupts at once (the
    last checkpoint stays as it was)."""

    def __init__(self):
        self.requested = False
        self.previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstop requested: finishing this iteration, then saving …", flush=True)

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def open_checkpoints(cfg, task, write_to=None):
    """The experiment's checkpoints; `write_to`: where this worker saves (see distribute.output_folder)."""
    return ckpt.Checkpoints(os.path.join(cfg["exp_dir"], "checkpoints"), cfg["keep"],
                            {**task.networks, **task.optimizers}, task.state, write_to)


def _resume(cfg, task, write_to):
    """The experiment's checkpoints, restored to the latest readable one (or set aside by --fresh)."""
    directory = os.path.join(cfg["exp_dir"], "checkpoints")
    if cfg["fresh"]:
        moved = ckpt.set_aside(directory) if write_to == directory else None  # the chief's job
        if moved:
            print(f"--fresh: starting again; the previous checkpoints were moved to {moved}", flush=True)
        return open_checkpoints(cfg, task, write_to), None
    checkpoints = open_checkpoints(cfg, task, write_to)
    resumed = checkpoints.restore_latest()
    if resumed is None and checkpoints.available():
        raise UserError(f"checkpoints exist in {checkpoints.directory} but none can be read with this "
                        "configuration (were network settings changed?); pass --fresh to start again "
                        "(they will be moved aside) or use another --exp_dir")
    if resumed:
        print(f"resuming from {resumed} (iteration {int(checkpoints.step.numpy())}); "
              "pass --fresh to start again", flush=True)
    return checkpoints, resumed


def _check_finite(losses, step, last_saved):
    """Stop on a NaN/Inf loss, unless float16 loss scaling skipped that iteration's overflowing
    updates (`skipped_updates`): the weights did not change and the scale was lowered."""
    bad = [k for k, v in losses.items() if not math.isfinite(v)]
    if bad and not losses.get("skipped_updates", 0):
        raise TrainingDiverged(
            f"{', '.join(bad)} became {losses[bad[0]]} at iteration {step}; the last good "
            f"checkpoint is {last_saved or 'none'} (it is kept). Lower --learn_rate or check the data")


def train(cfg, context, task, make_dataset, hooks=(), check_data=None):
    """Run (or resume) training to cfg['max_iters']; returns the path of the last checkpoint.

    make_dataset(start_index) must return the batched training dataset starting at that element;
    check_data() raises UserError when its images can no longer be read (see DataFeed).
    config.json is written only once the run is known to proceed (the checkpoints fit).
    """
    print(f"replicas: {context.replicas} (--strategy {cfg['strategy']}, --precision "
          f"{cfg['precision']}, --jit {str(cfg['jit']).lower()})", flush=True)
    with StopRequest() as stop, distribute.output_folder(cfg["exp_dir"], context.chief) as output:
        checkpoints, last_saved = _resume(cfg, task, os.path.join(output, "checkpoints"))
        start = int(checkpoints.step.numpy())
        if start >= cfg["max_iters"]:
            print(f"already trained to iteration {start} (--max_iters {cfg['max_iters']}); nothing to do")
            return last_saved
        write_json(os.path.join(output, "config.json"), cfg)
        feed = DataFeed(make_dataset, checkpoints.data_position, context.strategy, stop, check_data)
        monitor = Monitor(output, cfg["log_every"], cfg["max_iters"], start, task.progress_keys)
        if output != cfg["exp_dir"]:
            hooks = ()  # sample grids and evaluations are the chief's (they need no other worker)
        try:
            return _iterate(cfg, task, hooks, checkpoints, last_saved, feed, monitor, stop)
        finally:
            monitor.close()


class PendingLosses:
    """Losses of the iterations since the last fetch, kept as tensors until they are needed."""

    def __init__(self, monitor):
        self.monitor, self.pending = monitor, []

    def add(self, step, losses):
        self.pending.append((step, losses))

    def fetch(self, last_saved):
        """Bring them to the host, check them and record them; the newest as floats (None if none)."""
        fetched = tf.nest.map_structure(float, [losses for _, losses in self.pending])
        newest = None
        for (step, _), losses in zip(self.pending, fetched):
            _check_finite(losses, step, last_saved)
            self.monitor.scalars(step, losses)
            newest = losses
        self.pending = []
        return newest


def _catch_up(pending, feed, monitor, last_saved):
    """Fetch and check the pending losses, bring the data position up to date, report skipped
    images; returns the newest losses (None when nothing was pending)."""
    losses = pending.fetch(last_saved)
    skipped = feed.take_new_skips()
    if skipped:
        monitor.message(f"warning: skipped {skipped} unreadable image(s) ({feed.skipped} so far in this run)")
    return losses


def _iterate(cfg, task, hooks, checkpoints, last_saved, feed, monitor, stop):
    """The iterations from the restored step on; returns the path of the last checkpoint."""
    pending = PendingLosses(monitor)
    for step in range(int(checkpoints.step.numpy()), cfg["max_iters"]):
        if stop.requested:  # asked before the first iteration: nothing new to save
            monitor.message(f"stopped before iteration {step}; the last checkpoint ({last_saved or 'none'}) is kept")
            return last_saved
        try:
            pending.add(step, task.iteration(step, feed.next_batch))
        except StoppedWaiting:
            _catch_up(pending, feed, monitor, last_saved)
            monitor.message(f"stopped while waiting for training data in iteration {step}; the last "
                            f"checkpoint ({last_saved or 'none'}) is kept. Run the same command again to resume.")
            return last_saved
        checkpoints.step.assign(step + 1)
        done = step + 1
        due = [hook for hook in hooks if done == 1 or done % hook.every == 0 or done == cfg["max_iters"]]
        losses = None
        if due or monitor.line_due(done) or done % cfg["save_every"] == 0:
            losses = _catch_up(pending, feed, monitor, last_saved)
        monitor.progress(done, losses)
        for hook in due:
            monitor.report(step, hook.run(done))  # logged with the iteration it followed, as its losses
        if done % cfg["save_every"] == 0 or done == cfg["max_iters"] or stop.requested:
            _catch_up(pending, feed, monitor, last_saved)  # nothing unchecked goes into a checkpoint
            last_saved = _save(checkpoints, done, last_saved)
        if stop.requested:
            monitor.message(f"stopped at iteration {done}; saved {last_saved}. "
                            "Run the same command again to resume.")
            return last_saved
    monitor.message(f"training finished at iteration {cfg['max_iters']}; saved {last_saved}")
    return last_saved


def _save(checkpoints, done, last_saved):
    """Save a checkpoint; a full disk is a one-line error that names the checkpoint still intact."""
    try:
        return checkpoints.save()
    except Exception as problem:  # TensorFlow reports a full disk as one of several OpErrors
        reason = disk_problem(problem)
        if reason is None:
            raise
        raise UserError(f"saving the checkpoint of iteration {done} failed: {reason}; the last complete "
                        f"checkpoint ({last_saved or 'none'}) is kept. Free some space and run the same "
                        "command again to resume") from problem
