"""Looking at an SG-GAN: sample grids, the critic's accuracy on real faces, test mode and metrics."""
import math
import os

import numpy as np
import tensorflow as tf

from sggan.core import celeba, images, pipeline
from sggan.core.loop import Report
from sggan.models.sggan.outputs import group_outputs


def column_titles(outputs):
    """'input', then every output's readable name."""
    return ["input"] + [o.title for o in outputs]


class Evaluator:
    """Runs a trained (or training) generator and critic on test images."""

    def __init__(self, cfg, dataset, task):
        self.cfg, self.dataset = cfg, dataset
        self.generator, self.discriminator = task.generator, task.discriminator
        self.groups, self.outputs = dataset.groups, task.outputs

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
                                 batch_size or self.cfg["batch_size"])

    def fixed_batch(self):
        """The first test batch (as the original's sample grids)."""
        return next(iter(self.test_batches(self.dataset.test)))["image"]

    def sample_hook(self, batch):
        """A hook body: write samples/iter_<step>.png (edits of `batch`), the same grid to TensorBoard."""
        def run(step):
            edits, _ = self._edit(batch)
            picture = images.grid([batch.numpy()] + [e.numpy() for e in edits], column_titles(self.outputs))
            images.save(picture, os.path.join(self.cfg["exp_dir"], "samples", f"iter_{step:06d}.png"))
            return Report(images={"samples": picture})
        return run

    def accuracy(self, listing=None):
        """Per group: the critic's classification accuracy on labelled real test images.

        Single-attribute and binned groups use every labelled test image; groups of several names a
        class-balanced labelled subset (the original's hair test list).
        """
        listing = listing or self.dataset.test
        predictions, positions = [], []
        for batch in self.test_batches(listing, 64):
            predictions.append(self._classify(batch["image"]).numpy())
            positions.append(batch["position"].numpy())
        predicted = np.concatenate(predictions) if predictions else np.zeros((0, len(self.groups)), int)
        position = np.concatenate(positions) if positions else np.zeros(0, int)
        result = {}
        for a, group in enumerate(self.groups):
            chosen = (celeba.balanced_rows(listing, a, group.n_classes) if group.multi
                      else np.flatnonzero(listing.masks[:, a] > 0))
            keep = np.isin(position, chosen)
            hits = predicted[keep, a] == listing.classes[position[keep], a]
            result[group.spec] = float(hits.mean()) if hits.size else float("nan")
        return result

    def accuracy_hook(self, step):
        """A hook body: the critic's accuracy on real test images, logged and printed."""
        result = self.accuracy()
        return Report(scalars={f"accuracy/{k}": v for k, v in result.items()},
                      message="critic's test accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()))

    def manipulate(self, batches, grid_dir, save_single=False):
        """Edit every image of `batches`, write one grid per batch; return manipulation statistics."""
        success = np.zeros(len(self.outputs))
        distance = np.zeros(len(self.outputs))
        count = 0
        titles = column_titles(self.outputs)
        for number, (batch, names) in enumerate(batches):
            edits, logits = self._edit(batch)
            edits = [e.numpy() for e in edits]
            for o in self.outputs:
                predicted = np.argmax(logits[o.group][o.index].numpy(), -1)
                success[o.index] += np.sum(predicted == o.target)
                distance[o.index] += np.sum(np.mean(np.abs(edits[o.index] - batch.numpy()), axis=(1, 2, 3)))
            count += len(names)
            picture = images.grid([batch.numpy()] + edits, titles)
            images.save(picture, os.path.join(grid_dir, f"grid_{number:04d}.png"))
            if save_single:
                self._save_single(grid_dir, names, edits, titles[1:])
        return success / max(count, 1), distance / max(count, 1), count

    def _save_single(self, grid_dir, names, outputs, titles):
        for k, title in enumerate(titles):
            for i, name in enumerate(names):
                stem = os.path.splitext(os.path.basename(name))[0]
                edit = title.replace(" ", "_")
                images.save(images.to_uint8(outputs[k][i]), os.path.join(grid_dir, "single", f"{stem}_{edit}.png"))


def metrics_report(groups, outputs, accuracy, success, distance, count):
    """metrics.json's content: per group accuracy, manipulation success and L1 to the input.

    Two-class groups report their on/off outputs; larger groups one entry per class.
    """
    report = {"images": int(count), "groups": {}}
    for a, group in enumerate(groups):
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
        report["groups"][group.spec] = entry
    return report


def metrics_table(report):
    lines = [f"{'group':36s} {'acc(real)':>9s} {'succ on':>8s} {'succ off':>8s} {'L1 on':>7s} {'L1 off':>7s}"]
    for spec, m in report["groups"].items():
        acc = "-" if m["accuracy_real"] is None or math.isnan(m["accuracy_real"]) else f"{m['accuracy_real']:.3f}"
        if "classes" not in m:
            lines.append(f"{spec:36s} {acc:>9s} {m['success_on']:8.3f} {m['success_off']:8.3f} "
                         f"{m['l1_on']:7.3f} {m['l1_off']:7.3f}")
            continue
        lines.append(f"{spec:36s} {acc:>9s} {m['success']:8.3f}  (mean over its classes)")
        lines += [f"  → {name:33s} {'':9s} {c['success']:8.3f} {'':8s} {c['l1']:7.3f}"
                  for name, c in m["classes"].items()]
    return "\n".join(lines)
