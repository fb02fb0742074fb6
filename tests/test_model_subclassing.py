"""The three ways Keras 3 programs subclass Model: a subclass with its own constructor arguments (keras.io's
VAE: `VAE(encoder, decoder)`, two positional arguments that are not inputs and outputs), a subclass whose
__init__ builds a graph and passes it to `super().__init__(inputs, outputs)`, and a subclass that only
overrides train_step, built as `CustomModel(inputs, outputs)`."""

from __future__ import annotations

import numpy as np

import gpukeras as keras
from gpukeras import layers, ops


class Pair(keras.Model):
    """Two sub-models given positionally, as keras.io's VAE takes its encoder and decoder."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.tracker]

    def call(self, x):
        return self.decoder(self.encoder(x))

    def train_step(self, data):
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self(data) - data))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}


class Built(keras.Model):
    """Builds its graph in __init__ and hands inputs and outputs to Model."""

    def __init__(self, units, **kwargs):
        inputs = keras.Input((4,))
        outputs = layers.Dense(units)(inputs)
        super().__init__(inputs, outputs, **kwargs)
        self.units = units


class StepOnly(keras.Model):
    def train_step(self, data):
        self.steps_seen = getattr(self, "steps_seen", 0) + 1
        return super().train_step(data)


def _mlp(n_in, n_out):
    inputs = keras.Input((n_in,))
    return keras.Model(inputs, layers.Dense(n_out)(inputs))


def test_a_subclass_with_two_positional_arguments_is_not_taken_for_inputs_and_outputs():
    model = Pair(_mlp(4, 2), _mlp(2, 4))
    assert type(model) is Pair and model.encoder.output.shape == (None, 2)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    history = model.fit(x, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_subclass_may_pass_its_graph_to_model_init():
    model = Built(3, name="built")
    assert isinstance(model, Built) and model.name == "built" and model.units == 3
    assert model.output.shape == (None, 3) and len(model.layers) == 2
    assert model.predict(np.ones((2, 4), "float32"), verbose=0).shape == (2, 3)


def test_a_train_step_subclass_is_built_from_inputs_and_outputs():
    inputs = keras.Input((4,))
    model = StepOnly(inputs, layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    model.fit(np.ones((8, 4), "float32"), np.ones((8, 1), "float32"), batch_size=4, verbose=0)
    assert isinstance(model, StepOnly) and model.steps_seen == 2
