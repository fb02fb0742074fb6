"""The recurrent layers replayed against numbers recorded from the real Keras 3 (JAX).

tests/reference/record_keras3_rnn.py stored, for each layer case, Keras 3's config of the layer, its
weights, its outputs and the gradients of a weighted sum of the outputs (weights, inputs, initial
states); for each training case the loss history, final weights and predictions of `fit`; and two
`.keras` files. Here gpukeras rebuilds each layer from Keras 3's config, sets the same weights and
must give the same numbers to float32 rounding: SimpleRNN, LSTM, GRU (both reset_after), stacked and
custom cells, Bidirectional (every merge_mode, a backward_layer, states), TimeDistributed, with masks,
go_backwards, unroll, zero_output_for_mask, return_state, initial states and stateful batches.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rnn_custom_cells import custom_cells

import gpukeras as keras
from gpukeras import backend, layers, ops, tree

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = json.loads((FIXTURES / "keras3_rnn.json").read_text())
CELLS = custom_cells(keras)
RTOL, ATOL = 1e-5, 2e-6
DEVICE_ATOL = 1e-5  # CuPy sums in another order than NumPy (see tests/test_keras3_reference.py)


def _atol() -> float:
    return ATOL if backend.backend() == "numpy" else DEVICE_ATOL


def _close(got, expected, what: str, scale: float = 1.0) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=RTOL * scale, atol=_atol() * scale, err_msg=what)


def _data(name: str) -> np.ndarray:
    value = np.asarray(FIXTURE["data"][name])
    return value if value.dtype.kind in "bi" else value.astype("float32")


def _output_weights(shapes) -> list[np.ndarray]:
    return [np.random.RandomState(100 + i).standard_normal(size=s).astype("float32") for i, s in enumerate(shapes)]


def _initial_states(count: int, units: int, batch: int = 4) -> list[np.ndarray]:
    return [np.random.RandomState(20 + i).normal(size=(batch, units)).astype("float32") for i in range(count)]


def _layer(entry: dict):
    layer = keras.saving.deserialize_keras_object(entry["config"], custom_objects=CELLS)
    assert layer.built, "Keras 3's config has a build_config: the layer is built from it"
    layer.set_weights([np.asarray(w, dtype="float32") for w in entry["weights"]])
    return layer


# --------------------------------------------------------------------------- layer cases
@pytest.mark.parametrize("name", sorted(FIXTURE["layers"]))
def test_layer_outputs_and_gradients(name):
    entry = FIXTURE["layers"][name]
    opts = entry["options"]
    layer = _layer(entry)
    assert [v.path.split("/")[-1] for v in layer.trainable_weights] == [p.split("/")[-1] for p in entry["trainable"]]
    x = keras.Variable(_data(opts.get("x", "x")), name="x")
    kwargs = {"training": opts.get("training", False)}
    if opts.get("mask"):
        kwargs["mask"] = ops.convert_to_tensor(_data("mask"))
    states = None
    if "states" in opts:
        states = [keras.Variable(s, name=f"state_{i}") for i, s in enumerate(_initial_states(*opts["states"]))]
        kwargs["initial_state"] = states
    with keras.GradientTape() as tape:
        outputs = tree.flatten(layer(x, **kwargs))
        loss = sum(ops.sum(o * w) for o, w in zip(outputs, _output_weights([o.shape for o in outputs])))
    assert len(outputs) == len(entry["outputs"]), f"{name}: {len(outputs)} outputs, Keras 3 has {len(entry['outputs'])}"
    for i, (got, expected) in enumerate(zip(outputs, entry["outputs"])):
        _close(got, expected, f"{name}: output {i}")
    sources = [*layer.trainable_weights, x, *(states or [])]
    grads = tape.gradient(loss, sources)
    n = len(layer.trainable_weights)
    for i, (g, expected) in enumerate(zip(grads[:n], entry["grad_weights"])):
        _close(g, expected, f"{name}: gradient of {layer.trainable_weights[i].path}")
    _close(grads[n], entry["grad_x"], f"{name}: gradient of the inputs")
    for i, (g, expected) in enumerate(zip(grads[n + 1:], entry.get("grad_states", []))):
        _close(g, expected, f"{name}: gradient of initial state {i}")
    if "non_trainable_after" in entry:
        for var, expected in zip(layer.non_trainable_weights, entry["non_trainable_after"]):
            _close(var, expected, f"{name}: {var.path} after the training call")


def test_stateful_batches_and_reset():
    entry = FIXTURE["stateful"]
    layer = _layer(entry)
    _close(layer(_data("x")), entry["first"], "first batch")
    _close(layer(_data("x2")), entry["second"], "second batch (starts from the first batch's states)")
    for var, expected in zip(layer.states, entry["states_after_second"]):
        _close(var, expected, "states after the second batch")
    layer.reset_states()
    _close(layer(_data("x")), entry["after_reset"], "after reset_states")


# --------------------------------------------------------------------------- training cases
def model_lstm_gru():
    return keras.Sequential([keras.Input((5, 4)), layers.LSTM(4, return_sequences=True),
                             layers.GRU(3, reset_after=False), layers.Dense(1)])


def model_bidirectional_td():
    return keras.Sequential([keras.Input((5, 4)),
                             layers.Bidirectional(layers.SimpleRNN(3, return_sequences=True), merge_mode="ave"),
                             layers.TimeDistributed(layers.Dense(2))])


def model_masked_embedding():
    return keras.Sequential([keras.Input((6,), dtype="int32"), layers.Embedding(10, 4, mask_zero=True),
                             layers.Bidirectional(layers.LSTM(3, return_sequences=True)), layers.GRU(3),
                             layers.Dense(1, activation="sigmoid")])


def model_stateful():
    return keras.Sequential([keras.Input(batch_shape=(4, 5, 4)), layers.LSTM(3, stateful=True), layers.Dense(1)])


def model_custom_stacked():
    inputs = keras.Input((5, 4))
    seq = layers.RNN([CELLS["MinimalRNNCell"](3), layers.LSTMCell(2)], return_sequences=True)(inputs)
    last = layers.SimpleRNN(2, go_backwards=True)(seq)
    return keras.Model(inputs, layers.Dense(1)(last))


def model_seq2seq():
    encoder_in = keras.Input((5, 4))
    decoder_in = keras.Input((4, 3))
    _, h, c = layers.LSTM(3, return_state=True)(encoder_in)
    decoded = layers.LSTM(3, return_sequences=True)(decoder_in, initial_state=[h, c])
    return keras.Model([encoder_in, decoder_in], layers.TimeDistributed(layers.Dense(2))(decoded))


TRAINING = {
    "lstm_gru_sgd": (model_lstm_gru, lambda: keras.optimizers.SGD(0.1), "mse", ["train_x"], "train_y"),
    "bidirectional_time_distributed_adam": (model_bidirectional_td, lambda: keras.optimizers.Adam(0.01), "mse",
                                            ["train_x"], "train_y_seq"),
    "masked_embedding_adam": (model_masked_embedding, lambda: keras.optimizers.Adam(0.01), "binary_crossentropy",
                              ["tokens"], "token_y"),
    "stateful_sgd": (model_stateful, lambda: keras.optimizers.SGD(0.1), "mse", ["train_x"], "train_y"),
    "custom_stacked_rmsprop": (model_custom_stacked, lambda: keras.optimizers.RMSprop(0.01), "mse", ["train_x"],
                               "train_y"),
    "seq2seq_initial_state_adam": (model_seq2seq, lambda: keras.optimizers.Adam(0.01), "mse",
                                   ["train_x", "decoder_x"], "train_y_seq_4"),
}


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_training_steps(name):
    entry = FIXTURE["training"][name]
    make, optimizer, loss, x_keys, y_key = TRAINING[name]
    model = make()
    assert [w.shape for w in model.get_weights()] == [np.shape(w) for w in entry["initial_weights"]]
    model.set_weights([np.asarray(w, dtype="float32") for w in entry["initial_weights"]])
    model.compile(optimizer=optimizer(), loss=loss)
    xs = [_data(k) for k in x_keys]
    x = xs if len(xs) > 1 else xs[0]
    y = _data("train_y_seq")[:, :4] if y_key == "train_y_seq_4" else _data(y_key)
    hist = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    _close(hist.history["loss"], entry["history"], f"{name}: loss history")
    for i, (got, expected) in enumerate(zip(model.get_weights(), entry["final_weights"])):
        _close(got, expected, f"{name}: final weight {i}")
    _close(model.predict(x, batch_size=4, verbose=0), entry["predictions"], f"{name}: predictions")
    if "final_states" in entry:
        rnn = next(layer for layer in model.layers if getattr(layer, "stateful", False))
        for var, expected in zip(rnn.states, entry["final_states"]):
            _close(var, expected, f"{name}: final states")


# --------------------------------------------------------------------------- Keras 3 files
@pytest.mark.parametrize("name", sorted(FIXTURE["saved"]))
def test_keras3_file_loads_and_predicts(name):
    entry = FIXTURE["saved"][name]
    model = keras.saving.load_model(FIXTURES / "keras3_rnn" / f"{name}.keras")
    x = [_data(k) for k in entry["inputs"]]
    _close(model.predict(x if len(x) > 1 else x[0], verbose=0), entry["predictions"], f"{name}.keras")
