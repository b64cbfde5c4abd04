"""Building blocks shared by the networks: initialisers, instance norm, spectral-norm convolution."""
import keras
import tensorflow as tf


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


def instance_norm(name=None):
    """Instance normalisation as the original: eps 1e-5, learned scale from N(1, 0.02), offset 0.

    Always computed in float32 (its variance loses too much in float16/bfloat16)."""
    return keras.layers.GroupNormalization(
        groups=-1, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), name=name,
        dtype="float32")


def gathered_taps_conv(inputs, kernel, strides):
    """A "same"-padded convolution as one matrix product: its taps gathered by padding and strided
    slices into [pixels, k·k·in] rows, times the kernel as a [k·k·in, out] matrix. The same sum as
    tf.nn.conv2d, to float rounding (padded taps multiply zeros, as the convolution's do)."""
    (height, width), (k_h, k_w), (s_h, s_w) = inputs.shape[1:3], kernel.shape[:2], strides
    out_h, out_w = -(-height // s_h), -(-width // s_w)
    pad_h, pad_w = max((out_h - 1) * s_h + k_h - height, 0), max((out_w - 1) * s_w + k_w - width, 0)
    inputs = tf.pad(inputs, [[0, 0], [pad_h // 2, pad_h - pad_h // 2], [pad_w // 2, pad_w - pad_w // 2], [0, 0]])
    taps = [inputs[:, i:i + (out_h - 1) * s_h + 1:s_h, j:j + (out_w - 1) * s_w + 1:s_w, :]
            for i in range(k_h) for j in range(k_w)]  # tap-major, channel-minor: the kernel's HWIO order
    rows = tf.reshape(tf.concat(taps, -1), (-1, k_h * k_w * kernel.shape[2]))
    outputs = tf.matmul(rows, tf.reshape(kernel, (-1, kernel.shape[3])))
    return tf.reshape(outputs, (-1, out_h, out_w, kernel.shape[3]))


class SmallMapConv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D, computed by gathered_taps_conv when a "same" kernel is larger than its
    input map (the critic's last layer: 5x5 stride 2, 4x4 → 2x2).

    Written here because oneDNN's convolution kernels run such layers, where most taps fall on
    padding, at 15-40 GFLOP/s on the CPU against about 100 for the other layers (TensorFlow
    profiler, paper widths at 64x64). The matrix product computed the layer's forward, backward
    and the penalty's double backward 3x faster (863 → 289 ms for 64 images, 512 → 1024
    channels); on larger maps it is slower than the convolution, so those keep it.
    """

    def convolution_op(self, inputs, kernel):
        height, width = inputs.shape[1:3]
        small = (self.padding == "same" and self.data_format == "channels_last" and self.groups == 1
                 and tuple(self.dilation_rate) == (1, 1) and height is not None and width is not None
                 and self.kernel_size[0] > height and self.kernel_size[1] > width)
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
        return kernel / tf.cast(sigma, kernel.dtype)

    def call(self, inputs, training=False):
        outputs = self.convolution_op(inputs, self.normalized_kernel(training))
        return tf.nn.bias_add(outputs, self.bias)


def spectral_conv(filters, kernel, stride, padding, spectral_norm=True, name=None, initializer=None):
    """A convolution, spectrally normalised unless turned off (both critics, VAC+GAN's generator);
    N(0, 0.02) kernels unless another initializer is given."""
    kind = SpectralNormConv2D if spectral_norm else SmallMapConv2D
    return kind(filters, kernel, stride, padding=padding, kernel_initializer=initializer or weights(),
                bias_initializer="zeros", name=name)
