"""The training data feed: the batched stream, its position and the images it had to skip.

Every element of the stream carries its index in the endless shuffled sequence (see
pipeline.training_dataset). The feed keeps the index of the next element in a variable that the
checkpoint holds, so a resumed run restarts the stream exactly there, and counts gaps in the
indices as unreadable images skipped. The stream is distributed over the replicas of the current
tf.distribute strategy (sharded per worker on several machines). Position and skips are brought up
to date only when asked (before a checkpoint, when the loop reports), not on every batch.

Batches are fetched on a helper thread while the main thread waits in short slices: a thread
blocked inside TensorFlow's C++ code never runs Python's signal handlers, so waiting there would
make a stream that yields nothing deaf to Ctrl-C and SIGTERM.
"""
import queue
import threading

import numpy as np
import tensorflow as tf

POLL_SECONDS = 0.2
RECHECK_SECONDS = 30.0  # without a batch this long, check that the images can still be read


class StoppedWaiting(Exception):
    """A stop was requested while the feed waited for a batch."""


class DataFeed:
    """One object for the stream, its (checkpointed) position and the skipped-image count."""

    def __init__(self, make_dataset, position, strategy, stop=None, check_data=None, recheck_seconds=RECHECK_SECONDS):
        """make_dataset(start_index) → batched dataset; position: a tf.Variable (int64);
        strategy: the tf.distribute strategy the batches are distributed over;
        stop: an object whose `requested` turns true when the run should stop (loop.StopRequest);
        check_data(): raises UserError when no image can be read (see pipeline.check_readable),
        called while a batch is long in coming (images gone mid-run, e.g. an unmounted drive)."""
        self.make_dataset = make_dataset
        self.position = position
        self.strategy = strategy
        self.stop = stop
        self.check_data = check_data
        self.recheck_polls = max(1, round(recheck_seconds / POLL_SECONDS))
        self.skipped = 0           # in this run
        self.new_skips = 0         # since the last call to take_new_skips()
        self.iterator = None
        self.requests, self.results = queue.Queue(), queue.Queue()
        self.last, self.unsynced = None, 0  # the newest batch; batches taken since the last sync

    def next_batch(self):
        if self.iterator is None:
            dataset = self.make_dataset(int(self.position.numpy()))
            self.iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
            threading.Thread(target=self._fetch_forever, name="data-feed", daemon=True).start()
        self.last = self._wait_for_batch()
        self.unsynced += 1
        return self.last

    def sync(self):
        """Set the position after the newest batch and count the images skipped before it."""
        if not self.unsynced:
            return
        indices = _global(self.strategy, self.last["index"])
        last = int(indices.max())
        gap = last + 1 - int(self.position.numpy()) - self.unsynced * indices.size
        if gap > 0:
            self.skipped += gap
            self.new_skips += gap
        self.position.assign(last + 1)
        self.unsynced = 0

    def _fetch_forever(self):
        """Helper thread: one batch per request, so the stream never runs ahead of the position."""
        while True:
            self.requests.get()
            try:
                self.results.put((next(self.iterator), None))
            except BaseException as problem:  # handed to the main thread, raised there
                self.results.put((None, problem))

    def _wait_for_batch(self):
        self.requests.put(True)
        polls = 0
        while True:
            try:
                batch, problem = self.results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if self.stop is not None and self.stop.requested:
                    raise StoppedWaiting()
                polls += 1
                if self.check_data is not None and polls % self.recheck_polls == 0:
                    self.check_data()
                continue
            if problem is not None:
                raise problem
            return batch

    def take_new_skips(self):
        """Images skipped since the last call (for the console); brings the position up to date."""
        self.sync()
        count, self.new_skips = self.new_skips, 0
        return count


def _global(strategy, per_replica):
    """All values of a distributed batch field, on the host (every worker's on several machines)."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return strategy.gather(per_replica, axis=0).numpy()
    return np.concatenate([t.numpy() for t in strategy.experimental_local_results(per_replica)])
