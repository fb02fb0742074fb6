"""Embedding, Masking and masks flowing through models, losses and metrics, against Keras 3's numbers
(tests/reference/record_keras3_masking.py → tests/fixtures/keras3_masking.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradcheck import check_gradients

import gpukeras as keras
from gpukeras import backend, layers
from gpukeras.tensor import get_keras_mask

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_masking.json").read_text())
DATA = FIXTURE["data"]
RTOL, ATOL = 1e-5, 2e-6
DEVICE_ATOL = 1e-5  # see tests/test_keras3_reference.py


def _close(got, expected, what: str) -> None:
    atol = ATOL if backend.backend() == "numpy" else DEVICE_ATOL
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=RTOL, atol=atol, err_msg=what)


def _data(name: str) -> np.ndarray:
    arr = np.asarray(DATA[name])
    return arr.astype("float32") if arr.dtype.kind == "f" else arr.astype("int64")


def _replay(name: str, model, x, y, loss, metrics=()) -> None:
    expected = FIXTURE[name]
    model.set_weights([np.asarray(w, dtype="float32") for w in expected["initial_weights"]])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=list(metrics))
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert sorted(history.history) == sorted(expected["history"])
    for key, values in expected["history"].items():
        _close(history.history[key], values, f"{name}: history {key}")
    for i, (got, want) in enumerate(zip(model.get_weights(), expected["final_weights"])):
        _close(got, want, f"{name}: weight {i}")
    _close(model.predict(x, verbose=0), expected["predictions"], f"{name}: predictions")
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    for key, value in expected["evaluate"].items():
        _close(logs[key], value, f"{name}: evaluate {key}")


def test_embedding_forward_values_mask_and_config() -> None:
    expected = FIXTURE["embedding_forward"]
    emb = layers.Embedding(20, 3, mask_zero=True)
    emb.build((None, 6))
    emb.set_weights([np.asarray(w, "float32") for w in expected["weights"]])
    out = emb(_data("padded")[:4])
    _close(out.numpy(), expected["output"], "embedding output")
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), expected["mask"])
    config = emb.get_config()
    for key in ("input_dim", "output_dim", "mask_zero", "embeddings_initializer"):
        assert config[key] == expected["config"][key], key
    clone = layers.Embedding.from_config(config)
    assert clone.mask_zero and clone.embeddings_initializer.get_config() == {"minval": -0.05, "maxval": 0.05,
                                                                              "seed": None}


def test_pad_sequences_matches_keras3() -> None:
    expected = FIXTURE["pad_sequences"]
    tokens = DATA["tokens"][:5]
    np.testing.assert_array_equal(keras.utils.pad_sequences(tokens), expected["pre"])
    np.testing.assert_array_equal(keras.utils.pad_sequences(tokens, maxlen=3, padding="post", truncating="post"),
                                  expected["post_post_3"])
    got = keras.utils.pad_sequences(tokens, maxlen=4, dtype="float32", value=-1.5)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected["value_float"])
    with pytest.raises(ValueError, match="padding"):
        keras.utils.pad_sequences(tokens, padding="middle")


def test_masked_mean_pooling_classifier() -> None:
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4, mask_zero=True),
                              layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")])
    _replay("pooled_classifier", model, _data("padded"), _data("y_bin"), "binary_crossentropy", ["accuracy"])


def test_sequence_loss_and_accuracy_skip_padded_steps() -> None:
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4, mask_zero=True),
                              layers.Dense(8, activation="tanh"), layers.Dense(5)])
    _replay("sequence_tagger", model, _data("post"), _data("y_seq"),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])


def test_masking_layer_regression() -> None:
    model = keras.Sequential([keras.Input((6, 3)), layers.Masking(0.0), layers.Dense(2)])
    _replay("masking_regression", model, _data("floats"), _data("y_float_seq"), "mse", ["mae"])
    out = model.layers[0](_data("floats")[:3])
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), np.any(_data("floats")[:3] != 0.0, axis=-1))


def test_batch_normalization_statistics_skip_masked_steps() -> None:
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4, mask_zero=True),
                              layers.BatchNormalization(), layers.GlobalAveragePooling1D(), layers.Dense(1)])
    _replay("batchnorm_masked", model, _data("padded"), _data("y_bin"), "mse")


def test_add_and_concatenate_combine_masks() -> None:
    inp = keras.Input((6,))
    a = layers.Embedding(20, 4, mask_zero=True)(inp)
    b = layers.Embedding(20, 4, mask_zero=True)(inp)
    added = layers.Add()([a, b])
    joined = layers.Concatenate()([a, layers.Dense(4)(b)])
    pooled = layers.Concatenate()([layers.GlobalAveragePooling1D()(added), layers.GlobalAveragePooling1D()(joined)])
    model = keras.Model(inp, layers.Dense(1)(pooled))
    _replay("merged_branches", model, _data("padded"), _data("y_bin"), "mse")


def test_embedding_lora_matches_keras3(tmp_path) -> None:
    expected = FIXTURE["embedding_lora"]
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4), layers.GlobalAveragePooling1D(),
                              layers.Dense(1)])
    emb = model.layers[0]
    emb.enable_lora(2)
    model.set_weights([np.asarray(w, "float32") for w in expected["start_weights"]])
    assert [[w.name, list(w.shape), bool(w.trainable)] for w in emb.weights] == expected["weights"]
    x = _data("padded")
    _close(model.predict(x, verbose=0), expected["forward"], "LoRA forward")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(x, _data("y_bin"), batch_size=8, epochs=2, shuffle=False, verbose=0)
    _close(history.history["loss"], expected["history"], "LoRA history")
    for i, (got, want) in enumerate(zip(model.get_weights(), expected["final_weights"])):
        _close(got, want, f"LoRA weight {i}")
    _close(emb.embeddings.numpy(), expected["merged_embeddings"], "merged embeddings")
    assert (emb.get_config()["lora_rank"], emb.get_config()["lora_alpha"]) == (2, 2)
    path = tmp_path / "lora.weights.h5"
    model.save_weights(path)  # the merged table is saved, the factors restart at zero on load
    again = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4), layers.GlobalAveragePooling1D(),
                              layers.Dense(1)])
    again.load_weights(path)
    _close(again.predict(x, verbose=0), model.predict(x, verbose=0), "plain model from a LoRA file")


def test_embedding_arguments_are_checked_and_input_length_declares_the_shape() -> None:
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 4)
    with pytest.raises(ValueError, match="output_dim"):
        layers.Embedding(10, True)
    model = keras.Sequential([layers.Embedding(10, 4, input_length=7), layers.Dense(1)])
    assert model.built and model.output_shape_of(model.layers[-1]) == (None, 7, 1)
    with pytest.raises(ValueError, match="mask_value"):
        layers.Masking("zero")


def test_a_layer_without_mask_support_warns_that_the_mask_ends() -> None:
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4, mask_zero=True), layers.Flatten(),
                              layers.Dense(1)])
    with pytest.warns(UserWarning, match="does not support masking"):
        model.predict(_data("padded"), verbose=0)


def test_masks_survive_saving(tmp_path) -> None:
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4, mask_zero=True),
                              layers.GlobalAveragePooling1D(), layers.Dense(1)])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].mask_zero
    _close(loaded.predict(_data("padded"), verbose=0), model.predict(_data("padded"), verbose=0), "after load")


def test_masked_pooling_and_batchnorm_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 5, 4))
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], bool)
    pool = layers.GlobalAveragePooling1D(dtype="float64")
    check_gradients(lambda a: pool(a, mask=mask), [x], name="masked global average 1d")
    norm = layers.BatchNormalization(dtype="float64")
    norm.build((None, 5, 4))
    check_gradients(lambda a: norm(a, training=True, mask=mask), [x], name="masked batch normalization",
                    atol=1e-5)
