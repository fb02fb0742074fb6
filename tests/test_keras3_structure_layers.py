"""Issue 12's structure layers replayed against numbers recorded from the real Keras 3 (JAX).

tests/reference/record_keras3_structure_layers.py built the layers and models of
tests/reference/structure_layer_cases.py in Keras 3 and stored inputs, weights and results in
tests/fixtures/keras3_structure_layers.json. The same cases run here with `import gpukeras as
keras`: forward outputs, gradients (inputs and weights), weight names and layouts, configs,
output masks, refused arguments, and three epochs of training must match Keras 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from reference import structure_layer_cases as cases

import gpukeras as keras
from gpukeras import backend
from gpukeras.saving import serialize_keras_object
from gpukeras.tensor import get_keras_mask, set_keras_mask

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_structure_layers.json").read_text())
RTOL, ATOL = 1e-5, 2e-6
DEVICE_ATOL = 1e-5  # CuPy's kernels sum in another order than NumPy (see tests/test_keras3_reference.py)
LAYERS, MASKED = cases.layer_cases(), cases.masked_cases()


def _close(got, expected, what: str, atol: float | None = None) -> None:
    atol = atol if atol is not None else (ATOL if backend.backend() == "numpy" else DEVICE_ATOL)
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=RTOL, atol=atol, err_msg=what)


def _arrays(values) -> list[np.ndarray]:
    return [np.asarray(v, dtype="float32") for v in values]


def _plain_config(config: dict) -> dict:
    """A config compared with Keras 3's: JSON types, no name, the dtype policy as its name, a Python lambda
    as the keys Keras writes for it (the marshalled code depends on where the source file lives)."""
    out = json.loads(json.dumps(config))
    out.pop("name", None)
    if isinstance(out.get("dtype"), dict):
        out["dtype"] = out["dtype"]["config"]["name"]
    for key in ("function", "mask", "output_shape"):
        value = out.get(key)
        if isinstance(value, dict) and value.get("class_name") == "__lambda__":
            out[key] = {"class_name": "__lambda__", "config": sorted(value["config"])}
    return out


# ---------------------------------------------------------------------------- layers
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_keras3(name: str) -> None:
    """Forward output, the gradients of sum(output * upstream) and the layer's weights and config."""
    expected = FIXTURE["layers"][name]
    factory, shapes, call_kwargs = LAYERS[name]
    layer = factory(keras)
    inputs = _arrays(expected["inputs"])
    kwargs = {k: (np.asarray(FIXTURE["masks"][v]) if k == "mask" else v) for k, v in call_kwargs.items()}
    arg = inputs if expected["list_input"] else inputs[0]
    layer(arg, **kwargs)
    assert [w.name for w in layer.weights] == expected["weight_names"]
    assert [list(w.shape) for w in layer.weights] == expected["weight_shapes"]
    assert [w.name for w in layer.trainable_weights] == expected["trainable_weight_names"]
    layer.set_weights(_arrays(expected["weights"]))

    variables = [keras.Variable(x, name=f"x{i}") for i, x in enumerate(inputs)]
    with keras.GradientTape() as tape:
        out = layer(variables if expected["list_input"] else variables[0], **kwargs)
        loss = keras.ops.sum(out * keras.ops.convert_to_tensor(np.asarray(expected["upstream"], "float32")))
    grads = tape.gradient(loss, variables + list(layer.trainable_weights))
    assert len(grads) == len(expected["grad_inputs"]) + len(expected["grad_weights"])
    _close(out.numpy(), expected["output"], f"{name}: output")
    for i, (g, want) in enumerate(zip(grads, expected["grad_inputs"] + expected["grad_weights"])):
        _close(keras.ops.convert_to_numpy(g), want, f"{name}: gradient {i}")
    _close([float(keras.ops.convert_to_numpy(v)) for v in layer.losses], expected["losses"], f"{name}: losses")
    assert _plain_config(serialize_keras_object(layer)["config"]) == _plain_config(expected["config"])


@pytest.mark.parametrize("name", sorted(n for n in LAYERS if not n.startswith("lambda")))
def test_keras3_config_builds_the_same_layer(name: str) -> None:
    """The config Keras 3 wrote rebuilds, in gpukeras, a layer whose config is the same."""
    expected = FIXTURE["layers"][name]
    layer = keras.saving.deserialize_keras_object({"module": "keras.layers", "class_name": type(
        LAYERS[name][0](keras)).__name__, "config": expected["config"], "registered_name": None})
    assert _plain_config(layer.get_config()) == _plain_config(expected["config"])


@pytest.mark.parametrize("name", sorted(MASKED))
def test_masked_inputs_match_keras3(name: str) -> None:
    """Output values and the output's mask when inputs carry masks (Keras 3's merge rules)."""
    expected = FIXTURE["masked"][name]
    factory, _, mask_names = MASKED[name]
    layer = factory(keras)
    inputs = [keras.ops.convert_to_tensor(x) for x in _arrays(expected["inputs"])]
    for x, m in zip(inputs, mask_names):
        if m is not None:
            set_keras_mask(x, keras.ops.convert_to_tensor(np.asarray(FIXTURE["masks"][m])))
    arg = inputs if len(inputs) > 1 else inputs[0]
    layer(arg)
    layer.set_weights(_arrays(expected["weights"]))
    out = layer(arg)
    _close(out.numpy(), expected["output"], f"{name}: output")
    mask = get_keras_mask(out)
    if expected["output_mask"] is None:
        assert mask is None, f"{name}: Keras 3 gives no output mask"
    else:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), np.asarray(expected["output_mask"]))


@pytest.mark.any_backend
@pytest.mark.parametrize("name", sorted(cases.invalid_arguments()))
def test_refused_like_keras3(name: str) -> None:
    expected = FIXTURE["invalid"][name]
    assert expected is not None, f"Keras 3 accepted {name}"
    with pytest.raises((ValueError, TypeError)) as info:
        cases.invalid_arguments()[name](keras)
    assert type(info.value).__name__ == expected["error"], (str(info.value), expected)


# ---------------------------------------------------------------------------- training
@pytest.mark.parametrize("name", ["activations", "group_normalization", "merging", "structure"])
def test_training_steps_match_keras3(name: str) -> None:
    expected = FIXTURE["training"][name]
    data = {k: np.asarray(v, "float32") for k, v in FIXTURE["training_data"].items()}
    model, xs, y, loss = cases.training_models(keras)[name]
    assert [list(w.shape) for w in model.get_weights()] == [list(np.shape(w)) for w in expected["initial_weights"]]
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=loss)
    x = [data[n] for n in xs] if len(xs) > 1 else data[xs[0]]
    history = model.fit(x, data[y], batch_size=8, epochs=3, shuffle=False, verbose=0)
    _close(history.history["loss"], expected["history"], f"{name}: loss history")
    for i, (got, want) in enumerate(zip(model.get_weights(), expected["final_weights"])):
        _close(got, want, f"{name}: final weight {i} ({expected['weight_names'][i]})")
    _close(model.predict(x, verbose=0), expected["predictions"], f"{name}: predictions")
