"""CelebA as sharded TFRecords: the JPEG bytes, the 40 labels and the attribute names.

Shards are `celeba-SSSSS-of-NNNNN.tfrecord`, each record {filename, image (the file's bytes),
labels (40 int64 in {0, 1})}; `attributes.tfrecord` holds one record with the names. Reading
gives the same AttributeTable and the same image bytes as the folder, so a run from shards
matches a run from the folder exactly.

Shards written by VAC+GAN's original converter are read too: `tfrecord_N.tfrec` with records
{image, labels} and no file name, `attribute_list.tfrec` with one string `'5_o_Clock_Shadow',
'Arched_Eyebrows', …`. That converter writes the images in the order of list_attr_celeba.txt, so
each record is named by its position (shards in the order of N): 000001.jpg, 000002.jpg, … as in
CelebA, which keeps the line and partition splits working.
"""
import ast
import glob
import os
import re

import numpy as np
import tensorflow as tf

from sggan.data.celeba import AttributeTable
from sggan.errors import UserError
from sggan.files import replaced_atomically

SHARD_PATTERN = "celeba-*-of-*.tfrecord"
NAMES_FILE = "attributes.tfrecord"
ORIGINAL_SHARD_PATTERN = "tfrecord_*.tfrec"  # VAC+GAN's original converter
ORIGINAL_NAMES_FILE = "attribute_list.tfrec"


def _original_shards(data_dir):
    """The original converter's shards in the order it wrote them (by N, not by text)."""
    paths = glob.glob(os.path.join(data_dir, ORIGINAL_SHARD_PATTERN))
    numbered = [(re.fullmatch(r"tfrecord_(\d+)\.tfrec", os.path.basename(p)), p) for p in paths]
    return [p for m, p in sorted((int(m.group(1)), p) for m, p in numbered if m)]


def has_shards(data_dir):
    return bool(glob.glob(os.path.join(data_dir, SHARD_PATTERN)) or _original_shards(data_dir))


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def write_shards(table, image_dir, out_dir, shard_size=10000):
    """Write every image of `table` into shards in out_dir; returns the shard paths."""
    os.makedirs(out_dir, exist_ok=True)
    count = max(1, -(-len(table.files) // shard_size))
    paths = []
    for shard in range(count):
        path = os.path.join(out_dir, f"celeba-{shard:05d}-of-{count:05d}.tfrecord")
        with replaced_atomically(path) as tmp, tf.io.TFRecordWriter(tmp) as writer:
            for row in range(shard * shard_size, min(len(table.files), (shard + 1) * shard_size)):
                name = table.files[row]
                with open(os.path.join(image_dir, name), "rb") as f:
                    image = f.read()
                labels = (table.values[row] == 1).astype(np.int64)
                example = tf.train.Example(features=tf.train.Features(feature={
                    "filename": _bytes([name.encode()]), "image": _bytes([image]),
                    "labels": tf.train.Feature(int64_list=tf.train.Int64List(value=labels))}))
                writer.write(example.SerializeToString())
        paths.append(path)
    names = tf.train.Example(features=tf.train.Features(feature={
        "names": _bytes([n.encode() for n in table.names])}))
    with replaced_atomically(os.path.join(out_dir, NAMES_FILE)) as tmp, tf.io.TFRecordWriter(tmp) as writer:
        writer.write(names.SerializeToString())
    return paths


class TFRecordSource:
    """Image bytes by file name, held in memory (a hash table) after one pass over the shards."""

    def __init__(self, names, images):
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(names), tf.constant(images)), default_value=b"")

    def read(self, name):
        return self.table.lookup(tf.convert_to_tensor(name, tf.string))


def _first_record(path, feature):
    record = next(iter(tf.data.TFRecordDataset(path)))
    return tf.io.parse_single_example(record, {"names": feature})["names"]


def _layout(data_dir):
    """(shard paths in order, attribute names, whether records carry their file name)."""
    own = sorted(glob.glob(os.path.join(data_dir, SHARD_PATTERN)))
    names_file = NAMES_FILE if own else ORIGINAL_NAMES_FILE
    names_path = os.path.join(data_dir, names_file)
    if not os.path.isfile(names_path):
        raise UserError(f"{names_path} is missing: the TFRecord shards need their attribute-name record "
                        f"({'written by scripts/celeba_to_tfrecord.py' if own else 'attribute_list.tfrec'})")
    try:
        if own:
            names = tf.sparse.to_dense(_first_record(names_path, tf.io.VarLenFeature(tf.string))).numpy()
            names = [n.decode() for n in names]
        else:
            text = _first_record(names_path, tf.io.FixedLenFeature([], tf.string)).numpy().decode()
            names = [str(n) for n in ast.literal_eval(f"[{text}]")]
    except (tf.errors.OpError, StopIteration, UnicodeDecodeError, SyntaxError, ValueError) as problem:
        reason = _reason(problem) if isinstance(problem, tf.errors.OpError) else "no readable list of names"
        raise UserError(f"{names_path} cannot be read ({reason}); write it again with "
                        "scripts/celeba_to_tfrecord.py")
    if not names or len(set(names)) != len(names):
        raise UserError(f"{names_path} holds no attribute names or repeats one; write it again with "
                        "scripts/celeba_to_tfrecord.py")
    return (own or _original_shards(data_dir)), names, bool(own)


def read_shards(data_dir):
    """(AttributeTable, TFRecordSource) from the shards in data_dir (this package's or the original's)."""
    shards, attribute_names, named = _layout(data_dir)
    spec = {"image": tf.io.FixedLenFeature([], tf.string),
            "labels": tf.io.FixedLenFeature([len(attribute_names)], tf.int64)}
    if named:
        spec["filename"] = tf.io.FixedLenFeature([], tf.string)
    files, images, labels = [], [], []
    try:
        for example in tf.data.TFRecordDataset(shards).map(lambda r: tf.io.parse_single_example(r, spec)):
            files.append(example["filename"].numpy().decode() if named else f"{len(files) + 1:06d}.jpg")
            images.append(example["image"].numpy())
            labels.append(example["labels"].numpy())
    except tf.errors.OpError as problem:
        raise UserError(f"the TFRecord shards in {data_dir} cannot be read: {_reason(problem)}")
    values = np.where(np.array(labels) == 1, 1, -1).astype(np.int8)
    pattern = SHARD_PATTERN if named else ORIGINAL_SHARD_PATTERN
    table = AttributeTable(os.path.join(data_dir, pattern), attribute_names, files, values)
    return table, TFRecordSource(files, images)


def _reason(problem):
    """TensorFlow's error message without its op and function-node decorations."""
    text = re.sub(r"\{\{.*?\}\}\s*", "", problem.message.splitlines()[0])
    return text.split(" [Op:")[0].strip()
