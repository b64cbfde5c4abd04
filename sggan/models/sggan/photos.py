"""Whole photos edited end to end: every face found, aligned like CelebA, edited through the
Editor, and each edit pasted back into the full-size photo (test mode's --input with --align)."""
import os

import numpy as np

from sggan.data import faces
from sggan import images


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
