"""keras.ops on symbolic tensors inside functional models (`x / 255.0`, `ops.mean(x)`, `x[:, :3]`): the same
predictions, training history and weights as Keras 3 (recorded by tests/reference/
record_keras3_symbolic_ops.py), shapes and dtypes of the recorded nodes, saving, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import symbolic_ops_cases as cases

import gpukeras as keras

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_symbolic_ops.json").read_text())


def _model():
    model = cases.build(keras)
    model.set_weights(cases.weights(model))
    return model


def test_predictions_and_training_match_keras3():
    model = _model()
    x, _ = cases.data()
    assert list(model.output.shape[1:]) == FIXTURE["output_shape"]
    np.testing.assert_allclose(model.predict(x, verbose=0), FIXTURE["predictions_before"], rtol=1e-5, atol=1e-6)
    history = cases.train(keras, model)
    for key, want in FIXTURE["history"].items():
        np.testing.assert_allclose(history[key], want, rtol=1e-5, atol=1e-6, err_msg=key)
    for got, want in zip(model.get_weights(), FIXTURE["final_weights"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), FIXTURE["predictions_after"], rtol=1e-5, atol=1e-6)


def test_nodes_have_the_shapes_and_dtypes_keras3_gives():
    inputs = keras.Input((4, 3))
    assert (inputs / 2.0).shape == (None, 4, 3)
    assert keras.ops.mean(inputs, axis=1).shape == (None, 3)
    assert inputs[..., 0].shape == (None, 4) and inputs[:, 1:, :2].shape == (None, 3, 2)
    arg = keras.ops.argmax(inputs, axis=-1)
    assert arg.shape == (None, 4) and arg.dtype == "int32"
    assert keras.ops.shape(inputs) == (None, 4, 3)
    assert keras.ops.cast(inputs, "float16").dtype == "float16"
    assert keras.ops.transpose(inputs, (0, 2, 1)).shape == (None, 3, 4)
    assert (-inputs).shape == (None, 4, 3) and (2.0 ** inputs).shape == (None, 4, 3)


def test_a_model_with_op_nodes_saves_and_loads(tmp_path):
    model = _model()
    x, _ = cases.data()
    want = model.predict(x, verbose=0)
    path = tmp_path / "ops.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), want)


def test_keras3s_saved_model_with_operations_loads_and_predicts_the_same():
    loaded = keras.models.load_model(Path(__file__).parent / "fixtures" / "keras3_symbolic_ops.keras")
    x, _ = cases.data()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), FIXTURE["predictions_after"], rtol=1e-5, atol=1e-6)
    kinds = {type(layer).__name__ for layer in loaded.operations}
    assert {"TrueDivide", "Subtract", "GetItem", "Concatenate", "Max", "Mean", "Sigmoid", "Softmax"} <= kinds
    assert [layer.name for layer in loaded.layers] == ["input_layer", "dense", "dense_1"]  # Keras 3's `layers`


def test_configs_name_operations_as_keras3_does():
    layers = _model().get_config()["layers"]
    by_class = {entry["class_name"]: entry for entry in reversed(layers)}  # each class's first node
    assert by_class["TrueDivide"]["module"] == "keras.src.ops.numpy"
    assert by_class["Mean"]["config"] == {"name": "mean", "axis": -1, "keepdims": True}
    assert by_class["Sigmoid"]["module"] == "keras.src.ops.nn"
    assert by_class["TrueDivide"]["inbound_nodes"][0]["args"][1] == 4.0  # the constant is a call argument


def test_clone_and_summary_keep_the_operations(capsys):
    model = _model()
    x, _ = cases.data()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(op).__name__ for op in clone.operations] == [type(op).__name__ for op in model.operations]
    model.summary()
    printed = capsys.readouterr().out
    assert "true_divide (TrueDivide)" in printed and "get_item (GetItem)" in printed


def test_what_a_graph_cannot_record_is_named():
    inputs = keras.Input((3,))
    with pytest.raises(TypeError, match="'x_min' is a symbolic tensor"):
        keras.ops.clip(inputs, inputs, 1.0)
    with pytest.raises(ValueError, match="ops.mean has no parameter 'where'"):
        keras.layers.operation.operation_class("mean").from_config({"name": "mean", "where": [True]})
