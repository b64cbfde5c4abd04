"""Looking at an SG-GAN: sample grids, the critic's accuracy on real faces, test mode and metrics."""
import math
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from sggan.data import pipeline, splits
from sggan import images
from sggan.training.loop import Report
from sggan.models.sggan.data import TRANSFORM
from sggan.models.sggan.outputs import group_outputs
from sggan.models.sggan import judge

NO_CLASSIFIER = ("this experiment has no attribute classifier, so no independent judge of the edits; "
                 "train one with --mode classifier")
# Test images edited by the periodic evaluation during training (the first ones of the test split).
EVAL_IMAGES = 400


def column_titles(outputs):
    """'input', then every output's readable name."""
    return ["input"] + [o.title for o in outputs]


def output_names(outputs):
    """The outputs' readable names in output order (`Male`, `not Male`, `Blond Hair`, …)."""
    return [o.title for o in outputs]


@dataclass
class TestPass:
    """What one pass of the generator over test images gives (Evaluator.manipulate)."""
    count: int            # images edited
    success: np.ndarray   # per output: share the critic puts in the output's target class
    distance: np.ndarray  # per output: mean L1 to the input
    integrity: list       # per output: judge.integrity() (collapse and identity; no classifier needed)
    figures: list = None  # per output: judge.output_figures() by the classifier (None without one)
    accuracy_real: dict = None             # per group: the critic's accuracy on the real images (test split)
    classifier_accuracy_real: dict = None  # per group: the classifier's accuracy on them


class GridWriter:
    """Test mode's pictures: one annotated grid per batch (the inputs, then every edit) and, with
    `single`, every edit as its own file <name>_<edit>.png under single/."""

    def __init__(self, folder, outputs, single=False):
        self.folder, self.titles, self.single = folder, column_titles(outputs), single

    def write(self, number, inputs, edits, names):
        images.save(images.grid([inputs] + edits, self.titles), os.path.join(self.folder, f"grid_{number:04d}.png"))
        if not self.single:
            return
        for title, edit in zip(self.titles[1:], edits):
            for name, picture in zip(names, edit):
                stem = os.path.splitext(os.path.basename(name))[0]
                images.save(images.to_uint8(picture),
                            os.path.join(self.folder, "single", f"{stem}_{title.replace(' ', '_')}.png"))


def critic_accuracy(groups, listing, predicted, position):
    """Per group: the critic's accuracy on the labelled real images of `listing` it predicted
    (`predicted` [N, groups] at list positions `position`). Single-attribute and binned groups use
    every labelled image; groups of several names a class-balanced labelled subset (the original's
    hair test list)."""
    result = {}
    for a, group in enumerate(groups):
        chosen = (splits.balanced_rows(listing, a, group.n_classes) if group.of_names
                  else np.flatnonzero(listing.masks[:, a] > 0))
        keep = np.isin(position, chosen)
        hits = predicted[keep, a] == listing.classes[position[keep], a]
        result[group.spec] = float(hits.mean()) if hits.size else float("nan")
    return result


def integrity_warning(done, names, figures):
    """One console line naming the outputs that collapsed or lost identity, or '' when none did."""
    collapsed = [n for n, f in zip(names, figures) if f["collapsed"]]
    lost = [n for n, f in zip(names, figures) if f["identity_lost"] and not f["collapsed"]]
    problems = ([f"collapsed to one face whatever the input (spread < {judge.COLLAPSE_RATIO}): "
                 + ", ".join(collapsed)] if collapsed else []) + \
               ([f"lost the input's identity (identity < {judge.IDENTITY_MIN}): " + ", ".join(lost)] if lost else [])
    return f"warning: after iteration {done}, outputs " + "; ".join(problems) if problems else ""


class Evaluator:
    """Runs a trained (or training) generator and critic on test images; `classifier` (the
    independent judge, or None) scores the edits."""

    def __init__(self, cfg, groups, model, classifier=None, dataset=None):
        """model: anything with generator, discriminator and outputs (a training task, a
        restore.Restored); dataset: the data, for what reads the test split (None: photos only)."""
        self.cfg, self.dataset = cfg, dataset
        self.generator, self.discriminator = model.generator, model.discriminator
        self.groups, self.outputs = groups, model.outputs
        self.classifier = classifier

    @tf.function
    def _edit(self, batch):
        outputs = self.generator(batch)
        _, logits = self.discriminator(tf.concat(outputs, 0))
        return outputs, [tf.split(group_logits, len(outputs)) for group_logits in logits]  # [group][output]

    @tf.function
    def _classify(self, batch):
        """The critic's predicted class of every image for every group: [B, groups]."""
        return tf.stack([tf.argmax(group_logits, -1) for group_logits in self.discriminator(batch)[1]], 1)

    def test_batches(self, listing, batch_size=None):
        return pipeline.test_dataset(self.dataset.source, listing, self.cfg["image_size"],
                                 batch_size or self.cfg["batch_size"], TRANSFORM)

    def fixed_batch(self):
        """The first test batch (as the original's sample grids)."""
        return next(iter(self.test_batches(self.dataset.test)))["image"]

    def sample_hook(self, batch):
        """A hook body: write samples/iter_<done>.png (edits of `batch` by the weights after `done`
        iterations), the same grid to TensorBoard."""
        def run(done):
            edits, _ = self._edit(batch)
            picture = images.grid([batch.numpy()] + [e.numpy() for e in edits], column_titles(self.outputs))
            images.save(picture, os.path.join(self.cfg["exp_dir"], "samples", f"iter_{done:06d}.png"))
            return Report(images={"samples": picture})
        return run

    def accuracy(self, listing=None):
        """Per group: the critic's classification accuracy on labelled real test images (critic_accuracy)."""
        listing = listing or self.dataset.test
        predictions, positions = [], []
        for batch in self.test_batches(listing, 64):
            predictions.append(self._classify(batch["image"]).numpy())
            positions.append(batch["position"].numpy())
        predicted = np.concatenate(predictions) if predictions else np.zeros((0, len(self.groups)), int)
        position = np.concatenate(positions) if positions else np.zeros(0, int)
        return critic_accuracy(self.groups, listing, predicted, position)

    def accuracy_hook(self, step):
        """A hook body: the critic's accuracy on real test images, logged and printed."""
        result = self.accuracy()
        return Report(scalars={f"accuracy/{k}": v for k, v in result.items()},
                      message="critic's test accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()))

    def integrity_hook(self, done):
        """A hook body: collapse and identity of every output on the first judge.SPREAD_IMAGES test
        images (no classifier needed), logged per output; a warning names the outputs that fail."""
        listing = self.dataset.test.first(judge.SPREAD_IMAGES)
        tally = judge.IntegrityTally(len(self.outputs))
        for batch in self.test_batches(listing, judge.SPREAD_IMAGES):
            tally.add(batch["image"].numpy(), [e.numpy() for e in self._generate(batch["image"])])
        figures, names = tally.figures(), output_names(self.outputs)
        scalars = {**{f"integrity/spread/{n}": f["spread_ratio"] for n, f in zip(names, figures)},
                   **{f"integrity/identity/{n}": f["identity"] for n, f in zip(names, figures)},
                   "integrity/collapsed_outputs": sum(f["collapsed"] for f in figures),
                   "integrity/identity_lost_outputs": sum(f["identity_lost"] for f in figures)}
        summary = (f"outputs' spread ratio {min(f['spread_ratio'] for f in figures):.2f}-"
                   f"{max(f['spread_ratio'] for f in figures):.2f}, identity "
                   f"{min(f['identity'] for f in figures):.2f}-{max(f['identity'] for f in figures):.2f}")
        return Report(scalars=scalars, message=integrity_warning(done, names, figures) or summary)

    @tf.function
    def _generate(self, batch):
        return self.generator(batch)

    def judge_hook(self, step):
        """A hook body: the classifier's verdict on the edits of the first EVAL_IMAGES test images."""
        listing = self.dataset.test.first(EVAL_IMAGES)
        batches = ((b["image"], b["classes"].numpy(), b["masks"].numpy()) for b in self.test_batches(listing, 50))
        figures = self.judge_batches(batches)
        summary = judge_summary(figures)
        return Report(scalars={f"judge/{k}": v for k, v in summary.items()},
                      message="classifier: success where needed " + ", ".join(
                          f"{n} {f['success_needed']:.2f}" for n, f in zip(output_names(self.outputs), figures))
                      + f"; preservation {summary['preservation']:.3f}; identity {summary['identity']:.2f}; "
                      f"collapsed outputs {summary['collapsed']}")

    def judge_batches(self, batches):
        """judge.output_figures of every output over (images, classes, masks) batches."""
        tally = judge.JudgeTally(self.outputs)
        for batch, classes, masks in batches:
            edits = [e.numpy() for e in self.generator(batch)]
            self._tally(tally, batch.numpy(), edits, classes, masks)
        return tally.figures()

    def _tally(self, tally, inputs, edits, classes, masks):
        predicted_out = [self.classifier.predict_classes(e) for e in edits]
        tally.add(inputs, edits, self.classifier.predict_classes(inputs), predicted_out, classes, masks)

    def manipulate(self, batches, grids, listing=None):
        """One pass over (images, names, classes, masks, positions) batches: every image edited, the
        grids written (a GridWriter), and every figure gathered into a TestPass. With `listing` (the
        test split the positions index) also the critic's and the classifier's accuracy on the real
        images; photos come without (positions None)."""
        success = np.zeros(len(self.outputs))
        distance = np.zeros(len(self.outputs))
        count = 0
        tally = judge.JudgeTally(self.outputs) if self.classifier is not None else None
        integrity = judge.IntegrityTally(len(self.outputs))
        critic_real, positions = [], []
        for number, (batch, names, classes, masks, position) in enumerate(batches):
            edits, logits = self._edit(batch)
            edits = [e.numpy() for e in edits]
            for o in self.outputs:
                predicted = np.argmax(logits[o.group][o.index].numpy(), -1)
                success[o.index] += np.sum(predicted == o.target)
                distance[o.index] += np.sum(judge.per_image_l1(edits[o.index], batch.numpy()))
            if tally is not None:
                self._tally(tally, batch.numpy(), edits, classes, masks)
            if listing is not None:
                critic_real.append(self._classify(batch).numpy())
                positions.append(position)
            integrity.add(batch.numpy(), edits)
            count += len(names)
            grids.write(number, batch.numpy(), edits, names)
        result = TestPass(count, success / max(count, 1), distance / max(count, 1),
                          integrity.figures() if count else [],
                          tally.figures() if tally is not None and count else None)
        if listing is not None and count:
            result.accuracy_real = critic_accuracy(self.groups, listing, np.concatenate(critic_real),
                                                   np.concatenate(positions))
            if tally is not None:
                result.classifier_accuracy_real = dict(zip(
                    [g.spec for g in self.groups], tally.accuracy_real()))
        return result


def judge_summary(figures):
    """Means over the outputs of the classifier's figures, the smallest success where needed, and
    how many outputs collapsed."""
    def present(key):
        return [f[key] for f in figures if not math.isnan(f[key])]
    return {"success_needed": float(np.mean(present("success_needed"))) if present("success_needed") else float("nan"),
            "min_success_needed": min(present("success_needed"), default=float("nan")),
            "preservation": float(np.mean(present("preservation"))) if present("preservation") else float("nan"),
            "l1": float(np.mean(present("l1"))), "collapsed": int(sum(f["collapsed"] for f in figures)),
            "identity": float(np.mean(present("identity"))) if present("identity") else float("nan")}


def metrics_report(groups, outputs, result):
    """metrics.json's content: collapse and identity per output (always), the classifier's figures
    per output (or why there are none) and the critic's per group (its accuracy on real images,
    its success, L1 to the input)."""
    names = output_names(outputs)
    success, distance, figures = result.success, result.distance, result.figures
    accuracy, classifier_accuracy = result.accuracy_real, result.classifier_accuracy_real
    report = {"images": int(result.count), "integrity": {
        "outputs": dict(zip(names, result.integrity)),
        "collapsed": [n for n, f in zip(names, result.integrity) if f["collapsed"]],
        "identity_lost": [n for n, f in zip(names, result.integrity) if f["identity_lost"]],
        "rule": f"collapsed: spread_ratio < {judge.COLLAPSE_RATIO} (mean pairwise L1 of the outputs over that of "
                f"their inputs); identity lost: identity < {judge.IDENTITY_MIN} (share of outputs whose nearest "
                f"input, by correlation of normalised {judge.IDENTITY_SIDE}x{judge.IDENTITY_SIDE} grayscale, is "
                f"their own); over the first {judge.SPREAD_IMAGES} images"}, "critic": {}}
    for a, group in enumerate(groups):  # two-class groups: on/off; larger groups: one entry per class
        mine = group_outputs(outputs, a)
        entry = {"accuracy_real": accuracy.get(group.spec) if accuracy else None,
                 "success": float(np.mean([success[o.index] for o in mine]))}
        if group.n_classes == 2:
            on, off = mine  # outputs.py: on before off
            entry.update(success_on=float(success[on.index]), success_off=float(success[off.index]),
                         l1_on=float(distance[on.index]), l1_off=float(distance[off.index]),
                         on=group.class_names[1], off=group.class_names[0])
        else:
            entry["classes"] = {group.class_names[o.target]: {"success": float(success[o.index]),
                                                              "l1": float(distance[o.index])} for o in mine}
        report["critic"][group.spec] = entry
    if figures is None:
        report["classifier"], report["classifier_note"] = None, NO_CLASSIFIER
    else:
        report["classifier"] = {
            "accuracy_real": classifier_accuracy,
            "outputs": dict(zip(names, figures)), "output_order": names,
            "summary": judge_summary(figures),
            "collapse_rule": f"spread_ratio < {judge.COLLAPSE_RATIO} (mean pairwise L1 of the outputs over "
                             f"that of their inputs, first {judge.SPREAD_IMAGES} images)",
        }
    return report


def _cell(value, width, fmt=".3f"):
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return f"{'-':>{width}s}" if missing else f"{value:{width}{fmt}}"


def metrics_table(report):
    """The console table: collapse and identity per output first, then the classifier's figures
    per output, then the critic's per group."""
    kept = report["integrity"]
    lines = ["collapse and identity (no classifier needed):",
             f"{'output':24s} {'spread':>6s} {'collapsed':>9s} {'identity':>8s} {'lost':>5s}"]
    lines += [f"{name:24s} {_cell(f['spread_ratio'], 6, '.2f')} {'YES' if f['collapsed'] else 'no':>9s} "
              f"{_cell(f['identity'], 8, '.2f')} {'YES' if f['identity_lost'] else 'no':>5s}"
              for name, f in kept["outputs"].items()]
    judged = report.get("classifier")
    if judged is None:
        lines += [f"classifier: {report.get('classifier_note', NO_CLASSIFIER)}"]
    else:
        lines += ["judged by the attribute classifier (not the critic):",
                 f"{'output':24s} {'succ all':>8s} {'succ need':>9s} {'preserv':>7s} {'L1':>6s} "
                 f"{'L1 kept':>7s} {'PSNR kept':>9s} {'spread':>6s} {'ident':>5s} {'collapsed':>9s}"]
        for name in judged["output_order"]:
            f = judged["outputs"][name]
            lines.append(f"{name:24s} {_cell(f['success'], 8)} {_cell(f['success_needed'], 9)} "
                         f"{_cell(f['preservation'], 7)} {_cell(f['l1'], 6)} {_cell(f['l1_kept'], 7)} "
                         f"{_cell(f['psnr_kept'], 9, '.2f')} {_cell(f['spread_ratio'], 6, '.2f')} "
                         f"{_cell(f.get('identity'), 5, '.2f')} {'YES' if f['collapsed'] else 'no':>9s}")
    lines += ["the critic's own figures (the generator is trained to satisfy them):",
              f"{'group':36s} {'acc(real)':>9s} {'succ on':>8s} {'succ off':>8s} {'L1 on':>7s} {'L1 off':>7s}"]
    for spec, m in report["critic"].items():
        acc = _cell(m["accuracy_real"], 9)
        if "classes" not in m:
            lines.append(f"{spec:36s} {acc} {m['success_on']:8.3f} {m['success_off']:8.3f} "
                         f"{m['l1_on']:7.3f} {m['l1_off']:7.3f}")
            continue
        lines.append(f"{spec:36s} {acc} {m['success']:8.3f}  (mean over its classes)")
        lines += [f"  → {name:33s} {'':9s} {c['success']:8.3f} {'':8s} {c['l1']:7.3f}"
                  for name, c in m["classes"].items()]
    return "\n".join(lines)
