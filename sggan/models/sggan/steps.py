"""SG-GAN's training iteration: n_critic critic updates on fresh batches, then one generator update.

The whole iteration is one tf.function call (no trip to the host between its six updates); it runs
a replica function on every replica of the current tf.distribute strategy. Losses are averaged over
the global batch, the masked classification loss is normalised by the global mask sum and the
penalty's α is drawn for the global batch (each replica takes its rows), so an update under a
strategy equals the one-device update at the same global batch.
"""
import math

import tensorflow as tf

from sggan.training import distribute, precision
from sggan.training.task import Task
from sggan.models.sggan import losses


def lr_decay(step, max_iters, decay_start, floor=0.1):
    """The original's learning-rate factor at iteration `step`.

    1 up to decay_start; then (max_iters − step) / (max_iters − decay_start), recomputed only while
    the previous factor was above `floor`, so it freezes at the first value ≤ floor (≈ 0.1).
    Written as a function of the step alone, so a resumed run gets the same factor.
    """
    span = max_iters - decay_start
    if step <= decay_start or span <= 0:
        return 1.0
    freeze = max(decay_start + 1, math.ceil(max_iters - floor * span) - 1)
    while (max_iters - freeze) / span > floor:
        freeze += 1
    return (max_iters - min(step, freeze)) / span


class SGGANTask(Task):
    """Owns the networks, optimisers and random state of one SG-GAN run, and its train steps.

    Create it in the strategy's scope. `iteration(step, next_batch)` expects batches laid out
    [batch, n_critic, ...] (pipeline.training_dataset with steps=n_critic), distributed.
    """

    progress_keys = ("d_loss", "g_loss")

    def __init__(self, cfg, generator, discriminator, outputs, n_groups, strategy):
        super().__init__(cfg, strategy)
        self.generator, self.discriminator = generator, discriminator
        self.outputs, self.n_groups = outputs, n_groups
        # epsilon 1e-8 as the original's tf.train.AdamOptimizer (Keras' default is 1e-7)
        self.g_optimizer = self.adam(cfg["learn_rate"], "g_adam", epsilon=1e-8)
        self.d_optimizer = self.adam(cfg["learn_rate"], "d_adam", epsilon=1e-8)
        self.g_optimizer.build(generator.trainable_variables)
        self.d_optimizer.build(discriminator.trainable_variables)
        self.rng = tf.random.Generator.from_seed(cfg["seed"])
        self.critic_gradients = self.compiled(self._critic_gradients)
        self.generator_gradients = self.compiled(self._generator_gradients)
        # What a checkpoint must hold to resume exactly (see loop.py).
        self.networks = dict(generator=generator, discriminator=discriminator)
        self.optimizers = dict(g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer)
        self.state = dict(rng=self.rng)

    def set_learning_rate(self, step):
        rate = self.cfg["learn_rate"] * lr_decay(step, self.cfg["max_iters"], self.cfg["decay_start"])
        self.g_optimizer.learning_rate = rate
        self.d_optimizer.learning_rate = rate
        return rate

    def iteration(self, step, next_batch):
        """One training iteration; returns its losses as tensors (fetched only when logged)."""
        lr = self.set_learning_rate(step)
        return {**self.train_iteration(next_batch()), "learning_rate": lr}

    # No AutoGraph: the loops run over settings, not tensors; converting every Keras call it reaches
    # cost ~1.5 s of each run's tracing.
    @tf.function(autograph=False)
    def train_iteration(self, batches):
        """n_critic critic updates and one generator update, on every replica; the summed losses."""
        n_out = len(self.outputs)
        # Drawn here, outside the replicas, in the order a one-device run draws them.
        alphas = tf.stack([self.rng.uniform([self.global_batch * n_out, 1, 1, 1], 0.0, 1.0)
                           for _ in range(self.cfg["n_critic"])])
        noise = self._critic_noise()
        per_replica = self.strategy.run(self._replica_iteration, args=(batches, alphas, noise))
        return distribute.reduced(self.strategy, per_replica)

    def _critic_noise(self):
        """Gaussian noise for every image the critic sees in one iteration (--critic_noise), or None.

        Laid out [n_critic + 1, (1 + n_out) blocks of global-batch rows, H, W, 3]: per critic update
        the real block then one block per output; the last row serves the generator update.
        """
        sigma = self.cfg["critic_noise"]
        if sigma <= 0:
            return None
        size = self.cfg["image_size"]
        rows = (1 + len(self.outputs)) * self.global_batch
        return sigma * self.rng.normal([self.cfg["n_critic"] + 1, rows, size, size, 3])

    def _replica_iteration(self, batches, alphas, noise):
        rows = tf.shape(batches["image"])[0]
        groups = 1 + len(self.outputs)
        noises = [None if noise is None else distribute.replica_rows(noise[c], rows, groups=groups)
                  for c in range(self.cfg["n_critic"] + 1)]
        skipped = 0.0
        for c in range(self.cfg["n_critic"]):
            alpha = distribute.replica_rows(alphas[c], rows, groups=len(self.outputs))
            d_terms, overflow = self.critic_step(batches["image"][:, c], batches["classes"][:, c],
                                                 batches["masks"][:, c], alpha, noises[c])
            skipped += overflow
        g_noise = None if noise is None else noises[-1][rows:]
        g_terms, overflow = self.generator_step(batches["image"][:, -1], g_noise, batches["classes"][:, -1],
                                                batches["masks"][:, -1])
        terms = {**d_terms, **g_terms}
        if self.cfg["precision"] == "mixed_float16":
            terms["skipped_updates"] = skipped + overflow  # overflowing float16 updates (see loop.py)
        return terms

    def critic_step(self, images, classes, masks, alpha, noise=None):
        """One critic update on this replica's share of a batch (inside a replica function)."""
        mask_totals = distribute.global_sum(tf.reduce_sum(tf.cast(masks, tf.float32), 0))
        gradients, terms = self.critic_gradients(images, classes, masks, mask_totals, alpha, noise)
        self.d_optimizer.apply(gradients, self.discriminator.trainable_variables)
        return terms, self.overflowed(self.d_optimizer, gradients)

    def generator_step(self, images, noise=None, classes=None, masks=None):
        """One generator update on this replica's share of a batch (inside a replica function).

        classes, masks: the batch's labels, which --lam_id and --lam_cycle need (None: those terms are
        left out)."""
        id_weights = id_total = cycle_total = None
        if (self.cfg["lam_id"] > 0 or self.cfg["lam_cycle"] > 0) and classes is not None:
            id_weights = losses.identity_weights(self.outputs, classes, masks)
            id_total = distribute.global_sum(tf.reduce_sum(id_weights))
            partners = tf.constant([float(len(o.partners)) for o in self.outputs])
            cycle_total = distribute.global_sum(tf.reduce_sum(id_weights * partners))
        keep = None
        if self.cfg["lam_keep"] > 0 and classes is not None:
            keep = (classes, masks, distribute.global_sum(tf.reduce_sum(tf.cast(masks, tf.float32), 0)))
        gradients, terms = self.generator_gradients(images, noise, id_weights, id_total, cycle_total, keep)
        self.g_optimizer.apply(gradients, self.generator.trainable_variables)
        return terms, self.overflowed(self.g_optimizer, gradients)

    def _critic_gradients(self, images, classes, masks, mask_totals, alpha, noise=None):
        cfg, n_out = self.cfg, len(self.outputs)
        batch = tf.shape(images)[0]
        fakes = tf.stop_gradient(tf.concat(self.generator(images), 0))
        noisy_classes = noise is not None and cfg["critic_noise_to"] == "classifier"
        if noise is not None and not noisy_classes:  # noisy reals and fakes; the generator saw clean images
            images, fakes = images + noise[:batch], fakes + noise[batch:]
        with tf.GradientTape() as tape:
            patch, logits = self.discriminator(tf.concat([images, fakes], 0), training=True)
            if noisy_classes:  # only the class heads judge noisy reals; adversary and penalty see clean ones
                logits = self.discriminator(images + noise[:batch])[1]
            real_patch, fake_patches = patch[:batch], tf.split(patch[batch:], n_out)
            adversarial = tf.add_n([self.mean(losses.critic_loss(cfg["loss"], real_patch, fake))
                                    for fake in fake_patches])
            classification = tf.add_n([
                tf.reduce_sum(losses.masked_cross_entropy(logits[a][:batch], classes[:, a], masks[:, a],
                                                          mask_totals[a]))
                for a in range(self.n_groups)])
            total = adversarial + classification
            penalty = tf.constant(0.0)
            if cfg["lam_gp"] > 0:
                real_tiled = tf.tile(images, [n_out, 1, 1, 1])
                per_sample = losses.gradient_penalty(self.discriminator, real_tiled, fakes, alpha,
                                                     precision.loss_scale(self.d_optimizer))
                penalty = self.mean(per_sample)  # = Σ over the outputs of each output's batch mean
                total += cfg["lam_gp"] * penalty
            if cfg["lam_gp_cls"] > 0:
                total += cfg["lam_gp_cls"] * self.mean(
                    losses.classifier_gradient_penalty(self.discriminator, images))
            scaled = self.d_optimizer.scale_loss(total)
        gradients = tape.gradient(scaled, self.discriminator.trainable_variables)
        return gradients, {"d_loss": total, "d_adversarial": adversarial, "d_classification": classification,
                           "d_penalty": penalty}

    def _generator_gradients(self, images, noise=None, id_weights=None, id_total=None, cycle_total=None, keep=None):
        cfg, n_out = self.cfg, len(self.outputs)
        with tf.GradientTape() as tape:
            features = self.generator.trunk(images)
            fakes = [self.generator.head(k, features, images) for k in range(n_out)]
            critic_input = tf.concat(fakes, 0)
            if noise is None:
                patch, logits = self.discriminator(critic_input)
            elif cfg["critic_noise_to"] == "classifier":
                patch, logits = self.discriminator(critic_input)[0], self.discriminator(critic_input + noise)[1]
            else:
                patch, logits = self.discriminator(critic_input + noise)
            fake_patches = tf.split(patch, n_out)
            fake_logits = [tf.split(group_logits, n_out) for group_logits in logits]  # [group][output]
            adversarial = tf.add_n([self.mean(losses.generator_adversarial_loss(cfg["loss"], p))
                                    for p in fake_patches])
            classification = tf.add_n([self.mean(losses.cross_entropy(fake_logits[o.group][o.index], o.target))
                                       for o in self.outputs])
            reconstruction, cycle = self._reconstruction(fakes, images, id_weights, cycle_total)
            total = adversarial + cfg["lam_cls"] * classification + cfg["lam_recon"] * reconstruction
            terms = {}
            if id_weights is not None:  # --lam_id: outputs whose target is the input's own class keep the input
                terms["g_identity"] = tf.reduce_sum(losses.identity_loss(fakes, images, id_weights, id_total))
                total += cfg["lam_id"] * terms["g_identity"]
                terms["g_cycle"] = cycle  # --lam_cycle: back to the input's own class gives the input
                total += cfg["lam_cycle"] * terms["g_cycle"]
            if keep is not None:  # --lam_keep: every output keeps the labelled classes of the other groups
                classes, masks, mask_totals = keep
                terms["g_keep"] = tf.add_n([
                    tf.reduce_sum(losses.masked_cross_entropy(fake_logits[b][o.index], classes[:, b], masks[:, b],
                                                              mask_totals[b]))
                    for o in self.outputs for b in range(self.n_groups) if b != o.group])
                total += cfg["lam_keep"] * terms["g_keep"]
            scaled = self.g_optimizer.scale_loss(total)
        gradients = tape.gradient(scaled, self.generator.trainable_variables)
        return gradients, {"g_loss": total, "g_adversarial": adversarial, "g_classification": classification,
                           "g_reconstruction": reconstruction, **terms}

    def _reconstruction(self, fakes, images, id_weights=None, cycle_total=None):
        """Mean over outputs k of the mean over k's partners j of |x_k − G(x_j)_k| (outputs.py).

        For two-class groups that is |x_{a,1} − G(x_{a,0})_{a,1}| and |x_{a,0} − G(x_{a,1})_{a,0}|,
        the original's. The trunk runs once on every fake that is somebody's partner; each head is
        then applied only to its partners' features.

        Returns it with --lam_cycle's term, given losses.identity_weights and their partner-weighted
        global sum (else None): Σ over the same (k, j) of |x − G(x_j)_k| on the labelled inputs x whose
        class is k's target, over their count.
        """
        pairs = [(o.index, j) for o in self.outputs for j in o.partners]
        sources = list(dict.fromkeys(j for _, j in pairs))  # partners in order of first use
        features = dict(zip(sources, tf.split(self.generator.trunk(tf.concat([fakes[j] for j in sources], 0)),
                                              len(sources))))
        per_output, cycled = {}, []
        for k, j in pairs:
            back = self.generator.head(k, features[j], fakes[j])
            per_output.setdefault(k, []).append(losses.l1(fakes[k], back))
            if id_weights is not None:
                cycled.append(id_weights[:, k] * losses.l1(back, images))
        cycle = None
        if id_weights is not None:
            if cycle_total is None:  # one replica: the count is this batch's
                cycle_total = tf.reduce_sum(id_weights * tf.constant([float(len(o.partners)) for o in self.outputs]))
            cycle = tf.reduce_sum(tf.add_n(cycled)) / tf.maximum(1.0, cycle_total)
        per_sample = tf.add_n([tf.add_n(terms) / len(terms) for terms in per_output.values()]) / len(fakes)
        return self.mean(per_sample), cycle
