"""Networks (shapes, parameter counts) and every loss term against NumPy on fixed small tensors."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sggan.data import attribute_groups
from sggan.nn.layers import SmallMapConv2D, SpectralNormConv2D, cpu_tuned, instance_norm, normalize_instances
from sggan.models.sggan import losses, networks
from sggan.models.sggan.outputs import output_layout
from sggan.models.sggan.steps import lr_decay

PAPER = dict(ngf=64, n_blocks=6, image_size=128, ndf=64, d_layers=6, no_sp=False, identity_init=False)


def build(cfg, n_groups):
    """Generator and critic for n_groups single-attribute groups."""
    groups = [attribute_groups.Group(f"g{a}", "single", (f"attribute{a}",)) for a in range(n_groups)]
    return networks.build(cfg, output_layout(groups))


def test_paper_preset_shapes_and_exact_parameter_counts():
    generator, discriminator = build(PAPER, 4)
    assert networks.trainable_count(generator) == 9_448_188
    assert networks.trainable_count(discriminator) == 24_002_697
    images = tf.zeros((2, 128, 128, 3))
    outputs = generator(images)
    assert len(outputs) == 8 and all(o.shape == (2, 128, 128, 3) for o in outputs)
    patch, logits = discriminator(images)
    assert patch.shape == (2, 2, 2) and [tuple(g.shape) for g in logits] == [(2, 2)] * 4


def critic_convolutions(discriminator):
    return discriminator.body + [discriminator.adversarial] + discriminator.classifiers


def test_every_critic_convolution_is_spectrally_normalised_unless_turned_off():
    cfg = dict(PAPER, image_size=64, d_layers=5, ndf=8, ngf=4, n_blocks=1)
    _, with_sn = build(cfg, 4)
    _, without = build(dict(cfg, no_sp=True), 4)
    assert len(critic_convolutions(with_sn)) == 5 + 1 + 4
    assert all(isinstance(c, SpectralNormConv2D) for c in critic_convolutions(with_sn))
    assert not any(isinstance(c, SpectralNormConv2D) for c in critic_convolutions(without))
    # The same trainable weights either way; spectral norm adds one non-trainable vector u per convolution.
    assert [(v.path, v.shape) for v in with_sn.trainable_weights] == [(v.path, v.shape) for v in without.trainable_weights]
    assert sorted(v.path for v in with_sn.non_trainable_weights) == sorted(
        f"{c.path}/sn_u" for c in critic_convolutions(with_sn))
    assert without.non_trainable_weights == []


@pytest.mark.parametrize("no_sp", [False, True])
def test_critic_output_ignores_the_scale_of_a_kernel_only_with_spectral_norm(no_sp):
    """W / sigma(W) is unchanged when W is multiplied by a constant: with spectral norm the critic
    cannot tell, without it the output changes."""
    _, critic = build(dict(PAPER, ngf=4, n_blocks=1, image_size=16, ndf=4, d_layers=2, no_sp=no_sp), 2)
    images = tf.random.stateless_uniform((3, 16, 16, 3), (1, 2), -1, 1)
    before = critic(images)
    for layer in critic_convolutions(critic):
        layer.kernel.assign(layer.kernel * 3.5)
    after = critic(images)
    for a, b in zip(tf.nest.flatten(before), tf.nest.flatten(after)):  # patch map, then logits per group
        if no_sp:
            assert np.abs(a.numpy() - b.numpy()).max() > 1e-3
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_gradient_flows_through_sigma():
    """d/dW sum(C * W/sigma) = C/sigma - sum(C * W)/sigma^2 * v u^T, with sigma = v^T W u and the power
    iteration's u, v held constant (Miyato et al.); a layer treating sigma as a constant would
    give C/sigma alone."""
    layer = SpectralNormConv2D(3, 2, padding="valid")
    layer.build((None, 4, 4, 2))
    weights = tf.constant(np.cos(np.arange(2 * 2 * 2 * 3)).reshape(2, 2, 2, 3), tf.float32)
    with tf.GradientTape() as tape:
        kernel = layer.normalized_kernel(training=False)
        objective = tf.reduce_sum(weights * kernel)
    got = tape.gradient(objective, layer.kernel).numpy()
    matrix, c = layer.kernel.numpy().reshape(-1, 3), weights.numpy().reshape(-1, 3)
    u = layer.u.numpy() / np.linalg.norm(layer.u.numpy())          # [1, filters]
    v = u @ matrix.T
    v /= np.linalg.norm(v)                                          # [1, rows]
    sigma = (v @ matrix @ u.T).item()
    expected = c / sigma - (c * matrix).sum() / sigma ** 2 * (v.T @ u)
    np.testing.assert_allclose(got.reshape(-1, 3), expected, rtol=1e-4, atol=1e-6)
    assert np.abs(expected - c / sigma).max() > 100 * 1e-4 * np.abs(expected).max()  # the sigma term matters


def test_tiny_configuration_shapes():
    cfg = dict(PAPER, ngf=4, n_blocks=1, image_size=16, ndf=4, d_layers=2)
    generator, discriminator = build(cfg, 3)
    outputs = generator(tf.zeros((5, 16, 16, 3)))
    assert len(outputs) == 6 and outputs[0].shape == (5, 16, 16, 3)
    assert np.abs(outputs[0].numpy()).max() <= 1.0
    patch, logits = discriminator(tf.zeros((5, 16, 16, 3)))
    assert patch.shape == (5, 4, 4) and [tuple(g.shape) for g in logits] == [(5, 2)] * 3


def test_trunk_and_heads_compose_to_the_full_generator():
    generator, _ = build(dict(PAPER, ngf=4, n_blocks=1, image_size=16, ndf=4, d_layers=2, no_sp=True), 2)
    images = tf.random.uniform((2, 16, 16, 3), -1, 1)
    whole = generator(images)
    features = generator.trunk(images)
    for k in range(4):
        np.testing.assert_allclose(generator.head(k, features, images).numpy(), whole[k].numpy(), atol=1e-6)


def test_instance_norm_equals_keras_group_norm_and_its_gradient_is_exact():
    """Our instance norm is keras.layers.GroupNormalization(groups=-1) with a closed-form gradient:
    the same outputs and gradients (float32 rounding), and in float64 the closed form agrees with
    finite differences."""
    x = tf.random.stateless_normal((3, 5, 6, 4), (1, 2)) * 3 + 1
    upstream = tf.random.stateless_normal(x.shape, (3, 4))
    ours = instance_norm("norm")
    ours.build(x.shape)
    ours.beta.assign(tf.random.stateless_normal((4,), (5, 6)))
    keras_layer = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    keras_layer.build(x.shape)
    keras_layer.set_weights(ours.get_weights())

    def value_and_gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * upstream)
        return [y, *tape.gradient(loss, [x, layer.gamma, layer.beta])]

    for got, expected in zip(value_and_gradients(ours), value_and_gradients(keras_layer)):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    as64 = [tf.cast(t, tf.float64) for t in (x, ours.gamma, ours.beta, upstream)]
    theoretical, numerical = tf.test.compute_gradient(
        lambda x, gamma, beta: tf.reduce_sum(normalize_instances(x, gamma, beta, 1e-5) * as64[3]), as64[:3])
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-7)


def test_spectral_norm_divides_by_sigma():
    layer = SpectralNormConv2D(3, 2, padding="valid")
    layer.build((None, 4, 4, 2))
    for _ in range(50):  # power iterations converge to the top singular vector
        kernel = layer.normalized_kernel(training=True)
    matrix = layer.kernel.numpy().reshape(-1, 3)
    sigma = np.linalg.svd(matrix, compute_uv=False)[0]
    np.testing.assert_allclose(kernel.numpy(), layer.kernel.numpy() / sigma, rtol=1e-4)
    u_before = layer.u.numpy().copy()
    layer.normalized_kernel(training=False)
    assert np.array_equal(u_before, layer.u.numpy())  # only training calls update u


@pytest.mark.parametrize("size,kernel,stride", [((4, 4), 5, 2), ((8, 6), 5, 2), ((3, 2), 5, 2), ((6, 6), 3, 1), ((4, 3), 7, 3)])
def test_a_small_map_is_convolved_by_a_matrix_product_equal_to_the_convolution(size, kernel, stride):
    """SmallMapConv2D takes its matrix-product path exactly when the input map is at most twice the
    kernel; the output, the gradients and the penalty's double backward equal tf.nn.conv2d's."""
    layer = SmallMapConv2D(6, kernel, stride, padding="same", use_bias=False)
    images = tf.random.stateless_normal((3, *size, 4), (3, 4))
    layer.build(images.shape)
    weights = tf.random.stateless_normal(layer.kernel.shape, (5, 6))
    layer.kernel.assign(weights)

    def derivatives(convolve):
        with tf.GradientTape() as outer:
            outer.watch(weights)
            with tf.GradientTape() as inner:
                inner.watch(images)
                out = convolve(images, weights)
                weighting = tf.reshape(tf.cos(tf.range(tf.size(out), dtype=tf.float32)), tf.shape(out))
                objective = tf.reduce_sum(tf.nn.leaky_relu(out, 0.2) * weighting + out ** 2)
            slope = inner.gradient(objective, images)
            penalty = tf.reduce_sum(slope ** 2)
        return out, slope, outer.gradient(penalty, weights)

    ours = derivatives(layer.convolution_op)
    reference = derivatives(lambda x, w: tf.nn.conv2d(x, w, stride, "SAME"))
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4 * np.abs(want.numpy()).max())
    graph = tf.function(layer.convolution_op).get_concrete_function(images, weights).graph
    kinds = {op.type for op in graph.get_operations()}
    assert "MatMul" in kinds and "Conv2D" not in kinds
    large = SmallMapConv2D(6, kernel, stride, padding="same", use_bias=False)
    wide = tf.zeros((1, 2 * kernel + 1, 2 * kernel + 1, 4))
    large.build(wide.shape)
    kinds = {op.type for op in tf.function(large.convolution_op).get_concrete_function(wide, weights).graph.get_operations()}
    assert "Conv2D" in kinds and "MatMul" not in kinds  # a larger map keeps the convolution


PATCH_REAL = np.array([[[0.5, -1.0], [2.0, 0.0]], [[-0.3, 0.1], [0.4, 1.2]]], np.float32)
PATCH_FAKE = np.array([[[-2.0, 0.5], [0.3, 0.7]], [[1.5, -0.5], [0.0, -1.0]]], np.float32)


def _np_softplus(x):
    return np.log1p(np.exp(x))


@pytest.mark.parametrize("kind,critic,generator", [
    ("wgan-gp", lambda r, f: f - r, lambda f: -f),
    ("hinge", lambda r, f: np.maximum(0, 1 - r) + np.maximum(0, 1 + f), lambda f: -f),
    ("lsgan", lambda r, f: 0.5 * ((r - 1) ** 2 + f ** 2), lambda f: 0.5 * (f - 1) ** 2),
    ("nsgan", lambda r, f: _np_softplus(-r) + _np_softplus(f), lambda f: _np_softplus(-f)),
])
def test_adversarial_losses(kind, critic, generator):
    real, fake = PATCH_REAL.mean(axis=(1, 2)), PATCH_FAKE.mean(axis=(1, 2))
    np.testing.assert_allclose(losses.critic_loss(kind, PATCH_REAL, PATCH_FAKE).numpy(), critic(real, fake), rtol=1e-5)
    np.testing.assert_allclose(losses.generator_adversarial_loss(kind, PATCH_FAKE).numpy(), generator(fake), rtol=1e-5)


def test_gradient_penalty_against_analytic_gradient():
    weights = np.arange(1, 13, dtype=np.float32).reshape(1, 2, 2, 3) / 10.0

    def critic(x):  # patch = w·x² summed over channels: ∇ of the patch sum = 2·w·x
        return tf.reduce_sum(weights * x * x, axis=-1), None

    real = np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 2, 2, 3)
    fake = np.cos(np.arange(24, dtype=np.float32)).reshape(2, 2, 2, 3)
    alpha = np.array([0.25, 0.8], np.float32).reshape(2, 1, 1, 1)
    mixed = real + alpha * (fake - real)
    norms = np.sqrt(((2 * weights * mixed) ** 2).sum(axis=(1, 2, 3)))
    got = losses.gradient_penalty(critic, tf.constant(real), tf.constant(fake), tf.constant(alpha)).numpy()
    np.testing.assert_allclose(got, (norms - 1) ** 2, rtol=1e-4)


def test_critic_activation_is_the_originals_max_with_slope_one_at_zero():
    x = tf.constant([-2.0, -0.5, 0.0, 0.5, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = networks.leaky_relu(x)
    np.testing.assert_array_equal(y.numpy(), tf.nn.leaky_relu(x, 0.2).numpy())  # the same values
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.float32([0.2, 0.2, 1.0, 1.0, 1.0]))


def _penalty_gradient_conv_flops(cfg):
    """FLOPs of the convolutions and matrix products in the graph of ∇_weights of the penalty, for
    a freshly built critic."""
    discriminator = build(cfg, 1)[1]
    @tf.function
    def gradients(real, fake, alpha):
        with tf.GradientTape() as tape:
            penalty = tf.reduce_mean(losses.gradient_penalty(discriminator, real, fake, alpha))
        return tape.gradient(penalty, discriminator.trainable_variables)

    images = tf.random.normal((4, cfg["image_size"], cfg["image_size"], 3))
    graph = gradients.get_concrete_function(images, images, tf.fill((4, 1, 1, 1), 0.5)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options.update(output="none", account_type_regexes=["Conv2D.*", "MatMul"])
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


def test_penalty_double_backward_convolves_no_zeros(monkeypatch):
    """The critic's activations reach the penalty only through which side of zero they are on, so
    its weight gradient needs no convolution along their derivative: it must cost the convolution
    FLOPs of a critic without activations (tf.nn.leaky_relu costs about 40% more here, tf.maximum
    the same)."""
    cfg = dict(ndf=4, d_layers=3, no_sp=False, image_size=32, ngf=4, n_blocks=1, identity_init=False)
    ours = _penalty_gradient_conv_flops(cfg)
    monkeypatch.setattr(networks, "leaky_relu", lambda x, alpha=0.2, tuned=True: x)
    reference = _penalty_gradient_conv_flops(cfg)
    assert ours == reference > 0


def _np_ce(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


def test_masked_cross_entropy():
    logits = np.array([[2.0, -1.0], [0.5, 0.5], [-1.0, 3.0], [0.0, 1.0]], np.float32)
    classes = np.array([0, 1, 1, 0])
    mask = np.array([1, 0, 1, 1], np.float32)
    expected = (mask * _np_ce(logits, classes)).sum() / mask.sum()
    got = tf.reduce_sum(losses.masked_cross_entropy(logits, classes, mask)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    none = losses.masked_cross_entropy(logits, classes, np.zeros(4, np.float32)).numpy()
    assert np.all(none == 0) and np.all(np.isfinite(none))  # all unlabelled: 0, never NaN


def test_classification_and_l1():
    logits = np.array([[2.0, -1.0], [0.5, 0.5]], np.float32)
    np.testing.assert_allclose(losses.cross_entropy(logits, 1).numpy(), _np_ce(logits, np.array([1, 1])), rtol=1e-5)
    a = np.arange(16, dtype=np.float32).reshape(2, 2, 2, 2)
    b = a[::-1] * 0.5
    np.testing.assert_allclose(losses.l1(a, b).numpy(), np.abs(a - b).mean(axis=(1, 2, 3)), rtol=1e-6)


def test_learning_rate_decay_schedule():
    assert lr_decay(0, 40000, 20000) == 1.0
    assert lr_decay(20000, 40000, 20000) == 1.0
    assert lr_decay(30000, 40000, 20000) == 0.5
    assert lr_decay(39999, 40000, 20000) == pytest.approx(0.1)
    assert lr_decay(40000, 40000, 20000) == pytest.approx(0.1)


def test_decay_matches_the_originals_running_update():
    for max_iters, start in ((40000, 20000), (103, 40), (10, 0)):
        factor = 1.0
        for step in range(max_iters + 1):
            if step > start and factor > 0.1:
                factor = (max_iters - step) / float(max_iters - start)
            assert lr_decay(step, max_iters, start) == factor, (max_iters, start, step)


def test_the_cpu_tuned_paths_are_chosen_by_device():
    cpu, gpu = tf.config.LogicalDevice("/device:CPU:0", "CPU"), tf.config.LogicalDevice("/device:GPU:0", "GPU")
    assert cpu_tuned([cpu]) and not cpu_tuned([cpu, gpu])
    assert cpu_tuned()  # this machine has no GPU
    assert instance_norm("n").tuned and networks.Discriminator([2], 16, 4, 2).tuned


def test_the_plain_and_cpu_tuned_paths_agree(monkeypatch):
    """What a GPU runs (TensorFlow's plain ops) equals what a CPU runs, to float rounding: the
    critic's outputs, its penalty and the weight gradients; instance norm and its gradient."""
    keras.utils.set_random_seed(3)
    tuned = networks.Discriminator([2, 3], 16, 8, 3, spectral_norm=True)
    monkeypatch.setattr(networks, "cpu_tuned", lambda: False)
    plain = networks.Discriminator([2, 3], 16, 8, 3, spectral_norm=True)
    assert tuned.tuned and not plain.tuned and not plain.body[-1].tuned
    images = tf.random.stateless_normal((4, 16, 16, 3), (1, 2))
    tuned(images), plain(images)
    plain.set_weights(tuned.get_weights())
    results = []
    for critic in (tuned, plain):
        with tf.GradientTape() as tape:
            patch, logits = critic(images)
            penalty = losses.gradient_penalty(critic, images, images[::-1], tf.fill((4, 1, 1, 1), 0.3))
            total = tf.reduce_sum(patch) + sum(tf.reduce_sum(l) for l in logits) + tf.reduce_sum(penalty)
        results.append([patch, *logits, penalty, *tape.gradient(total, critic.trainable_variables)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4, atol=2e-5)
    norms = [instance_norm("n", tuned=True), instance_norm("n", tuned=False)]
    x = tf.random.stateless_normal((2, 5, 5, 4), (3, 4))
    outs = []
    for norm in norms:
        norm(x)
    norms[1].set_weights(norms[0].get_weights())
    for norm in norms:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = norm(x)
            loss = tf.reduce_sum(y * tf.range(4, dtype=tf.float32))
        outs.append([y, *tape.gradient(loss, [x, *norm.trainable_variables])])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
