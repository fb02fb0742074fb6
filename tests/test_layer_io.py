"""`layer.input` / `layer.output`, `Model.input` / `Model.output` and `Sequential.outputs` as Keras 3 has
them: the feature-extractor idiom `Model(model.inputs, [layer.output for layer in model.layers])` and
transfer learning's `Model(base.input, base.get_layer(name).output)` give the same numbers as the model."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras


def test_first_call_tensors_and_errors():
    inputs = keras.Input((4,), name="x")
    dense = keras.layers.Dense(2)
    first, second = dense(inputs), dense(inputs)
    model = keras.Model(inputs, [first, second])
    assert model.input is inputs and model.output == [first, second]
    assert dense.input is inputs and dense.output is first  # the first call, as Keras 3
    assert model.layers[0].output is inputs and model.layers[0].input == []
    concat = keras.layers.Concatenate()
    joined = concat([inputs, keras.Input((3,))])
    assert len(concat.input) == 2 and concat.output is joined
    with pytest.raises(AttributeError, match="'never_called'.*no output"):
        _ = keras.layers.Dense(3, name="never_called").output
    with pytest.raises(AttributeError, match="no outputs yet"):
        _ = keras.Sequential([keras.layers.Dense(2)]).outputs


def test_feature_extractor_from_a_sequential():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)])
    extractor = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])
    x = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    hidden, last = extractor.predict(x, verbose=0)
    np.testing.assert_allclose(last, model.predict(x, verbose=0), rtol=1e-6)
    w, b = model.layers[0].get_weights()
    np.testing.assert_allclose(hidden, np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)


def test_transfer_learning_head_on_an_inner_layer(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    base = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    features = keras.Model(base.input, base.get_layer("pool").output)
    model = keras.Model(features.input, keras.layers.Dense(2, name="new_head")(features.output))
    images = np.random.default_rng(1).random((5, 8, 8, 1)).astype("float32")
    expected = features.predict(images, verbose=0) @ model.get_layer("new_head").get_weights()[0]
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(images, verbose=0),
                               model.predict(images, verbose=0), rtol=1e-6)


def test_model_input_and_output_shapes():
    inputs, other = keras.Input((4,)), keras.Input((3,))
    dense = keras.layers.Dense(2)
    two = keras.Model([inputs, other], [dense(inputs), keras.layers.Dense(5)(other)])
    assert two.input_shape == [(None, 4), (None, 3)] and two.output_shape == [(None, 2), (None, 5)]
    one = keras.Model({"a": inputs}, {"o": dense(inputs)})
    assert one.input_shape == (None, 4) and one.output_shape == (None, 2)
    stack = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert stack.input_shape == (None, 3) and stack.output_shape == (None, 2)
    with pytest.raises(AttributeError, match="no defined input shape"):
        _ = keras.Sequential([keras.layers.Dense(2)]).input_shape
