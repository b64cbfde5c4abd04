"""Loss terms. Each returns one value per sample ([batch]); the training step averages them over
the global batch (tf.nn.compute_average_loss), so they stay right under a distribution strategy.

Critic outputs are patches [batch, s, s]; a sample's score is the mean over its patch.
"""
import tensorflow as tf

def _score(patch):
    return tf.reduce_mean(tf.reshape(patch, (tf.shape(patch)[0], -1)), axis=1)


def critic_loss(kind, real_patch, fake_patch):
    """The critic's adversarial loss for one set of fakes against the real batch."""
    real, fake = _score(real_patch), _score(fake_patch)
    if kind == "wgan-gp":
        return fake - real
    if kind == "hinge":
        return tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake)
    if kind == "lsgan":
        return 0.5 * (tf.square(real - 1.0) + tf.square(fake))
    if kind == "nsgan":
        return tf.nn.softplus(-real) + tf.nn.softplus(fake)
    raise ValueError(f"unknown loss {kind!r}")


def generator_adversarial_loss(kind, fake_patch):
    """The generator's adversarial loss for one set of fakes."""
    fake = _score(fake_patch)
    if kind in ("wgan-gp", "hinge"):
        return -fake
    if kind == "lsgan":
        return 0.5 * tf.square(fake - 1.0)
    if kind == "nsgan":
        return tf.nn.softplus(-fake)
    raise ValueError(f"unknown loss {kind!r}")


def gradient_penalty(critic, real, fake, alpha, scale=1.0):
    """(‖∇ critic(x̂)‖₂ − 1)² per sample, x̂ = real + alpha·(fake − real), alpha ∈ [0, 1) per sample.

    The gradient is that of the sum of the critic's patch, its norm over all pixels and channels.
    Under float16 the inner gradient is taken of the patch sum times the loss scale (so that small
    gradients do not underflow) and divided by it again in float32.
    """
    with tf.name_scope("gradient_penalty"):  # the profiler groups its ops by this name
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            patch, _ = critic(mixed)
            total = tf.reduce_sum(patch) * tf.cast(scale, patch.dtype)
        gradients = tf.cast(tape.gradient(total, mixed), tf.float32) / tf.cast(scale, tf.float32)
        norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]) + 1e-12)
        return tf.square(norms - 1.0)


def masked_cross_entropy(logits, classes, masks, mask_total=None):
    """Σ mask·CE / max(1, Σ mask) over the batch, for logits [B, 2] of one group.

    Returned as per-sample terms whose plain sum is that value (an all-unlabelled batch gives 0).
    Under a distribution strategy `mask_total` is Σ mask over the global batch (all replicas), so
    the replicas' sums add up to the one-device value.
    """
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(classes, tf.int32), logits=logits)
    total = tf.reduce_sum(masks) if mask_total is None else mask_total
    return masks * ce / tf.maximum(1.0, total)


def cross_entropy(logits, target_class):
    """Per-sample softmax cross-entropy of 2-class logits against one class for the whole batch."""
    labels = tf.fill(tf.shape(logits)[:1], target_class)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def l1(a, b):
    """Per-sample mean absolute difference."""
    return tf.reduce_mean(tf.abs(a - b), axis=[1, 2, 3])


def classifier_gradient_penalty(critic, images):
    """Σ over groups of ‖∇ₓ (logit_last − logit₀)‖² per sample, on real images (logit₁ − logit₀ for
    two-class groups).

    Penalising the input gradient of the critic's class margins makes its classification robust
    to small pixel patterns, so the generator cannot satisfy it with speckle (see --lam_gp_cls).
    """
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(images)
        _, logits = critic(images)  # one [B, K] per group
        sums = [tf.reduce_sum(group[:, -1] - group[:, 0]) for group in logits]
    total = 0.0
    for group_sum in sums:
        gradients = tape.gradient(group_sum, images)
        total += tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3])
    del tape
    return total


def identity_weights(outputs, classes, masks):
    """[B, outputs]: 1 where the input is labelled in output o's group with o's target class (o should
    then return the input unchanged), else 0. `outputs` as outputs.py lays them out."""
    columns = [masks[:, o.group] * tf.cast(tf.equal(tf.cast(classes[:, o.group], tf.int32), o.target), tf.float32)
               for o in outputs]
    return tf.stack(columns, 1)


def identity_loss(fakes, images, weights, total=None):
    """Σ over outputs o and inputs i of weights[i, o]·L1(G(x_i)_o, x_i) / max(1, Σ weights) (see
    --lam_id), as per-sample terms whose plain sum is that value (no own-class row: 0).

    Under a distribution strategy `total` is Σ weights over the global batch, so the replicas' sums
    add up to the one-device value (as masked_cross_entropy).
    """
    per_output = tf.stack([l1(fake, images) for fake in fakes], 1)  # [B, outputs]
    total = tf.reduce_sum(weights) if total is None else total
    return tf.reduce_sum(weights * per_output, 1) / tf.maximum(1.0, total)
