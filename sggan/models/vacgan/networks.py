"""VAC+GAN's networks: generator (noise ⊕ attributes → face), critic, multi-label classifier.

Every layer has an explicit name, so checkpoints store and restore weights by path.
"""
import keras
import tensorflow as tf

from sggan.nn.layers import spectral_conv


def sn_conv(filters, kernel, stride, name):
    """A spectral-norm convolution with Keras' default glorot_uniform kernels, as the original's."""
    return spectral_conv(filters, kernel, stride, "same", name=name, initializer="glorot_uniform")


DROPOUT = 0.2


def _dropped(x, uniform):
    """Inverted dropout at rate DROPOUT, from uniform draws given by the caller."""
    return tf.where(uniform >= DROPOUT, x / (1.0 - DROPOUT), tf.zeros_like(x))


class Generator(keras.Model):
    """z ⊕ attributes → Dense 2048 → Dense (s/8)²·256 → 3 × (upsample, 5x5 SN conv) → tanh.

    Dropout (0.2, after each dense layer) takes its random draws as an argument in training,
    `dropout` = uniform draws shaped as dropout_shapes(batch), so that the training step can draw
    them for the global batch (see steps.py). Batch norm is synchronised over replicas.
    """

    def __init__(self, image_size, **kwargs):
        super().__init__(**kwargs)
        self.base = image_size // 8
        self.dense1 = keras.layers.Dense(2048, name="dense1")
        self.dense2 = keras.layers.Dense(self.base * self.base * 256, name="dense2")
        self.norm0 = keras.layers.BatchNormalization(synchronized=True, name="norm0")
        self.convs = [sn_conv(w, 5, 1, name=f"conv{i}") for i, w in enumerate((128, 64, 3))]
        self.norms = [keras.layers.BatchNormalization(momentum=0.8, synchronized=True, name=f"norm{i + 1}")
                      for i in range(2)]

    def dropout_shapes(self, batch):
        return [(batch, 2048), (batch, self.base * self.base * 256)]

    def call(self, z, attributes, training=False, frozen=False, dropout=None):
        """`frozen`: dropout as in training but batch norm in inference mode, moving statistics
        untouched: the original's generator while the critic and classifier learn (a Keras layer
        with trainable = False runs its batch norm in inference mode)."""
        norm_training = training and not frozen
        x = tf.concat([z, tf.cast(attributes, z.dtype)], -1)
        x = tf.nn.leaky_relu(self.dense1(x), 0.2)
        x = _dropped(x, tf.cast(dropout[0], x.dtype)) if training else x
        x = self.norm0(self.dense2(x), training=norm_training)
        x = tf.nn.leaky_relu(x, 0.2)
        x = _dropped(x, tf.cast(dropout[1], x.dtype)) if training else x
        x = tf.reshape(x, (-1, self.base, self.base, 256))
        for i, conv in enumerate(self.convs):
            x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)  # nearest-neighbour upsampling ×2
            x = conv(x, training=training)
            if i < 2:
                x = tf.nn.leaky_relu(self.norms[i](x, training=norm_training), 0.2)
        return tf.tanh(tf.cast(x, tf.float32))  # float32 under mixed precision


class Critic(keras.Model):
    """5x5 stride-2 SN convolutions 32 → 64 → 128 → 256 with leaky ReLU, global average, Dense 1."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.convs = [sn_conv(w, 5, 2, name=f"conv{i}") for i, w in enumerate((32, 64, 128, 256))]
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x, training=False):
        for conv in self.convs:
            x = tf.nn.leaky_relu(conv(x, training=training), 0.2)
        return tf.cast(tf.squeeze(self.out(tf.reduce_mean(x, [1, 2])), -1), tf.float32)


class Classifier(keras.Model):
    """2x2 stride-2 SN convolutions 64 → 512, each with batch norm and leaky ReLU, global average,
    Dense 40 (logits; the sigmoid is inside the loss)."""

    def __init__(self, n_attributes, **kwargs):
        super().__init__(**kwargs)
        self.convs = [sn_conv(w, 2, 2, name=f"conv{i}") for i, w in enumerate((64, 128, 256, 512))]
        self.norms = [keras.layers.BatchNormalization(synchronized=True, name=f"norm{i}") for i in range(len(self.convs))]
        self.out = keras.layers.Dense(n_attributes, name="out")

    def call(self, x, training=False, frozen=False):
        """`frozen`: batch norm in inference mode while the spectral norms still iterate, as the
        original's frozen classifier during the generator's update."""
        for conv, norm in zip(self.convs, self.norms):
            x = tf.nn.leaky_relu(norm(conv(x, training=training), training=training and not frozen), 0.2)
        return tf.cast(self.out(tf.reduce_mean(x, [1, 2])), tf.float32)


def build(cfg, n_attributes):
    generator = Generator(cfg["image_size"], name="vac_generator")
    critic, classifier = Critic(name="vac_critic"), Classifier(n_attributes, name="vac_classifier")
    z = tf.zeros((1, cfg["z_dim"]))
    generator(z, tf.zeros((1, n_attributes)))
    dummy = tf.zeros((1, cfg["image_size"], cfg["image_size"], 3))
    critic(dummy)
    classifier(dummy)
    return generator, critic, classifier
