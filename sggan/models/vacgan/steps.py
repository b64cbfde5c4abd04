"""VAC+GAN's training steps: critic and classifier updates on real batches, then the generator's."""
import keras
import tensorflow as tf

from sggan.models.vacgan.losses import hinge_critic_loss, smooth, smoothed_bce
from sggan.models.vacgan.networks import build


class VACGANTask:
    """Per iteration: n_critic rounds of (critic update, classifier update), each on a fresh real
    batch with fresh noise; then the generator's adversarial and classification updates."""

    def __init__(self, cfg, n_attributes):
        self.cfg, self.n_attributes = cfg, n_attributes
        self.generator, self.critic, self.classifier = build(cfg, n_attributes)
        adam = dict(beta_1=cfg["beta1"], beta_2=cfg["beta2"], epsilon=1e-7)  # the original's Keras default
        self.d_optimizer = keras.optimizers.Adam(cfg["learn_rate"], **adam, name="d_adam")
        self.c_optimizer = keras.optimizers.Adam(cfg["learn_rate"], **adam, name="c_adam")
        self.g_optimizer = keras.optimizers.Adam(cfg["g_learn_rate"], **adam, name="g_adam")
        self.d_optimizer.build(self.critic.trainable_variables)
        self.c_optimizer.build(self.classifier.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.rng = tf.random.Generator.from_seed(cfg["seed"])
        # What a checkpoint must hold to resume exactly (see loop.py).
        self.networks = dict(generator=self.generator, critic=self.critic, classifier=self.classifier)
        self.optimizers = dict(g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer,
                               c_optimizer=self.c_optimizer)
        # The dropout layers' random state: without it a resumed run would draw other dropout masks.
        self.state = dict(rng=self.rng, dropout_seeds={layer.name: layer.seed_generator.state
                                                       for layer in (self.generator.drop1, self.generator.drop2)})


    def iteration(self, step, next_batch):
        """The generator's two updates reuse the last round's attributes and noise, as the original's."""
        for _ in range(self.cfg["n_critic"]):
            batch = next_batch()
            noise = self._noise(tf.shape(batch["classes"])[0])
            d_terms = self.train_critic_and_classifier(batch["image"], batch["classes"], noise)
        g_terms = self.train_generator(batch["classes"], noise)
        return {**d_terms, **g_terms}

    def _noise(self, batch):
        return self.rng.normal((batch, self.cfg["z_dim"]))

    @tf.function
    def train_critic_and_classifier(self, images, attributes, noise):
        """As the original: the generator, frozen, is fed the smoothed attributes (see Generator.call)."""
        fakes = self.generator(noise, smooth(attributes), training=True, frozen=True)
        with tf.GradientTape() as tape:
            d_loss = hinge_critic_loss(self.critic(images, training=True), self.critic(fakes, training=True))
        variables = self.critic.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, variables), variables))
        with tf.GradientTape() as tape:
            c_loss = smoothed_bce(self.classifier(images, training=True), attributes)
        variables = self.classifier.trainable_variables
        self.c_optimizer.apply_gradients(zip(tape.gradient(c_loss, variables), variables))
        return {"d_loss": d_loss, "c_loss": c_loss}

    @tf.function
    def train_generator(self, attributes, noise):
        """Both updates feed the generator the smoothed attributes, as the original (0/1 when sampling);
        the frozen critic and classifier still take a power-iteration step, as the original's do."""
        variables = self.generator.trainable_variables
        requested = smooth(attributes)
        with tf.GradientTape() as tape:
            g_adversarial = -tf.reduce_mean(self.critic(self.generator(noise, requested, training=True),
                                                       training=True))
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_adversarial, variables), variables))
        with tf.GradientTape() as tape:
            fakes = self.generator(noise, requested, training=True)
            g_classification = smoothed_bce(self.classifier(fakes, training=True, frozen=True), attributes)
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_classification, variables), variables))
        return {"g_adversarial": g_adversarial, "g_classification": g_classification}

    @tf.function
    def generate(self, z, attributes):
        return self.generator(z, attributes)

    @tf.function
    def predict(self, images):
        return tf.sigmoid(self.classifier(images))
