"""Train/test splits and labelled lists: which images train and test, which carry labels (the
paper's sparse plan), and the lists the pipelines read (file, class and mask per group)."""
import os
from dataclasses import dataclass

import numpy as np

from sggan.data.celeba import PARTITION_FILE, read_text
from sggan.errors import UserError

# The original split by line position: rows 2..4998 (images 000003..004999) are the test set.
LINE_SPLIT_TEST = (2, 4999)

@dataclass(frozen=True)
class SparsePlan:
    """Which training images carry labels: the first `single` for one-attribute and binned groups,
    the first `pair` for groups of names (None: all), and the first `prefix` appended `times` more."""
    single: int = None
    pair: int = None
    prefix: int = 0
    times: int = 0


# Sparse labelling presets of the paper (--sp_type).
SP_TYPES = {0: SparsePlan(), 1: SparsePlan(10000, 30000, 30000, 10), 2: SparsePlan(1000, 3000, 3000, 50)}


def split_rows(table, data_dir, split, test_fraction):
    """Row indices of the training and the test images, by the chosen split."""
    n = len(table.files)
    if split == "lines":
        start, stop = LINE_SPLIT_TEST
        train, test = np.arange(stop, n), np.arange(start, min(stop, n))
        if len(train) == 0:
            raise UserError(f"the original line split keeps images 3..4999 for testing, but "
                            f"{table.path} has only {n} rows; use --split fraction or --split partition")
        return train, test
    if split == "partition":
        return _partition_split(table, os.path.join(data_dir, PARTITION_FILE))
    if split == "all":  # VAC+GAN's original: train on every image; the test list is every image too
        return np.arange(n), np.arange(n)
    n_test = max(1, int(round(n * test_fraction)))
    if n_test >= n:
        raise UserError(f"--test_fraction {test_fraction} leaves no training images out of {n}")
    return np.arange(0, n - n_test), np.arange(n - n_test, n)


def _partition_split(table, path):
    if not os.path.isfile(path):
        raise UserError(f"--split partition needs {path}; it is missing (use --split lines or fraction)")
    part = {}
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) != 2 or cells[1] not in ("0", "1", "2"):
            raise UserError(f"{path} line {number}: expected `<file> 0|1|2`, got {line.strip()[:60]!r}")
        part[cells[0]] = int(cells[1])
    missing = [f for f in table.files if f not in part]
    if missing:
        raise UserError(f"{path} has no entry for {len(missing)} listed image(s), e.g. {missing[0]}")
    which = np.array([part[f] for f in table.files])
    train, test = np.flatnonzero(which == 0), np.flatnonzero(which == 2)
    if len(test) == 0:
        test = np.flatnonzero(which == 1)  # no test part: the validation part stands in
    if len(train) == 0 or len(test) == 0:
        raise UserError(f"{path} leaves the training or the test set empty")
    return train, test


def sparse_plan(sp_type, labelled, labelled_pair, oversample_times, n_train):
    """How many leading training images are labelled (single, pair groups) and what is oversampled."""
    if labelled is None and labelled_pair is None and oversample_times == 0:
        return SP_TYPES[sp_type]

    def count(value):
        if value is None:
            return None
        return int(round(value * n_train)) if value < 1 else int(value)

    single = count(labelled)
    pair = count(labelled_pair) if labelled_pair is not None else single
    prefix = max(n for n in (single, pair, 0) if n is not None) if oversample_times else 0
    if oversample_times and prefix == 0:
        raise UserError("--oversample_times needs --labelled (which prefix to oversample)")
    return SparsePlan(single, pair, prefix, oversample_times)


@dataclass
class LabelledList:
    """Image files with one class and one label mask per group (training or test)."""
    files: list
    classes: np.ndarray  # int32 [entries, groups]
    masks: np.ndarray    # float32 [entries, groups]; 1 = labelled for that group
    rows: np.ndarray     # row in the attribute table of each entry

    def first(self, n):
        """The first n entries."""
        return LabelledList(self.files[:n], self.classes[:n], self.masks[:n], self.rows[:n])


def group_labels(table, groups):
    """Classes and 'known' flags of every image for every group: ([N, G] int32, [N, G] bool)."""
    pairs = [g.labels(table) for g in groups]
    return np.stack([c for c, _ in pairs], 1), np.stack([k for _, k in pairs], 1)


def training_list(table, groups, train_rows, plan):
    """The training list: masks from the sparse plan, then the labelled prefix oversampled."""
    single, pair, prefix, times = plan.single, plan.pair, plan.prefix, plan.times
    classes, known = group_labels(table, groups)
    position = np.arange(len(train_rows))
    limits = np.array([pair if g.of_names else single for g in groups], dtype=object)
    sparse = np.stack([position < (len(train_rows) if lim is None else lim) for lim in limits], 1)
    masks = (known[train_rows] & sparse).astype(np.float32)
    order = np.concatenate([position] + [position[:prefix]] * times) if times else position
    rows = train_rows[order]
    return LabelledList([table.files[r] for r in rows], classes[train_rows][order], masks[order], rows)


def test_list(table, groups, test_rows):
    """The test list (all test images; masks say which are labelled for each group)."""
    classes, known = group_labels(table, groups)
    return LabelledList([table.files[r] for r in test_rows], classes[test_rows],
                        known[test_rows].astype(np.float32), test_rows)


def attribute_list(table, rows):
    """All attributes of the given rows as 0/1 classes, every one labelled (VAC+GAN's data)."""
    classes = (table.values[rows] == 1).astype(np.int32)
    return LabelledList([table.files[r] for r in rows], classes, np.ones(classes.shape, np.float32), np.asarray(rows))


def balanced_rows(test, group_index, n_classes=2):
    """Positions in the test list of a class-balanced labelled subset for one group: as many
    labelled images of each class as the rarest class has.

    The original measured hair accuracy on as many black- as blond-haired test images.
    """
    labelled = test.masks[:, group_index] > 0
    cls = test.classes[:, group_index]
    members = [np.flatnonzero(labelled & (cls == c)) for c in range(n_classes)]
    n = min(len(m) for m in members)
    return np.sort(np.concatenate([m[:n] for m in members]))


def without(listing, missing):
    """The list with the entries whose file is in `missing` removed."""
    if not missing:
        return listing
    keep = np.array([f not in missing for f in listing.files])
    return LabelledList([f for f, k in zip(listing.files, keep) if k], listing.classes[keep],
                        listing.masks[keep], listing.rows[keep])
