"""SG-GAN's training steps against plain recomputations: the batched gradient penalty, the partner
reconstruction, and which network each step updates."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sggan.data import attribute_groups
from sggan.models.sggan import losses, networks
from sggan.models.sggan.outputs import output_layout
from sggan.models.sggan.steps import SGGANTask
from sggan.training.distribute import local_context
from tests.helpers import TINY, make_cfg

N_GROUPS, BATCH = 4, 4


@pytest.fixture(scope="module")
def task():
    """A task with four single-attribute groups (eight outputs). Shared, so that its steps are
    traced once: every test below compares a step with a recomputation from the current weights."""
    cfg = make_cfg(*TINY)
    groups = [attribute_groups.Group(f"g{a}", "single", (f"attribute{a}",)) for a in range(N_GROUPS)]
    outputs = output_layout(groups)
    keras.utils.set_random_seed(5)
    generator, discriminator = networks.build(cfg, outputs)
    return SGGANTask(cfg, generator, discriminator, outputs, N_GROUPS, local_context().strategy)


def real_batch():
    """Four different images, every group labelled."""
    images = tf.random.stateless_uniform((BATCH, 16, 16, 3), (3, 4), -1, 1)
    classes = tf.constant(np.arange(BATCH * N_GROUPS).reshape(BATCH, N_GROUPS) % 2, tf.int32)
    return images, classes, tf.ones((BATCH, N_GROUPS))


def values(model):
    return {v.path: v.numpy() for v in model.weights}


def restore(model, saved):
    for v in model.weights:
        v.assign(saved[v.path])


def test_batched_penalty_equals_the_separate_penalty_of_every_output(task):
    """The critic step computes the eight penalties in one critic call on 8·B mixed images; it must
    equal Σ over outputs k of mean_i (‖∇D(x̂_ik)‖ − 1)², x̂_ik = x_i + α_ik (G(x)_k,i − x_i), with one α
    per (output, image) as the iteration draws them from the task's random generator."""
    images, classes, masks = real_batch()
    n_out = len(task.outputs)
    critic, before = task.discriminator, values(task.discriminator)
    draws = tf.random.Generator.from_state(task.rng.state.numpy(), task.rng.algorithm)  # the step's next draws
    alpha = tf.split(draws.uniform((n_out * BATCH, 1, 1, 1)), n_out)
    fakes = task.generator(images)
    critic(images, training=True)  # the step's forward pass makes one power iteration before the penalty

    def penalty(fake_of, alpha_of):
        return sum(float(tf.reduce_mean(losses.gradient_penalty(critic, images, fakes[fake_of(k)], alpha_of(k))))
                   for k in range(n_out))
    separate = penalty(lambda k: k, lambda k: alpha[k])
    # Mistakes this test must see: one α shared by the outputs, fakes paired with another output.
    shared_alpha = penalty(lambda k: k, lambda k: alpha[0])
    shifted = penalty(lambda k: (k + 1) % n_out, lambda k: alpha[k])
    restore(critic, before)
    got = float(task.critic_step(images, classes, masks, tf.concat(alpha, 0))[0]["d_penalty"])
    np.testing.assert_allclose(got, separate, rtol=1e-5)
    for wrong in (shared_alpha, shifted):
        assert abs(wrong - separate) > 100 * 1e-5 * separate


def test_reconstruction_equals_full_generator_passes_on_each_partner(task):
    """The generator step's reconstruction (one trunk pass on all fakes, one head each) equals, for every
    output k of group a, |x_k − G(x_k')_k| with k' the other output of group a, from full passes."""
    images, _, _ = real_batch()
    fakes = task.generator(images)
    terms = []
    for o in task.outputs:
        (partner,) = [p.index for p in task.outputs if p.group == o.group and p.index != o.index]
        terms.append(losses.l1(fakes[o.index], task.generator(fakes[partner])[o.index]))
    expected = float(tf.reduce_mean(tf.add_n(terms))) / len(terms)
    itself = np.mean([float(tf.reduce_mean(losses.l1(fakes[k], task.generator(fakes[k])[k])))
                      for k in range(len(fakes))])
    got = float(task.generator_step(images)[0]["g_reconstruction"])
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert abs(itself - expected) > 100 * 1e-5 * expected  # partner = itself would be seen


def test_each_step_updates_only_its_own_network(task):
    images, classes, masks = real_batch()
    generator_before, critic_before = values(task.generator), values(task.discriminator)
    d_updates, g_updates = int(task.d_optimizer.iterations), int(task.g_optimizer.iterations)
    task.critic_step(images, classes, masks, tf.random.uniform((len(task.outputs) * BATCH, 1, 1, 1)))
    assert_unchanged(task.generator, generator_before)
    assert_trained(task.discriminator, critic_before)
    critic_after_d = values(task.discriminator)
    task.generator_step(images)
    assert_unchanged(task.discriminator, critic_after_d)  # not even spectral norm's u moves
    assert_trained(task.generator, generator_before)
    assert int(task.d_optimizer.iterations) == d_updates + 1 and int(task.g_optimizer.iterations) == g_updates + 1


def assert_unchanged(model, before):
    for path, value in values(model).items():
        np.testing.assert_array_equal(value, before[path], err_msg=path)


def assert_trained(model, before):
    """Every trainable kernel moved."""
    for v in model.trainable_weights:
        if v.path.endswith("kernel"):
            assert not np.array_equal(v.numpy(), before[v.path]), v.path


def critic_adversarial(patch, n_out):
    """Σ over outputs of mean(D(fake_k)) − mean(D(real)), from a critic patch of [real block, output blocks]."""
    score = tf.reduce_mean(patch, axis=[1, 2])
    return sum(float(tf.reduce_mean(fake - score[:BATCH])) for fake in tf.split(score[BATCH:], n_out))


def test_critic_noise_reaches_the_critic_and_not_the_generator(task):
    """--critic_noise: the critic's adversarial terms are computed on (image + noise) rows, laid out
    [real block, one block per output], while the generator edits the clean images."""
    images, classes, masks = real_batch()
    n_out = len(task.outputs)
    noise = 0.3 * tf.random.stateless_normal(((1 + n_out) * BATCH, 16, 16, 3), (7, 8))
    critic, before = task.discriminator, values(task.discriminator)

    def adversarial(seen):  # one power iteration, as the step
        patch, _ = critic(seen, training=True)
        restore(critic, before)
        return critic_adversarial(patch, n_out)

    def generator_adversarial(seen):
        patch, _ = critic(seen)
        return -float(tf.reduce_mean(patch)) * n_out

    fakes = tf.concat(task.generator(images), 0)
    expected = adversarial(tf.concat([images, fakes], 0) + noise)
    # Mistakes this test must see: no noise, and noise also given to the generator's input.
    clean = adversarial(tf.concat([images, fakes], 0))
    noisy_input = images + noise[:BATCH]
    noisy_generator = adversarial(tf.concat([noisy_input, tf.concat(task.generator(noisy_input), 0)], 0) + noise)
    alpha = tf.zeros((n_out * BATCH, 1, 1, 1))
    _, terms = task._critic_gradients(images, classes, masks, tf.reduce_sum(masks, 0), alpha, noise)
    restore(critic, before)
    got = float(terms["d_adversarial"])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    for wrong in (clean, noisy_generator):
        assert abs(wrong - got) > 1e-3

    g_noise = noise[BATCH:]
    _, g_terms = task._generator_gradients(images, g_noise)
    np.testing.assert_allclose(float(g_terms["g_adversarial"]), generator_adversarial(fakes + g_noise),
                               rtol=1e-4, atol=1e-6)
    assert abs(generator_adversarial(fakes) - float(g_terms["g_adversarial"])) > 1e-3


def test_critic_noise_to_the_classifier_leaves_the_adversary_clean(task):
    """--critic_noise_to classifier: the class heads judge noisy reals (critic step) and noisy fakes
    (generator step); the adversarial head and the penalty see the clean images."""
    images, classes, masks = real_batch()
    n_out = len(task.outputs)
    noise = 0.3 * tf.random.stateless_normal(((1 + n_out) * BATCH, 16, 16, 3), (9, 10))
    critic, before = task.discriminator, values(task.discriminator)
    fakes = tf.concat(task.generator(images), 0)

    def critic_terms(adversary_sees, classes_see):
        patch, _ = critic(adversary_sees, training=True)  # one power iteration, as the step
        _, logits = critic(classes_see)
        restore(critic, before)
        totals = tf.reduce_sum(masks, 0)
        classification = sum(float(tf.reduce_sum(losses.masked_cross_entropy(logits[a], classes[:, a], masks[:, a],
                                                                             totals[a])))
                             for a in range(N_GROUPS))
        return critic_adversarial(patch, n_out), classification

    clean = tf.concat([images, fakes], 0)
    adversarial, classification = critic_terms(clean, images + noise[:BATCH])
    _, clean_classification = critic_terms(clean, images)
    task.cfg["critic_noise_to"] = "classifier"
    try:
        _, terms = task._critic_gradients(images, classes, masks, tf.reduce_sum(masks, 0),
                                          tf.zeros((n_out * BATCH, 1, 1, 1)), noise)
        restore(critic, before)
        _, g_terms = task._generator_gradients(images, noise[BATCH:])
    finally:
        task.cfg["critic_noise_to"] = "all"
    np.testing.assert_allclose(float(terms["d_adversarial"]), adversarial, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(terms["d_classification"]), classification, rtol=1e-4, atol=1e-6)
    assert abs(classification - clean_classification) > 1e-3
    patch, _ = critic(fakes)
    np.testing.assert_allclose(float(g_terms["g_adversarial"]), -float(tf.reduce_mean(patch)) * n_out,
                               rtol=1e-4, atol=1e-6)
    _, logits = critic(fakes + noise[BATCH:])
    expected = sum(float(tf.reduce_mean(losses.cross_entropy(tf.split(logits[o.group], n_out)[o.index], o.target)))
                   for o in task.outputs)
    np.testing.assert_allclose(float(g_terms["g_classification"]), expected, rtol=1e-4, atol=1e-6)


def test_identity_loss_by_hand_and_only_on_labelled_own_class_rows():
    """--lam_id: 0 for an identity generator; else the hand-computed mean L1 over the (input, output)
    pairs whose labelled class is the output's target; unlabelled rows and other classes do not count."""
    groups = [attribute_groups.Group("age", "single", ("a",)), attribute_groups.Group("g", "single", ("b",))]
    outputs = output_layout(groups)  # a-on (target 1), a-off (0), b-on (1), b-off (0)
    images = tf.random.stateless_uniform((3, 4, 4, 3), (1, 1), -1, 1)
    classes = tf.constant([[1, 0], [0, 0], [1, 1]])
    masks = tf.constant([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    weights = losses.identity_weights(outputs, classes, masks).numpy()
    np.testing.assert_array_equal(weights, [[1, 0, 0, 1], [0, 0, 0, 1], [1, 0, 0, 0]])
    assert float(tf.reduce_sum(losses.identity_loss([images] * 4, images, weights))) == 0.0
    shifts = [0.1, 0.2, 0.3, 0.4]
    fakes = [images + s for s in shifts]
    got = float(tf.reduce_sum(losses.identity_loss(fakes, images, weights)))
    np.testing.assert_allclose(got, (0.1 + 0.4 + 0.4 + 0.1) / 4, rtol=1e-5)
    # a global count from other replicas divides the same sum
    np.testing.assert_allclose(float(tf.reduce_sum(losses.identity_loss(fakes, images, weights, 8.0))), 1.0 / 8,
                               rtol=1e-5)
    nobody = np.zeros_like(weights)
    assert float(tf.reduce_sum(losses.identity_loss(fakes, images, nobody))) == 0.0


def test_generator_step_reports_and_adds_the_identity_term_only_when_asked(task):
    images, classes, masks = real_batch()
    assert "g_identity" not in task._generator_gradients(images)[1]
    weights = losses.identity_weights(task.outputs, classes, masks)
    _, terms = task._generator_gradients(images, None, weights, tf.reduce_sum(weights))
    expected = float(tf.reduce_sum(losses.identity_loss(task.generator(images), images, weights)))
    np.testing.assert_allclose(float(terms["g_identity"]), expected, rtol=1e-5)
    assert expected > 0


class ShiftGenerator:
    """A stub generator: output k adds shifts[k] to its input (the trunk passes the image on)."""

    def __init__(self, shifts):
        self.shifts = shifts

    def trunk(self, images):
        return images

    def head(self, k, features, images):
        return images + self.shifts[k]


def test_cycle_loss_by_hand_on_labelled_rows_of_the_heads_own_class():
    """--lam_cycle: x of labelled class c, edited by a partner j, then by c's output k: |x − G(G(x)_j)_k|
    = |s_j + s_k| for the shift stub; unlabelled rows do not count; an identity generator gives 0."""
    groups = [attribute_groups.Group("a", "single", ("a",)), attribute_groups.Group("b", "single", ("b",))]
    outputs = output_layout(groups)  # 0: a on, 1: a off, 2: b on, 3: b off; partners 0<->1, 2<->3
    task = SGGANTask.__new__(SGGANTask)
    task.outputs, task.global_batch = outputs, 3
    images = tf.random.stateless_uniform((3, 4, 4, 3), (1, 1), -1, 1)
    classes = tf.constant([[1, 0], [0, 0], [1, 1]])
    masks = tf.constant([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    weights = losses.identity_weights(outputs, classes, masks)  # rows: {0, 3}, {3}, {0}
    partners = tf.constant([float(len(o.partners)) for o in outputs])
    total = tf.reduce_sum(weights * partners)

    def cycle_of(shifts):
        task.generator = ShiftGenerator(shifts)
        fakes = [images + s for s in shifts]
        return float(task._reconstruction(fakes, images, weights, total)[1])
    assert cycle_of([0.0] * 4) == 0.0
    shifts = [0.1, -0.3, 0.2, 0.05]
    # (k=0, j=1) on rows 0 and 2: |0.1 − 0.3| twice; (k=3, j=2) on rows 0 and 1: |0.05 + 0.2| twice
    np.testing.assert_allclose(cycle_of(shifts), (0.2 + 0.2 + 0.25 + 0.25) / 4, rtol=1e-5)


def test_keep_term_is_the_masked_cross_entropy_of_the_other_groups(task):
    """--lam_keep: Σ over outputs o and groups b ≠ o's of the critic's masked cross-entropy of G(x)_o in
    group b against the input's label; an unlabelled row contributes nothing."""
    images, classes, _ = real_batch()
    masks = tf.constant(np.tile([[1.0, 0.0, 1.0, 1.0]], (BATCH, 1)) * np.array([[1], [1], [0], [1]]), tf.float32)
    totals = tf.reduce_sum(masks, 0)
    _, terms = task._generator_gradients(images, None, keep=(classes, masks, totals))
    fakes = task.generator(images)
    expected = 0.0
    for o in task.outputs:
        logits = task.discriminator(fakes[o.index])[1]
        for b in range(N_GROUPS):
            if b == o.group:
                continue
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=classes[:, b], logits=logits[b]).numpy()
            m = masks[:, b].numpy()
            expected += float((m * ce).sum() / max(1.0, m.sum()))
    np.testing.assert_allclose(float(terms["g_keep"]), expected, rtol=1e-4)
    assert "g_keep" not in task._generator_gradients(images)[1]
