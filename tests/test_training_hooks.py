"""Keras 3's public training hooks on gpukeras models, beyond the keras.io programs replayed in
tests/test_keras3_custom_fit.py: super() calls, regularization inside compute_loss, loss scaling
in the default step, and the structures a step receives."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers, ops


def _data(n: int = 32):
    rng = np.random.default_rng(7)
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def _twins(cls=keras.Model, **compile_args):
    """Two identical Dense models compiled the same way (the second takes the first's weights)."""
    models = []
    for _ in range(2):
        inputs = keras.Input((4,))
        outputs = layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.01))(
            layers.Dense(3, activation="tanh")(inputs))
        model = cls(inputs, outputs)
        model.compile(**{"optimizer": "sgd", "loss": "mse", "metrics": ["mae"], **compile_args})
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


def test_train_step_calling_super_matches_the_default_step() -> None:
    seen = []

    class Counting(keras.Model):
        def train_step(self, data):
            seen.append(type(data).__name__)
            return super().train_step(data)

    x, y = _data()
    plain, counting = _twins(keras.Model), _twins(Counting)[0]
    counting.set_weights(plain[0].get_weights())
    h1 = plain[0].fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    h2 = counting.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert seen == ["tuple"] * 8
    for key in ("loss", "mae"):
        np.testing.assert_allclose(h2.history[key], h1.history[key], rtol=1e-6)
    for a, b in zip(counting.get_weights(), plain[0].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_compute_loss_override_includes_regularization_through_self_losses() -> None:
    class Halved(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return super().compute_loss(x, y, y_pred, sample_weight, training) * 0.5

    x, y = _data()
    base, halved = _twins(keras.Model)[0], _twins(Halved)[0]
    halved.set_weights(base.get_weights())
    plain_loss = base.evaluate(x, y, verbose=0)[0]
    assert halved.evaluate(x, y, verbose=0)[0] == pytest.approx(plain_loss * 0.5, rel=1e-6)
    # The L2 penalty is part of the loss compute_loss returns.
    mse = float(np.mean((base.predict(x, verbose=0) - y) ** 2))
    penalty = 0.01 * float(np.sum(base.layers[-1].get_weights()[0] ** 2))
    assert plain_loss == pytest.approx(mse + penalty, rel=1e-5)


def test_loss_scale_factor_changes_nothing_in_the_default_fit() -> None:
    x, y = _data()
    scaled, plain = _twins(optimizer=keras.optimizers.SGD(0.1, loss_scale_factor=128.0))
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    h1 = scaled.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    h2 = plain.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)


def test_metrics_lists_trackers_container_and_model_metrics() -> None:
    class WithTracker(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.extra = keras.metrics.Mean(name="extra")

    model = _twins(WithTracker)[0]
    assert model.metrics_names == ["loss", "compile_metrics", "extra"]
    x, y = _data()
    model.fit(x, y, verbose=0)
    model.extra.update_state(3.0)
    result = model.get_metrics_result()
    assert list(result) == ["loss", "mae", "extra"]
    model.reset_metrics()
    assert float(model.extra.result()) == 0.0


def test_predict_step_and_multi_input_structures() -> None:
    class Sum(keras.Model):
        def predict_step(self, data):
            return {"doubled": self(data, training=False) * 2.0}

    a, b = keras.Input((2,), name="a"), keras.Input((3,), name="b")
    model = Sum([a, b], layers.Dense(1)(layers.Concatenate()([a, b])))
    xa, xb = np.ones((5, 2), "float32"), np.ones((5, 3), "float32")
    out = model.predict([xa, xb], batch_size=2, verbose=0)
    np.testing.assert_allclose(out["doubled"], 2.0 * model([xa, xb]).numpy(), rtol=1e-6)
    assert keras.utils.unpack_x_y_sample_weight((xa, None)) == (xa, None, None)
    packed = keras.utils.pack_x_y_sample_weight([xa, xb])
    assert isinstance(packed, tuple) and len(packed) == 1


def test_custom_train_step_logs_reach_callbacks_and_history() -> None:
    class Constant(keras.Model):
        def train_step(self, data):
            x, y = data
            return {"seen": ops.convert_to_tensor(float(x.shape[0]))}

    inputs = keras.Input((4,))
    model = Constant(inputs, layers.Dense(1)(inputs))
    model.compile(optimizer="sgd")
    batches = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(logs["seen"]))
    x, y = _data(20)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callback])
    assert batches == [8.0, 8.0, 4.0]
    assert history.history == {"seen": [4.0]}


def test_a_hook_called_outside_fit_sees_the_current_trainable_weights() -> None:
    x, y = _data()
    model = _twins()[0]
    first = model.layers[1]
    first.trainable = False
    model.fit(x, y, epochs=1, verbose=0)
    first.trainable = True  # Keras's fine-tuning recipe: unfreeze, recompile, train on
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    before = first.get_weights()
    logs = model.train_step((ops.convert_to_tensor(x), ops.convert_to_tensor(y)))
    assert set(logs) == {"loss", "mae"}
    # A weight list cached during fit would have left the unfrozen layer out.
    assert all(not np.allclose(a, b) for a, b in zip(first.get_weights(), before))
