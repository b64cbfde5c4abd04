"""VAC+GAN's runs, wired from a resolved config: training, sampling by attribute names, FID."""
import os

import numpy as np
import tensorflow as tf

from sggan import data, dataset, fid, images, loop, vacgan
from sggan.errors import UserError
from sggan.evaluation import write_json
from sggan.options import describe

# Attributes shown beside sample rows taken from the data.
SHOWN = ("Male", "Smiling", "Black_Hair", "Blond_Hair", "Wearing_Lipstick")


def run(cfg):
    ds = dataset.prepare(cfg, check_images=cfg["mode"] == "train")
    if cfg["mode"] == "test":
        raise UserError("VAC+GAN has no test mode; use --mode sample or --mode fid")
    with tf.distribute.get_strategy().scope():
        task = vacgan.VACGANTask(cfg, len(ds.table.names))
    if cfg["mode"] == "train":
        return train(cfg, ds, task)
    restored = _restore(cfg, task)
    if cfg["mode"] == "sample":
        return sample(cfg, ds, task, restored)
    return frechet(cfg, ds, task, restored)


def train(cfg, ds, task):
    print(describe(cfg), flush=True)
    write_json(cfg, os.path.join(cfg["exp_dir"], "config.json"))
    names = ds.table.names
    fixed = ds.test.classes[:5]  # five attribute vectors from the data, five noise draws each
    labels = [vacgan.describe_vector(names, v, [n for n in SHOWN if n in names]) for v in fixed]
    print(f"training VAC+GAN: {len(ds.train.files)} training images, {len(names)} attributes; "
          f"output in {cfg['exp_dir']}", flush=True)

    def sample_hook(step, monitor):
        picture = vacgan.sample_grid(task, fixed, labels, draws=5)
        images.save(picture, os.path.join(cfg["exp_dir"], "samples", f"iter_{step:06d}.png"))
        monitor.image(step, "samples", picture)

    def agreement_hook(step, monitor):
        overall, _ = vacgan.agreement(task, ds.test.classes[:500])
        monitor.scalars(step, {"agreement/generated": overall})
        monitor.message(f"classifier agrees with the requested attributes on {100 * overall:.1f}% "
                        "of (generated face, attribute) pairs")

    loop.train(cfg, task, vacgan.vacgan_stream(cfg, ds),
               [(cfg["sample_every"], sample_hook), (cfg["eval_every"], agreement_hook)])
    return 0


def _restore(cfg, task):
    checkpoints = loop.open_checkpoints(cfg, task)
    if cfg["test_step"] is not None:
        return checkpoints.restore_step(cfg["test_step"])
    restored = checkpoints.restore_latest()
    if restored is None:
        raise UserError(f"no readable checkpoint in {checkpoints.directory}; train first "
                        f"(available: {checkpoints.describe_available()})")
    return restored


def parse_settings(tokens, names, test_classes):
    """`--set` tokens → attribute vectors: NAME=0|1 items, `/` starts a new vector, `row=N` starts
    from the attributes of test image N (else all 0)."""
    vectors, current, shown = [], None, []
    for token in list(tokens) + ["/"]:
        if token == "/":
            if current is not None:
                vectors.append(current)
            current = None
            continue
        if current is None:
            current = np.zeros(len(names), np.float32)
        name, _, value = token.partition("=")
        if name == "row":
            if not value.isdigit() or int(value) >= len(test_classes):
                raise UserError(f"--set row={value}: expected a test image number below {len(test_classes)}")
            current[:] = test_classes[int(value)]
            continue
        if name not in names:
            raise UserError(f"--set: unknown attribute {name!r}; valid names: {' '.join(names)}")
        if value not in ("0", "1"):
            raise UserError(f"--set {token}: the value must be 0 or 1")
        current[names.index(name)] = float(value)
        if name not in shown:
            shown.append(name)
    if not vectors:
        raise UserError("--mode sample needs --set NAME=0|1 … (e.g. --set Male=1 Smiling=1 Blond_Hair=1)")
    return vectors, shown


def sample(cfg, ds, task, restored):
    names = ds.table.names
    vectors, shown = parse_settings(cfg["set"] or [], names, ds.test.classes)
    labels = [vacgan.describe_vector(names, v, shown) for v in vectors]
    picture = vacgan.sample_grid(task, vectors, labels, draws=8, seed=cfg["seed"])
    path = os.path.join(cfg["exp_dir"], "samples", "requested.png")
    images.save(picture, path)
    overall, per = vacgan.agreement(task, np.repeat(np.array(vectors), 25, axis=0), seed=cfg["seed"])
    print(f"restored {restored}; wrote {path} ({len(vectors)} row(s) x 8 noise draws); classifier agreement "
          f"with the requested attributes: {100 * overall:.1f}% overall, "
          + ", ".join(f"{n} {100 * per[names.index(n)]:.0f}%" for n in shown))
    return 0


def frechet(cfg, ds, task, restored):
    """FID between N real test images and N faces generated from the same attribute vectors."""
    extractor = fid.inception_extractor()
    n = min(cfg["fid_images"], len(ds.test.files))
    listing = ds.test.first(n)
    real = (b["image"] for b in data.test_dataset(ds.source, listing, cfg["image_size"], 100, crop=data.VACGAN_CROP))
    rng = tf.random.Generator.from_seed(cfg["seed"])
    fake = (task.generate(rng.normal((len(c), cfg["z_dim"])), tf.constant(c, tf.float32))
            for c in np.array_split(listing.classes, max(1, n // 100)))
    value = fid.fid(extractor, real, fake)
    report = {"fid": value, "images": n, "checkpoint": restored}
    write_json(report, os.path.join(cfg["exp_dir"], "test", "fid.json"))
    print(f"FID ({n} real test images vs {n} generated from their attributes): {value:.2f}")
    return 0
