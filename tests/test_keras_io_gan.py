"""keras.io's GAN from "Customizing what happens in fit()" (TensorFlow guide), run with `import gpukeras as keras`.

The program is the guide's: the convolutional discriminator (Conv2D + LeakyReLU(negative_slope=0.2) +
GlobalMaxPooling2D) and generator (Dense, Reshape, Conv2DTranspose), a `keras.random.SeedGenerator`
drawing the latent vectors (`keras.random.normal(..., seed=self.seed_generator)`) and the label noise
(`keras.random.uniform`), two optimizers. TensorFlow's `tf.shape`, `tf.concat`, `tf.ones`, `tf.zeros`
and `tf.GradientTape` are spelled `keras.ops.shape`, `keras.ops.concatenate`, `keras.ops.ones`,
`keras.ops.zeros` and `keras.GradientTape`. The data is a local stand-in for MNIST (16 images of the
same shape), trained for two batches of 8: the latent draws are random, so the check is that it runs as in
Keras 3 (shapes, metrics, both optimizers stepped, three seeded draws per step), not Keras 3's numbers
(tests/test_keras3_custom_fit.py replays a deterministic variant of this GAN against Keras 3).
The GAN has no call(), so fit cannot build it by calling it: like Keras 3 on TensorFlow (the guide's
backend), gpukeras then builds nothing ahead of the first step (Keras 3 on JAX stops with "Unable to
automatically build the model").
"""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers, ops


def _gan_program(images: np.ndarray, batch_size: int):
    """The guide's code (sizes as keras.io writes them); returns the GAN and fit's history."""
    discriminator = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ],
        name="discriminator",
    )

    latent_dim = 128
    generator = keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            # We want to generate 128 coefficients to reshape into a 7x7x128 map
            layers.Dense(7 * 7 * 128),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((7, 7, 128)),
            layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
        ],
        name="generator",
    )

    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
            self.seed_generator = keras.random.SeedGenerator(1337)

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def train_step(self, real_images):
            if isinstance(real_images, tuple):
                real_images = real_images[0]
            # Sample random points in the latent space
            batch_size = ops.shape(real_images)[0]
            random_latent_vectors = keras.random.normal(
                shape=(batch_size, self.latent_dim), seed=self.seed_generator
            )

            # Decode them to fake images
            generated_images = self.generator(random_latent_vectors)

            # Combine them with real images
            combined_images = ops.concatenate([generated_images, real_images], axis=0)

            # Assemble labels discriminating real from fake images
            labels = ops.concatenate(
                [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0
            )
            # Add random noise to the labels - important trick!
            labels += 0.05 * keras.random.uniform(
                ops.shape(labels), seed=self.seed_generator
            )

            # Train the discriminator
            with keras.GradientTape() as tape:
                predictions = self.discriminator(combined_images)
                d_loss = self.loss_fn(labels, predictions)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

            # Sample random points in the latent space
            random_latent_vectors = keras.random.normal(
                shape=(batch_size, self.latent_dim), seed=self.seed_generator
            )

            # Assemble labels that say "all real images"
            misleading_labels = ops.zeros((batch_size, 1))

            # Train the generator (note that we should *not* update the weights
            # of the discriminator)!
            with keras.GradientTape() as tape:
                predictions = self.discriminator(self.generator(random_latent_vectors))
                g_loss = self.loss_fn(misleading_labels, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply(grads, self.generator.trainable_weights)

            # Update metrics and return their value.
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {
                "d_loss": self.d_loss_tracker.result(),
                "g_loss": self.g_loss_tracker.result(),
            }

    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    gan.initial_weights = [w.copy() for w in discriminator.get_weights() + generator.get_weights()]
    history = gan.fit(images, batch_size=batch_size, epochs=1, verbose=0)
    return gan, history


@pytest.mark.slow
@pytest.mark.any_backend  # the convolutions are big for the CPU: once, under the first backend
def test_keras_io_gan_runs_and_trains_both_models() -> None:
    images = np.random.default_rng(0).random((16, 28, 28, 1)).astype("float32")  # MNIST-shaped stand-in
    keras.utils.set_random_seed(42)
    gan, history = _gan_program(images, batch_size=8)
    assert sorted(history.history) == ["d_loss", "g_loss"]
    d_loss, g_loss = history.history["d_loss"][0], history.history["g_loss"][0]
    assert np.isfinite(d_loss) and np.isfinite(g_loss) and 0.2 < d_loss < 2.0 and 0.2 < g_loss < 2.0
    assert int(ops.convert_to_numpy(gan.d_optimizer.iterations)) == 2
    assert int(ops.convert_to_numpy(gan.g_optimizer.iterations)) == 2
    assert ops.convert_to_numpy(gan.seed_generator.state).tolist() == [1337, 6]  # 3 draws per step
    assert gan.generator.output_shape_of(gan.generator.layers[-1]) == (None, 28, 28, 1)
    trained = gan.discriminator.get_weights() + gan.generator.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(gan.initial_weights, trained)), "both models train"
    assert gan.discriminator.predict(images[:2], verbose=0).shape == (2, 1)
