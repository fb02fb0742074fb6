"""What a functional model takes and gives, by Keras 3's rules: a layer's output given as an input
becomes a fresh Input (what computed it is left out of the model), dict inputs and outputs are
matched by key (flattened in sorted-key order, whatever the insertion order), and data one rank
short of an input ending in 1 (or one rank over, ending in 1) is reshaped to fit. Each expectation
is what Keras 3.15 (JAX) does.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers


def _scaled_model() -> tuple[keras.Model, layers.Layer]:
    """A model built from a *scaled* tensor, as keras.io's structured-data program builds its model
    from normalized inputs."""
    raw = keras.Input((2,), name="raw")
    scaled = layers.Rescaling(10.0)(raw)
    dense = layers.Dense(1, kernel_initializer="ones", use_bias=False)
    return keras.Model(scaled, dense(scaled)), dense


def test_a_layer_output_as_input_becomes_a_fresh_input_and_its_producer_is_left_out() -> None:
    model, dense = _scaled_model()
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense"]
    assert model.layers[0].name.endswith("CLONE") and model.inputs[0].shape == (None, 2)
    x = np.array([[1.0, 2.0]], "float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), [[3.0]])  # fed raw: no Rescaling


def test_the_original_graph_still_runs_through_its_own_input() -> None:
    raw = keras.Input((2,), name="raw")
    scaled = layers.Rescaling(10.0)(raw)
    out = layers.Dense(1, kernel_initializer="ones", use_bias=False)(scaled)
    keras.Model(scaled, out)
    whole = keras.Model(raw, out)
    assert [type(layer).__name__ for layer in whole.layers] == ["InputLayer", "Rescaling", "Dense"]
    np.testing.assert_allclose(whole.predict(np.array([[1.0, 2.0]], "float32"), verbose=0), [[30.0]])


def test_a_model_from_intermediate_inputs_trains_saves_and_loads(tmp_path) -> None:
    model, _ = _scaled_model()
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    model.fit(x, np.zeros((8, 1), "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_dict_inputs_are_matched_by_key_whatever_their_insertion_order() -> None:
    """Keys inserted out of sorted order, with different widths and dtypes: each array reaches its own input."""
    inputs = {"zeta": keras.Input((3,), name="zeta"), "alpha": keras.Input((1,), name="alpha", dtype="int64")}
    merged = layers.concatenate([inputs["zeta"], layers.Rescaling(100.0)(inputs["alpha"])])
    model = keras.Model(inputs, layers.Dense(4, kernel_initializer="identity", use_bias=False)(merged))
    x = {"zeta": np.ones((2, 3), "float32"), "alpha": np.array([[1], [2]], "int64")}
    np.testing.assert_allclose(model.predict(x, verbose=0), [[1, 1, 1, 100], [1, 1, 1, 200]])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((2, 4), "float32"), epochs=1, verbose=0)


def test_dict_outputs_are_matched_by_key_whatever_their_insertion_order() -> None:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, {"zeta": layers.Dense(3, name="zeta")(inputs),
                                 "alpha": layers.Dense(1, name="alpha")(inputs)})
    assert model.output_names == ["alpha", "zeta"]
    predicted = model.predict(np.ones((2, 4), "float32"), verbose=0)
    assert {key: value.shape for key, value in predicted.items()} == {"alpha": (2, 1), "zeta": (2, 3)}
    model.compile(optimizer="sgd", loss={"zeta": "mse", "alpha": "mae"})
    y = {"zeta": np.zeros((8, 3), "float32"), "alpha": np.full((8, 1), 5.0, "float32")}
    history = model.fit(np.zeros((8, 4), "float32"), y, epochs=1, verbose=0)
    assert sorted(history.history) == ["alpha_loss", "loss", "zeta_loss"]
    np.testing.assert_allclose(history.history["alpha_loss"], 5.0, rtol=1e-6)  # mae on alpha, from zero inputs
    np.testing.assert_allclose(history.history["zeta_loss"], 0.0, atol=1e-12)


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_data_one_rank_off_a_trailing_one_is_reshaped(kind: str) -> None:
    if kind == "functional":
        column = keras.Input((1,))
        model = keras.Model(column, layers.Dense(2)(column))
        flat = keras.Input((3,))
        over = keras.Model(flat, layers.Dense(2)(flat))
    else:
        model = keras.Sequential([keras.Input((1,)), layers.Dense(2)])
        over = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    assert model.predict(np.ones(5, "float32"), verbose=0).shape == (5, 2)  # (5,) -> (5, 1)
    assert tuple(model(np.ones(5, "float32")).shape) == (5, 2)
    assert over.predict(np.ones((4, 3, 1), "float32"), verbose=0).shape == (4, 2)  # (4, 3, 1) -> (4, 3)
    over.compile(optimizer="sgd", loss="mse")
    over.fit(np.ones((4, 3, 1), "float32"), np.ones((4, 2), "float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="incompatible"):
        over.predict(np.ones((4, 3, 2), "float32"), verbose=0)
