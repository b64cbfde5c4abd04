"""VAC+GAN's training iteration: critic and classifier updates on real batches, then the generator's.

The whole iteration is one tf.function call running a replica function on every replica of the
current tf.distribute strategy. Losses are averaged over the global batch; the noise and the
generator's dropout draws are made for the global batch (each replica takes its rows), and batch
norm is synchronised, so an update under a strategy equals the one-device update.
"""
import tensorflow as tf

from sggan.training import distribute
from sggan.training.task import Task
from sggan.models.vacgan.losses import hinge_critic_loss, smooth, smoothed_bce
from sggan.models.vacgan.networks import build


class VACGANTask(Task):
    """Per iteration: n_critic rounds of (critic update, classifier update), each on a fresh real
    batch with fresh noise; then the generator's adversarial and classification updates.

    Create it in the strategy's scope. `iteration(step, next_batch)` expects batches laid out
    [batch, n_critic, ...] (pipeline.training_dataset with steps=n_critic), distributed.
    """

    progress_keys = ("d_loss", "c_loss", "g_adversarial")

    def __init__(self, cfg, n_attributes, strategy):
        super().__init__(cfg, strategy)
        self.n_attributes = n_attributes
        self.generator, self.critic, self.classifier = build(cfg, n_attributes)
        # epsilon 1e-7: the original's Keras default
        self.d_optimizer = self.adam(cfg["learn_rate"], "d_adam", epsilon=1e-7)
        self.c_optimizer = self.adam(cfg["learn_rate"], "c_adam", epsilon=1e-7)
        self.g_optimizer = self.adam(cfg["g_learn_rate"], "g_adam", epsilon=1e-7)
        self.d_optimizer.build(self.critic.trainable_variables)
        self.c_optimizer.build(self.classifier.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        # Noise and dropout draws; in the checkpoint, so a resumed run draws what it would have.
        self.rng = tf.random.Generator.from_seed(cfg["seed"])
        self.critic_gradients = self.compiled(self._critic_gradients)
        self.adversarial_gradients = self.compiled(self._adversarial_gradients)
        self.classification_gradients = self.compiled(self._classification_gradients)
        # What a checkpoint must hold to resume exactly (see loop.py).
        self.networks = dict(generator=self.generator, critic=self.critic, classifier=self.classifier)
        self.optimizers = dict(g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer,
                               c_optimizer=self.c_optimizer)
        self.state = dict(rng=self.rng)

    def iteration(self, step, next_batch):
        """One training iteration; returns its losses as tensors (fetched only when logged)."""
        return self.train_iteration(next_batch())

    @tf.function(autograph=False)  # Python loops over settings only (see SG-GAN's steps.py)
    def train_iteration(self, batches):
        """The generator's two updates reuse the last round's attributes and noise, as the original's;
        every generator call draws its own dropout."""
        rounds = self.cfg["n_critic"]
        noise = [self.rng.normal((self.global_batch, self.cfg["z_dim"])) for _ in range(rounds)]
        dropout = [self._dropout_draw() for _ in range(rounds + 2)]
        per_replica = self.strategy.run(self._replica_iteration, args=(batches, noise, dropout))
        return distribute.reduced(self.strategy, per_replica)

    def _dropout_draw(self):
        return [self.rng.uniform(shape) for shape in self.generator.dropout_shapes(self.global_batch)]

    def _replica_iteration(self, batches, noise, dropout):
        rows = tf.shape(batches["image"])[0]
        noise = [distribute.replica_rows(z, rows) for z in noise]
        dropout = [[distribute.replica_rows(u, rows) for u in draw] for draw in dropout]
        skipped = 0.0
        for c in range(self.cfg["n_critic"]):
            d_terms, overflow = self.critic_step(batches["image"][:, c], batches["classes"][:, c], noise[c], dropout[c])
            skipped += overflow
        g_terms, overflow = self.generator_step(batches["classes"][:, -1], noise[-1], dropout[-2:])
        terms = {**d_terms, **g_terms}
        if self.cfg["precision"] == "mixed_float16":
            terms["skipped_updates"] = skipped + overflow  # overflowing float16 updates (see loop.py)
        return terms

    def critic_step(self, images, attributes, noise, dropout):
        """The critic's and then the classifier's update on this replica's share of a batch."""
        d_gradients, c_gradients, terms = self.critic_gradients(images, attributes, noise, dropout)
        self.d_optimizer.apply(d_gradients, self.critic.trainable_variables)
        self.c_optimizer.apply(c_gradients, self.classifier.trainable_variables)
        return terms, self.overflowed(self.d_optimizer, d_gradients) + \
            self.overflowed(self.c_optimizer, c_gradients)

    def generator_step(self, attributes, noise, dropout):
        """The generator's adversarial update, then its classification update (on the updated generator)."""
        variables = self.generator.trainable_variables
        gradients, adversarial = self.adversarial_gradients(attributes, noise, dropout[0])
        self.g_optimizer.apply(gradients, variables)
        overflow = self.overflowed(self.g_optimizer, gradients)
        gradients, classification = self.classification_gradients(attributes, noise, dropout[1])
        self.g_optimizer.apply(gradients, variables)
        overflow += self.overflowed(self.g_optimizer, gradients)
        return {"g_adversarial": adversarial, "g_classification": classification}, overflow

    def _critic_gradients(self, images, attributes, noise, dropout):
        """As the original: the generator, frozen, is fed the smoothed attributes (see Generator.call)."""
        fakes = self.generator(noise, smooth(attributes), training=True, frozen=True, dropout=dropout)
        with tf.GradientTape() as tape:
            d_loss = self.mean(hinge_critic_loss(self.critic(images, training=True), self.critic(fakes, training=True)))
            scaled = self.d_optimizer.scale_loss(d_loss)
        d_gradients = tape.gradient(scaled, self.critic.trainable_variables)
        with tf.GradientTape() as tape:
            c_loss = self.mean(smoothed_bce(self.classifier(images, training=True), attributes))
            scaled = self.c_optimizer.scale_loss(c_loss)
        c_gradients = tape.gradient(scaled, self.classifier.trainable_variables)
        return d_gradients, c_gradients, {"d_loss": d_loss, "c_loss": c_loss}

    def _adversarial_gradients(self, attributes, noise, dropout):
        """Fed the smoothed attributes, as the original (0/1 when sampling); the frozen critic still
        takes a power-iteration step, as the original's does."""
        with tf.GradientTape() as tape:
            fakes = self.generator(noise, smooth(attributes), training=True, dropout=dropout)
            loss = self.mean(-self.critic(fakes, training=True))
            scaled = self.g_optimizer.scale_loss(loss)
        return tape.gradient(scaled, self.generator.trainable_variables), loss

    def _classification_gradients(self, attributes, noise, dropout):
        with tf.GradientTape() as tape:
            fakes = self.generator(noise, smooth(attributes), training=True, dropout=dropout)
            loss = self.mean(smoothed_bce(self.classifier(fakes, training=True, frozen=True), attributes))
            scaled = self.g_optimizer.scale_loss(loss)
        return tape.gradient(scaled, self.generator.trainable_variables), loss

    @tf.function
    def generate(self, z, attributes):
        return self.generator(z, attributes)

    @tf.function
    def predict(self, images):
        return tf.sigmoid(self.classifier(images))
