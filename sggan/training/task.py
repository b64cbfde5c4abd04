"""What the training loop needs from a model, and the scaffolding both models build it from.

A task owns a run's networks, optimisers and random state and offers:
  networks, optimizers, state  dicts of what a checkpoint must hold to resume exactly
  progress_keys                the losses the progress bar shows
  iteration(step, next_batch)  one training iteration; its losses as a dict of tensors
"""
import keras
import tensorflow as tf

from sggan.training import precision


class Task:
    """The shared part of a model's task: the strategy it runs under, its optimisers and XLA."""

    progress_keys = ()

    def __init__(self, cfg, strategy):
        self.cfg, self.strategy = cfg, strategy
        self.global_batch = cfg["batch_size"]

    def adam(self, learn_rate, name, epsilon):
        """Adam with the run's β1, β2 (the models' originals differ in ε), loss-scaled under float16."""
        inner = keras.optimizers.Adam(learn_rate, beta_1=self.cfg["beta1"], beta_2=self.cfg["beta2"],
                                      epsilon=epsilon, name=name)
        return precision.optimizer(inner, self.cfg["precision"])

    def compiled(self, function):
        """`function` XLA-compiled with --jit (per-replica gradient computations; the collectives
        stay outside it), else as it is."""
        return tf.function(function, jit_compile=True) if self.cfg["jit"] else function

    def mean(self, per_sample):
        """The global-batch mean of per-sample terms (right under any number of replicas)."""
        return tf.nn.compute_average_loss(per_sample, global_batch_size=self.global_batch)

    def overflowed(self, optimizer, gradients):
        """1/replicas when a loss-scaled update overflowed (see precision.overflowed), else 0."""
        return precision.overflowed(optimizer, gradients, self.strategy.num_replicas_in_sync)
