"""SG-GAN's networks: one generator with an output head per (group, class), and a critic with
one classification head per group.

Which output edits what is said in outputs.py. Every layer has an explicit name, so weights have
stable paths (`generator/head3/out1/kernel`) by which checkpoints store and restore them.
"""
import keras
import tensorflow as tf

from sggan.nn.layers import PassThrough, conv, cpu_tuned, instance_norm, spectral_conv, upsample

# Output blocks per group position, cycled, as the original: gender and lipstick end in one 7x7
# convolution; smile and hair in 3x3 → 32 channels → 3x3.
HEAD_BLOCKS = ("7x7", "3x3+3x3", "3x3+3x3", "7x7")


class ResidualBlock(keras.layers.Layer):
    """x + IN(conv3x3(ReLU(IN(conv3x3(x))))), no activation after the sum.

    The sum stays float32 under mixed precision (only the convolutions inside compute in 16 bits),
    like every container of the generator."""

    def __init__(self, filters, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.conv1, self.norm1 = conv(filters, 3, name="conv1"), instance_norm("norm1")
        self.conv2, self.norm2 = conv(filters, 3, name="conv2"), instance_norm("norm2")

    def call(self, x):
        y = tf.nn.relu(self.norm1(self.conv1(x)))
        return x + self.norm2(self.conv2(y))


class OutputHead(keras.layers.Layer):
    """One generator output: upsample, concatenate the input image ("refined residual image
    learning"), then the output block and tanh."""

    def __init__(self, ngf, block, identity_init=False, upsampling="deconv", **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.up, self.norm = upsample(ngf, upsampling, name="up"), instance_norm("norm")
        # identity_init: the output block starts by copying the concatenated input image (its last
        # 3 channels) to the output, so training starts from near-identity edits.
        first = PassThrough(ngf) if identity_init else None
        if block == "7x7":
            self.out = [conv(3, 7, initializer=first, name="out0")]
        else:
            self.out = [conv(32, 3, initializer=first, name="out0"),
                        conv(3, 3, initializer=PassThrough(0) if identity_init else None, name="out1")]

    def call(self, features, image):
        x = tf.concat([tf.nn.relu(self.norm(self.up(features))), image], axis=-1)
        for layer in self.out:
            x = layer(x)
        return tf.tanh(tf.cast(x, tf.float32))  # outputs in float32 under mixed precision


class Generator(keras.Model):
    """Encoder → residual trunk → shared upsampling; then one OutputHead per output.

    `output_groups[k]` is the group of output k (outputs.py); a head's output block depends on its
    group's position. `trunk` and `head` can be called separately: the training step runs the trunk
    once on a batch of several inputs and applies only the heads it needs.
    """

    def __init__(self, output_groups, ngf=64, n_blocks=6, identity_init=False, upsampling="deconv", **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.n_outputs = len(output_groups)
        self.encoder = [conv(ngf, 7, name="enc1"), instance_norm("enc1_norm"),
                        conv(2 * ngf, 4, 2, name="enc2"), instance_norm("enc2_norm"),
                        conv(4 * ngf, 4, 2, name="enc3"), instance_norm("enc3_norm")]
        self.blocks = [ResidualBlock(4 * ngf, name=f"block{i}") for i in range(n_blocks)]
        self.shared_up = upsample(2 * ngf, upsampling, name="shared_up")
        self.shared_norm = instance_norm("shared_norm")
        self.heads = [OutputHead(ngf, HEAD_BLOCKS[group % len(HEAD_BLOCKS)], identity_init, upsampling, name=f"head{k}")
                      for k, group in enumerate(output_groups)]

    def trunk(self, images):
        x = images
        for conv_layer, norm in zip(self.encoder[::2], self.encoder[1::2]):
            x = tf.nn.relu(norm(conv_layer(x)))
        for block in self.blocks:
            x = block(x)
        return tf.nn.relu(self.shared_norm(self.shared_up(x)))

    def head(self, k, features, images):
        return self.heads[k](features, images)

    def call(self, images):
        features = self.trunk(images)
        return [self.head(k, features, images) for k in range(self.n_outputs)]


def leaky_relu(x, alpha=0.2, tuned=True):
    """The original's leaky ReLU, max(x, αx); with `tuned` (CPUs) computed as x times its slope
    (1 where x ≥ 0, else α; the same values and gradient, slope 1 at 0 as there).

    The tuned slope is held constant to the tape, so the penalty's double backward has nothing to
    differentiate through the activation: tf.nn.leaky_relu registers a second derivative that sends
    a tensor of zeros back into every critic convolution, which that double backward then convolves
    (docs/performance.md). Elsewhere the plain op runs.
    """
    if not tuned:
        return tf.nn.leaky_relu(x, alpha)
    slope = tf.where(x >= 0, tf.constant(1.0, x.dtype), tf.constant(alpha, x.dtype))
    return x * tf.stop_gradient(slope)


def critic_widths(ndf, d_layers):
    """Channel widths of the critic's stride-2 convolutions: ndf·min(2^i, 8), the last doubled
    (64 128 256 512 512 1024 for the original's six layers)."""
    widths = [ndf * min(2 ** i, 8) for i in range(d_layers - 1)]
    return widths + [2 * widths[-1] if widths else ndf]


class Discriminator(keras.Model):
    """5x5 stride-2 convolutions with leaky ReLU, then an adversarial patch head (1x1 conv) and one
    K-class head per group (a conv as large as the final map); `group_classes[a]` is group a's K."""

    def __init__(self, group_classes, image_size, ndf=64, d_layers=6, spectral_norm=True, **kwargs):
        super().__init__(**kwargs)
        final = image_size // 2 ** d_layers
        self.tuned = cpu_tuned()  # the CPU-tuned leaky ReLU and small-map convolutions (layers.py)
        self.body = [spectral_conv(w, 5, 2, "same", spectral_norm, name=f"conv{i}", tuned=self.tuned)
                     for i, w in enumerate(critic_widths(ndf, d_layers))]
        self.adversarial = spectral_conv(1, 1, 1, "valid", spectral_norm, name="adversarial", tuned=self.tuned)
        self.classifiers = [spectral_conv(k, final, 1, "valid", spectral_norm, name=f"classifier{a}", tuned=self.tuned)
                            for a, k in enumerate(group_classes)]

    def call(self, images, training=False):
        """Returns the critic patch [B, s, s] and per group its class logits [B, K] (a list)."""
        x = images
        for layer in self.body:
            x = leaky_relu(layer(x, training=training), tuned=self.tuned)
        patch = tf.squeeze(self.adversarial(x, training=training), -1)
        logits = [tf.cast(tf.reshape(head(x, training=training), (-1, head.filters)), tf.float32)
                  for head in self.classifiers]
        return tf.cast(patch, tf.float32), logits  # float32 under mixed precision


def build(cfg, outputs):
    """Both networks, built (variables created) for cfg's image size; `outputs` from outputs.py
    (a group has as many classes as outputs)."""
    groups = [o.group for o in outputs]
    generator = Generator(groups, cfg["ngf"], cfg["n_blocks"], cfg["identity_init"],
                          cfg.get("upsampling", "deconv"), name="generator")
    discriminator = Discriminator([groups.count(a) for a in range(max(groups) + 1)], cfg["image_size"], cfg["ndf"], cfg["d_layers"],
                                  spectral_norm=not cfg["no_sp"], name="discriminator")
    dummy = tf.zeros((1, cfg["image_size"], cfg["image_size"], 3))
    generator(dummy)
    discriminator(dummy)
    return generator, discriminator


def trainable_count(model):
    return int(sum(tf.size(v).numpy() for v in model.trainable_variables))
