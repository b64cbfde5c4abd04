"""Whole photos: alignment to CelebA's landmark positions, paste-back, and the photo flow with a
stand-in detector (MTCNN itself is not needed by the tests)."""
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sggan.data import attribute_groups, faces
from sggan.models.sggan import networks, photos
from sggan.models.sggan.editor import CELEBA_TEMPLATE, Editor
from sggan.models.sggan.outputs import output_layout

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]


def rotation(angle, scale, shift):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


def photo_with_landmarks(size=64, shape=(300, 400)):
    """A grey photo with five coloured dots where a tilted, enlarged face has its landmarks."""
    face_to_photo = rotation(0.35, 2.6, (150, 60))
    points = faces.apply(face_to_photo, faces.target_landmarks(CELEBA_TEMPLATE, size))
    image = Image.new("RGB", shape[::-1], (128, 128, 128))
    draw = ImageDraw.Draw(image)
    for (x, y), colour in zip(points, COLOURS):
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=colour)
    return np.asarray(image), points


def test_similarity_recovers_a_known_transform():
    known = rotation(-0.4, 0.7, (12.0, -5.0))
    source = np.random.default_rng(0).random((5, 2)) * 100
    np.testing.assert_allclose(faces.similarity(source, faces.apply(known, source)), known, atol=1e-9)
    np.testing.assert_allclose(faces.invert(known) @ np.vstack([known, [0, 0, 1]]), np.eye(3)[:2], atol=1e-12)


def test_target_landmarks_are_celebas_in_the_model_square():
    np.testing.assert_allclose(faces.target_landmarks(CELEBA_TEMPLATE, 178), faces.CELEBA_LANDMARKS - [0, 20])
    assert faces.target_landmarks(CELEBA_TEMPLATE, 128)[0, 1] == pytest.approx((91 + 0.5) * 128 / 178 - 0.5)


def test_alignment_puts_the_landmarks_on_their_targets():
    photo, points = photo_with_landmarks(size=64)
    crop, forward = faces.align(photo, points, 64, CELEBA_TEMPLATE)
    assert crop.shape == (64, 64, 3)
    np.testing.assert_allclose(faces.apply(forward, points), faces.target_landmarks(CELEBA_TEMPLATE, 64), atol=1e-6)
    for target, colour in zip(faces.target_landmarks(CELEBA_TEMPLATE, 64), COLOURS):
        close = np.all(np.abs(crop.astype(int) - colour) < 60, axis=-1)
        assert close.sum() > 0
        ys, xs = np.nonzero(close)
        assert np.hypot(xs.mean() - target[0], ys.mean() - target[1]) < 1.0


def test_paste_back_changes_only_the_masked_face():
    photo, points = photo_with_landmarks(size=32)
    photo = (photo.astype(int) + np.random.default_rng(1).integers(0, 60, photo.shape)).clip(0, 255).astype(np.uint8)
    _, forward = faces.align(photo, points, 32, CELEBA_TEMPLATE)
    edit = np.full((32, 32, 3), 255, np.uint8)
    result = faces.paste(photo, edit, forward)
    ys, xs = np.mgrid[:photo.shape[0], :photo.shape[1]]
    inside = faces.face_mask(faces.apply(forward, np.stack([xs, ys], -1).reshape(-1, 2)).reshape(ys.shape + (2,)), 32) > 0
    changed = np.any(result != photo, axis=-1)
    assert changed.any() and not changed[~inside].any()
    np.testing.assert_array_equal(result[~inside], photo[~inside])
    centre = faces.apply(faces.invert(forward), [[15.5, 15.5]])[0].round().astype(int)
    assert (result[centre[1], centre[0]] == 255).all()  # the middle of the face is the edit


class StandInDetector:
    """Returns fixed landmarks for photos whose name says so."""

    def __init__(self, points):
        self.points = points

    def landmarks(self, photo):
        return [self.points] if photo.shape[0] == 300 else []


def test_photo_flow_writes_full_size_edits_and_reports_photos_without_faces(tmp_path, capsys):
    groups = [attribute_groups.parse_group("Male", ["Male"])]
    outputs = output_layout(groups)
    cfg = dict(ngf=4, n_blocks=1, image_size=16, ndf=4, d_layers=2, no_sp=True, identity_init=True)
    generator, _ = networks.build(cfg, outputs)
    editor = Editor.from_generator(generator, [o.title for o in outputs], 16, CELEBA_TEMPLATE)
    photo, points = photo_with_landmarks(size=16)
    blank = np.zeros((50, 60, 3), np.uint8)
    count = photos.edit_photos([("a/me.jpg", photo), ("b/wall.png", blank)], editor,
                               StandInDetector(points), str(tmp_path), 4)
    assert count == 1
    assert sorted(os.listdir(tmp_path)) == ["me_faces.png", "me_male.png", "me_not_male.png"]
    edited = np.asarray(Image.open(tmp_path / "me_male.png"))
    assert edited.shape == photo.shape
    assert "b/wall.png: no face found; skipped" in capsys.readouterr().out
