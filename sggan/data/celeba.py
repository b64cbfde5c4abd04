"""CelebA on disk: the attribute file, attribute groups, train/test splits and sparse labels.

Pure Python and NumPy; the tf.data pipeline that decodes the images lives in data.py.
"""
import csv
import difflib
import io
import os
from dataclasses import dataclass, field

import numpy as np

from sggan.errors import UserError, warn

ATTRIBUTE_FILES = ("list_attr_celeba.txt", "list_attr_celeba.csv")
IMAGE_FOLDERS = ("celebA", "img_align_celeba")
PARTITION_FILE = "list_eval_partition.txt"

# The original split by line position: rows 2..4998 (images 000003..004999) are the test set.
LINE_SPLIT_TEST = (2, 4999)

# Sparse labelling presets of the paper: (labelled single, labelled pair, oversampled prefix, times).
SP_TYPES = {0: (None, None, 0, 0), 1: (10000, 30000, 30000, 10), 2: (1000, 3000, 3000, 50)}


@dataclass
class AttributeTable:
    """Image file names and their labels: CelebA's +1/-1 attributes, or numeric columns (UTKFace)."""
    path: str
    names: list
    files: list
    values: np.ndarray  # integers [images, attributes] (CelebA: int8 +1/-1)
    value_names: dict = field(default_factory=dict)  # column → names of its values 0, 1, … (UTKFace)

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
                    "(download it from the CelebA site next to the images), or UTKFace images named "
                    "[age]_[gender]_[race]_[date&time].jpg")


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
    """One attribute group (task): K >= 2 classes and the rule that labels an image.

    `Male` — class 1 where Male is +1, class 0 elsewhere, every image labelled.
    `Black_Hair/Blond_Hair` — class 0 where Black_Hair is +1, else class 1 where Blond_Hair is +1,
    else unlabelled (the original's rule: class 0 wins when both are set).
    `Black_Hair/Blond_Hair/Brown_Hair` (3+ names) — class i where exactly the i-th name is +1,
    else unlabelled. A suffix `-Gray_Hair` leaves images with Gray_Hair +1 unlabelled.
    `age=0-19,20-39,40-` — class i where the numeric column lies in the i-th bin (ends included,
    `40-` open, `3` one value), else unlabelled.
    """
    spec: str
    kind: str           # "single", "names" or "bins"
    columns: tuple      # single: (name,); names: one per class; bins: (column,)
    bins: tuple = ()    # bins: (low, high) per class, high None = no upper end
    exclude: tuple = ()
    titles: tuple = ()  # bins: display names of the classes when the values have names

    @property
    def n_classes(self):
        return len(self.columns) if self.kind == "names" else len(self.bins) if self.kind == "bins" else 2

    @property
    def multi(self):
        """A choice among several attributes (labelled sparsely by --labelled_pair)."""
        return self.kind == "names"

    @property
    def class_names(self):
        """Display name of every class, in class order."""
        if self.kind == "single":
            return (f"not {self.columns[0]}", self.columns[0])
        if self.kind == "names":
            return self.columns
        return self.titles or tuple(f"{self.columns[0]} {_bin_text(low, high)}" for low, high in self.bins)

    def labels(self, table):
        """Per image: class (int32) and whether the image is labelled for this group."""
        if self.kind == "single":
            classes = (table.column(self.columns[0]) == 1).astype(np.int64)
            known = np.ones(len(table.files), dtype=bool)
        elif self.kind == "bins":
            value = table.column(self.columns[0])
            inside = np.stack([(value >= low) & (high is None or value <= high) for low, high in self.bins])
            known, classes = inside.any(0), np.argmax(inside, 0)
        else:
            is_set = np.stack([table.column(name) == 1 for name in self.columns])
            if len(self.columns) == 2:  # the original's rule: class 0 wins when both are set
                known, classes = is_set.any(0), np.where(is_set[0], 0, 1)
            else:
                known, classes = is_set.sum(0) == 1, np.argmax(is_set, 0)
        for name in self.exclude:
            known &= table.column(name) != 1
        return np.where(known, classes, 0).astype(np.int32), known


def _bin_text(low, high):
    return f"{low}-" if high is None else str(low) if high == low else f"{low}-{high}"


def parse_group(spec, names, value_names=None):
    """Read the group notation (see Group), checking every name against the attribute table.

    value_names: column → names of its values (a bin may then be a name: gender=male,female).
    """
    if "=" in spec:
        return _parse_bins(spec, names, (value_names or {}))
    main, *excluded = spec.split("-")
    parts = main.split("/")
    if not all(parts) or not all(excluded) or len(set(parts)) != len(parts):
        raise UserError(f"attribute group {spec!r} is not of the form NAME or A/B/…, optionally "
                        "followed by -C (e.g. Black_Hair/Blond_Hair-Brown_Hair), or NAME=BINS (e.g. age=0-19,20-)")
    for name in parts + excluded:
        _check_name(name, spec, names)
    kind = "names" if len(parts) > 1 else "single"
    return Group(spec, kind, tuple(parts), exclude=tuple(excluded))


def _parse_bins(spec, names, value_names):
    """`column=low-high,low-,value,…` → a bins group; bins must not overlap."""
    column, _, text = spec.partition("=")
    _check_name(column, spec, names)
    known = list(value_names.get(column, ()))
    bins, titles = [], []
    for token in text.split(","):
        token = token.strip()
        if token in known:
            bins.append((known.index(token), known.index(token)))
            titles.append(token)
            continue
        low, dash, high = token.partition("-")
        try:
            bin_ = (int(low), None if dash and not high else int(high or low))
        except ValueError:
            named = f" or one of {', '.join(known)}" if known else ""
            raise UserError(f"group {spec!r}: bin {token!r} is not LOW-HIGH, LOW- or VALUE (whole numbers){named}")
        if bin_[1] is not None and bin_[1] < bin_[0]:
            raise UserError(f"group {spec!r}: bin {token!r} ends before it starts")
        bins.append(bin_)
    if len(bins) < 2:
        raise UserError(f"group {spec!r} needs at least two bins (e.g. {column}=0-19,20-)")
    ordered = sorted(bins)
    for (_, high), (low, _) in zip(ordered, ordered[1:]):
        if high is None or high >= low:
            raise UserError(f"group {spec!r}: bins overlap")
    titles = tuple(titles) if len(titles) == len(bins) else ()
    return Group(spec, "bins", (column,), tuple(bins), titles=titles)


def _check_name(name, spec, names):
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"valid names: {' '.join(names)}"
        raise UserError(f"unknown attribute {name!r} in group {spec!r}; {hint}")


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
    limits = np.array([pair if g.multi else single for g in groups], dtype=object)
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
