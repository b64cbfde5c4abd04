"""A trained SG-GAN generator as a stand-alone editor: a SavedModel and a small Python API.

`EditorModule` is the tf.Module that is saved: two signatures, `serving_default` (uint8 images of
any size in, uint8 edits out) and `edit_float` (images in [-1, 1] in, edits in [-1, 1] out), each
with one named output per edit. `Editor` is the API on top, for a live generator (test mode) or
for a SavedModel read back with `Editor.load(exp_dir)`; only TensorFlow is needed to serve it.
"""
import json
import os
import re

import numpy as np
import tensorflow as tf

from sggan.data import pipeline
from sggan.data.faces import celeba_template
from sggan.errors import UserError
from sggan.files import write_json
from sggan.models.sggan.data import TRANSFORM

EXPORT_DIR, SAVED_MODEL, METADATA = "export", "editor", "editor.json"
CELEBA_TEMPLATE = celeba_template(TRANSFORM.crop)


class NoExport(UserError, FileNotFoundError):
    """An experiment folder without an exported editor (a UserError for main.py, a FileNotFoundError
    for library callers)."""


def output_keys(titles):
    """A signature output name per edit: lower case, [a-z0-9_], unique ('not Male' → 'not_male')."""
    keys = []
    for title in titles:
        key = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") or "edit"
        key = key if key[0].isalpha() else f"edit_{key}"
        keys.append(key if key not in keys else f"{key}_{len(keys)}")
    return keys


class EditorModule(tf.Module):
    """The generator behind uint8 and float signatures; input of any size is resized (bilinear)."""

    def __init__(self, generator, keys, image_size):
        super().__init__(name="editor")
        self.generator, self.keys, self.image_size = generator, list(keys), image_size

    def _to_model(self, images):
        size = (self.image_size, self.image_size)
        return tf.image.resize(images, size, method="bilinear")

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def edit_float(self, images):
        edits = self.generator(self._to_model(images))
        return dict(zip(self.keys, edits))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def edit_uint8(self, images):
        pixels = tf.clip_by_value(self._to_model(tf.cast(images, tf.float32)), 0.0, 255.0)
        edits = self.generator(pixels / 127.5 - 1.0)
        return {k: tf.cast(tf.clip_by_value((e + 1.0) * 127.5 + 0.5, 0.0, 255.0), tf.uint8)
                for k, e in zip(self.keys, edits)}


def save(generator, titles, image_size, template, exp_dir):
    """Write <exp_dir>/export/editor (SavedModel) and editor.json (titles, keys, size, the landmark
    template photos are aligned to); return the path."""
    keys = output_keys(titles)
    module = EditorModule(generator, keys, image_size)
    path = os.path.join(exp_dir, EXPORT_DIR, SAVED_MODEL)
    tf.saved_model.save(module, path, signatures={"serving_default": module.edit_uint8,
                                                  "edit_float": module.edit_float})
    write_json(os.path.join(exp_dir, EXPORT_DIR, METADATA),
               {"titles": list(titles), "keys": keys, "image_size": image_size,
                "landmark_template": np.asarray(template).tolist()})
    return path


class Editor:
    """Edits aligned faces: `Editor.load(exp_dir).edit(image)` → {edit title: edited image}.

    uint8 input ([H, W, 3] or [B, H, W, 3], any size) gives uint8 edits of the model's size;
    float input in [-1, 1] gives float edits in [-1, 1]. Non-square input is cropped as training
    cropped it (CelebA's 178 x 218 images to the model's crop, other shapes to their centred square),
    not squashed. Faces should be aligned like the training data (test mode's --align does that for
    whole photos, to `template`: see sggan.data.faces).
    """

    def __init__(self, module, titles, keys, image_size, template):
        self.module, self.titles, self.keys, self.image_size = module, list(titles), list(keys), image_size
        self.template = np.asarray(template, np.float64)

    @classmethod
    def from_generator(cls, generator, titles, image_size, template):
        keys = output_keys(titles)
        return cls(EditorModule(generator, keys, image_size), titles, keys, image_size, template)

    @classmethod
    def load(cls, exp_dir):
        """The editor exported by `--mode export` into exp_dir."""
        folder = os.path.join(exp_dir, EXPORT_DIR)
        if not os.path.isfile(os.path.join(folder, METADATA)) or not os.path.isdir(os.path.join(folder, SAVED_MODEL)):
            raise NoExport(f"no exported editor in {exp_dir} (looked for {folder}); make one with: "
                           f"python3 main.py --mode export --exp_dir {exp_dir}")
        with open(os.path.join(folder, METADATA)) as f:
            meta = json.load(f)
        module = tf.saved_model.load(os.path.join(folder, SAVED_MODEL))
        template = meta.get("landmark_template", CELEBA_TEMPLATE)  # exports older than the field: CelebA's
        return cls(module, meta["titles"], meta["keys"], meta["image_size"], template)

    def edit(self, images):
        images = np.asarray(images)
        single = images.ndim == 3
        batch = _as_trained(images[None] if single else images)
        if batch.dtype == np.uint8:
            result = self.module.edit_uint8(tf.constant(batch))
        else:
            result = self.module.edit_float(tf.constant(batch, tf.float32))
        return {t: (result[k].numpy()[0] if single else result[k].numpy()) for t, k in zip(self.titles, self.keys)}


def _as_trained(batch):
    """Faces cropped to a square as the training pipeline crops them (pipeline.crop_window)."""
    top, left, height, width = pipeline.crop_window(batch.shape[1], batch.shape[2], TRANSFORM.crop).numpy()
    return batch[:, top:top + height, left:left + width]
