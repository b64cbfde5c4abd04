"""Mixed precision (--precision): float16 or bfloat16 arithmetic with float32 weights.

Layers compute in the policy's type; instance norm, the networks' outputs and every loss stay in
float32 (see layers.instance_norm and the networks' call). float16 needs loss scaling: its
optimisers are Keras 3 LossScaleOptimizers, which skip a step whose gradients overflow and halve
the scale (so an overflow is not a divergence); bfloat16 has float32's range and needs none.
"""
import contextlib

import keras
import tensorflow as tf

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


@contextlib.contextmanager
def policy(name):
    """Use a Keras dtype policy for the networks built inside; the previous one is restored after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def optimizer(inner, precision):
    """The optimiser to train with: loss-scaled under float16, else `inner` itself."""
    return keras.optimizers.LossScaleOptimizer(inner) if precision == "mixed_float16" else inner


def loss_scale(optimizer_):
    """The current loss scale (1 without loss scaling), for scaling an inner gradient by hand."""
    return optimizer_.dynamic_scale if isinstance(optimizer_, keras.optimizers.LossScaleOptimizer) else 1.0


def overflowed(optimizer_, gradients, replicas):
    """1.0 when a loss-scaled update's gradients overflowed (the optimiser then skips it), else 0.0;
    divided by the replica count, so that the sum over replicas counts each skipped update once."""
    if not isinstance(optimizer_, keras.optimizers.LossScaleOptimizer):
        return 0.0
    return tf.cast(tf.logical_not(optimizer_.check_finite(gradients)), tf.float32) / replicas
