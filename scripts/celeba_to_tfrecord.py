"""Convert a CelebA folder into sharded TFRecords (JPEG bytes + the 40 labels + the attribute names).

    python scripts/celeba_to_tfrecord.py --data_dir data/celeba --out data/celeba_tfrecord [--shard_size 10000]

Train from the shards with `python main.py --data_dir data/celeba_tfrecord` (detected
automatically, or `--data_format tfrecord`). Copy list_eval_partition.txt beside them for --split partition.
"""
import argparse
import os
import shutil
import sys
import time


from sggan.app import startup  # noqa: E402

startup.quiet_environment(verbose=False)  # TensorFlow's settings, before it loads

from sggan.data import celeba, tfrecord  # noqa: E402
from sggan.errors import UserError  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--image_dir", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--shard_size", type=int, default=10000)
    args = parser.parse_args()
    try:
        table = celeba.read_attributes(args.data_dir)
        image_dir = celeba.find_image_dir(args.data_dir, args.image_dir)
        celeba.check_images_present(image_dir, table.files, skip_missing=False)
    except UserError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    start = time.time()
    paths = tfrecord.write_shards(table, image_dir, args.out, args.shard_size)
    partition = os.path.join(args.data_dir, celeba.PARTITION_FILE)
    if os.path.isfile(partition):
        shutil.copy(partition, args.out)
    print(f"wrote {len(table.files)} images in {len(paths)} shard(s) to {args.out} in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
