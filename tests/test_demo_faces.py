"""The demo dataset: deterministic, CelebA-formatted, and its attributes visible in the pixels."""
import filecmp
import os

import numpy as np
import pytest
from PIL import Image

from sggan.data import celeba, demo_faces, splits
from sggan.errors import UserError


def test_same_seed_same_files(tmp_path):
    a = demo_faces.generate(str(tmp_path / "a"), count=12, seed=9)
    b = demo_faces.generate(str(tmp_path / "b"), count=12, seed=9)
    c = demo_faces.generate(str(tmp_path / "c"), count=12, seed=10)
    names = sorted(os.listdir(os.path.join(a, "img_align_celeba")))
    assert len(names) == 12
    for name in names:
        assert filecmp.cmp(os.path.join(a, "img_align_celeba", name), os.path.join(b, "img_align_celeba", name),
                           shallow=False)
    for name in ("list_attr_celeba.txt", "list_eval_partition.txt"):
        assert filecmp.cmp(os.path.join(a, name), os.path.join(b, name), shallow=False)
    assert not filecmp.cmp(os.path.join(a, "list_attr_celeba.txt"), os.path.join(c, "list_attr_celeba.txt"),
                           shallow=False)


def test_format_is_celebas(demo_dir):
    lines = open(os.path.join(demo_dir, "list_attr_celeba.txt")).read().split("\n")
    assert lines[0] == "160"
    assert lines[1] == " ".join(demo_faces.CELEBA_ATTRIBUTES) + " "
    row = lines[2]
    assert row.startswith("000001.jpg ") and len(row.split()) == 41
    assert all(len(row[11 + 3 * i:13 + 3 * i].strip()) in (1, 2) for i in range(40))
    table = celeba.read_attributes(demo_dir)
    image = Image.open(os.path.join(demo_dir, "img_align_celeba", table.files[0]))
    assert image.size == (178, 218) and image.mode == "RGB"
    train, test = splits.split_rows(table, demo_dir, "partition", 0.1)
    assert len(train) == 128 and len(test) == 16


def _faces(count=300, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        attrs = demo_faces.draw_attributes(rng)
        image, boxes = demo_faces.draw_face(rng, attrs)
        yield attrs, np.asarray(image, dtype=float), boxes


def test_attributes_are_visible_and_correlated():
    redness = {True: [], False: []}
    hair_brightness = {"Black_Hair": [], "Blond_Hair": []}
    lipstick_by_gender = {True: [], False: []}
    for attrs, pixels, boxes in _faces():
        x0, y0, x1, y1 = boxes["mouth"]
        lips = pixels[y0:y1, x0:x1]
        redness[attrs["Wearing_Lipstick"]].append(np.mean(lips[..., 0] - (lips[..., 1] + lips[..., 2]) / 2))
        lipstick_by_gender[attrs["Male"]].append(attrs["Wearing_Lipstick"])
        for hair in hair_brightness:
            if attrs[hair]:
                hx0, hy0, hx1, hy1 = boxes["hair"]
                hair_brightness[hair].append(pixels[hy0:hy1, hx0:hx1].mean())
    assert np.mean(redness[True]) > np.mean(redness[False]) + 30
    assert np.mean(hair_brightness["Blond_Hair"]) > np.mean(hair_brightness["Black_Hair"]) + 60
    assert np.mean(lipstick_by_gender[False]) > 0.6 > 0.1 > np.mean(lipstick_by_gender[True])


def test_a_folder_of_another_drawing_version_is_refused_not_reused(tmp_path):
    folder = demo_faces.ensure(str(tmp_path / "faces"), count=4, seed=1)  # made on first use
    assert open(os.path.join(folder, demo_faces.VERSION_FILE)).read().strip() == str(demo_faces.VERSION)
    assert demo_faces.ensure(folder, count=4, seed=1) == folder
    os.remove(os.path.join(folder, demo_faces.VERSION_FILE))  # as written before versions existed
    with pytest.raises(UserError, match="holds demo faces of another drawing version; delete the folder"):
        demo_faces.ensure(folder, count=4, seed=1)
    assert os.path.isfile(os.path.join(folder, "list_attr_celeba.txt"))  # refused, not deleted
