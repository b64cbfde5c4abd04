"""Looking at an SG-GAN: sample grids, the critic's accuracy on real faces, test mode and metrics."""
import json
import math
import os

import numpy as np
import tensorflow as tf

from sggan import celeba, data, images


def column_titles(groups):
    """'input', then each group's on and off output, readable."""
    titles = ["input"]
    for group in groups:
        titles += [name.replace("_", " ") for name in group.class_names]
    return titles


class Evaluator:
    """Runs a trained (or training) generator and critic on test images."""

    def __init__(self, cfg, dataset, generator, discriminator):
        self.cfg, self.dataset = cfg, dataset
        self.generator, self.discriminator = generator, discriminator
        self.groups = dataset.groups

    @tf.function
    def _edit(self, batch):
        outputs = self.generator(batch)
        _, logits = self.discriminator(tf.concat(outputs, 0))
        return outputs, tf.split(logits, len(outputs))

    @tf.function
    def _classify(self, batch):
        return self.discriminator(batch)[1]

    def test_batches(self, listing, batch_size=None):
        return data.test_dataset(self.dataset.source, listing, self.cfg["image_size"],
                                 batch_size or self.cfg["batch_size"])

    def fixed_batch(self):
        """The first test batch (as the original's sample grids)."""
        return next(iter(self.test_batches(self.dataset.test)))["image"]

    def sample_hook(self, step, monitor, batch):
        """Write samples/iter_<step>.png (edits of `batch`) and the same grid to TensorBoard."""
        outputs, _ = self._edit(batch)
        picture = images.grid([batch.numpy()] + [o.numpy() for o in outputs], column_titles(self.groups))
        images.save(picture, os.path.join(self.cfg["exp_dir"], "samples", f"iter_{step:06d}.png"))
        monitor.image(step, "samples", picture)

    def accuracy(self, listing=None):
        """Per group: the critic's classification accuracy on labelled real test images.

        Single-attribute groups use every test image; two-way groups a class-balanced labelled
        subset (the original's hair test list).
        """
        listing = listing or self.dataset.test
        predictions, positions = [], []
        for batch in self.test_batches(listing, 64):
            predictions.append(np.argmax(self._classify(batch["image"]).numpy(), -1))
            positions.append(batch["position"].numpy())
        predicted = np.concatenate(predictions) if predictions else np.zeros((0, len(self.groups)), int)
        position = np.concatenate(positions) if positions else np.zeros(0, int)
        result = {}
        for a, group in enumerate(self.groups):
            chosen = celeba.balanced_rows(listing, a) if group.is_pair else np.flatnonzero(listing.masks[:, a] > 0)
            keep = np.isin(position, chosen)
            hits = predicted[keep, a] == listing.classes[position[keep], a]
            result[group.spec] = float(hits.mean()) if hits.size else float("nan")
        return result

    def accuracy_hook(self, step, monitor):
        result = self.accuracy()
        monitor.scalars(step, {f"accuracy/{k}": v for k, v in result.items()})
        monitor.message("test accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()))

    def manipulate(self, batches, grid_dir, save_single=False):
        """Edit every image of `batches`, write one grid per batch; return manipulation statistics."""
        n_out = 2 * len(self.groups)
        success = np.zeros(n_out)
        distance = np.zeros(n_out)
        count = 0
        titles = column_titles(self.groups)
        for number, (batch, names) in enumerate(batches):
            outputs, logits = self._edit(batch)
            outputs = [o.numpy() for o in outputs]
            for k in range(n_out):
                predicted = np.argmax(logits[k].numpy()[:, k // 2], -1)
                success[k] += np.sum(predicted == 1 - k % 2)
                distance[k] += np.sum(np.mean(np.abs(outputs[k] - batch.numpy()), axis=(1, 2, 3)))
            count += len(names)
            picture = images.grid([batch.numpy()] + outputs, titles)
            images.save(picture, os.path.join(grid_dir, f"grid_{number:04d}.png"))
            if save_single:
                self._save_single(grid_dir, names, outputs, titles[1:])
        return success / max(count, 1), distance / max(count, 1), count

    def _save_single(self, grid_dir, names, outputs, titles):
        for k, title in enumerate(titles):
            for i, name in enumerate(names):
                stem = os.path.splitext(os.path.basename(name))[0]
                edit = title.replace(" ", "_")
                images.save(images.to_uint8(outputs[k][i]), os.path.join(grid_dir, "single", f"{stem}_{edit}.png"))


def metrics_report(groups, accuracy, success, distance, count):
    """metrics.json's content: per group accuracy, manipulation success and L1 to the input."""
    report = {"images": int(count), "groups": {}}
    for a, group in enumerate(groups):
        on, off = group.class_names
        report["groups"][group.spec] = {
            "accuracy_real": accuracy.get(group.spec) if accuracy else None,
            "success_on": float(success[2 * a]), "success_off": float(success[2 * a + 1]),
            "success": float((success[2 * a] + success[2 * a + 1]) / 2),
            "l1_on": float(distance[2 * a]), "l1_off": float(distance[2 * a + 1]),
            "on": on, "off": off,
        }
    return report


def metrics_table(report):
    lines = [f"{'group':36s} {'acc(real)':>9s} {'succ on':>8s} {'succ off':>8s} {'L1 on':>7s} {'L1 off':>7s}"]
    for spec, m in report["groups"].items():
        acc = "-" if m["accuracy_real"] is None or math.isnan(m["accuracy_real"]) else f"{m['accuracy_real']:.3f}"
        lines.append(f"{spec:36s} {acc:>9s} {m['success_on']:8.3f} {m['success_off']:8.3f} "
                     f"{m['l1_on']:7.3f} {m['l1_off']:7.3f}")
    return "\n".join(lines)


def write_json(obj, path):
    """Write JSON atomically (config.json, metrics.json, fid.json): whole or not at all."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
    os.replace(tmp, path)
