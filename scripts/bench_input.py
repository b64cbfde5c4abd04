"""Benchmark: images/second of the training input pipeline beside bare JPEG decoding of the same files.

    python scripts/bench_input.py [--data_dir DIR] [--images N] [--image_size S] [--batch_size B]

All are measured in this run on the same files, after a warm-up pass that brings the files into the
page cache: bare decoding one file after another (a plain loop), bare decoding in a parallel tf.data
map (the same parallelism as the pipeline), and the training pipeline itself.
"""
import argparse
import os
import time


from sggan.app import startup  # noqa: E402

startup.quiet_environment(verbose=False)  # TensorFlow's settings, before it loads

import tensorflow as tf  # noqa: E402

from sggan.data import attribute_groups, celeba, demo_faces, pipeline, splits  # noqa: E402
from sggan.models.sggan.data import TRANSFORM


def rate(dataset, images):
    start, seen = time.perf_counter(), 0
    for batch in dataset:
        seen += int(tf.shape(batch["image"] if isinstance(batch, dict) else batch)[0])
        if seen >= images:
            break
    return seen / (time.perf_counter() - start)


def decode_jpeg(raw):
    """Bare JPEG decoding with the pipeline's accurate integer IDCT."""
    return tf.io.decode_jpeg(raw, channels=3, dct_method="INTEGER_ACCURATE")


def sequential_decode_rate(source, files, images):
    """Reading and decoding the files one after another in a plain loop."""
    start = time.perf_counter()
    for name in files[:images]:
        decode_jpeg(source.read(tf.constant(name)))
    return images / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="./data/demo_faces")
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--image_size", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args()
    if args.data_dir == "./data/demo_faces":
        demo_faces.ensure(args.data_dir)
    table = celeba.read_attributes(args.data_dir)
    groups = [attribute_groups.parse_group(g, table.names) for g in ("Male", "Smiling", "Black_Hair/Blond_Hair-Brown_Hair",
                                                           "Wearing_Lipstick")]
    rows = celeba.np.arange(min(len(table.files), args.images))
    listing = splits.training_list(table, groups, rows, (None, None, 0, 0))
    source = pipeline.FolderSource(celeba.find_image_dir(args.data_dir, None))
    paths = tf.data.Dataset.from_tensor_slices(listing.files).repeat()
    bare = paths.map(lambda name: decode_jpeg(source.read(name)),
                     num_parallel_calls=pipeline.AUTOTUNE).batch(args.batch_size).prefetch(pipeline.AUTOTUNE)
    training = pipeline.training_dataset(source, listing, args.image_size, args.batch_size, 0, TRANSFORM)
    rate(bare, len(rows))  # warm-up: page cache and tf.data threads
    rate(training, 4 * args.batch_size)  # warm-up: tracing and the shuffle buffer
    sequential = sequential_decode_rate(source, listing.files, min(args.images, len(rows)))
    decode = rate(bare, args.images)
    train = rate(training, args.images)
    print(f"files: {len(rows)} from {args.data_dir}; image_size {args.image_size}, batch {args.batch_size}, "
          f"{os.cpu_count()} CPU cores")
    print(f"bare JPEG decode, one file at a time:      {sequential:8.1f} images/s")
    print(f"bare JPEG decode, parallel tf.data map:    {decode:8.1f} images/s")
    print(f"training input pipeline (decode, crop, resize, flip, scale, shuffle, batch): {train:8.1f} images/s "
          f"= {100 * train / sequential:.0f}% of one-at-a-time decode, {100 * train / decode:.0f}% of parallel decode")


if __name__ == "__main__":
    main()
