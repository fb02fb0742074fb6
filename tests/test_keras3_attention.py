"""The attention layers, EinsumDense and ops.dot_product_attention against numbers recorded from Keras 3.

tests/reference/record_keras3_attention.py ran the programs of tests/keras3_attention_programs.py on
Keras 3 (JAX) and stored inputs, weights and results in tests/fixtures/keras3_attention.json. Here the
same programs run on gpukeras from the same inputs and weights:

* every layer case: output, attention scores, the gradients of sum(output * w) [+ sum(scores * w')]
  w.r.t. each input and each weight, weight names/shapes/order, config and build config;
* every EinsumDense case: output, gradients, kernel/bias shapes, config, symbolic output shape;
* every dot_product_attention case: output and gradients w.r.t. query, key, value (and bias);
* every training case (a model around each layer, and keras.io's transformer classifier): `fit`
  history, final weights and predictions after 4 Adam steps;
* keras.io's transformer classifier saved by Keras 3 (`.keras`) loads here, predicts Keras 3's
  numbers, and survives a save/load round trip in gpukeras.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import keras3_attention_programs as P
import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend, ops

# GroupedQueryAttention hands masked inputs to its projections, which drop the masks with a warning, as in Keras 3
pytestmark = pytest.mark.filterwarnings("ignore:Layer .* does not support masking")
FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = json.loads((FIXTURES / "keras3_attention.json").read_text())
RTOL, ATOL = 1e-5, 2e-6
DEVICE_ATOL = 1e-5  # CuPy kernels sum in another order than NumPy (see tests/test_keras3_reference.py)


def _atol() -> float:
    return ATOL if backend.backend() == "numpy" else DEVICE_ATOL


def _close(got, expected, what: str, atol: float | None = None) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=RTOL, atol=_atol() if atol is None else atol, err_msg=what)


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype="float32")


def _config_matches(ours: dict, theirs: dict, what: str) -> None:
    """Same keys and values as Keras 3's config (dtype policies and initializer extras aside)."""
    assert sorted(ours) == sorted(theirs), f"{what}: config keys {sorted(ours)} != Keras 3's {sorted(theirs)}"
    for key, value in theirs.items():
        mine = ours[key]
        if key in ("dtype", "name"):  # a policy dict in Keras 3; names count per session
            continue
        if isinstance(value, dict) and "class_name" in value:
            assert isinstance(mine, dict) and mine["class_name"] == value["class_name"], f"{what}: {key}"
        elif isinstance(value, (list, tuple)):
            assert list(mine) == list(value), f"{what}: {key}: {mine} != {value}"
        else:
            assert mine == value, f"{what}: {key}: {mine!r} != {value!r}"


# --------------------------------------------------------------------------- layers
def _run_layer(case: dict, entry: dict):
    """Build the case's layer on gpukeras, set Keras 3's weights; returns (layer, inputs, mask, out, scores, grads)."""
    arrays = {n: _f32(v) for n, v in entry["inputs"].items()}
    mask = None if entry["attention_mask"] is None else np.asarray(entry["attention_mask"], dtype=bool)
    layer = getattr(keras.layers, case["cls"])(**case["config"])
    P.call_layer(keras, layer, case, {n: ops.convert_to_tensor(a) for n, a in arrays.items()}, mask)
    layer.set_weights([_f32(w) for w in entry["initial_weights"]])
    tensors = {n: ops.convert_to_tensor(a) for n, a in arrays.items()}
    with keras.GradientTape() as tape:
        tape.watch(list(tensors.values()))
        out, scores = P.call_layer(keras, layer, case, dict(tensors), mask)
        loss = ops.sum(out * ops.convert_to_tensor(_f32(entry["loss_weights"]["output"])))
        if scores is not None:
            loss = loss + ops.sum(scores * ops.convert_to_tensor(_f32(entry["loss_weights"]["scores"])))
    sources = list(tensors.values()) + list(layer.trainable_weights)
    grads = tape.gradient(loss, sources)
    return layer, tensors, out, scores, dict(zip(tensors, grads)), grads[len(tensors):]


@pytest.mark.parametrize("case", P.LAYER_CASES, ids=[c["id"] for c in P.LAYER_CASES])
def test_layer_matches_keras3(case):
    entry = FIXTURE["layers"][case["id"]]
    layer, tensors, out, scores, input_grads, weight_grads = _run_layer(case, entry)
    name = case["id"]
    assert [(w.name, list(w.shape)) for w in layer.weights] == [(w["name"], w["shape"]) for w in entry["weights"]]
    _close(out, entry["output"], f"{name}: output")
    if entry["scores"] is None:
        assert scores is None
    else:
        _close(scores, entry["scores"], f"{name}: attention scores")
    for n, g in input_grads.items():
        _close(g, entry["input_gradients"][n], f"{name}: gradient w.r.t. {n}")
    for i, (g, expected) in enumerate(zip(weight_grads, entry["weight_gradients"], strict=True)):
        _close(g, expected, f"{name}: gradient w.r.t. {entry['weights'][i]['path']}")
    _config_matches(layer.get_config(), entry["config"], name)
    assert layer.get_build_config() == entry["build_config"]


@pytest.mark.parametrize("case", [c for c in P.LAYER_CASES if c["id"] in ("mha_cross_padding", "gqa", "additive")],
                         ids=lambda c: c["id"])
def test_layer_rebuilt_from_keras3_config(case):
    """Keras 3's config (and build config) make a layer that computes the same numbers."""
    entry = FIXTURE["layers"][case["id"]]
    cls = getattr(keras.layers, case["cls"])
    layer = cls.from_config(entry["config"])
    arrays = {n: ops.convert_to_tensor(_f32(v)) for n, v in entry["inputs"].items()}
    if "shapes_dict" in (entry["build_config"] or {}):
        layer.build_from_config(entry["build_config"])
    else:
        P.call_layer(keras, layer, case, dict(arrays))
    layer.set_weights([_f32(w) for w in entry["initial_weights"]])
    out, _ = P.call_layer(keras, layer, case, dict(arrays))
    _close(out, entry["output"], f"{case['id']}: output from Keras 3's config")


# --------------------------------------------------------------------------- EinsumDense
@pytest.mark.parametrize("case", P.EINSUM_CASES, ids=[c["id"] for c in P.EINSUM_CASES])
def test_einsum_dense_matches_keras3(case):
    entry = FIXTURE["einsum"][case["id"]]
    x = ops.convert_to_tensor(_f32(entry["input"]))
    layer = keras.layers.EinsumDense(**case["config"])
    layer(x)
    assert [(w.name, list(w.shape)) for w in layer.weights] == [(w["name"], w["shape"]) for w in entry["weights"]]
    layer.set_weights([_f32(w) for w in entry["initial_weights"]])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = ops.sum(y * ops.convert_to_tensor(_f32(entry["loss_weights"])))
    grads = tape.gradient(loss, [x] + list(layer.trainable_weights))
    _close(y, entry["output"], f"{case['id']}: output")
    _close(grads[0], entry["input_gradient"], f"{case['id']}: input gradient")
    for g, expected in zip(grads[1:], entry["weight_gradients"], strict=True):
        _close(g, expected, f"{case['id']}: weight gradient")
    _config_matches(layer.get_config(), entry["config"], case["id"])
    assert layer.compute_output_shape((None,) + tuple(case["input"][1:])) == (None,) + tuple(y.shape[1:])


# --------------------------------------------------------------------------- ops.dot_product_attention
@pytest.mark.parametrize("case", P.DPA_CASES, ids=[c["id"] for c in P.DPA_CASES])
def test_dot_product_attention_matches_keras3(case):
    entry = FIXTURE["dpa"][case["id"]]
    inputs = entry["inputs"]
    names = [n for n in ("query", "key", "value", "bias") if n in inputs]
    tensors = [ops.convert_to_tensor(_f32(inputs[n])) for n in names]
    mask = None if "mask" not in inputs else np.asarray(inputs["mask"], dtype=bool)
    with keras.GradientTape() as tape:
        tape.watch(tensors)
        named = dict(zip(names, tensors))
        out = ops.dot_product_attention(named["query"], named["key"], named["value"], bias=named.get("bias"),
                                        mask=mask, **case["kwargs"])
        loss = ops.sum(out * ops.convert_to_tensor(_f32(entry["loss_weights"])))
    _close(out, entry["output"], f"{case['id']}: output")
    for n, g in zip(names, tape.gradient(loss, tensors)):
        _close(g, entry["gradients"][n], f"{case['id']}: gradient w.r.t. {n}")


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("case", P.TRAIN_CASES, ids=[c["id"] for c in P.TRAIN_CASES])
def test_training_matches_keras3(case):
    entry = FIXTURE["training"][case["id"]]
    x = np.asarray(entry["x"], dtype="int32" if case["kind"] != "einsum" else "float32")
    y = np.asarray(entry["y"], dtype="int32" if case["kind"] == "transformer" else "float32")
    model = P.train_model(keras, case)
    model(x[:2])
    assert len(model.weights) == len(entry["initial_weights"])
    model.set_weights([_f32(w) for w in entry["initial_weights"]])
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert sorted(history.history) == sorted(entry["history"])
    for key, values in entry["history"].items():
        _close(history.history[key], values, f"{case['id']}: history {key}")
    for i, (w, expected) in enumerate(zip(model.get_weights(), entry["final_weights"], strict=True)):
        _close(w, expected, f"{case['id']}: final weight {entry['weight_paths'][i]}")
    _close(model.predict(x, verbose=0), entry["predictions"], f"{case['id']}: predictions")


# --------------------------------------------------------------------------- saving
def _custom_objects() -> dict:
    classes = P.custom_classes(keras)
    return {"TransformerBlock": classes["TransformerBlock"],
            "TokenAndPositionEmbedding": classes["TokenAndPositionEmbedding"]}


def test_loads_keras3_transformer_classifier(tmp_path):
    """Keras 3's .keras file of keras.io's transformer classifier (MultiHeadAttention inside a custom block)
    loads, predicts Keras 3's numbers, and round-trips through gpukeras' own .keras."""
    data = np.load(FIXTURES / "keras3_models" / "transformer_classifier.npz")
    model = keras.models.load_model(FIXTURES / "keras3_models" / "transformer_classifier.keras",
                                    custom_objects=_custom_objects())
    _close(model.predict(data["x0"], verbose=0), data["y"], "transformer classifier from Keras 3", atol=1e-5)
    assert int(model.optimizer.iterations.numpy()) == 4  # 2 epochs of 2 batches: the optimizer state came back
    model.save(tmp_path / "again.keras")
    again = keras.models.load_model(tmp_path / "again.keras", custom_objects=_custom_objects())
    _close(again.predict(data["x0"], verbose=0), data["y"], "transformer classifier after a gpukeras round trip",
           atol=1e-5)
    for a, b in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_attention_models_round_trip(tmp_path):
    """Every attention layer inside a model: save to .keras, load, same predictions and weights."""
    for case in [c for c in P.TRAIN_CASES if c["kind"] == "attention"]:
        x, _ = P.train_data(case, 1)
        model = P.train_model(keras, case)
        before = model.predict(x, verbose=0)
        path = tmp_path / f"{case['id']}.weights.h5"
        model.save_weights(path)
        fresh = P.train_model(keras, case)
        fresh(x[:2])
        fresh.load_weights(path)
        _close(fresh.predict(x, verbose=0), before, f"{case['id']}: after save_weights/load_weights")


@pytest.mark.skipif(not os.environ.get("KERAS3_PYTHON"), reason="set KERAS3_PYTHON to a Python with Keras 3")
@pytest.mark.any_backend
def test_keras3_loads_gpukeras_transformer_classifier(tmp_path):
    """Keras 3 loads the transformer classifier gpukeras saved and predicts the same numbers."""
    model = keras.models.load_model(FIXTURES / "keras3_models" / "transformer_classifier.keras",
                                    custom_objects=_custom_objects())
    model.save(tmp_path / "gk.keras")
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import keras, numpy as np; "
              "import keras3_attention_programs as P; c = P.custom_classes(keras); "
              f"m = keras.models.load_model({str(tmp_path / 'gk.keras')!r}, custom_objects=c); "
              f"d = np.load({str(FIXTURES / 'keras3_models' / 'transformer_classifier.npz')!r}); "
              "np.testing.assert_allclose(m.predict(d['x0'], verbose=0), d['y'], rtol=1e-5, atol=1e-5); print('ok')")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    proc = subprocess.run([os.environ["KERAS3_PYTHON"], "-c", script], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]

