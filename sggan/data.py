"""tf.data pipelines: decode, crop, flip, resize and batch CelebA-shaped images.

Every training element carries its position in the endless shuffled stream (`index`), so that
(a) the trainer can count images skipped as unreadable (gaps in the index) and (b) a resumed run
can start the stream exactly where the interrupted one stopped (`start_index`).
"""
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE

# The original crop of the 178 x 218 aligned CelebA image: rows 20..197, columns 0..177.
CELEBA_SHAPE = (218, 178)
CELEBA_CROP = (20, 0, 178, 178)  # top, left, height, width


def crop_window(height, width):
    """The square to keep: the original CelebA crop for 178 x 218 images, else a centred square."""
    is_celeba = tf.logical_and(tf.equal(height, CELEBA_SHAPE[0]), tf.equal(width, CELEBA_SHAPE[1]))
    side = tf.minimum(height, width)
    centred = tf.stack([(height - side) // 2, (width - side) // 2, side, side])
    return tf.where(is_celeba, tf.constant(CELEBA_CROP), centred)


def decode_square(raw):
    """Decode JPEG or PNG bytes and cut out the square (RGB uint8)."""
    image = tf.io.decode_image(raw, channels=3, expand_animations=False)
    top, left, height, width = tf.unstack(crop_window(tf.shape(image)[0], tf.shape(image)[1]))
    return image[top:top + height, left:left + width]


def to_model_range(square, image_size):
    """Bilinear resize to image_size and scale to [-1, 1] as x / 127.5 - 1."""
    image = tf.image.resize(tf.cast(square, tf.float32), (image_size, image_size), method="bilinear")
    image = tf.clip_by_value(image, 0.0, 255.0) / 127.5 - 1.0
    image.set_shape((image_size, image_size, 3))
    return image


def load_image(raw, image_size, flip_seed=None):
    """Bytes → model-ready image; flips left-right with p = 0.5 when a flip seed is given
    (on the uint8 square, before the resize, where it is cheapest)."""
    square = decode_square(raw)
    if flip_seed is not None:
        square = tf.image.stateless_random_flip_left_right(square, seed=flip_seed)
    return to_model_range(square, image_size)


def training_dataset(source, listing, image_size, batch_size, seed, start_index=0):
    """Endless shuffled, flipped, batched training stream; remainder dropped, prefetched.

    `source` turns a file name into image bytes (a folder or TFRecord shards, see sources).
    """
    data = tf.data.Dataset.from_tensor_slices((listing.files, listing.classes, listing.masks))
    data = data.shuffle(len(listing.files), seed=seed, reshuffle_each_iteration=True).repeat()
    data = data.enumerate().skip(start_index)

    def load(index, element):
        name, classes, masks = element
        flip_seed = tf.stack([tf.cast(seed, tf.int64), index])
        image = load_image(source.read(name), image_size, flip_seed)
        return {"image": image, "classes": classes, "masks": masks, "index": index}

    data = data.map(load, num_parallel_calls=AUTOTUNE, deterministic=True).ignore_errors()
    return data.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def test_dataset(source, listing, image_size, batch_size):
    """The test images in list order, unflipped; unreadable images are dropped (see 'position')."""
    data = tf.data.Dataset.from_tensor_slices((listing.files, listing.classes, listing.masks))
    data = data.enumerate()

    def load(position, element):
        name, classes, masks = element
        image = load_image(source.read(name), image_size)
        return {"image": image, "classes": classes, "masks": masks, "position": position}

    data = data.map(load, num_parallel_calls=AUTOTUNE, deterministic=True).ignore_errors()
    return data.batch(batch_size).prefetch(AUTOTUNE)


class FolderSource:
    """Images as files in one folder."""

    def __init__(self, image_dir):
        self.image_dir = image_dir

    def read(self, name):
        return tf.io.read_file(tf.strings.join([self.image_dir, "/", name]))
