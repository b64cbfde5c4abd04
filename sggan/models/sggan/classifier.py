"""An attribute classifier of our own, the independent judge of the generator's edits.

It is not the critic: it is trained once, on real training images only (every labelled image of
the configured groups, whatever --labelled says, with flips, small shifts and colour jitter), and
never sees a generated image. Editing papers score their edits with such a classifier.

Network (for image size s): three blocks of [3x3 conv, batch norm, ReLU, 3x3 conv, batch norm,
ReLU, 2x2 max-pool] of widths 32, 64, 128, global average pooling, dropout 0.3, one dense layer
with K logits per group of K classes (groups may differ in K; about 290k parameters). The loss is
each group's masked cross-entropy with class-balanced weights (a rare class, such as UTKFace's
age 60-, counts as much as a frequent one), so the judge aims at balanced accuracy.
"""
import os

import keras
import numpy as np
import tensorflow as tf

from sggan.data import pipeline, splits
from sggan.training import precision
from sggan.models.sggan import losses
from sggan.models.sggan.data import TRANSFORM
from sggan.errors import UserError
from sggan.files import write_text

WIDTHS = (32, 64, 128)
SUBDIR = "classifier"


def class_counts(groups):
    """Classes per group: a list of K's; an int n stands for n two-class groups."""
    return [2] * groups if isinstance(groups, int) else [int(k) for k in groups]


class AttributeClassifier(keras.Model):
    """Images [B, s, s, 3] in [-1, 1] → per group its logits [B, K] (a list)."""

    def __init__(self, groups, image_size, **kwargs):
        super().__init__(**kwargs)
        self.group_classes = class_counts(groups)
        self.n_groups, self.image_size = len(self.group_classes), image_size
        self.blocks = []
        for width in WIDTHS:
            self.blocks += [keras.layers.Conv2D(width, 3, padding="same", use_bias=False),
                            keras.layers.BatchNormalization(), keras.layers.ReLU(),
                            keras.layers.Conv2D(width, 3, padding="same", use_bias=False),
                            keras.layers.BatchNormalization(), keras.layers.ReLU(),
                            keras.layers.MaxPooling2D(2)]
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dropout = keras.layers.Dropout(0.3)
        self.head = keras.layers.Dense(sum(self.group_classes))

    def call(self, images, training=False):
        x = images
        for layer in self.blocks:
            x = layer(x, training=training)
        x = self.dropout(self.pool(x), training=training)
        return tf.split(self.head(x), self.group_classes, axis=-1)

    def predict_classes(self, images):
        """Predicted class (0..K-1) per image and group, as a NumPy array [B, groups]; images of
        another size are resized to the classifier's first."""
        if images.shape[1] != self.image_size:
            images = tf.image.resize(images, (self.image_size, self.image_size), method="area")
        logits = np.split(self._logits(images).numpy(), np.cumsum(self.group_classes)[:-1], axis=-1)
        return np.stack([np.argmax(group, -1) for group in logits], 1)

    @tf.function
    def _logits(self, images):
        """Every group's logits side by side: [B, ΣK]."""
        return tf.concat(self(images, training=False), -1)


def build(groups, image_size):
    """The classifier for `groups` (K per group, or a count of two-class groups), built in float32
    whatever --precision says: a judge must not change with the precision the generator was
    trained in (and its loss needs float32 logits)."""
    with precision.policy("float32"):
        model = AttributeClassifier(groups, image_size, name="attribute_classifier")
        model(tf.zeros((1, image_size, image_size, 3)))
    return model


def augment(images, rng, max_shift):
    """Random shifts of up to max_shift pixels (edge padding) and brightness/contrast jitter."""
    size = images.shape[1]
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]], mode="SYMMETRIC")
    offsets = rng.uniform([2], 0, 2 * max_shift + 1, dtype=tf.int32)
    shifted = padded[:, offsets[0]:offsets[0] + size, offsets[1]:offsets[1] + size]
    batch = tf.shape(images)[0]
    contrast = rng.uniform(tf.stack([batch, 1, 1, 1]), 0.8, 1.2)
    brightness = rng.uniform(tf.stack([batch, 1, 1, 1]), -0.1, 0.1)
    mean = tf.reduce_mean(shifted, axis=[1, 2, 3], keepdims=True)
    return tf.clip_by_value((shifted - mean) * contrast + mean + brightness, -1.0, 1.0)


def balanced_weights(classes, masks, group_classes):
    """Per group, a weight per class, N / (K · n_c) over the labelled rows (1 for an absent class)."""
    weights = []
    for a, k in enumerate(group_classes):
        counts = np.bincount(classes[masks[:, a] > 0, a].astype(int), minlength=k)[:k].astype(float)
        weights.append(np.where(counts > 0, counts.sum() / (k * np.maximum(counts, 1)), 1.0).astype(np.float32))
    return weights


class ClassifierTrainer:
    """Trains an AttributeClassifier with masked cross-entropy (unlabelled entries count for nothing);
    `class_weights` (per group, one weight per class; default all 1) reweights each labelled row."""

    def __init__(self, model, learn_rate, seed, max_shift, class_weights=None):
        self.model, self.max_shift = model, max_shift
        self.optimizer = keras.optimizers.Adam(learn_rate)
        self.rng = tf.random.Generator.from_seed(seed)
        self.class_weights = [tf.constant(w, tf.float32) for w in
                              (class_weights or [np.ones(k, np.float32) for k in model.group_classes])]

    @tf.function
    def step(self, images, classes, masks):
        images = augment(images, self.rng, self.max_shift)
        with tf.GradientTape() as tape:
            logits = self.model(images, training=True)
            loss = 0.0
            for a in range(self.model.n_groups):
                weighted = masks[:, a] * tf.gather(self.class_weights[a], tf.cast(classes[:, a], tf.int32))
                loss += tf.reduce_sum(losses.masked_cross_entropy(logits[a], classes[:, a], weighted))
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss


def fully_labelled(ds):
    """The training images with every label the attribute file has for the groups (no sparse plan)."""
    rows = np.unique(ds.train.rows)
    return splits.training_list(ds.table, ds.groups, rows, splits.SP_TYPES[0])


def train(ds, image_size, steps, batch_size=64, learn_rate=1e-3, seed=0, log=print):
    """A classifier trained for `steps` batches of the real training images (class-balanced loss,
    learning rate decayed by a cosine to 0.05x over the steps); returns the model."""
    listing = fully_labelled(ds)
    group_classes = [g.n_classes for g in ds.groups]
    model = build(group_classes, image_size)
    schedule = keras.optimizers.schedules.CosineDecay(learn_rate, max(1, steps), alpha=0.05)
    trainer = ClassifierTrainer(model, schedule, seed, max_shift=max(1, image_size // 16),
                                class_weights=balanced_weights(listing.classes, listing.masks, group_classes))
    stream = iter(pipeline.training_dataset(ds.source, listing, image_size, batch_size, seed, TRANSFORM))
    for step in range(steps):
        batch = next(stream)
        loss = trainer.step(batch["image"], batch["classes"], batch["masks"])
        if step % 100 == 0 or step == steps - 1:
            log(f"classifier step {step}/{steps} loss {float(loss):.4f}")
    return model


def predictions(model, ds, listing, image_size, batch_size=100):
    """Predicted classes [N, groups] for the readable images of `listing` and their positions."""
    predicted, positions = [], []
    for batch in pipeline.test_dataset(ds.source, listing, image_size, batch_size, TRANSFORM):
        predicted.append(model.predict_classes(batch["image"]))
        positions.append(batch["position"].numpy())
    if not predicted:
        return np.zeros((0, len(ds.groups)), int), np.zeros(0, int)
    return np.concatenate(predicted), np.concatenate(positions)


def accuracy(predicted, classes, masks):
    """Per group: share of labelled images whose predicted class is their real class (nan: none labelled)."""
    labelled = masks > 0
    hits = (predicted == classes) & labelled
    counts = labelled.sum(0)
    return [float(h / c) if c else float("nan") for h, c in zip(hits.sum(0), counts)]


def class_accuracy(predicted, classes, masks, group_classes):
    """Per group: the list of per-class recalls (share of the labelled images of class c predicted
    c; nan for a class with no labelled image) and the balanced accuracy (their mean over the
    classes present)."""
    recalls, balanced = [], []
    for a, k in enumerate(class_counts(group_classes)):
        labelled = masks[:, a] > 0
        mine = [labelled & (classes[:, a] == c) for c in range(k)]
        per_class = [float(np.mean(predicted[m, a] == c)) if m.any() else float("nan") for c, m in enumerate(mine)]
        present = [r for r in per_class if not np.isnan(r)]
        recalls.append(per_class)
        balanced.append(float(np.mean(present)) if present else float("nan"))
    return recalls, balanced


def directory(exp_dir):
    return os.path.join(exp_dir, SUBDIR)


def save(model, exp_dir, image_size):
    """Save the weights under <exp_dir>/classifier/ (a tf.train.Checkpoint) with the image size and
    the classes per group."""
    folder = directory(exp_dir)
    os.makedirs(folder, exist_ok=True)
    path = tf.train.Checkpoint(weights=list(model.weights)).write(os.path.join(folder, "weights"))
    write_text(os.path.join(folder, "image_size.txt"), f"{image_size}\n")
    write_text(os.path.join(folder, "classes.txt"), " ".join(str(k) for k in model.group_classes) + "\n")
    return path


def load(exp_dir, groups):
    """The experiment's trained classifier for `groups` (K per group, or a count of two-class
    groups), or None when it has none."""
    folder = directory(exp_dir)
    size_file = os.path.join(folder, "image_size.txt")
    if not os.path.isfile(size_file):
        return None
    with open(size_file) as f:
        image_size = int(f.read())
    classes_file = os.path.join(folder, "classes.txt")
    if os.path.isfile(classes_file):
        with open(classes_file) as f:
            stored = [int(k) for k in f.read().split()]
        if stored != class_counts(groups):
            raise UserError(f"the classifier in {folder} judges groups of {stored} classes, this experiment "
                            f"has {class_counts(groups)}; train it again with --mode classifier")
    model = build(groups, image_size)
    try:
        tf.train.Checkpoint(weights=list(model.weights)).read(
            os.path.join(folder, "weights")).assert_existing_objects_matched()
    except Exception as problem:  # TF raises many kinds for truncated or foreign files
        raise UserError(f"the classifier in {folder} cannot be read ({type(problem).__name__}); "
                        "train it again with --mode classifier")
    return model
