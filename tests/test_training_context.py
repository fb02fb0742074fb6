"""`training` reaches layers called inside other layers, by Keras 3's rule: the value passed to a call,
else the enclosing call's, else the default in the layer's `call` signature.

Keras 3 keeps it in a call context shared by nested calls, so a Dropout or BatchNormalization inside
a custom layer whose `call` takes no `training` (keras.io's TransformerBlock, the structured-data
Classifier) trains as such under fit. Each expectation below is what Keras 3.15 (JAX) does.
"""

from __future__ import annotations

import numpy as np

import gpukeras as keras
from gpukeras import layers

X = np.ones((4, 64), "float32")


def _dropped(out) -> bool:
    """Whether a Dropout(0.5) on ones acted: some zeros, the rest scaled to 2."""
    values = np.asarray(out)
    return bool((values == 0).any() and set(np.unique(values)) <= {0.0, 2.0})


class NoTrainingArg(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dropout = layers.Dropout(0.5)

    def call(self, x):
        return self.dropout(x)


class TrainingByDefault(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dropout = layers.Dropout(0.5)

    def call(self, x, training=True):
        return self.dropout(x)


class InnerForcedOff(layers.Layer):
    """An explicit training=False inside holds for the calls after it too (Keras's shared context)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first, self.second = layers.Dropout(0.5), layers.Dropout(0.5)

    def call(self, x):
        return self.second(self.first(x, training=False))


class PositionalTraining(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dropout = layers.Dropout(0.5)

    def call(self, x, training=None):
        return self.dropout(x)


def test_training_reaches_layers_inside_a_call_without_the_argument() -> None:
    block = NoTrainingArg()
    assert _dropped(block(X, training=True))
    assert not _dropped(block(X))
    assert not _dropped(block(X, training=False))


def test_training_defaults_to_the_signature_then_to_inference() -> None:
    block = TrainingByDefault()
    assert _dropped(block(X))  # no value passed, no enclosing call: call's own default (True)
    assert not _dropped(block(X, training=False))


def test_training_passed_positionally_counts_as_passed() -> None:
    """Keras 3 refuses non-tensor positional arguments; gpukeras takes them, as before the context."""
    block, x = PositionalTraining(), keras.ops.convert_to_tensor(X)
    assert _dropped(block(x, True))
    assert not _dropped(block(x, False))


def test_explicit_inner_value_holds_for_later_calls_in_the_same_outer_call() -> None:
    assert not _dropped(InnerForcedOff()(X, training=True))


def test_functional_and_sequential_models_carry_training_into_custom_layers() -> None:
    inputs = keras.Input((64,))
    functional = keras.Model(inputs, NoTrainingArg()(inputs))
    sequential = keras.Sequential([keras.Input((64,)), NoTrainingArg()])
    for model in (functional, sequential):
        assert _dropped(model(X, training=True))
        assert not _dropped(model(X))
        assert not _dropped(model.predict(X, verbose=0))


class NormalizedBlock(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = layers.BatchNormalization()

    def call(self, x):
        return self.norm(x)


def test_fit_trains_a_batch_normalization_inside_a_custom_layer() -> None:
    """Under fit, the inner BatchNormalization normalizes by the batch and moves its statistics."""
    model = keras.Sequential([keras.Input((3,)), NormalizedBlock()])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(5.0, 2.0, size=(32, 3)).astype("float32")
    model.fit(x, np.zeros((32, 3), "float32"), batch_size=32, epochs=1, shuffle=False, verbose=0)
    norm = model.layers[0].norm
    np.testing.assert_allclose(norm.moving_mean.numpy(), 0.01 * x.mean(0), rtol=1e-4)
    np.testing.assert_allclose(model(x, training=True).numpy().mean(0), 0.0, atol=1e-4)
