"""keras.models.clone_model and Model.get_layer held to what Keras 3 does (tests/fixtures/
keras3_structure_layers.json, "clone", recorded from the same models: tests/reference/structure_layer_cases.py).

A clone has the same structure and configs, new layers and weights (fresh initial values), the same
compile settings; `clone_function`, `call_function`, `recursive` and `input_tensors` act as in Keras 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from reference import structure_layer_cases as cases

import gpukeras as keras

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_structure_layers.json").read_text())["clone"]
X = np.random.default_rng(5).standard_normal((3, 4)).astype("float32")


def _table(model) -> list[list[str]]:
    return [[type(layer).__name__, layer.name] for layer in model.layers]


def _config(layer) -> str:
    return json.dumps(layer.get_config(), sort_keys=True, default=str)


def test_functional_clone_matches_keras3() -> None:
    expected = FIXTURE["functional"]
    original = cases.clone_sources(keras)["functional"]
    clone = keras.models.clone_model(original)
    assert clone.name == expected["name"] and type(clone).__name__ == expected["class"]
    assert _table(clone) == expected["layers"]
    assert [_config(a) == _config(b) for a, b in zip(clone.layers, original.layers)] == expected["configs_equal"]
    assert all(a is not b for a, b in zip(clone.layers, original.layers)) == expected["shares_no_layer"]
    assert len(clone.weights) == expected["weights"]  # the shared Dense is cloned once
    assert all(a is not b for a, b in zip(clone.weights, original.weights))
    fresh_differs = any(not np.allclose(a, b) for a, b in zip(clone.get_weights(), original.get_weights()))
    assert fresh_differs == expected["fresh_weights_differ"]
    clone.set_weights(original.get_weights())
    np.testing.assert_allclose(clone.predict(X, verbose=0), original.predict(X, verbose=0), rtol=1e-6)
    assert clone.compiled == expected["compiled"] and clone.get_compile_config()["loss"] == expected["compile_loss"]
    assert [t.name for t in clone.inputs] == expected["input_names"]
    # the weights are independent: training the clone leaves the original alone
    before = original.get_weights()
    clone.fit(X, np.ones((3, 3), "float32"), epochs=1, verbose=0)
    for a, b in zip(before, original.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequential_clone_matches_keras3() -> None:
    expected = FIXTURE["sequential"]
    original = cases.clone_sources(keras)["sequential"]
    clone = keras.models.clone_model(original)
    assert clone.name == expected["name"] and _table(clone) == expected["layers"]
    assert list(clone.inputs[0].shape) == expected["input_shape"]
    assert [_config(a) == _config(b) for a, b in zip(clone.layers, original.layers)] == expected["configs_equal"]
    assert clone.compiled == expected["compiled"]
    assert isinstance(clone, keras.Sequential) and clone.built


def test_clone_function_can_edit_configs() -> None:
    def seed_everything(layer):
        config = layer.get_config()
        if "seed" in config:
            config["seed"] = 1337
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(cases.clone_sources(keras)["sequential"], clone_function=seed_everything)
    assert [layer.get_config().get("seed") for layer in clone.layers] == FIXTURE["clone_function_seed"]["seeds"]


def test_call_function_inserts_layers_like_keras3() -> None:
    expected = FIXTURE["call_function"]
    original = cases.clone_sources(keras)["functional"]
    clone = keras.models.clone_model(original, clone_function=lambda layer: layer,
                                     call_function=cases.insert_dropout_after_dense(keras))
    assert [type(layer).__name__ for layer in clone.layers] == expected["layers"]
    assert [any(layer is other for other in original.layers) for layer in clone.layers] == expected["reuses_layers"]
    assert list(clone.outputs[0].shape) == expected["output_shape"]
    np.testing.assert_allclose(clone.predict(X, verbose=0), original.predict(X, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("recursive", [False, True])
def test_nested_models_clone_like_keras3(recursive: bool) -> None:
    expected = FIXTURE[f"nested_recursive_{recursive}"]
    nested = cases.clone_sources(keras)["nested"]
    clone = keras.models.clone_model(nested, recursive=recursive)
    assert _table(clone) == expected["layers"]
    inner = [layer for layer in clone.layers if isinstance(layer, keras.Sequential)][0]
    assert _table(inner) == expected["inner_layers"]
    assert (inner is not nested.layers[2]) == expected["inner_is_new"]
    assert all(a is not b for a, b in zip(inner.weights, nested.layers[2].weights)) == expected["inner_weights_new"]
    clone.set_weights(nested.get_weights())
    np.testing.assert_allclose(clone.predict(X, verbose=0), nested.predict(X, verbose=0), rtol=1e-6)


def test_recursive_clone_passes_clone_function_down() -> None:
    seen = []

    def record(layer):
        seen.append(layer.name)
        return layer.__class__.from_config(layer.get_config())

    keras.models.clone_model(cases.clone_sources(keras)["nested"], clone_function=record, recursive=True)
    assert seen == ["stem", "inner_dense", "head"]  # the inner Sequential itself is cloned by clone_model
    seen.clear()
    keras.models.clone_model(cases.clone_sources(keras)["nested"], clone_function=record)
    assert seen == ["stem", "inner", "head"]


def test_input_tensors() -> None:
    original = cases.clone_sources(keras)["functional"]
    clone = keras.models.clone_model(original, input_tensors=keras.Input((4,), name="renamed"))
    assert [t.name for t in clone.inputs] == FIXTURE["input_tensors"]["input_names"]
    assert len(clone.layers) == FIXTURE["input_tensors"]["layers"]
    seq = keras.models.clone_model(cases.clone_sources(keras)["sequential"], input_tensors=[keras.Input((4,))])
    assert seq.inputs[0].shape == (None, 4)
    with pytest.raises(ValueError, match="structure"):
        keras.models.clone_model(original, input_tensors=[keras.Input((4,)), keras.Input((4,))])
    with pytest.raises(ValueError, match="Input"):
        keras.models.clone_model(original, input_tensors=keras.layers.Dense(4)(keras.Input((4,))))


def test_subclassed_model_clones_from_its_config() -> None:
    expected = FIXTURE["subclassed"]
    two_dense = cases.subclassed_model_class(keras)
    original = two_dense(units=4, name="two_dense")
    original(X)
    original.compile(optimizer="sgd", loss="mse")
    clone = keras.models.clone_model(original)
    assert type(clone).__name__ == expected["class"] and clone.name == expected["name"]
    assert clone.units == expected["units"] and clone.built == expected["built"]
    assert [list(w.shape) for w in clone.weights] == expected["weights_shapes"]
    assert all(a is not b for a, b in zip(clone.weights, original.weights)) and clone.compiled


@pytest.mark.parametrize("name", sorted(FIXTURE["errors"]))
def test_refused_like_keras3(name: str) -> None:
    src = cases.clone_sources(keras)
    original = cases.subclassed_model_class(keras)(units=4)
    calls = {
        "sequential_call_function": lambda: keras.models.clone_model(src["sequential"],
                                                                     call_function=lambda l, *a: l(*a)),
        "subclassed_clone_function": lambda: keras.models.clone_model(original, clone_function=lambda l: l),
        "subclassed_call_function": lambda: keras.models.clone_model(original, call_function=lambda l, *a: l(*a)),
        "unknown_argument": lambda: keras.models.clone_model(src["sequential"], bogus=1),
        "two_input_tensors_sequential": lambda: keras.models.clone_model(
            src["sequential"], input_tensors=[keras.Input((4,)), keras.Input((4,))]),
    }
    with pytest.raises(ValueError) as info:
        calls[name]()
    assert type(info.value).__name__ == FIXTURE["errors"][name]["error"]
    assert FIXTURE["errors"][name]["message"].split(".")[0][:40] in str(info.value)


def test_lambda_with_a_python_lambda_is_not_cloned_by_default() -> None:
    """Keras 3.15 refuses too: the default clone goes through from_config, which will not load bytecode."""
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Lambda(lambda t: t + 1.0)(inp))
    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.clone_model(model)
    shared = keras.models.clone_model(model, clone_function=lambda layer: layer)
    np.testing.assert_allclose(shared.predict(X[:, :3], verbose=0), X[:, :3] + 1.0)


def test_get_layer_matches_keras3() -> None:
    expected = FIXTURE["get_layer"]
    model = cases.clone_sources(keras)["functional"]
    assert model.get_layer(index=1).name == expected["by_index"]
    assert type(model.get_layer("shared")).__name__ == expected["by_name"]
    calls = {"neither": lambda: model.get_layer(), "both": lambda: model.get_layer("shared", index=1),
             "missing": lambda: model.get_layer("nope"), "index_too_big": lambda: model.get_layer(index=10)}
    for key, call in calls.items():
        with pytest.raises(ValueError):
            call()
        assert expected[key]["error"] == "ValueError"
    with pytest.raises(ValueError, match="Provide either a layer name or layer index"):
        model.get_layer()
