"""CelebA on disk: the attribute file, attribute groups, train/test splits and sparse labels.

Pure Python and NumPy; the tf.data pipeline that decodes the images lives in data.py.
"""
import csv
import difflib
import io
import os
from dataclasses import dataclass

import numpy as np

from sggan.core.errors import UserError, warn

ATTRIBUTE_FILES = ("list_attr_celeba.txt", "list_attr_celeba.csv")
IMAGE_FOLDERS = ("celebA", "img_align_celeba")
PARTITION_FILE = "list_eval_partition.txt"

# The original split by line position: rows 2..4998 (images 000003..004999) are the test set.
LINE_SPLIT_TEST = (2, 4999)

# Sparse labelling presets of the paper: (labelled single, labelled pair, oversampled prefix, times).
SP_TYPES = {0: (None, None, 0, 0), 1: (10000, 30000, 30000, 10), 2: (1000, 3000, 3000, 50)}


@dataclass
class AttributeTable:
    """list_attr_celeba: the image file names and their +1/-1 attribute values."""
    path: str
    names: list
    files: list
    values: np.ndarray  # int8, [images, attributes]

    def column(self, name):
        return self.values[:, self.names.index(name)]


def read_attributes(data_dir):
    """Find and parse the attribute file in data_dir (text or CSV variant)."""
    if not os.path.isdir(data_dir):
        raise UserError(f"data folder {data_dir} does not exist; set --data_dir to the folder holding "
                        "list_attr_celeba.txt (or use --demo for the bundled demo faces)")
    for name in ATTRIBUTE_FILES:
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return parse_attribute_csv(path) if name.endswith(".csv") else parse_attribute_txt(path)
    raise UserError(f"no attribute file in {data_dir}: expected {' or '.join(ATTRIBUTE_FILES)} "
                    "(download it from the CelebA site next to the images)")


def parse_attribute_txt(path):
    """Parse list_attr_celeba.txt: a count, the names, then `file v1 … vN` rows split on whitespace."""
    lines = [line for line in read_text(path).split("\n") if line.strip()]
    if len(lines) < 2:
        raise UserError(f"{path}: too short to be an attribute file (needs a count line and a names line)")
    try:
        declared = int(lines[0].split()[0])
    except ValueError:
        raise UserError(f"{path} line 1: expected the image count, got {lines[0].strip()[:40]!r}")
    names = lines[1].split()
    rows = [(number, line.split()) for number, line in enumerate(lines[2:], start=3)]
    table = _table(path, names, rows)
    if declared != len(table.files):
        warn(f"{path} declares {declared} images but holds {len(table.files)} rows; using the rows")
    return table


def parse_attribute_csv(path):
    """Parse the CSV variant: `image_id,<names…>` then one row per image."""
    try:
        reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
        header = next(reader, None)
        if not header:
            raise UserError(f"{path}: empty file")
        rows = [(number, [cell.strip() for cell in row]) for number, row in enumerate(reader, start=2) if row]
    except csv.Error as problem:
        raise UserError(f"{path} line {reader.line_num}: not readable as CSV ({problem})")
    return _table(path, [h.strip() for h in header[1:]], rows)


def read_text(path):
    """A UTF-8 text file's content with universal newlines; a binary or otherwise encoded file is
    a one-line error."""
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data:
        raise UserError(f"{path} is a binary file, not a text file; is it the right file?")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        line = data[:problem.start].count(b"\n") + 1
        raise UserError(f"{path} line {line}: not UTF-8 text (byte {data[problem.start]:#04x}); "
                        "save it as UTF-8 (or plain ASCII) text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _table(path, names, rows):
    if not names:
        raise UserError(f"{path}: no attribute names found")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"{path}: attribute name(s) listed more than once: {', '.join(repeated)}")
    for number, cells in rows:
        if len(cells) != len(names) + 1:
            raise UserError(f"{path} line {number}: expected a file name and {len(names)} values, "
                            f"found {len(cells) - 1} values")
    try:
        flat = np.fromstring(" ".join(" ".join(cells[1:]) for _, cells in rows), dtype=np.int64, sep=" ")
    except ValueError:  # text that is not an integer (`1.0`, `yes`)
        flat = np.zeros(0, np.int64)
    if flat.size != len(rows) * len(names) or not np.isin(flat, (1, -1)).all():
        _raise_first_bad_value(path, names, rows)
    values = flat.reshape(len(rows), len(names)).astype(np.int8)
    return AttributeTable(path, names, [cells[0] for _, cells in rows], values)


def _raise_first_bad_value(path, names, rows):
    for number, cells in rows:
        for name, value in zip(names, cells[1:]):
            if value not in ("1", "-1", "+1"):
                raise UserError(f"{path} line {number}: attribute values must be 1 or -1, "
                                f"found {value!r} for {name}")


@dataclass(frozen=True)
class Group:
    """One attribute group (task): two classes and the rule that labels an image.

    `Male` — class 1 where Male is +1, class 0 elsewhere, every image labelled.
    `Black_Hair/Blond_Hair` — class 0 where Black_Hair is +1, else class 1 where Blond_Hair is +1,
    else unlabelled. A suffix `-Brown_Hair` leaves images with Brown_Hair +1 unlabelled.
    """
    spec: str
    on: str             # attribute of class 1
    off: str = None     # attribute of class 0 (two-way groups only)
    exclude: tuple = ()

    @property
    def is_pair(self):
        return self.off is not None

    @property
    def class_names(self):
        """Display names of (class 1, class 0), i.e. of the 'on' and 'off' outputs."""
        return (self.on, self.off) if self.is_pair else (self.on, f"not {self.on}")

    def labels(self, table):
        """Per image: class (0/1, int32) and whether the image is labelled for this group."""
        on = table.column(self.on) == 1
        if self.is_pair:
            off = table.column(self.off) == 1
            known = on | off
            classes = np.where(off, 0, 1)  # the original rule: class 0 wins when both are set
        else:
            known = np.ones(len(table.files), dtype=bool)
            classes = on.astype(np.int64)
        for name in self.exclude:
            known &= table.column(name) != 1
        return np.where(known, classes, 0).astype(np.int32), known


def parse_group(spec, names):
    """Read the group notation (see Group), checking every name against the attribute file."""
    main, *excluded = spec.split("-")
    parts = main.split("/")
    if len(parts) > 2 or not all(parts) or not all(excluded):
        raise UserError(f"attribute group {spec!r} is not of the form NAME or A/B, optionally "
                        "followed by -C (e.g. Black_Hair/Blond_Hair-Brown_Hair)")
    for name in parts + excluded:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"valid names: {' '.join(names)}"
            raise UserError(f"unknown attribute {name!r} in group {spec!r}; {hint}")
    if len(parts) == 2:
        return Group(spec, on=parts[1], off=parts[0], exclude=tuple(excluded))
    return Group(spec, on=parts[0], exclude=tuple(excluded))


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
    return single, pair, prefix, oversample_times


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
    single, pair, prefix, times = plan
    classes, known = group_labels(table, groups)
    position = np.arange(len(train_rows))
    limits = np.array([pair if g.is_pair else single for g in groups], dtype=object)
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


def balanced_rows(test, group_index):
    """Positions in the test list of a class-balanced labelled subset for one group.

    The original measured hair accuracy on as many black- as blond-haired test images.
    """
    labelled = test.masks[:, group_index] > 0
    cls = test.classes[:, group_index]
    zeros, ones = np.flatnonzero(labelled & (cls == 0)), np.flatnonzero(labelled & (cls == 1))
    n = min(len(zeros), len(ones))
    return np.sort(np.concatenate([zeros[:n], ones[:n]]))


def find_image_dir(data_dir, image_dir):
    """The folder holding the images: --image_dir, else celebA/ or img_align_celeba/ in data_dir."""
    if image_dir:
        if not os.path.isdir(image_dir):
            raise UserError(f"--image_dir {image_dir} does not exist")
        return image_dir
    for name in IMAGE_FOLDERS:
        path = os.path.join(data_dir, name)
        if os.path.isdir(path):
            return path
    raise UserError(f"no image folder in {data_dir}: expected {' or '.join(IMAGE_FOLDERS)}/ "
                    "(or point --image_dir at the images)")


def check_images_present(image_dir, files, skip_missing):
    """Refuse (or, with skip_missing, report) listed images that are not on disk; return the missing set."""
    on_disk = set(os.listdir(image_dir))
    missing = sorted({f for f in files if f not in on_disk})
    if missing and not skip_missing:
        raise UserError(f"{len(missing)} listed image(s) missing in {image_dir}, e.g. "
                        f"{', '.join(missing[:3])}; add them or pass --skip_missing to train without them")
    if missing:
        warn(f"skipping {len(missing)} listed image(s) missing in {image_dir}, e.g. {', '.join(missing[:3])}")
    return set(missing)


def without(listing, missing):
    """The list with the entries whose file is in `missing` removed."""
    if not missing:
        return listing
    keep = np.array([f not in missing for f in listing.files])
    return LabelledList([f for f, k in zip(listing.files, keep) if k], listing.classes[keep],
                        listing.masks[keep], listing.rows[keep])
