"""Building blocks shared by the networks: initialisers, instance norm, spectral-norm and small-map convolutions.

Three computations here were rewritten for speed on CPUs (instance norm's closed-form gradient,
small-map convolutions as one matrix product, and in the SG-GAN critic a leaky ReLU whose slope is
held constant to the tape; the measurements are in docs/performance.md). They give the same values
and gradients as TensorFlow's plain ops; on a GPU, where cuDNN's plain ops are the expected choice
and the rewrites were never measured, the plain ops run (`cpu_tuned`).
"""
import keras
import numpy as np
import tensorflow as tf


def cpu_tuned(logical_devices=None):
    """Whether the CPU-tuned computations apply: when no GPU is visible to TensorFlow.

    Decided when a layer is made (from the logical devices then visible), so one network uses one
    path throughout."""
    devices = tf.config.list_logical_devices() if logical_devices is None else logical_devices
    return not any(d.device_type == "GPU" for d in devices)


def weights():
    """The original's N(0, 0.02) kernel initialiser; a new one per layer, created after the run's
    seed is set (a shared module-level instance would draw its seed at import time)."""
    return keras.initializers.RandomNormal(stddev=0.02)


class PassThrough(keras.initializers.Initializer):
    """A kernel whose output channels [0, 3) copy input channels [source, source + 3) through its
    centre tap and nothing else; the other output channels keep N(0, 0.02). The layer starts by
    passing an RGB image through unchanged (see --identity_init)."""

    def __init__(self, source):
        self.source = source
        self.base = weights()

    def __call__(self, shape, dtype=None):
        kernel = self.base(shape, dtype)
        copy_channels = tf.cast(tf.range(shape[-1]) >= 3, kernel.dtype)  # zero the copying channels' noise
        kernel = kernel * copy_channels
        centre_h, centre_w = shape[0] // 2, shape[1] // 2
        rows = [[centre_h, centre_w, self.source + c, c] for c in range(3)]
        return tf.tensor_scatter_nd_add(kernel, rows, tf.ones(3, kernel.dtype))

    def get_config(self):
        return {"source": self.source}


def conv(filters, kernel, stride=1, padding="same", name=None, initializer=None):
    return keras.layers.Conv2D(filters, kernel, stride, padding=padding,
                               kernel_initializer=initializer or weights(), bias_initializer="zeros", name=name)


def deconv(filters, kernel, stride, name=None):
    return keras.layers.Conv2DTranspose(filters, kernel, stride, padding="same", kernel_initializer=weights(),
                                        bias_initializer="zeros", name=name)


def upsample(filters, kind, name=None):
    """Double the resolution: the original's 4x4 stride-2 transposed convolution ("deconv"), or
    nearest-neighbour resizing then a 3x3 convolution ("resize"), which has no checkerboard
    pattern (Odena et al., 2016)."""
    if kind == "deconv":
        return deconv(filters, 4, 2, name=name)
    return keras.Sequential([keras.layers.UpSampling2D(2, interpolation="nearest"), conv(filters, 3)], name=name)


def instance_norm(name=None, tuned=None):
    """Instance normalisation as the original: eps 1e-5, learned scale from N(1, 0.02), offset 0.

    Always computed in float32 (its variance loses too much in float16/bfloat16)."""
    return InstanceNormalization(
        groups=-1, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), name=name,
        dtype="float32", tuned=cpu_tuned() if tuned is None else tuned)


class InstanceNormalization(keras.layers.GroupNormalization):
    """keras.layers.GroupNormalization with one group per channel (its weights, config and
    checkpoint paths); with `tuned` (CPUs) its gradient is the closed form of `normalize_instances`.

    Written here because on a CPU the tape's gradient through the moments is slower
    (docs/performance.md); elsewhere Keras' own computation runs."""

    def __init__(self, tuned=False, **kwargs):
        super().__init__(**kwargs)
        self.tuned = tuned
        if self.groups != -1 or self.axis != -1 or not (self.scale and self.center):
            raise ValueError("InstanceNormalization: groups=-1, axis=-1, with scale and center only")

    def call(self, inputs):
        if not self.tuned:
            return super().call(tf.cast(inputs, tf.float32))
        return normalize_instances(tf.cast(inputs, tf.float32), tf.convert_to_tensor(self.gamma),
                                   tf.convert_to_tensor(self.beta), self.epsilon)

    def get_config(self):
        return {**super().get_config(), "tuned": self.tuned}


def normalize_instances(x, gamma, beta, epsilon):
    """(x − mean) / sqrt(var + ε) · γ + β, the moments per image and channel of x [B, H, W, C].

    The gradient is the closed form dx = γ·r·(dy − mean(dy) − x̂·mean(dy·x̂)), r = 1/sqrt(var + ε),
    evaluated as one affine map of dy and x per image and channel, without x̂ kept or rebuilt.
    """
    @tf.custom_gradient
    def forward(x, gamma, beta):
        mean, variance = tf.nn.moments(x, [1, 2], keepdims=True)
        rstd = tf.math.rsqrt(variance + epsilon)
        scale = rstd * gamma
        shift = beta - mean * scale

        def backward(dy):
            dy_mean = tf.reduce_mean(dy, [1, 2], keepdims=True)
            dy_xhat_mean = rstd * (tf.reduce_mean(dy * x, [1, 2], keepdims=True) - mean * dy_mean)
            pixels = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
            x_factor = -scale * rstd * dy_xhat_mean
            dx = scale * dy + (x * x_factor - (scale * dy_mean + x_factor * mean))
            return (dx, tf.reduce_sum(dy_xhat_mean, [0, 1, 2]) * pixels,
                    tf.reduce_sum(dy_mean, [0, 1, 2]) * pixels)

        return x * scale + shift, backward

    return forward(x, gamma, beta)


def gathered_taps_conv(inputs, kernel, strides):
    """A "same"-padded convolution as one matrix product: every output pixel's k·k taps gathered
    from the flattened map into a row of k·k·in values (taps on the padding point at an appended
    row of zeros), times the kernel as a [k·k·in, out] matrix. The same sum as tf.nn.conv2d, to
    float rounding."""
    (height, width), (k_h, k_w), (s_h, s_w) = inputs.shape[1:3], kernel.shape[:2], strides
    channels, filters = kernel.shape[2:]
    out_h, out_w = -(-height // s_h), -(-width // s_w)
    top, left = max((out_h - 1) * s_h + k_h - height, 0) // 2, max((out_w - 1) * s_w + k_w - width, 0) // 2
    rows = np.arange(out_h)[:, None, None, None] * s_h + np.arange(k_h)[None, None, :, None] - top
    cols = np.arange(out_w)[None, :, None, None] * s_w + np.arange(k_w)[None, None, None, :] - left
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    taps = np.where(inside, rows * width + cols, height * width)  # [out_h, out_w, k_h, k_w]: the kernel's order
    with tf.name_scope("gathered_taps"):
        flat = tf.reshape(inputs, (-1, height * width, channels))
        flat = tf.concat([flat, tf.zeros_like(flat[:, :1])], 1)
        gathered = tf.reshape(tf.gather(flat, taps.reshape(-1), axis=1), (-1, k_h * k_w * channels))
        outputs = tf.matmul(gathered, tf.reshape(kernel, (-1, filters)))
        return tf.reshape(outputs, (-1, out_h, out_w, filters))


class SmallMapConv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D, computed by gathered_taps_conv when a "same" convolution's input map is
    at most twice as large as its kernel (the critic's last two layers: 5x5 stride 2 on 8x8 and 4x4
    maps) and `tuned` (CPUs).

    Written here because oneDNN's convolution kernels run such layers, where many taps fall on
    padding, several times below their rate elsewhere; on larger maps the matrix product is slower,
    so they keep the convolution (docs/performance.md). Not measured on a GPU: there the plain
    convolution runs.
    """

    def __init__(self, *args, tuned=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tuned = cpu_tuned() if tuned is None else tuned

    def get_config(self):
        return {**super().get_config(), "tuned": self.tuned}

    def convolution_op(self, inputs, kernel):
        height, width = inputs.shape[1:3]
        small = (self.tuned and self.padding == "same" and self.data_format == "channels_last" and self.groups == 1
                 and tuple(self.dilation_rate) == (1, 1) and height is not None and width is not None
                 and height <= 2 * self.kernel_size[0] and width <= 2 * self.kernel_size[1])
        if small:
            return gathered_taps_conv(inputs, kernel, self.strides)
        return super().convolution_op(inputs, kernel)


class SpectralNormConv2D(SmallMapConv2D):
    """Conv2D whose kernel is divided by its largest singular value inside the forward pass.

    Written here rather than wrapped in keras.layers.SpectralNormalization because the Keras layer
    rewrites the stored kernel with W / sigma on every training call and passes no gradient through
    sigma; Miyato et al. and the original code divide in the forward pass, gradients through sigma.
    One power iteration per training call updates the persistent vector `u`; other calls reuse it.
    As in both original codes, gradients also flow through the power iteration's u and v (a term
    that vanishes once u has converged). The power iteration and sigma are float32 under mixed
    precision; under a distribution strategy every replica updates its own copy of `u` (they
    compute the same value).
    """

    def build(self, input_shape):
        super().build(input_shape)
        # add_weight cannot make a sync-on-read variable: under a distribution strategy each replica
        # then writes its own copy without a cross-replica call, which XLA-compiled steps (--jit)
        # cannot make; the copies stay equal and a checkpoint stores the first replica's.
        with keras.name_scope(self.name, caller=self):
            self.u = keras.Variable(keras.initializers.RandomNormal(), shape=(1, self.filters), trainable=False,
                                    autocast=False, aggregation="only_first_replica", synchronization="on_read",
                                    name="sn_u")

    def normalized_kernel(self, training):
        kernel = tf.convert_to_tensor(self.kernel)  # in the compute type
        work = tf.float32 if kernel.dtype in (tf.float16, tf.bfloat16) else kernel.dtype
        matrix = tf.reshape(tf.cast(kernel, work), (-1, self.filters))
        u = tf.math.l2_normalize(tf.cast(tf.convert_to_tensor(self.u), work))
        v = tf.math.l2_normalize(tf.matmul(u, matrix, transpose_b=True))
        if training:
            u = tf.math.l2_normalize(tf.matmul(v, matrix))
            self.u.assign(tf.cast(tf.stop_gradient(u), self.u.dtype))
        sigma = tf.squeeze(tf.matmul(tf.matmul(v, matrix), u, transpose_b=True))
        # W · (1/σ) rather than W / σ (the same to one rounding): the tape's gradient of a division
        # makes more passes over the kernel (docs/performance.md).
        return kernel * tf.cast(tf.math.reciprocal(sigma), kernel.dtype)

    def call(self, inputs, training=False):
        outputs = self.convolution_op(inputs, self.normalized_kernel(training))
        return tf.nn.bias_add(outputs, self.bias)


def spectral_conv(filters, kernel, stride, padding, spectral_norm=True, name=None, initializer=None, tuned=None):
    """A convolution, spectrally normalised unless turned off (both critics, VAC+GAN's generator);
    N(0, 0.02) kernels unless another initializer is given; `tuned`: see SmallMapConv2D."""
    kind = SpectralNormConv2D if spectral_norm else SmallMapConv2D
    return kind(filters, kernel, stride, padding=padding, kernel_initializer=initializer or weights(),
                bias_initializer="zeros", name=name, tuned=tuned)
