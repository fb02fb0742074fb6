"""The convolution family against numbers recorded from Keras 3 (JAX).

tests/reference/record_keras3_vision_layers.py ran the cases of tests/keras3_vision_cases.py on Keras 3 and
stored inputs, weights and results in tests/fixtures/keras3_vision_layers.json. Here the same cases run on
gpukeras from the same inputs and weights:

* every layer case (Conv*Transpose, DepthwiseConv*, SeparableConv*, Conv* with groups/dilation, UpSampling*,
  ZeroPadding*, Cropping*, global pooling with keepdims; both data formats): weight names and shapes, output,
  the gradients of sum(output * w) w.r.t. the input and every weight, config (same keys and values),
  compute_output_shape, and the same output from a layer rebuilt from Keras 3's config;
* every training case: a small model around the layer trained 4 Adam steps (history, final weights,
  predictions);
* keras.ops.depthwise_conv / separable_conv / conv_transpose called directly, with gradients;
* a three-input model using every layer class, saved by Keras 3 (.keras): loads, predicts Keras 3's numbers,
  and round-trips through gpukeras' own .keras and .weights.h5.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras3_vision_cases as C
import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend, ops

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = json.loads((FIXTURES / "keras3_vision_layers.json").read_text())
RTOL, ATOL = 1e-5, 2e-6
DEVICE_ATOL = 1e-5  # CuPy kernels sum in another order than NumPy (see tests/test_keras3_reference.py)
TRAIN_CASES = [c for c in C.LAYER_CASES if c["train"]]


def _atol() -> float:
    return ATOL if backend.backend() == "numpy" else DEVICE_ATOL


def _close(got, expected, what: str, atol: float | None = None) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=RTOL, atol=_atol() if atol is None else atol, err_msg=what)


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype="float32")


def _jsonable(value):
    return json.loads(json.dumps(value))


def _config_matches(ours: dict, theirs: dict, what: str) -> None:
    """Same keys and values as Keras 3's config (dtype policies, names and initializer extras aside)."""
    assert sorted(ours) == sorted(theirs), f"{what}: config keys {sorted(ours)} != Keras 3's {sorted(theirs)}"
    ours = _jsonable(ours)
    for key, value in theirs.items():
        if key in ("dtype", "name"):  # a policy dict in Keras 3; names count per session
            continue
        mine = ours[key]
        if isinstance(value, dict) and "class_name" in value:
            assert isinstance(mine, dict) and mine["class_name"] == value["class_name"], f"{what}: {key}"
            assert mine.get("config", {}).get("seed") == value.get("config", {}).get("seed"), f"{what}: {key}"
        else:
            assert mine == value, f"{what}: {key}: {mine!r} != {value!r}"


# --------------------------------------------------------------------------- layers
def _forward_and_gradients(layer, entry):
    x = ops.convert_to_tensor(_f32(entry["input"]))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = ops.sum(y * ops.convert_to_tensor(_f32(entry["loss_weights"])))
    grads = tape.gradient(loss, [x] + list(layer.trainable_weights))
    return y, grads


@pytest.mark.parametrize("case", C.LAYER_CASES, ids=[c["id"] for c in C.LAYER_CASES])
def test_layer_matches_keras3(case):
    entry = FIXTURE["layers"][case["id"]]
    name = case["id"]
    layer = getattr(keras.layers, case["cls"])(**case["config"])
    assert layer.compute_output_shape((None,) + tuple(case["shape"][1:])) == tuple(entry["symbolic_output_shape"])
    layer(_f32(entry["input"]))
    assert [(w.name, list(w.shape)) for w in layer.weights] == [(w["name"], w["shape"]) for w in entry["weights"]]
    assert [w.path for w in layer.weights] == [f"{layer.name}/{w['name']}" for w in entry["weights"]]
    layer.set_weights([_f32(w) for w in entry["initial_weights"]])
    y, grads = _forward_and_gradients(layer, entry)
    _close(y, entry["output"], f"{name}: output")
    _close(grads[0], entry["input_gradient"], f"{name}: input gradient")
    for g, expected, w in zip(grads[1:], entry["weight_gradients"], entry["weights"], strict=True):
        _close(g, expected, f"{name}: gradient w.r.t. {w['name']}")
    _config_matches(layer.get_config(), entry["config"], name)

    rebuilt = getattr(keras.layers, case["cls"]).from_config(entry["config"])
    rebuilt(_f32(entry["input"]))
    rebuilt.set_weights([_f32(w) for w in entry["initial_weights"]])
    _close(rebuilt(_f32(entry["input"])), entry["output"], f"{name}: output from Keras 3's config")
    assert _jsonable(rebuilt.get_config()) == {**_jsonable(layer.get_config()), "name": rebuilt.name}


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("case", TRAIN_CASES, ids=[c["id"] for c in TRAIN_CASES])
def test_training_matches_keras3(case):
    entry = FIXTURE["training"][case["id"]]
    x, y = _f32(entry["x"]), _f32(entry["y"])
    model = C.training_model(keras, case)
    assert len(model.weights) == len(entry["initial_weights"])
    model.set_weights([_f32(w) for w in entry["initial_weights"]])
    model.compile(optimizer=keras.optimizers.Adam(C.TRAIN["learning_rate"]), loss="mse")
    history = model.fit(x, y, batch_size=C.TRAIN["batch_size"], epochs=C.TRAIN["epochs"], shuffle=False, verbose=0)
    _close(history.history["loss"], entry["history"], f"{case['id']}: loss history")
    for i, (w, expected) in enumerate(zip(model.get_weights(), entry["final_weights"], strict=True)):
        _close(w, expected, f"{case['id']}: final weight {entry['weight_paths'][i]}")
    _close(model.predict(x, verbose=0), entry["predictions"], f"{case['id']}: predictions")


# --------------------------------------------------------------------------- ops
@pytest.mark.parametrize("op_id", sorted(FIXTURE["ops"]))
def test_op_matches_keras3(op_id):
    entry = FIXTURE["ops"][op_id]
    case = entry["case"]
    tensors = [ops.convert_to_tensor(_f32(a)) for a in entry["inputs"]]
    with keras.GradientTape() as tape:
        tape.watch(tensors)
        out = getattr(ops, case["op"])(*tensors, **case["kwargs"])
        loss = ops.sum(out * ops.convert_to_tensor(_f32(entry["loss_weights"])))
    _close(out, entry["output"], f"{op_id}: output")
    for i, (g, expected) in enumerate(zip(tape.gradient(loss, tensors), entry["gradients"], strict=True)):
        _close(g, expected, f"{op_id}: gradient w.r.t. input {i}")


# --------------------------------------------------------------------------- saving
def test_loads_keras3_vision_model(tmp_path):
    """Keras 3's .keras file with every layer class of the family loads, predicts Keras 3's numbers, and
    round-trips through gpukeras' .keras and .weights.h5."""
    data = np.load(FIXTURES / "keras3_models" / "vision_layers.npz")
    xs = [data["x0"], data["x1"], data["x2"]]
    model = keras.models.load_model(FIXTURES / "keras3_models" / "vision_layers.keras")
    assert model.count_params() == FIXTURE["saved_model"]["params"]
    _close(model.predict(xs, verbose=0), data["y"], "vision model from Keras 3", atol=1e-5)
    model.save(tmp_path / "again.keras")
    again = keras.models.load_model(tmp_path / "again.keras")
    _close(again.predict(xs, verbose=0), data["y"], "vision model after a gpukeras .keras round trip", atol=1e-5)
    for a, b in zip(model.weights, again.weights, strict=True):
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    model.save_weights(tmp_path / "vision.weights.h5")
    fresh = keras.models.Model.from_config(model.get_config())
    fresh.load_weights(tmp_path / "vision.weights.h5")
    _close(fresh.predict(xs, verbose=0), data["y"], "vision model after save_weights/load_weights", atol=1e-5)
