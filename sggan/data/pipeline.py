"""tf.data pipelines: decode, crop, flip, resize and batch CelebA-shaped images.

Every training element carries its position in the endless shuffled stream (`index`), so that
(a) the trainer can count images skipped as unreadable (gaps in the index) and (b) a resumed run
can start the stream exactly where the interrupted one stopped (`start_index`).
"""
from dataclasses import dataclass

import tensorflow as tf

from sggan.errors import UserError

AUTOTUNE = tf.data.AUTOTUNE

CELEBA_SHAPE = (218, 178)


@dataclass(frozen=True)
class Transform:
    """How a model turns a photo into a training image; each model declares its own.

    crop: (top, left, height, width) of the square kept from a 178 x 218 CelebA image (other
    shapes keep their centred square); pil_resize: PIL's resize (antialiased, rounded to uint8,
    as scipy.misc.imresize) rather than plain bilinear in floating point (as cv2.resize)."""
    crop: tuple
    pil_resize: bool


def crop_window(height, width, crop):
    """The square to keep: `crop` for 178 x 218 (CelebA) images, else a centred square."""
    is_celeba = tf.logical_and(tf.equal(height, CELEBA_SHAPE[0]), tf.equal(width, CELEBA_SHAPE[1]))
    side = tf.minimum(height, width)
    centred = tf.stack([(height - side) // 2, (width - side) // 2, side, side])
    return tf.where(is_celeba, tf.constant(crop), centred)


def decode_square(raw, crop):
    """Decode JPEG or PNG bytes and cut out the square (RGB uint8). JPEGs are decoded inside the
    crop window with the accurate integer IDCT, as PIL and OpenCV decode (TensorFlow's default
    fast IDCT differs by about one grey level on average)."""
    def jpeg():
        shape = tf.io.extract_jpeg_shape(raw)
        window = crop_window(shape[0], shape[1], crop)
        return tf.io.decode_and_crop_jpeg(raw, window, channels=3, dct_method="INTEGER_ACCURATE")

    def other():
        image = tf.io.decode_image(raw, channels=3, expand_animations=False)
        top, left, height, width = tf.unstack(crop_window(tf.shape(image)[0], tf.shape(image)[1], crop))
        return image[top:top + height, left:left + width]

    return tf.cond(tf.io.is_jpeg(raw), jpeg, other)


def pil_bilinear(square, image_size):
    """PIL's bilinear resize of a uint8 image (antialiased when shrinking): width first, then
    height, each pass rounded to uint8 as PIL does. Returns float32 values 0..255."""
    image = tf.cast(square, tf.float32)
    for size in ((tf.shape(image)[0], image_size), (image_size, image_size)):
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        image = tf.round(tf.clip_by_value(image, 0.0, 255.0))
    return image


def to_model_range(square, image_size, transform):
    """Resize to image_size (see Transform) and scale to [-1, 1] as x / 127.5 - 1."""
    if transform.pil_resize:
        image = pil_bilinear(square, image_size)
    else:
        image = tf.image.resize(tf.cast(square, tf.float32), (image_size, image_size), method="bilinear")
    image = tf.clip_by_value(image, 0.0, 255.0) / 127.5 - 1.0
    image.set_shape((image_size, image_size, 3))
    return image


def load_image(raw, image_size, transform, flip_seed=None):
    """Bytes → model-ready image; flips left-right with p = 0.5 when a flip seed is given
    (on the uint8 square, before the resize, where it is cheapest)."""
    square = decode_square(raw, transform.crop)
    if flip_seed is not None:
        square = tf.image.stateless_random_flip_left_right(square, seed=flip_seed)
    return to_model_range(square, image_size, transform)


def training_dataset(source, listing, image_size, batch_size, seed, transform, start_index=0, flip=True,
                     steps=None):
    """Endless shuffled, (flipped,) batched training stream; remainder dropped, prefetched.

    `source` turns a file name into image bytes (a folder or TFRecord shards, see sources).
    With `steps`, one element holds the batches of a whole training iteration laid out
    [batch_size, steps, ...]: row b, column s is image b of the iteration's batch s (the stream's
    element s·batch_size + b). Batch-major, so that a tf.distribute strategy gives each replica
    its rows of every one of the iteration's batches.
    """
    data = tf.data.Dataset.from_tensor_slices((listing.files, listing.classes, listing.masks))
    data = data.shuffle(len(listing.files), seed=seed, reshuffle_each_iteration=True).repeat()
    data = data.enumerate().skip(start_index)

    def load(index, element):
        name, classes, masks = element
        flip_seed = tf.stack([tf.cast(seed, tf.int64), index]) if flip else None
        image = load_image(source.read(name), image_size, transform, flip_seed)
        return {"image": image, "classes": classes, "masks": masks, "index": index}

    data = data.map(load, num_parallel_calls=AUTOTUNE, deterministic=True).ignore_errors()
    if steps:
        data = data.batch(steps * batch_size, drop_remainder=True).map(_batch_major(steps, batch_size)).unbatch()
    return data.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def _batch_major(steps, batch_size):
    """[steps·batch, ...] → [batch, steps, ...] for every field."""
    def swap(element):
        def one(t):
            t = tf.reshape(t, tf.concat([[steps, batch_size], tf.shape(t)[1:]], 0))
            return tf.transpose(t, tf.concat([[1, 0], tf.range(2, tf.rank(t))], 0))
        return {k: one(v) for k, v in element.items()}
    return swap


def test_dataset(source, listing, image_size, batch_size, transform):
    """The test images in list order, unflipped; unreadable images are dropped (see 'position')."""
    data = tf.data.Dataset.from_tensor_slices((listing.files, listing.classes, listing.masks))
    data = data.enumerate()

    def load(position, element):
        name, classes, masks = element
        image = load_image(source.read(name), image_size, transform)
        return {"image": image, "classes": classes, "masks": masks, "position": position}

    data = data.map(load, num_parallel_calls=AUTOTUNE, deterministic=True).ignore_errors()
    return data.batch(batch_size).prefetch(AUTOTUNE)


PROBE_LIMIT = 64  # images tried before a stream is declared unable to yield anything


def check_readable(source, files, what, limit=PROBE_LIMIT):
    """Refuse a list in which none of up to `limit` images (spread over the list) can be decoded.

    The streams drop unreadable images; with none readable they would wait forever for a batch
    (git LFS pointer files instead of JPEGs, or a failed unzip, do this).
    """
    step = max(1, len(files) // limit)
    tried = []
    for name in list(files)[::step][:limit]:
        problem = _unreadable(source, name)
        if problem is None:
            return
        tried.append(f"{name} ({problem})")
    raise UserError(f"none of the {len(tried)} {what} images tried can be read, e.g. {'; '.join(tried[:3])}"
                    + ("; these are git LFS pointers: run `git lfs pull`" if "LFS" in tried[0] else ""))


def _unreadable(source, name):
    """Why an image cannot be decoded, or None when it can."""
    try:
        data = source.read(tf.constant(name)).numpy()
    except tf.errors.OpError as problem:  # the file itself cannot be read
        return problem.message.splitlines()[0][:80]
    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)
        return None
    except tf.errors.OpError:
        pass
    if data.startswith(b"version https://git-lfs"):
        return "a git LFS pointer file, not the image"
    return "an empty file" if not data else f"not a JPEG/PNG image: starts {data[:12]!r}"


class FolderSource:
    """Images as files in one folder."""

    def __init__(self, image_dir):
        self.image_dir = image_dir

    def read(self, name):
        return tf.io.read_file(tf.strings.join([self.image_dir, "/", name]))
