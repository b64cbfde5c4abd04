"""CelebA's files on disk: the attribute file (.txt or .csv), the image folder, the partition file.

Pure Python and NumPy; attribute_groups.py reads labels out of the table, splits.py splits and labels it.
"""
import csv
import io
import os
from dataclasses import dataclass, field

import numpy as np

from sggan.errors import UserError, warn

ATTRIBUTE_FILES = ("list_attr_celeba.txt", "list_attr_celeba.csv")
IMAGE_FOLDERS = ("celebA", "img_align_celeba")
PARTITION_FILE = "list_eval_partition.txt"


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
