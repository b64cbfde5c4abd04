"""VAC+GAN's losses, one value per sample: the critic's hinge loss and the classifier's
label-smoothed cross-entropy. The training step averages them over the global batch
(tf.nn.compute_average_loss), so they stay right under a distribution strategy."""
import tensorflow as tf

LABEL_SMOOTHING = 0.9  # one-sided: requested / true 1s become 0.9


def hinge_critic_loss(real, fake):
    """(relu(1 − D(real)) + relu(1 + D(fake))) / 2 per sample; its batch mean is the original's
    (mean relu(1 − D(real)) + mean relu(1 + D(fake))) / 2 (real and fake batches are equal in size)."""
    return (tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake)) / 2.0


def smooth(attributes):
    """One-sided label smoothing: 0/1 attributes → 0/0.9."""
    return tf.cast(attributes, tf.float32) * LABEL_SMOOTHING


def smoothed_bce(logits, attributes):
    """Binary cross-entropy against the attributes with 1 → 0.9, mean over the attributes."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=smooth(attributes), logits=logits), axis=-1)
