"""The training data feed: the batched stream, its position and the images it had to skip.

Every element of the stream carries its index in the endless shuffled sequence (see
pipeline.training_dataset). The feed keeps the index of the next element in a variable that the
checkpoint holds, so a resumed run restarts the stream exactly there, and counts gaps in the
indices as unreadable images skipped.
"""


class DataFeed:
    """One object for the stream, its (checkpointed) position and the skipped-image count."""

    def __init__(self, make_dataset, position):
        """make_dataset(start_index) → batched dataset; position: a tf.Variable (int64)."""
        self.make_dataset = make_dataset
        self.position = position
        self.skipped = 0           # in this run
        self.new_skips = 0         # since the last call to take_new_skips()
        self.iterator = None

    def next_batch(self):
        if self.iterator is None:
            self.iterator = iter(self.make_dataset(int(self.position.numpy())))
        batch = next(self.iterator)
        indices = batch["index"].numpy()
        gap = int(indices[-1]) + 1 - int(self.position.numpy()) - len(indices)
        if gap > 0:
            self.skipped += gap
            self.new_skips += gap
        self.position.assign(int(indices[-1]) + 1)
        return batch

    def take_new_skips(self):
        """Images skipped since the last call (for the console)."""
        count, self.new_skips = self.new_skips, 0
        return count
