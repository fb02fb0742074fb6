"""Record Keras 3's numbers for the recurrent layers (JAX backend, CPU).

gpukeras' tests/test_keras3_rnn.py replays everything written here with ``import gpukeras as keras``.

Layer cases (``layers``): each layer is built in Keras 3, its weights set from
``RandomState(seed).uniform(-0.5, 0.5)`` (one array per weight, in ``layer.weights`` order), and
called on fixed data, with a (batch, time) mask and/or initial states where the case says so.
Stored: the layer's Keras 3 config (gpukeras rebuilds the layer from it), the weights, the
outputs, and the gradients of ``sum_i sum(output_i * W_i)`` (``W_i`` from
``RandomState(100 + i).standard_normal``) with respect to the trainable weights, the inputs and
the initial states (``jax.grad`` of ``layer.stateless_call``). The stateful case stores three calls
(two batches, then ``reset_states`` and the first again) instead of gradients.

Training cases (``training``): small models written out in both files, weights set the same way,
``fit(..., shuffle=False)``; stored: loss history, final weights, predictions (and the final
states of the stateful model).

Saved models (``saved``): ``.keras`` files written by Keras 3 under ``tests/fixtures/keras3_rnn/``
(re-zipped with deflate), with inputs and predictions; gpukeras loads them.

How to run (from the repository root, with a side venv that has Keras 3 and JAX)::

    python3 -m venv /tmp/k3venv && /tmp/k3venv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_rnn.py

Output: ``tests/fixtures/keras3_rnn.json`` and ``tests/fixtures/keras3_rnn/*.keras``.
"""

import datetime
import json
import os
import sys
import zipfile

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from rnn_custom_cells import custom_cells  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
OUT_PATH = os.path.join(FIXTURES, "keras3_rnn.json")
MODELS_DIR = os.path.join(FIXTURES, "keras3_rnn")
F32 = np.float32
CELLS = custom_cells(keras)


# --------------------------------------------------------------------------- data
def make_data():
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [0, 1, 0, 1, 0]], dtype=bool)
    tokens = np.random.RandomState(5).randint(1, 10, size=(8, 6))
    for row, pad in enumerate([0, 2, 3, 5, 1, 0, 4, 2]):  # right-padded with zeros, Embedding(mask_zero)
        tokens[row, tokens.shape[1] - pad:] = 0
    return {
        "x": np.random.RandomState(0).normal(size=(4, 5, 4)).astype(F32),
        "x2": np.random.RandomState(1).normal(size=(4, 5, 4)).astype(F32),
        "x4d": np.random.RandomState(2).normal(size=(4, 5, 6, 2)).astype(F32),
        "mask": mask,
        "train_x": np.random.RandomState(3).normal(size=(8, 5, 4)).astype(F32),
        "train_y": np.random.RandomState(4).normal(size=(8, 1)).astype(F32),
        "train_y_seq": np.random.RandomState(6).normal(size=(8, 5, 2)).astype(F32),
        "tokens": tokens.astype("int32"),
        "token_y": np.random.RandomState(7).randint(0, 2, size=(8, 1)).astype(F32),
        "decoder_x": np.random.RandomState(8).normal(size=(8, 4, 3)).astype(F32),
    }


def f32list(a):
    return np.asarray(a, dtype=F32).tolist()


def set_uniform_weights(obj, seed):
    rs = np.random.RandomState(seed)
    weights = [rs.uniform(-0.5, 0.5, size=np.shape(w)).astype(F32) for w in obj.get_weights()]
    obj.set_weights(weights)
    return weights


def output_weights(shapes):
    return [np.random.RandomState(100 + i).standard_normal(size=s).astype(F32) for i, s in enumerate(shapes)]


def initial_states(count, units, batch=4):
    return [np.random.RandomState(20 + i).normal(size=(batch, units)).astype(F32) for i in range(count)]


# --------------------------------------------------------------------------- layer cases
# name: (make the layer, options). Options: x (data key), mask, states (count, units), training.
LAYER_CASES = {
    "simple_rnn_sequences": (lambda: layers.SimpleRNN(3, return_sequences=True), {}),
    "simple_rnn_mask_backwards_state": (
        lambda: layers.SimpleRNN(3, return_sequences=True, go_backwards=True, return_state=True),
        {"mask": True, "states": (1, 3)}),
    "simple_rnn_relu_no_bias": (lambda: layers.SimpleRNN(3, activation="relu", use_bias=False), {"mask": True}),
    "lstm_last": (lambda: layers.LSTM(3), {}),
    "lstm_sequences_states": (lambda: layers.LSTM(3, return_sequences=True, return_state=True),
                              {"states": (2, 3)}),
    "lstm_mask_last": (lambda: layers.LSTM(3), {"mask": True}),
    "lstm_mask_backwards": (lambda: layers.LSTM(3, return_sequences=True, go_backwards=True, return_state=True),
                            {"mask": True}),
    "lstm_zero_output_for_mask": (
        lambda: layers.RNN(layers.LSTMCell(3), return_sequences=True, zero_output_for_mask=True),
        {"mask": True}),
    "lstm_zero_output_last": (lambda: layers.RNN(layers.LSTMCell(3), zero_output_for_mask=True), {"mask": True}),
    "lstm_unroll_mask_states": (
        lambda: layers.LSTM(3, return_sequences=True, return_state=True, unroll=True),
        {"mask": True, "states": (2, 3)}),
    "lstm_activations_no_bias": (
        lambda: layers.LSTM(3, activation="softsign", recurrent_activation="hard_sigmoid", use_bias=False,
                            return_sequences=True), {"mask": True}),
    "lstm_no_forget_bias_implementation_1": (
        lambda: layers.LSTM(3, unit_forget_bias=False, implementation=1, return_sequences=True), {}),
    "gru_sequences_states_mask": (lambda: layers.GRU(3, return_sequences=True, return_state=True),
                                  {"mask": True, "states": (1, 3)}),
    "gru_reset_before_backwards": (
        lambda: layers.GRU(3, reset_after=False, go_backwards=True, return_sequences=True), {"mask": True}),
    "gru_reset_before_last": (lambda: layers.GRU(3, reset_after=False), {}),
    "gru_elu_no_bias": (lambda: layers.GRU(3, activation="elu", use_bias=False, return_sequences=True),
                        {"mask": True}),
    "gru_unroll_backwards": (lambda: layers.GRU(3, unroll=True, go_backwards=True, return_sequences=True),
                             {"mask": True, "states": (1, 3)}),
    "stacked_cells": (
        lambda: layers.RNN([layers.LSTMCell(3), layers.GRUCell(2), layers.SimpleRNNCell(2)],
                           return_sequences=True, return_state=True), {"mask": True}),
    "stacked_cells_backwards_last": (
        lambda: layers.RNN(layers.StackedRNNCells([layers.GRUCell(3, reset_after=False), layers.LSTMCell(2)]),
                           go_backwards=True), {"mask": True}),
    "custom_cell": (lambda: layers.RNN(CELLS["MinimalRNNCell"](3), return_sequences=True, return_state=True),
                    {"mask": True}),
    "custom_two_state_cell": (
        lambda: layers.RNN(CELLS["TwoStateCell"](3), return_sequences=True, return_state=True),
        {"mask": True, "states": (2, 3)}),
    # Unmasked: with a mask Keras 3 repeats the first cell's state where it means the last cell's
    # (a broadcasting error here; gpukeras repeats the last cell's first state, as Keras intends).
    "custom_cell_stacked_with_lstm": (
        lambda: layers.RNN([CELLS["MinimalRNNCell"](3), layers.LSTMCell(2)], return_sequences=True), {}),
    "bidirectional_concat": (lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True)), {"mask": True}),
    "bidirectional_sum": (lambda: layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode="sum"),
                          {"mask": True}),
    "bidirectional_mul": (lambda: layers.Bidirectional(layers.SimpleRNN(3), merge_mode="mul"), {"mask": True}),
    "bidirectional_ave": (lambda: layers.Bidirectional(layers.LSTM(3), merge_mode="ave"), {}),
    "bidirectional_none_states": (
        lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True, return_state=True), merge_mode=None),
        {"mask": True, "states": (4, 3)}),
    "bidirectional_backward_layer": (
        lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True),
                                     backward_layer=layers.GRU(2, return_sequences=True, go_backwards=True)),
        {"mask": True}),
    "bidirectional_gru_states": (lambda: layers.Bidirectional(layers.GRU(3, return_state=True)),
                                 {"states": (2, 3)}),
    "time_distributed_dense": (lambda: layers.TimeDistributed(layers.Dense(3, activation="tanh")), {}),
    "time_distributed_conv1d": (lambda: layers.TimeDistributed(layers.Conv1D(2, 3, padding="same")),
                                {"x": "x4d"}),
    "time_distributed_batchnorm_training": (lambda: layers.TimeDistributed(layers.BatchNormalization()),
                                            {"training": True}),
}


def run_layer_case(d, name, make, opts, seed):
    keras.utils.set_random_seed(seed)
    layer = make()
    x = d[opts.get("x", "x")]
    kwargs = {}
    if opts.get("mask"):
        kwargs["mask"] = d["mask"]
    states = initial_states(*opts["states"]) if "states" in opts else None
    if states is not None:
        kwargs["initial_state"] = states
    training = opts.get("training", False)
    layer(x, training=training, **kwargs)  # build
    weights = set_uniform_weights(layer, seed)
    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    state_arrays = None if states is None else [jnp.asarray(s) for s in states]

    def forward(tv, x_in, st):
        kw = dict(kwargs)
        if st is not None:
            kw["initial_state"] = st
        y, new_ntv = layer.stateless_call(tv, non_trainable, x_in, training=training, **kw)
        return jax.tree_util.tree_leaves(y), new_ntv

    outs = [np.asarray(o) for o in forward(trainable, jnp.asarray(x), state_arrays)[0]]
    ws = output_weights([o.shape for o in outs])

    def loss(tv, x_in, st):
        leaves, new_ntv = forward(tv, x_in, st)
        return sum(jnp.sum(o * w) for o, w in zip(leaves, ws)), new_ntv

    (_, new_ntv), (g_w, g_x, g_s) = jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True)(
        trainable, jnp.asarray(x), state_arrays)
    entry = {
        "config": keras.saving.serialize_keras_object(layer),
        "options": {k: v for k, v in opts.items()},
        "seed": seed,
        "weights": [f32list(w) for w in weights],
        "trainable": [v.path for v in layer.trainable_variables],
        "outputs": [f32list(o) for o in outs],
        "grad_weights": [f32list(g) for g in g_w],
        "grad_x": f32list(g_x),
    }
    if states is not None:
        entry["grad_states"] = [f32list(g) for g in g_s]
    if non_trainable:
        entry["non_trainable_after"] = [f32list(v) for v in new_ntv]
    return entry


def run_stateful_case(d, seed):
    keras.utils.set_random_seed(seed)
    layer = layers.LSTM(3, stateful=True, return_sequences=True)
    layer.build((4, 5, 4))
    weights = set_uniform_weights(layer, seed)
    first = np.asarray(layer(d["x"]))
    second = np.asarray(layer(d["x2"]))
    states = [np.asarray(s.value) for s in layer.states]
    layer.reset_states()
    again = np.asarray(layer(d["x"]))
    return {"config": keras.saving.serialize_keras_object(layer), "seed": seed,
            "weights": [f32list(w) for w in weights], "first": f32list(first), "second": f32list(second),
            "states_after_second": [f32list(s) for s in states], "after_reset": f32list(again)}


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


TRAINING_CASES = {
    # name: (model, optimizer, loss, x keys, y key, batch size)
    "lstm_gru_sgd": (model_lstm_gru, lambda: keras.optimizers.SGD(0.1), "mse", ["train_x"], "train_y", 4),
    "bidirectional_time_distributed_adam": (model_bidirectional_td, lambda: keras.optimizers.Adam(0.01), "mse",
                                            ["train_x"], "train_y_seq", 4),
    "masked_embedding_adam": (model_masked_embedding, lambda: keras.optimizers.Adam(0.01), "binary_crossentropy",
                              ["tokens"], "token_y", 4),
    "stateful_sgd": (model_stateful, lambda: keras.optimizers.SGD(0.1), "mse", ["train_x"], "train_y", 4),
    "custom_stacked_rmsprop": (model_custom_stacked, lambda: keras.optimizers.RMSprop(0.01), "mse", ["train_x"],
                               "train_y", 4),
    "seq2seq_initial_state_adam": (model_seq2seq, lambda: keras.optimizers.Adam(0.01), "mse",
                                   ["train_x", "decoder_x"], "train_y_seq_4", 4),
}


def run_stateful_training(d, seed, lr=0.1, batch=4, epochs=2):
    """Keras 3's `fit` cannot be the reference for a stateful RNN: on JAX its jitted step drops the
    writes to the (untracked) state variables, so every batch starts from zeros; on torch it fails
    (an in-place write autograd needs). So the model is stepped by hand with Keras 3's own layers:
    per batch, the mse gradient (jax.grad of stateless_call, from the states the batch starts with),
    then an eager forward that carries the states on (as Keras documents, and tf.keras did), then
    plain SGD. Predictions: eager calls batch by batch, carrying the states too."""
    keras.utils.set_random_seed(seed)
    model = model_stateful()
    init = set_uniform_weights(model, seed)
    x, y = d["train_x"], d["train_y"]
    history = []
    for _ in range(epochs):
        losses = []
        for start in range(0, len(x), batch):
            xb, yb = jnp.asarray(x[start:start + batch]), jnp.asarray(y[start:start + batch])
            tv = [v.value for v in model.trainable_variables]
            ntv = [v.value for v in model.non_trainable_variables]

            def loss_fn(tv, xb=xb, yb=yb, ntv=ntv):
                pred, _ = model.stateless_call(tv, ntv, xb, training=True)
                return jnp.mean(jnp.mean(jnp.square(pred - yb), axis=-1))

            value, grads = jax.value_and_grad(loss_fn)(tv)
            model(xb, training=True)  # carries the states on, with the weights the step used
            for var, g in zip(model.trainable_variables, grads):
                var.assign(var.value - lr * g)
            losses.append(float(value))
        history.append(float(np.mean(losses)))
    predictions = np.concatenate([np.asarray(model(x[s:s + batch])) for s in range(0, len(x), batch)])
    return {"seed": seed, "initial_weights": [f32list(w) for w in init], "history": history,
            "final_weights": [f32list(w) for w in model.get_weights()], "predictions": f32list(predictions),
            "final_states": [f32list(s.value) for s in model.layers[0].states]}


def run_training_case(d, name, spec, seed):
    if name == "stateful_sgd":
        return run_stateful_training(d, seed)
    make, optimizer, loss, x_keys, y_key, batch = spec
    keras.utils.set_random_seed(seed)
    model = make()
    init = set_uniform_weights(model, seed)
    model.compile(optimizer=optimizer(), loss=loss)
    xs = [d[k] for k in x_keys]
    x = xs if len(xs) > 1 else xs[0]
    y = d["train_y_seq"][:, :4] if y_key == "train_y_seq_4" else d[y_key]
    hist = model.fit(x, y, batch_size=batch, epochs=2, shuffle=False, verbose=0)
    entry = {"seed": seed, "initial_weights": [f32list(w) for w in init],
             "history": [float(v) for v in hist.history["loss"]],
             "final_weights": [f32list(w) for w in model.get_weights()],
             "predictions": f32list(model.predict(x, batch_size=batch, verbose=0))}
    stateful = [layer for layer in model.layers if getattr(layer, "stateful", False)]
    if stateful:
        entry["final_states"] = [f32list(s.value) for s in stateful[0].states]
    return entry


# --------------------------------------------------------------------------- saved models
def saved_lstm_model(d):
    model = keras.Sequential([keras.Input((5, 4)), layers.LSTM(4, return_sequences=True),
                              layers.Bidirectional(layers.GRU(3)), layers.Dense(2)], name="lstm_model")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(d["train_x"], d["train_y_seq"][:, 0], epochs=1, batch_size=4, shuffle=False, verbose=0)
    return model


def saved_stacked_model(d):
    model = keras.Sequential([keras.Input((5, 4)),
                              layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], return_sequences=True),
                              layers.TimeDistributed(layers.Dense(2))], name="stacked_model")
    model.compile(optimizer="sgd", loss="mse")
    model.fit(d["train_x"], d["train_y_seq"], epochs=1, batch_size=4, shuffle=False, verbose=0)
    return model


def saved_seq2seq_model(d):
    """Its config passes the encoder's states as `initial_state` keyword arguments of the decoder's call."""
    model = model_seq2seq()
    model.compile(optimizer="adam", loss="mse")
    model.fit([d["train_x"], d["decoder_x"]], d["train_y_seq"][:, :4], epochs=1, batch_size=4, shuffle=False,
              verbose=0)
    return model


SAVED = {"lstm_model": (saved_lstm_model, ["x"]), "stacked_model": (saved_stacked_model, ["x"]),
         "seq2seq_model": (saved_seq2seq_model, ["train_x", "decoder_x"])}


def deflate(path):
    """Re-zip with deflate (same members): the HDF5 padding compresses well."""
    with zipfile.ZipFile(path) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, data in members:
            zf.writestr(member, data)


def main():
    d = make_data()
    result = {
        "versions": {"keras": keras.__version__, "backend": keras.backend.backend(), "jax": jax.__version__,
                     "numpy": np.__version__},
        "recorded_on": datetime.date.today().isoformat(),
        "data": {k: v.tolist() if v.dtype == bool or v.dtype.kind == "i" else f32list(v) for k, v in d.items()},
        "layers": {},
        "training": {},
        "saved": {},
    }
    for i, (name, (make, opts)) in enumerate(LAYER_CASES.items()):
        result["layers"][name] = run_layer_case(d, name, make, opts, seed=10 + i)
    result["stateful"] = run_stateful_case(d, seed=99)
    for i, (name, spec) in enumerate(TRAINING_CASES.items()):
        result["training"][name] = run_training_case(d, name, spec, seed=200 + i)
    os.makedirs(MODELS_DIR, exist_ok=True)
    for name, (build, inputs) in SAVED.items():
        keras.utils.set_random_seed(0)
        model = build(d)
        path = os.path.join(MODELS_DIR, f"{name}.keras")
        model.save(path)
        deflate(path)
        x = [d[k] for k in inputs]
        result["saved"][name] = {"inputs": inputs,
                                 "predictions": f32list(model.predict(x if len(x) > 1 else x[0], verbose=0))}
    with open(OUT_PATH, "w") as f:
        f.write("{\n")
        items = list(result.items())
        for i, (key, val) in enumerate(items):
            f.write(json.dumps(key) + ": " + json.dumps(val) + ("," if i < len(items) - 1 else "") + "\n")
        f.write("}\n")
    print("wrote", OUT_PATH, os.path.getsize(OUT_PATH), "bytes")


if __name__ == "__main__":
    main()
