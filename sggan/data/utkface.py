"""UTKFace's aligned-and-cropped faces: labels read from the file names, no attribute file.

Files are named `[age]_[gender]_[race]_[date&time].jpg` (the distributed archive appends
`.chip.jpg`): age in years, gender 0 male / 1 female, race 0 White, 1 Black, 2 Asian, 3 Indian,
4 Others. The folder becomes an AttributeTable with the numeric columns age, gender and race, so
groups such as `age=0-19,20-39,40-59,60-` and `gender=male,female` label it like CelebA.
"""
import os
import re

import numpy as np

from sggan.data.celeba import ATTRIBUTE_FILES, AttributeTable
from sggan.errors import UserError, warn

NAME = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)\.jpg(\.chip\.jpg)?$", re.IGNORECASE)
COLUMNS = ("age", "gender", "race")
VALUE_NAMES = {"gender": ("male", "female"), "race": ("White", "Black", "Asian", "Indian", "Others")}
SUBFOLDER = "UTKFace"
ORDER_SEED = 0  # the file list is shuffled once, with this seed, so that splits mix ages


def parse_name(name):
    """(age, gender, race) from a UTKFace file name; None when the name does not follow the pattern
    or a gender / race code is out of range."""
    match = NAME.match(name)
    if not match:
        return None
    age, gender, race = (int(match.group(i)) for i in (1, 2, 3))
    if gender >= len(VALUE_NAMES["gender"]) or race >= len(VALUE_NAMES["race"]):
        return None
    return age, gender, race


def find_folder(data_dir, image_dir=None):
    """The UTKFace image folder for these settings, or None when the data is not UTKFace.

    UTKFace: no CelebA attribute file in data_dir, and image_dir (else data_dir, else
    data_dir/UTKFace) holds at least one file named by the pattern.
    """
    if any(os.path.isfile(os.path.join(data_dir, name)) for name in ATTRIBUTE_FILES):
        return None
    candidates = [image_dir] if image_dir else [data_dir, os.path.join(data_dir, SUBFOLDER)]
    for folder in candidates:
        if os.path.isdir(folder) and any(NAME.match(n) for n in os.listdir(folder)):
            return folder
    return None


def read_table(folder):
    """The folder's images and their labels; files that do not parse are reported and skipped.

    Rows are the sorted names shuffled with a fixed seed: sorted names run by age, so a split by
    position would otherwise put the oldest faces in the test set.
    """
    names = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))
    parsed = [(n, parse_name(n)) for n in names]
    bad = [n for n, labels in parsed if labels is None]
    good = [(n, labels) for n, labels in parsed if labels is not None]
    if bad:
        warn(f"skipping {len(bad)} file(s) in {folder} whose names are not "
             f"[age]_[gender]_[race]_[date&time].jpg, e.g. {', '.join(bad[:3])}")
    if not good:
        raise UserError(f"no UTKFace images in {folder}")
    order = np.random.default_rng(ORDER_SEED).permutation(len(good))
    files = [good[i][0] for i in order]
    values = np.array([good[i][1] for i in order], dtype=np.int32)
    return AttributeTable(folder, list(COLUMNS), files, values, dict(VALUE_NAMES))
