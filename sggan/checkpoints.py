"""Checkpoints: everything needed to resume exactly, saved whole or not at all.

tf.train.CheckpointManager writes the data files first and the index that names the latest one
last (atomically), so an interrupted save leaves the previous checkpoint as the latest.
"""

import tensorflow as tf

from sggan.errors import UserError, warn


class Checkpoints:
    """A tf.train.Checkpoint of the given objects plus the iteration counter and the data position."""

    def __init__(self, directory, keep, **trackables):
        self.directory = directory
        self.step = tf.Variable(0, dtype=tf.int64, name="step")               # completed iterations
        self.data_index = tf.Variable(0, dtype=tf.int64, name="data_index")   # next stream element
        self.checkpoint = tf.train.Checkpoint(step=self.step, data_index=self.data_index, **trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=keep,
                                                  checkpoint_name="ckpt")

    def save(self):
        """Save at the current step; returns the checkpoint's path."""
        return self.manager.save(checkpoint_number=int(self.step.numpy()))

    def available(self):
        """Saved checkpoints, oldest first, as (step, path)."""
        found = []
        for path in self.manager.checkpoints:
            try:
                found.append((int(path.rsplit("-", 1)[1]), path))
            except ValueError:
                continue
        return found

    def restore_latest(self):
        """Restore the newest readable checkpoint; an unreadable one falls back to the one before.

        Returns its path, or None when there is none (or none is readable).
        """
        for _, path in reversed(self.available()):
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
                return path
            except Exception as problem:  # TF raises many kinds for truncated or foreign files
                warn(f"checkpoint {path} cannot be read ({type(problem).__name__}); trying the previous one")
        return None

    def restore_step(self, step):
        """Restore the checkpoint of one iteration, or refuse naming what exists."""
        matches = [path for s, path in self.available() if s == step]
        if not matches:
            raise UserError(f"no checkpoint of iteration {step} in {self.directory}; "
                            f"available: {self.describe_available()}")
        try:
            self.checkpoint.restore(matches[0]).assert_existing_objects_matched()
        except Exception as problem:  # TF raises many kinds for truncated or foreign files
            raise UserError(f"checkpoint {matches[0]} cannot be read ({type(problem).__name__}); "
                            "was it written with other network settings?")
        return matches[0]

    def describe_available(self):
        steps = [str(s) for s, _ in self.available()]
        return ", ".join(steps) if steps else "none"
