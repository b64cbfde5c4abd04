"""SG-GAN's runs, wired from a resolved config: dry run, training, test mode, the attribute classifier."""
import glob
import os

import numpy as np
import tensorflow as tf

from sggan.data import datasets, faces, pipeline
from sggan.metrics import fid
from sggan import images
from sggan.training import loop
from sggan.errors import UserError, warn
from sggan.files import write_json
from sggan.models.sggan import classifier as attribute_classifier
from sggan.models.sggan import editor, evaluation, networks, photos, restore
from sggan.models.sggan.data import TRANSFORM, labelling
from sggan.models.sggan.outputs import output_layout, recorded_groups
from sggan.models.sggan.steps import SGGANTask



def dry_run(cfg, context):
    """Check data and config; the counts (and model sizes) as one JSON-ready dict."""
    ds = datasets.prepare(cfg, labelling)
    task = _model(cfg, ds, context)
    return {**ds.summary(), "generator_params": networks.trainable_count(task.generator),
            "discriminator_params": networks.trainable_count(task.discriminator)}


def _model(cfg, ds, context):
    """Networks, optimisers and random state, created in the run's tf.distribute strategy's scope."""
    outputs = output_layout(ds.groups)
    with context.strategy.scope():
        generator, discriminator = networks.build(cfg, outputs)
        return SGGANTask(cfg, generator, discriminator, outputs, len(ds.groups), context.strategy)


def train(cfg, context):
    ds = datasets.prepare(cfg, labelling)
    cfg = {**cfg, "landmark_template": photos.training_template(cfg, ds),  # recorded in config.json
           "group_classes": recorded_groups(ds.groups)}
    task = _model(cfg, ds, context)
    print(f"training SG-GAN: {len(ds.train.files)} training entries, {len(ds.test.files)} test images, "
          f"groups {', '.join(g.spec for g in ds.groups)}; generator "
          f"{networks.trainable_count(task.generator):,} and discriminator "
          f"{networks.trainable_count(task.discriminator):,} parameters; output in {cfg['exp_dir']}",
          flush=True)
    classifier = attribute_classifier.load(cfg["exp_dir"], [g.n_classes for g in ds.groups])
    print("the periodic evaluation includes the attribute classifier's verdict on the edits" if classifier
          else f"note: {evaluation.NO_CLASSIFIER}", flush=True)
    evaluator = evaluation.Evaluator(cfg, ds.groups, task, classifier, ds)

    def make_dataset(start_index):
        return pipeline.training_dataset(ds.source, ds.train, cfg["image_size"], cfg["batch_size"],
                                         cfg["seed"], TRANSFORM, start_index, steps=cfg["n_critic"])

    hooks = [loop.Hook("samples", cfg["sample_every"], evaluator.sample_hook(evaluator.fixed_batch())),
             loop.Hook("accuracy", cfg["eval_every"], evaluator.accuracy_hook),
             loop.Hook("integrity", cfg["eval_every"], evaluator.integrity_hook)]
    if classifier is not None:
        hooks.append(loop.Hook("judge", cfg["eval_every"], evaluator.judge_hook))
    loop.train(cfg, context, task, make_dataset, hooks, check_data=ds.check_readable)
    return 0


def fid_of_edits(cfg, context):
    """FID between real test images and their edits (every output), as editing papers report it."""
    extractor, network = fid.network(cfg["fid_network"])
    model = restore.restore(cfg, context)
    cfg = model.cfg
    ds = datasets.prepare(cfg, labelling)
    n = min(cfg["fid_images"], len(ds.test.files))
    pairs = ((batch["image"], tf.concat(model.generator(batch["image"]), 0))
             for batch in pipeline.test_dataset(ds.source, ds.test.first(n), cfg["image_size"], 50, TRANSFORM))
    value = fid.distance(extractor, pairs)
    write_json(os.path.join(cfg["exp_dir"], "test", "fid.json"),
               {"fid_edits": value, "images": n, "checkpoint": model.checkpoint, "step": model.step, **network})
    print(f"FID ({n} real test images vs their {len(model.outputs) * n} edits): {value:.2f}, "
          f"features from {network['network']}")
    return 0


def test(cfg, context):
    """Test mode: the test split's edits and metrics, or --input photos (which need no data)."""
    model = restore.restore(cfg, context)
    cfg = model.cfg
    out_dir = os.path.join(cfg["exp_dir"], "test")
    print(f"testing {model.checkpoint} (iteration {model.step}); results in {out_dir}", flush=True)
    if cfg["input"] and cfg["align"]:
        return _whole_photos(cfg, model, os.path.join(out_dir, "photos"))
    classifier = attribute_classifier.load(cfg["exp_dir"], [g.n_classes for g in model.groups])
    if cfg["input"]:
        evaluator = evaluation.Evaluator(cfg, model.groups, model, classifier)
        batches, listing = _photo_batches(cfg, len(model.groups)), None
        grid_dir = os.path.join(out_dir, "photos")
    else:
        ds = datasets.prepare(cfg, labelling)
        evaluator = evaluation.Evaluator(cfg, ds.groups, model, classifier, ds)
        listing = ds.test.first(cfg["num_test"]) if cfg["num_test"] else ds.test
        batches = ((b["image"], [listing.files[p] for p in b["position"].numpy()], b["classes"].numpy(),
                    b["masks"].numpy(), b["position"].numpy()) for b in evaluator.test_batches(listing))
        grid_dir = out_dir
    grids = evaluation.GridWriter(grid_dir, model.outputs, single=cfg["save_single"])
    result = evaluator.manipulate(batches, grids, listing)
    report = evaluation.metrics_report(model.groups, model.outputs, result)
    report.update(checkpoint=model.checkpoint, step=model.step, source="photos" if cfg["input"] else "test split")
    write_json(os.path.join(grid_dir, "metrics.json"), report)
    print(evaluation.metrics_table(report))
    print(f"wrote {result.count} image(s) as grids and metrics.json to {grid_dir}")
    return 0


def train_classifier(cfg, context):
    """--mode classifier: train the attribute classifier on the real training images, save it in
    the experiment folder and write its accuracy per group on the real test images."""
    ds = datasets.prepare(cfg, labelling)
    size = cfg["image_size"]
    print(f"training the attribute classifier at {size}x{size} for {cfg['classifier_steps']} steps "
          f"on {len(np.unique(ds.train.rows))} real training images (every label)", flush=True)
    model = attribute_classifier.train(ds, size, cfg["classifier_steps"], seed=cfg["seed"],
                                       log=lambda text: print(text, flush=True))
    path = attribute_classifier.save(model, cfg["exp_dir"], size)
    accuracy, per_class, balanced = _classifier_figures(model, ds, ds.test)
    report = {"accuracy": accuracy, "balanced_accuracy": balanced, "per_class_accuracy": per_class,
              "test_images": len(ds.test.files), "image_size": size, "steps": cfg["classifier_steps"],
              "weights": path}
    write_json(os.path.join(cfg["exp_dir"], "classifier.json"), report)
    print("classifier accuracy on the real test images: " + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items()))
    for spec, recalls in per_class.items():
        print(f"  {spec}: balanced accuracy {balanced[spec]:.3f}; per class "
              + ", ".join(f"{name} {value:.3f}" for name, value in recalls.items()))
    return 0


def _classifier_figures(model, ds, listing):
    """Per group, from one pass over the real images of `listing`: the accuracy, {class name: recall}
    and the balanced accuracy."""
    predicted, positions = attribute_classifier.predictions(model, ds, listing, model.image_size)
    classes, masks = listing.classes[positions], listing.masks[positions]
    accuracy = attribute_classifier.accuracy(predicted, classes, masks)
    recalls, balanced = attribute_classifier.class_accuracy(predicted, classes, masks, model.group_classes)
    return ({g.spec: a for g, a in zip(ds.groups, accuracy)},
            {g.spec: dict(zip(g.class_names, r)) for g, r in zip(ds.groups, recalls)},
            {g.spec: b for g, b in zip(ds.groups, balanced)})


def _whole_photos(cfg, model, out_dir):
    """--input with --align: faces found, aligned, edited by the Editor and pasted back."""
    detector = faces.Detector()
    edit = editor.Editor.from_generator(model.generator, [o.title for o in model.outputs], cfg["image_size"],
                                       photos.experiment_template(cfg))
    count = photos.edit_photos(_load_photos(cfg), edit, detector, out_dir, cfg["batch_size"])
    print(f"edited {count} face(s); full-size photos and face grids in {out_dir}")
    return 0


def _load_photos(cfg):
    """The user's readable photos (files or folders) as (path, RGB uint8); unreadable files are listed."""
    paths = []
    for item in cfg["input"]:
        if os.path.isdir(item):
            paths += sorted(p for p in glob.glob(os.path.join(item, "*")) if os.path.isfile(p))
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise UserError(f"--input {item} does not exist")
    loaded, unreadable = [], []
    for path in paths:
        pixels = images.load_photo(path)
        (unreadable if pixels is None else loaded).append((path, pixels))
    if unreadable:
        warn(f"skipped {len(unreadable)} unreadable file(s): {', '.join(p for p, _ in unreadable)}")
    if not loaded:
        raise UserError("none of the --input files is a readable image (JPEG or PNG)")
    return loaded


def _photo_batches(cfg, n_groups):
    """The user's photos as model-ready batches (centre square or CelebA's crop, no alignment), with
    no labels."""
    loaded = _load_photos(cfg)
    prepared = [(path, _photo_to_model(pixels, cfg["image_size"])) for path, pixels in loaded]
    size = cfg["batch_size"]
    batches = []
    for i in range(0, len(prepared), size):
        chunk = prepared[i:i + size]
        unlabelled = np.zeros((len(chunk), n_groups))
        batches.append((tf.stack([p for _, p in chunk]), [n for n, _ in chunk], unlabelled.astype(int), unlabelled,
                        None))
    return batches


def _photo_to_model(pixels, image_size):
    h, w = pixels.shape[:2]
    top, left, side, _ = pipeline.crop_window(tf.constant(h), tf.constant(w), TRANSFORM.crop).numpy()
    return pipeline.to_model_range(pixels[top:top + side, left:left + side], image_size, TRANSFORM)


def export(cfg, context):
    """Write the trained generator as a SavedModel (see editor.py) into <exp_dir>/export/."""
    model = restore.restore(cfg, context)
    cfg, titles = model.cfg, [o.title for o in model.outputs]
    path = editor.save(model.generator, titles, cfg["image_size"], photos.experiment_template(cfg), cfg["exp_dir"])
    keys = ", ".join(editor.output_keys(titles))
    print(f"exported {model.checkpoint} (iteration {model.step}) to {path}: signatures serving_default (uint8) and "
          f"edit_float ([-1, 1]), outputs {keys}")
    return 0


MODES = {"train": train, "test": test, "fid": fid_of_edits, "classifier": train_classifier, "export": export}
