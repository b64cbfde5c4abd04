"""VAC+GAN's runs, wired from a resolved config: dry run, training, sampling by attribute names, FID."""
import os

import numpy as np
import tensorflow as tf

from sggan.data import datasets, pipeline, splits
from sggan.metrics import fid
from sggan import images
from sggan.training import loop
from sggan.files import write_json
from sggan.models.sggan.networks import trainable_count
from sggan.models.vacgan import evaluation
from sggan.models.vacgan.data import TRANSFORM, labelling
from sggan.models.vacgan.steps import VACGANTask

# Attributes shown beside sample rows taken from the data.
SHOWN = ("Male", "Smiling", "Black_Hair", "Blond_Hair", "Wearing_Lipstick")


def _prepared(cfg, context, check_images=True):
    """The data (every attribute of every image) and the task, made in the strategy's scope."""
    ds = datasets.prepare(cfg, labelling, check_images=check_images)
    with context.strategy.scope():
        return ds, VACGANTask(cfg, len(ds.table.names), context.strategy)


def dry_run(cfg, context):
    """Counts, positives per attribute and model sizes as one JSON-ready dict."""
    ds, task = _prepared(cfg, context)
    summary = {k: v for k, v in ds.summary().items() if k != "groups"}
    positives = ds.train.classes.sum(axis=0)
    return {**summary, "attributes": {name: int(p) for name, p in zip(ds.table.names, positives)},
            **{f"{name}_params": trainable_count(model) for name, model in
               (("generator", task.generator), ("discriminator", task.critic), ("classifier", task.classifier))}}


def make_dataset(cfg, ds):
    """The training stream: VAC+GAN's crop, no flips."""
    def build(start_index):
        return pipeline.training_dataset(ds.source, ds.train, cfg["image_size"], cfg["batch_size"], cfg["seed"],
                                         TRANSFORM, start_index, flip=False, steps=cfg["n_critic"])
    return build


def train(cfg, context):
    ds, task = _prepared(cfg, context)
    names = ds.table.names
    fixed = ds.test.classes[:5]  # five attribute vectors from the data, five noise draws each
    labels = [evaluation.describe_vector(names, v, [n for n in SHOWN if n in names]) for v in fixed]
    print(f"training VAC+GAN: {len(ds.train.files)} training images, {len(names)} attributes; "
          f"output in {cfg['exp_dir']}", flush=True)

    def samples(done):
        picture = evaluation.sample_grid(task, fixed, labels, draws=5)
        images.save(picture, os.path.join(cfg["exp_dir"], "samples", f"iter_{done:06d}.png"))
        return loop.Report(images={"samples": picture})

    def agreement(step):
        overall, _ = evaluation.agreement(task, ds.test.classes[:500])
        return loop.Report(scalars={"agreement/generated": overall},
                           message=f"classifier agrees with the requested attributes on {100 * overall:.1f}% "
                                   "of (generated face, attribute) pairs")

    loop.train(cfg, context, task, make_dataset(cfg, ds),
               [loop.Hook("samples", cfg["sample_every"], samples), loop.Hook("agreement", cfg["eval_every"], agreement)],
               check_data=ds.check_readable)
    return 0


def _restored(cfg, context):
    """The data and the task restored from the experiment's checkpoint (--test_step or the latest)."""
    ds, task = _prepared(cfg, context, check_images=cfg["mode"] == "fid")  # sampling reads no image
    return ds, task, loop.open_checkpoints(cfg, task).restore_for_use(cfg["test_step"])


def sample(cfg, context):
    ds, task, restored = _restored(cfg, context)
    names = ds.table.names
    vectors, shown = evaluation.parse_settings(cfg["set"] or [], names, ds.test.classes)
    labels = [evaluation.describe_vector(names, v, shown) for v in vectors]
    picture = evaluation.sample_grid(task, vectors, labels, draws=8, seed=cfg["seed"])
    path = os.path.join(cfg["exp_dir"], "samples", "requested.png")
    images.save(picture, path)
    overall, per = evaluation.agreement(task, np.repeat(np.array(vectors), 25, axis=0), seed=cfg["seed"])
    print(f"restored {restored}; wrote {path} ({len(vectors)} row(s) x 8 noise draws); classifier agreement "
          f"with the requested attributes: {100 * overall:.1f}% overall, "
          + ", ".join(f"{n} {100 * per[names.index(n)]:.0f}%" for n in shown))
    return 0


def fid_listing(cfg, ds):
    """The real images of the FID: --fid_real random draws --fid_images at random (seeded) from the
    whole set, the original's protocol; test takes the first --fid_images test images."""
    if cfg["fid_real"] == "test":
        return ds.test.first(min(cfg["fid_images"], len(ds.test.files))), "test images"
    total = len(ds.table.files)
    rows = np.random.default_rng(cfg["seed"]).choice(total, min(cfg["fid_images"], total), replace=False)
    return splits.attribute_list(ds.table, rows), "random images of the whole set"


def fid_of_samples(cfg, context):
    """FID between N real images (see fid_listing) and N faces generated from their attribute vectors."""
    extractor, network = fid.network(cfg["fid_network"])
    ds, task, restored = _restored(cfg, context)
    listing, described = fid_listing(cfg, ds)
    n = len(listing.files)
    rng = tf.random.Generator.from_seed(cfg["seed"])
    pairs = ((b["image"], task.generate(rng.normal((len(b["classes"]), cfg["z_dim"])), tf.cast(b["classes"], tf.float32)))
             for b in pipeline.test_dataset(ds.source, listing, cfg["image_size"], 100, TRANSFORM))
    value = fid.distance(extractor, pairs)
    write_json(os.path.join(cfg["exp_dir"], "test", "fid.json"),
               {"fid": value, "images": n, "real": cfg["fid_real"], "checkpoint": restored, **network})
    print(f"FID ({n} real {described} vs {n} generated from their attributes): {value:.2f}, "
          f"features from {network['network']}")
    return 0


MODES = {"train": train, "sample": sample, "fid": fid_of_samples}
