"""The training loop both models share: resume, iterate, watch, save, stop cleanly.

A model plugs in as a "task" with: trackables() (what to checkpoint), iteration(step, next_batch)
(one training iteration, returns scalar losses), and a `hooks` list of (every, function(step)) for
periodic work such as sample grids and accuracy checks.
"""
import math
import os
import signal

from sggan.checkpoints import Checkpoints
from sggan.errors import UserError
from sggan.monitor import Monitor


class TrainingDiverged(UserError):
    """A loss became NaN or Inf."""


class StopRequest:
    """Ctrl-C / SIGTERM set a flag; the loop finishes its step, saves and exits. A second Ctrl-C
    interrupts at once (the last checkpoint stays as it was)."""

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


def open_checkpoints(cfg, task):
    return Checkpoints(os.path.join(cfg["exp_dir"], "checkpoints"), cfg["keep"], **task.trackables())


def train(cfg, task, make_stream, hooks=()):
    """Run (or resume) training to cfg['max_iters']; returns the path of the last checkpoint.

    make_stream(start_index) must return the batched training dataset starting at that element.
    """
    checkpoints = open_checkpoints(cfg, task)
    resumed = None if cfg["fresh"] else checkpoints.restore_latest()
    if resumed is None and checkpoints.available() and not cfg["fresh"]:
        raise UserError(f"checkpoints exist in {checkpoints.directory} but none can be read with this "
                        "configuration (were network settings changed?); pass --fresh to start again "
                        "(they will be replaced) or use another --exp_dir")
    start = int(checkpoints.step.numpy())
    if resumed:
        print(f"resuming from {resumed} (iteration {start}); pass --fresh to start again", flush=True)
    elif checkpoints.available() and cfg["fresh"]:
        print(f"--fresh: starting again; existing checkpoints in {checkpoints.directory} will be replaced",
              flush=True)
    if start >= cfg["max_iters"]:
        print(f"already trained to iteration {start} (--max_iters {cfg['max_iters']}); nothing to do")
        return resumed
    stream = iter(make_stream(int(checkpoints.data_index.numpy())))
    skipped = [0]

    def next_batch():
        batch = next(stream)
        indices = batch["index"].numpy()
        expected = int(checkpoints.data_index.numpy())
        gap = int(indices[-1]) + 1 - expected - len(indices)
        if gap > 0:
            skipped[0] += gap
            monitor.message(f"warning: skipped {gap} unreadable image(s) ({skipped[0]} so far in this run)")
        checkpoints.data_index.assign(int(indices[-1]) + 1)
        return batch

    monitor = Monitor(cfg["exp_dir"], cfg["log_every"], cfg["max_iters"], start)
    last_saved = resumed
    try:
        with StopRequest() as stop:
            for step in range(start, cfg["max_iters"]):
                losses = {k: float(v) for k, v in task.iteration(step, next_batch).items()}
                bad = [k for k, v in losses.items() if not math.isfinite(v)]
                if bad:
                    raise TrainingDiverged(
                        f"{', '.join(bad)} became {losses[bad[0]]} at iteration {step}; the last good "
                        f"checkpoint is {last_saved or 'none'} (it is kept). Lower --learn_rate or check the data")
                checkpoints.step.assign(step + 1)
                monitor.scalars(step, losses)
                monitor.progress(step, losses)
                for every, hook in hooks:  # periodic work after iterations 0, every, 2·every, … as the original
                    if step % every == 0:
                        hook(step, monitor)
                done = step + 1
                if done % cfg["save_every"] == 0 or done == cfg["max_iters"] or stop.requested:
                    last_saved = checkpoints.save()
                if stop.requested:
                    monitor.message(f"stopped at iteration {done}; saved {last_saved}. "
                                    "Run the same command again to resume.")
                    return last_saved
    finally:
        monitor.close()
    monitor.message(f"training finished at iteration {cfg['max_iters']}; saved {last_saved}")
    return last_saved
