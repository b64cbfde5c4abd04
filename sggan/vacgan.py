"""VAC+GAN: faces generated from noise plus the 40 CelebA attributes, with a multi-label classifier
beside the critic whose error on fakes is back-propagated into the generator (Bazrafkan & Corcoran).

Shares the data pipeline, spectral-norm convolution, training loop, checkpoints, monitor and grids
with SG-GAN; only the networks, losses and steps are its own.
"""

import keras
import numpy as np
import tensorflow as tf

from sggan import data, images
from sggan.layers import critic_conv

LABEL_SMOOTHING = 0.9  # one-sided: requested / true 1s become 0.9


class Generator(keras.Model):
    """z ⊕ attributes → Dense 2048 → Dense (s/8)²·256 → 3 × (upsample, 5x5 SN conv) → tanh."""

    def __init__(self, image_size, **kwargs):
        super().__init__(**kwargs)
        self.base = image_size // 8
        self.dense1 = keras.layers.Dense(2048)
        self.dense2 = keras.layers.Dense(self.base * self.base * 256)
        self.norm0 = keras.layers.BatchNormalization()
        self.drop1, self.drop2 = keras.layers.Dropout(0.2), keras.layers.Dropout(0.2)
        self.convs = [critic_conv(w, 5, 1, "same", True) for w in (128, 64, 3)]
        self.norms = [keras.layers.BatchNormalization(momentum=0.8) for _ in range(2)]

    def call(self, z, attributes, training=False):
        x = tf.concat([z, tf.cast(attributes, z.dtype)], -1)
        x = self.drop1(tf.nn.leaky_relu(self.dense1(x), 0.2), training=training)
        x = self.norm0(self.dense2(x), training=training)
        x = self.drop2(tf.nn.leaky_relu(x, 0.2), training=training)
        x = tf.reshape(x, (-1, self.base, self.base, 256))
        for i, conv in enumerate(self.convs):
            x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)  # nearest-neighbour upsampling ×2
            x = conv(x, training=training)
            if i < 2:
                x = tf.nn.leaky_relu(self.norms[i](x, training=training), 0.2)
        return tf.tanh(x)


class Critic(keras.Model):
    """5x5 stride-2 SN convolutions 32 → 64 → 128 → 256 with leaky ReLU, global average, Dense 1."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.convs = [critic_conv(w, 5, 2, "same", True) for w in (32, 64, 128, 256)]
        self.out = keras.layers.Dense(1)

    def call(self, x, training=False):
        for conv in self.convs:
            x = tf.nn.leaky_relu(conv(x, training=training), 0.2)
        return tf.squeeze(self.out(tf.reduce_mean(x, [1, 2])), -1)


class Classifier(keras.Model):
    """2x2 stride-2 SN convolutions 64 → 512, each with batch norm and leaky ReLU, global average,
    Dense 40 (logits; the sigmoid is inside the loss)."""

    def __init__(self, n_attributes, **kwargs):
        super().__init__(**kwargs)
        self.convs = [critic_conv(w, 2, 2, "same", True) for w in (64, 128, 256, 512)]
        self.norms = [keras.layers.BatchNormalization() for _ in self.convs]
        self.out = keras.layers.Dense(n_attributes)

    def call(self, x, training=False):
        for conv, norm in zip(self.convs, self.norms):
            x = tf.nn.leaky_relu(norm(conv(x, training=training), training=training), 0.2)
        return self.out(tf.reduce_mean(x, [1, 2]))


def hinge_critic_loss(real, fake):
    """(mean relu(1 − D(real)) + mean relu(1 + D(fake))) / 2."""
    return (tf.reduce_mean(tf.nn.relu(1.0 - real)) + tf.reduce_mean(tf.nn.relu(1.0 + fake))) / 2.0


def smoothed_bce(logits, attributes):
    """Binary cross-entropy against the attributes with 1 → 0.9, mean over samples and attributes."""
    targets = tf.cast(attributes, tf.float32) * LABEL_SMOOTHING
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits))


def build(cfg, n_attributes):
    generator = Generator(cfg["image_size"], name="vac_generator")
    critic, classifier = Critic(name="vac_critic"), Classifier(n_attributes, name="vac_classifier")
    z = tf.zeros((1, cfg["z_dim"]))
    generator(z, tf.zeros((1, n_attributes)))
    dummy = tf.zeros((1, cfg["image_size"], cfg["image_size"], 3))
    critic(dummy)
    classifier(dummy)
    return generator, critic, classifier


class VACGANTask:
    """Per iteration: n_critic rounds of (critic update, classifier update), each on a fresh real
    batch with fresh noise; then the generator's adversarial and classification updates."""

    def __init__(self, cfg, n_attributes):
        self.cfg, self.n_attributes = cfg, n_attributes
        self.generator, self.critic, self.classifier = build(cfg, n_attributes)
        adam = dict(beta_1=cfg["beta1"], beta_2=cfg["beta2"])
        self.d_optimizer = keras.optimizers.Adam(cfg["learn_rate"], **adam)
        self.c_optimizer = keras.optimizers.Adam(cfg["learn_rate"], **adam)
        self.g_optimizer = keras.optimizers.Adam(cfg["g_learn_rate"], **adam)
        self.d_optimizer.build(self.critic.trainable_variables)
        self.c_optimizer.build(self.classifier.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.rng = tf.random.Generator.from_seed(cfg["seed"])

    def trackables(self):
        """Networks as weight lists (see SGGANTask.trackables), optimisers and the noise generator."""
        return dict(generator=list(self.generator.weights), critic=list(self.critic.weights),
                    classifier=list(self.classifier.weights), g_optimizer=self.g_optimizer,
                    d_optimizer=self.d_optimizer, c_optimizer=self.c_optimizer, rng=self.rng)

    def iteration(self, step, next_batch):
        for _ in range(self.cfg["n_critic"]):
            batch = next_batch()
            d_terms = self.train_critic_and_classifier(batch["image"], batch["classes"])
        g_terms = self.train_generator(batch["classes"])
        return {**d_terms, **g_terms}

    def _noise(self, batch):
        return self.rng.normal((batch, self.cfg["z_dim"]))

    @tf.function
    def train_critic_and_classifier(self, images, attributes):
        fakes = self.generator(self._noise(tf.shape(images)[0]), attributes, training=True)
        with tf.GradientTape() as tape:
            d_loss = hinge_critic_loss(self.critic(images, training=True), self.critic(fakes, training=True))
        variables = self.critic.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, variables), variables))
        with tf.GradientTape() as tape:
            c_loss = smoothed_bce(self.classifier(images, training=True), attributes)
        variables = self.classifier.trainable_variables
        self.c_optimizer.apply_gradients(zip(tape.gradient(c_loss, variables), variables))
        return {"d_loss": d_loss, "c_loss": c_loss}

    @tf.function
    def train_generator(self, attributes):
        variables = self.generator.trainable_variables
        batch = tf.shape(attributes)[0]
        with tf.GradientTape() as tape:
            g_adversarial = -tf.reduce_mean(self.critic(self.generator(self._noise(batch), attributes, training=True)))
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_adversarial, variables), variables))
        with tf.GradientTape() as tape:
            fakes = self.generator(self._noise(batch), attributes, training=True)
            g_classification = smoothed_bce(self.classifier(fakes), attributes)
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_classification, variables), variables))
        return {"g_adversarial": g_adversarial, "g_classification": g_classification}

    @tf.function
    def generate(self, z, attributes):
        return self.generator(z, attributes)

    @tf.function
    def predict(self, images):
        return tf.sigmoid(self.classifier(images))


def agreement(task, attributes, seed=0, batch=100):
    """Share of (face, attribute) pairs where the classifier agrees with the requested value on
    generated faces; per attribute and overall."""
    rng = tf.random.Generator.from_seed(seed)
    hits = []
    for start in range(0, len(attributes), batch):
        wanted = tf.constant(attributes[start:start + batch], tf.float32)
        faces = task.generate(rng.normal((len(wanted), task.cfg["z_dim"])), wanted)
        hits.append((task.predict(faces).numpy() > 0.5) == (wanted.numpy() > 0.5))
    hits = np.concatenate(hits)
    return float(hits.mean()), hits.mean(axis=0)


def sample_grid(task, vectors, labels, draws=8, seed=0):
    """A grid: one row per attribute vector (labelled with its settings), `draws` noise samples each."""
    rng = tf.random.Generator.from_seed(seed)
    z = rng.normal((draws, task.cfg["z_dim"]))
    rows = [task.generate(z, tf.repeat(tf.constant([v], tf.float32), draws, 0)).numpy() for v in vectors]
    columns = [np.stack([row[d] for row in rows]) for d in range(draws)]
    return images.grid(columns, [f"z{d + 1}" for d in range(draws)], row_labels=labels)


def vacgan_stream(cfg, ds):
    def make_stream(start_index):
        return data.training_dataset(ds.source, ds.train, cfg["image_size"], cfg["batch_size"], cfg["seed"],
                                     start_index, flip=False, crop=data.VACGAN_CROP)
    return make_stream


def describe_vector(names, vector, shown):
    """'Male=1 Smiling=0 …' for the attributes in `shown`."""
    return " ".join(f"{n}={int(vector[names.index(n)])}" for n in shown)
