"""The image pipeline: the original crop, flips only in training, value range, unreadable images."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sggan.data import pipeline, splits
from sggan.models.sggan.data import TRANSFORM


def marked_celeba_png():
    """A 178 x 218 image whose rows and columns are numbered in its pixel values (lossless PNG)."""
    rows, cols = np.meshgrid(np.arange(218), np.arange(178), indexing="ij")
    pixels = np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_crop_box_is_rows_20_to_197_and_columns_0_to_177():
    square = pipeline.decode_square(tf.constant(marked_celeba_png()), TRANSFORM.crop).numpy()
    assert square.shape == (178, 178, 3)
    assert square[0, 0, 0] == 20 and square[-1, 0, 0] == 197      # rows 20..197
    assert square[0, 0, 1] == 0 and square[0, -1, 1] == 177        # columns 0..177


def test_jpeg_crop_matches_the_decoded_crop():
    pixels = (np.random.default_rng(0).random((218, 178, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    raw = tf.constant(buffer.getvalue())
    fused = pipeline.decode_square(raw, TRANSFORM.crop).numpy()
    full = tf.io.decode_jpeg(raw, channels=3, dct_method="INTEGER_ACCURATE").numpy()[20:198, 0:178]
    assert fused.shape == (178, 178, 3) and np.array_equal(fused, full)
    assert np.array_equal(full, np.asarray(Image.open(io.BytesIO(buffer.getvalue())))[20:198, 0:178])  # as PIL


def test_other_sizes_get_a_centred_square():
    pixels = np.zeros((100, 160, 3), np.uint8)
    pixels[:, 30:130] = 255  # the centred 100 x 100 square is white
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    square = pipeline.decode_square(tf.constant(buffer.getvalue()), TRANSFORM.crop).numpy()
    assert square.shape == (100, 100, 3) and square.min() == 255


def _asymmetric_folder(tmp_path, count=8):
    """Images bright on the left, dark on the right, so a flip is visible."""
    pixels = np.zeros((218, 178, 3), np.uint8)
    pixels[:, :60] = 255
    files = []
    for i in range(count):
        name = f"{i:06d}.png"
        Image.fromarray(pixels).save(tmp_path / name)
        files.append(name)
    listing = splits.LabelledList(files, np.zeros((count, 1), np.int32), np.ones((count, 1), np.float32),
                                  np.arange(count))
    return pipeline.FolderSource(str(tmp_path)), listing


def test_training_flips_about_half_and_test_never(tmp_path):
    source, listing = _asymmetric_folder(tmp_path)
    stream = iter(pipeline.training_dataset(source, listing, 32, 8, 5, TRANSFORM))
    flipped = []
    for _ in range(8):
        batch = next(stream)["image"].numpy()
        flipped += list(batch[:, :, :8].mean(axis=(1, 2, 3)) < batch[:, :, -8:].mean(axis=(1, 2, 3)))
    assert 0.3 < np.mean(flipped) < 0.7
    test = next(iter(pipeline.test_dataset(source, listing, 32, 8, TRANSFORM)))["image"].numpy()
    assert (test[:, :, :8].mean(axis=(1, 2, 3)) > test[:, :, -8:].mean(axis=(1, 2, 3))).all()


def test_values_in_model_range_and_size(tmp_path):
    source, listing = _asymmetric_folder(tmp_path)
    batch = next(iter(pipeline.training_dataset(source, listing, 24, 4, 1, TRANSFORM)))
    image = batch["image"].numpy()
    assert image.shape == (4, 24, 24, 3) and image.dtype == np.float32
    assert image.min() >= -1.0 and image.max() <= 1.0
    assert image.min() == -1.0 and image.max() == 1.0  # black and white pixels reach the ends


def _numbered_folder(tmp_path, count=8):
    """Images whose grey level says which file they are (10, 40, 70, …) and whose white left third
    shows a flip."""
    files = []
    for i in range(count):
        pixels = np.full((218, 178, 3), 10 + 30 * i, np.uint8)
        pixels[:, :60] = 255
        files.append(f"{i:06d}.png")
        Image.fromarray(pixels).save(tmp_path / files[-1])
    listing = splits.LabelledList(files, np.arange(count, dtype=np.int32)[:, None] % 2,
                                  np.ones((count, 1), np.float32), np.arange(count))
    return pipeline.FolderSource(str(tmp_path)), listing


def _elements(source, listing, seed, start_index=0, batches=4, batch_size=4):
    """The stream's elements in order as (stream index, file number, flipped, class)."""
    elements = []
    for batch, _ in zip(pipeline.training_dataset(source, listing, 8, batch_size, seed, TRANSFORM, start_index), range(batches)):
        image = batch["image"].numpy()
        grey = (image.min(axis=(1, 2, 3)) + 1) * 127.5
        flipped = image[:, :, 0].mean(axis=(1, 2)) < image[:, :, -1].mean(axis=(1, 2))
        elements += zip(batch["index"].numpy().tolist(), np.round((grey - 10) / 30).astype(int).tolist(),
                        flipped.tolist(), batch["classes"].numpy()[:, 0].tolist())
    return elements


def test_stream_depends_on_the_seed_and_repeats_with_it(tmp_path):
    source, listing = _numbered_folder(tmp_path)
    first = _elements(source, listing, seed=7)
    assert [e[0] for e in first] == list(range(16))
    files = [e[1] for e in first]
    assert sorted(files[:8]) == sorted(files[8:]) == list(range(8))  # two epochs, each file once
    assert files[:8] != files[8:]                                      # reshuffled each epoch
    assert all(e[3] == e[1] % 2 for e in first)                        # labels travel with their image
    assert _elements(source, listing, seed=7) == first
    other = _elements(source, listing, seed=8)
    assert [e[1] for e in other] != files                              # another order
    assert [e[2] for e in other] != [e[2] for e in first]              # other flips


@pytest.mark.parametrize("start", [8, 6, 13])
def test_resumed_stream_continues_exactly_where_a_straight_run_is(tmp_path, start):
    source, listing = _numbered_folder(tmp_path)
    straight = _elements(source, listing, seed=7, batches=6, batch_size=4)
    resumed = _elements(source, listing, seed=7, start_index=start, batches=2, batch_size=4)
    assert resumed == straight[start:start + 8]


def test_unreadable_image_is_dropped_not_fatal(tmp_path):
    source, listing = _asymmetric_folder(tmp_path, count=4)
    (tmp_path / listing.files[1]).write_bytes(b"not an image")
    indices = []
    for batch, _ in zip(pipeline.training_dataset(source, listing, 8, 1, 0, TRANSFORM), range(6)):
        indices += batch["index"].numpy().tolist()
    assert len(indices) == 6 and len(set(indices)) == 6
    assert max(indices) >= 6  # some stream positions were skipped: the corrupt file
