"""Whole photos edited end to end: every face found, aligned as the training images were (the
experiment's landmark template), edited through the Editor, and each edit pasted back into the
full-size photo (test mode's --input with --align)."""
import json
import os

import numpy as np

from sggan.data import faces, pipeline
from sggan import images
from sggan.errors import UserError, warn
from sggan.models.sggan.data import TRANSFORM
from sggan.models.sggan.editor import CELEBA_TEMPLATE


def training_template(cfg, ds, log=print):
    """The landmark template of this run's training images, as a list of 10 numbers: --landmark_template
    if given; else the one an earlier run of this experiment recorded; else CelebA's for CelebA-framed
    data; else measured with MTCNN on faces.TEMPLATE_SAMPLE training images."""
    if cfg.get("landmark_template") is not None:
        return list(cfg["landmark_template"])
    recorded = os.path.join(cfg["exp_dir"], "config.json")
    if not cfg.get("fresh") and os.path.isfile(recorded):
        with open(recorded) as f:
            earlier = json.load(f).get("landmark_template")
        if earlier is not None:
            return earlier
    if ds.celeba_frame:
        return CELEBA_TEMPLATE.ravel().tolist()
    files = list(dict.fromkeys(ds.train.files))
    sample = files[::max(1, len(files) // faces.TEMPLATE_SAMPLE)][:faces.TEMPLATE_SAMPLE]
    log(f"measuring where faces sit in the training images (MTCNN on {len(sample)} images) for aligning photos")
    squares = [pipeline.decode_square(ds.source.read(name), TRANSFORM.crop).numpy() for name in sample]
    try:
        return np.round(faces.measure_template(squares, faces.Detector()), 4).ravel().tolist()
    except UserError as problem:  # training does not need it: say so, and photos fall back to CelebA's
        warn(f"{problem}; --input photos will be aligned to CelebA's template")
        return None


def experiment_template(cfg):
    """The template photos are aligned to: the experiment's (config.json), else CelebA's."""
    recorded = cfg.get("landmark_template")
    return CELEBA_TEMPLATE if recorded is None else np.reshape(recorded, (5, 2))


def edit_photos(loaded, editor, detector, out_dir, batch_size):
    """For every (path, pixels) in `loaded`: <stem>_<edit>.png per edit (all its faces edited, the
    rest of the photo untouched) and <stem>_faces.png (aligned faces and their edits). Photos
    without a face are reported and skipped. Returns the number of faces edited."""
    total = 0
    for path, photo in loaded:
        stem = os.path.splitext(os.path.basename(path))[0]
        found = detector.landmarks(photo)
        if not found:
            print(f"{path}: no face found; skipped", flush=True)
            continue
        aligned = [faces.align(photo, points, editor.image_size, editor.template) for points in found]
        crops = np.stack([crop for crop, _ in aligned])
        edits = _edit_in_batches(editor, crops, batch_size)
        for key, title in zip(editor.keys, editor.titles):
            result = photo
            for (_, forward), edit in zip(aligned, edits[title]):
                result = faces.paste(result, edit, forward)
            images.save(result, os.path.join(out_dir, f"{stem}_{key}.png"))
        columns = [crops] + [edits[t] for t in editor.titles]
        grid = images.grid([c.astype(np.float32) / 127.5 - 1.0 for c in columns], ["input"] + editor.titles)
        images.save(grid, os.path.join(out_dir, f"{stem}_faces.png"))
        print(f"{path}: {len(found)} face(s) edited", flush=True)
        total += len(found)
    return total


def _edit_in_batches(editor, crops, batch_size):
    parts = [editor.edit(crops[i:i + batch_size]) for i in range(0, len(crops), batch_size)]
    return {t: np.concatenate([p[t] for p in parts]) for t in editor.titles}
