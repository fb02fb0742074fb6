"""Recurrent layers beyond the recorded Keras 3 numbers (tests/test_keras3_rnn.py has those):
finite-difference gradients of the recurrence ops and of every layer (weights, inputs, initial
states), the whole-sequence path against stepping the cell, dropout, masks in and out, stateful
states, argument validation, configs and saving."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from gradcheck import check_gradients
from rnn_custom_cells import custom_cells

import gpukeras as keras
from gpukeras import layers, ops, tree
from gpukeras.ops.multi_output import multi_output, unstack
from gpukeras.ops.recurrent import flip, gru_recurrence, lstm_recurrence, simple_rnn_recurrence
from gpukeras.tensor import get_keras_mask, set_keras_mask

CELLS = custom_cells(keras)
MASK = np.array([[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 0, 0]], dtype=bool)  # (batch 3, time 4): holes, leading, trailing
SMALL_MASK = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=bool)  # batch 2: a hole; leading and trailing


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).standard_normal(shape)


def _flat(outputs):
    return ops.concatenate([ops.reshape(o, (-1,)) for o in tree.flatten(outputs)], axis=0)


# --------------------------------------------------------------------------- the ops
@pytest.mark.parametrize("masked_output", ["carry", "zero", "unroll"])
def test_recurrence_ops_gradients(masked_output):
    mask = ops.convert_to_tensor(MASK.T)  # (time, batch)
    T, B, U = 4, 3, 2

    def lstm(xp, h0, c0, rk, b):
        return _flat(lstm_recurrence(xp, h0, c0, rk, b, mask=mask, masked_output=masked_output))

    check_gradients(lstm, [_rand(T, B, 4 * U), _rand(B, U, seed=1), _rand(B, U, seed=2), _rand(U, 4 * U, seed=3),
                           _rand(4 * U, seed=4)], name=f"lstm_recurrence ({masked_output})")
    if masked_output != "carry":
        return  # the time loop (and its masking) is shared: the other cells once, with "carry"

    def gru_after(xp, h0, rk, rb):
        return _flat(gru_recurrence(xp, h0, rk, rb, True, mask=mask, masked_output=masked_output))

    check_gradients(gru_after, [_rand(T, B, 3 * U), _rand(B, U, seed=1), _rand(U, 3 * U, seed=2),
                                _rand(3 * U, seed=3)], name=f"gru_recurrence reset_after ({masked_output})")

    def gru_before(xp, h0, rk):
        return _flat(gru_recurrence(xp, h0, rk, None, False, mask=mask, activation=("softsign", ()),
                                    recurrent_activation=("hard_sigmoid", ()), masked_output=masked_output))

    check_gradients(gru_before, [_rand(T, B, 3 * U), _rand(B, U, seed=1), _rand(U, 3 * U, seed=2)],
                    name=f"gru_recurrence reset_before ({masked_output})")

    def simple(xp, h0, rk):
        return _flat(simple_rnn_recurrence(xp, h0, rk, mask=mask, activation=("elu", (1.0,)),
                                           masked_output=masked_output))

    check_gradients(simple, [_rand(T, B, U), _rand(B, U, seed=1), _rand(U, U, seed=2)],
                    name=f"simple_rnn_recurrence ({masked_output})")


def test_flip_values_and_gradient():
    x = _rand(3, 4, 2)
    np.testing.assert_array_equal(flip(ops.convert_to_tensor(x), 1).numpy(), x[:, ::-1])
    check_gradients(lambda a: flip(a, 1) * ops.arange(4, dtype="float64")[:, None], [x], name="flip")


def test_unstack_gradient_and_unused_slices():
    def fn(x):
        xs = unstack(x, axis=1)
        return ops.stack([xs[2] * 2.0, xs[0], xs[2]], axis=0)  # slice 1 unused, slice 2 used twice

    check_gradients(fn, [_rand(2, 3, 2)], name="unstack")
    with pytest.raises(ValueError, match="num=4"):
        unstack(ops.zeros((2, 3)), num=4, axis=1)


def test_multi_output_backward_runs_once_per_walk_and_twice_with_a_persistent_tape():
    calls = []
    x = keras.Variable(np.array([1.0, 2.0]), dtype="float64")

    def backward(grads):
        calls.append([g is not None for g in grads])
        g0, g1, _ = grads
        return (ops.convert_to_numpy(g0) * 2.0 + ops.convert_to_numpy(g1) * 3.0,)

    with keras.GradientTape(persistent=True) as tape:
        a, b, c = multi_output([x.data * 2.0, x.data * 3.0, x.data], (x,), backward)
        loss = ops.sum(a) + ops.sum(b * b)
    for _ in range(2):
        grad = ops.convert_to_numpy(tape.gradient(loss, x))
        np.testing.assert_allclose(grad, 2.0 + 3.0 * 2 * 3.0 * np.array([1.0, 2.0]))
    assert calls == [[True, True, False], [True, True, False]]


# --------------------------------------------------------------------------- layers: finite differences
def _check_layer(layer, x, kwargs=None, states=(), eps=1e-6):
    """Tape gradients of sum(outputs * W) against central differences, for every trainable weight,
    the inputs and the initial states (float64 layer)."""
    x = keras.Variable(x, dtype="float64", name="x")
    state_vars = [keras.Variable(s, dtype="float64", name=f"s{i}") for i, s in enumerate(states)]
    kwargs = dict(kwargs or {})
    if state_vars:
        kwargs["initial_state"] = state_vars

    def value():
        return _flat(layer(x, **kwargs))

    probe = value()
    w = ops.convert_to_tensor(np.random.RandomState(9).standard_normal(probe.shape) + 0.25, dtype="float64")
    sources = [*layer.trainable_weights, x, *state_vars]
    with keras.GradientTape() as tape:
        loss = ops.sum(value() * w)
    grads = tape.gradient(loss, sources)
    for var, g in zip(sources, grads):
        assert g is not None, f"{var.path}: no gradient"
        base = var.numpy()
        numeric = np.zeros_like(base)
        for j in range(base.size):
            for sign in (1, -1):
                bumped = base.copy()
                bumped.reshape(-1)[j] += sign * eps
                var.assign(bumped)
                numeric.reshape(-1)[j] += sign * float(ops.convert_to_numpy(ops.sum(value() * w))) / (2 * eps)
        var.assign(base)
        np.testing.assert_allclose(ops.convert_to_numpy(g), numeric, rtol=1e-5, atol=1e-6, err_msg=var.path)


class SteppedLSTMCell(layers.LSTMCell):
    """Overrides `call`, so the RNN layer steps it through ops instead of the whole-sequence op."""

    def call(self, inputs, states, training=False):
        return super().call(inputs, states, training=training)


class SteppedGRUCell(layers.GRUCell):
    def call(self, inputs, states, training=False):
        return super().call(inputs, states, training=training)


class SteppedSimpleRNNCell(layers.SimpleRNNCell):
    def call(self, sequence, states, training=False):
        return super().call(sequence, states, training=training)


F64 = {"dtype": "float64"}
LAYER_GRADIENT_CASES = {
    "simple_rnn_backwards_states": (lambda: layers.SimpleRNN(2, return_sequences=True, go_backwards=True,
                                                             return_state=True, **F64), 1),
    "lstm_zero_output_states": (lambda: layers.LSTM(2, return_sequences=True, return_state=True,
                                                    zero_output_for_mask=True, **F64), 2),
    "lstm_unroll": (lambda: layers.LSTM(2, return_sequences=True, unroll=True, **F64), 0),
    "gru_reset_after_states": (lambda: layers.GRU(2, return_sequences=True, return_state=True, **F64), 1),
    "gru_reset_before_backwards": (lambda: layers.GRU(2, reset_after=False, go_backwards=True, **F64), 0),
    "stepped_lstm_cell": (lambda: layers.RNN(SteppedLSTMCell(2, **F64), return_sequences=True, **F64), 0),
    "stepped_gru_cells": (lambda: layers.RNN([SteppedGRUCell(2, **F64), SteppedGRUCell(2, reset_after=False, **F64)],
                                             return_sequences=True, **F64), 0),
    "stacked_builtin_cells": (lambda: layers.RNN([layers.LSTMCell(2, **F64), layers.GRUCell(2, **F64)],
                                                 return_state=True, **F64), 0),
    "custom_two_state_cell": (lambda: layers.RNN(CELLS["TwoStateCell"](2, **F64), return_sequences=True,
                                                 return_state=True, **F64), 2),
    "bidirectional_mul": (lambda: layers.Bidirectional(layers.LSTM(2, return_sequences=True, **F64), merge_mode="mul",
                                                       **F64), 0),
}


@pytest.mark.parametrize("name", sorted(LAYER_GRADIENT_CASES))
def test_layer_gradients_finite_differences(name):
    make, n_states = LAYER_GRADIENT_CASES[name]
    layer = make()
    x = _rand(2, 4, 2)
    states = [_rand(2, 2, seed=10 + i) for i in range(n_states)]
    layer(x.astype("float64"), mask=SMALL_MASK)  # build
    layer.set_weights([np.random.RandomState(i).uniform(-0.7, 0.7, w.shape) for i, w in enumerate(layer.weights)])
    _check_layer(layer, x, {"mask": ops.convert_to_tensor(SMALL_MASK)}, states)


def test_time_distributed_gradients_both_paths():
    x = _rand(2, 3, 4)
    dense = layers.TimeDistributed(layers.Dense(2, activation="tanh", **F64), **F64)
    dense(x)
    _check_layer(dense, x)

    class PerStep(layers.Dense):  # not on the reshape list: called once per time step
        pass

    stepped = layers.TimeDistributed(PerStep(2, activation="tanh", **F64), **F64)
    stepped(x)
    stepped.set_weights(dense.get_weights())
    _check_layer(stepped, x)
    np.testing.assert_allclose(stepped(x).numpy(), dense(x).numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- whole sequence vs stepping the cell
STEPPED_PAIRS = [
    (lambda **kw: layers.LSTMCell(3, **kw), lambda **kw: SteppedLSTMCell(3, **kw)),
    (lambda **kw: layers.LSTMCell(3, implementation=1, **kw), lambda **kw: SteppedLSTMCell(3, implementation=1, **kw)),
    (lambda **kw: layers.GRUCell(3, **kw), lambda **kw: SteppedGRUCell(3, **kw)),
    (lambda **kw: layers.GRUCell(3, reset_after=False, implementation=1, **kw),
     lambda **kw: SteppedGRUCell(3, reset_after=False, implementation=1, **kw)),
    (lambda **kw: layers.SimpleRNNCell(3, **kw), lambda **kw: SteppedSimpleRNNCell(3, **kw)),
]


@pytest.mark.parametrize("pair", range(len(STEPPED_PAIRS)))
@pytest.mark.parametrize("flags", [{}, {"go_backwards": True, "return_state": True}, {"unroll": True},
                                   {"zero_output_for_mask": True}])
def test_whole_sequence_path_matches_stepping_the_cell(pair, flags):
    fast_cell, stepped_cell = STEPPED_PAIRS[pair]
    x = _rand(3, 4, 2).astype("float32")
    outputs, grads = [], []
    for make in (fast_cell, stepped_cell):
        rnn = layers.RNN(make(dropout=0.3, seed=7), return_sequences=True, **flags)
        rnn(x)
        rnn.set_weights([np.random.RandomState(i).uniform(-0.7, 0.7, w.shape) for i, w in enumerate(rnn.weights)])
        xv = keras.Variable(x)
        with keras.GradientTape() as tape:
            out = _flat(rnn(xv, mask=MASK, training=True))  # same seed: the same dropout masks
            loss = ops.sum(out * ops.arange(out.shape[0], dtype="float32"))
        outputs.append(out.numpy())
        grads.append([g.numpy() for g in tape.gradient(loss, [*rnn.trainable_weights, xv])])
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)
    for fast, stepped in zip(*grads):
        np.testing.assert_allclose(fast, stepped, rtol=1e-4, atol=1e-5)


def _counting_run_sequence(cell):
    calls = []
    original = cell.run_sequence

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    cell.run_sequence = counted
    return calls


@pytest.mark.parametrize("make, training, expected", [
    (lambda: layers.LSTM(3), False, True),
    (lambda: layers.GRU(3, reset_after=False, dropout=0.2), True, True),
    (lambda: layers.SimpleRNN(3, activation="relu"), False, True),
    (lambda: layers.LSTM(3, recurrent_dropout=0.2), False, True),
    (lambda: layers.LSTM(3, recurrent_dropout=0.2), True, False),  # per-gate recurrent masks: stepped
    (lambda: layers.GRU(3, activation=lambda t: ops.tanh(t) * 2.0), False, False),  # not a backend primitive
    (lambda: layers.RNN(SteppedLSTMCell(3)), False, False),  # `call` overridden
])
def test_builtin_cells_take_the_whole_sequence_path_when_it_gives_the_same_numbers(make, training, expected):
    layer = make()
    calls = _counting_run_sequence(layer.cell)
    layer(_rand(2, 4, 3).astype("float32"), training=training)
    assert bool(calls) == expected
    stacked = layers.RNN([layers.LSTMCell(2), layers.GRUCell(2)])
    counts = [_counting_run_sequence(c) for c in stacked.cell.cells]
    stacked(_rand(2, 4, 3).astype("float32"))
    assert counts == [[1], [1]]


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("make", [lambda **kw: layers.SimpleRNN(4, return_sequences=True, **kw),
                                  lambda **kw: layers.LSTM(4, return_sequences=True, **kw),
                                  lambda **kw: layers.GRU(4, return_sequences=True, **kw)])
@pytest.mark.parametrize("rates", [{"dropout": 0.5}, {"recurrent_dropout": 0.5}, {"dropout": 0.3,
                                                                                   "recurrent_dropout": 0.3}])
def test_dropout_is_seeded_and_active_only_in_training(make, rates):
    x = _rand(4, 5, 3).astype("float32")
    plain = make()
    plain(x)
    a, b, c = make(seed=3, **rates), make(seed=3, **rates), make(seed=4, **rates)
    for layer in (a, b, c):
        layer(x)
        layer.set_weights(plain.get_weights())
    np.testing.assert_allclose(a(x).numpy(), plain(x).numpy(), rtol=1e-6)  # inference: no dropout
    np.testing.assert_allclose(a(x, training=False).numpy(), plain(x).numpy(), rtol=1e-6)
    first = a(x, training=True).numpy()
    assert not np.allclose(first, plain(x).numpy(), atol=1e-4)
    np.testing.assert_allclose(first, b(x, training=True).numpy(), rtol=1e-6)  # same seed, same masks
    assert not np.allclose(first, c(x, training=True).numpy(), atol=1e-4)
    assert not np.allclose(first, a(x, training=True).numpy(), atol=1e-4)  # new masks each call
    with keras.GradientTape() as tape:
        loss = ops.sum(a(x, training=True))
    assert all(np.all(np.isfinite(g.numpy())) for g in tape.gradient(loss, a.trainable_weights))


def test_dropout_masks_are_the_same_at_every_time_step():
    """A linear SimpleRNN with no recurrence outputs x_t @ kernel: with the same x at every step, one
    input mask for the whole sequence gives the same output at every step."""
    layer = layers.SimpleRNN(6, activation=None, use_bias=False, recurrent_initializer="zeros", dropout=0.5,
                             return_sequences=True, seed=1)
    x = np.repeat(_rand(8, 1, 5).astype("float32"), 4, axis=1)
    out = layer(x, training=True).numpy()
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 4, axis=1), rtol=1e-6)
    kernel = layer.cell.kernel.numpy()
    dropped = np.isclose(out[:, 0], 0).sum()
    assert out.shape == (8, 4, 6) and not np.allclose(out[:, 0], x[:, 0] @ kernel) and dropped < out[:, 0].size


# --------------------------------------------------------------------------- masks in and out
def test_compute_mask_follows_keras():
    x = _rand(3, 4, 2).astype("float32")
    mask = ops.convert_to_tensor(MASK)
    seq = layers.LSTM(2, return_sequences=True)
    seq(x)
    assert seq.compute_mask(x, mask) is mask
    assert layers.LSTM(2).compute_mask(x, mask) is None
    assert layers.GRU(2, return_state=True, return_sequences=True).compute_mask(x, mask) == [mask, None]
    assert layers.LSTM(2, return_state=True).compute_mask(x, mask) == [None, None, None]
    assert layers.Bidirectional(layers.LSTM(2, return_sequences=True), merge_mode=None).compute_mask(x, mask) == [
        mask, mask]
    assert layers.Bidirectional(layers.LSTM(2, return_sequences=True)).compute_mask(x, [mask]) is mask
    assert layers.Bidirectional(layers.LSTM(2)).compute_mask(x, mask) is None


def test_masks_flow_from_embedding_through_the_recurrent_layers():
    tokens = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    embedded = layers.Embedding(8, 3, mask_zero=True)(tokens)
    seq = layers.Bidirectional(layers.GRU(2, return_sequences=True))(embedded)
    np.testing.assert_array_equal(get_keras_mask(seq).numpy(), tokens != 0)
    td = layers.TimeDistributed(layers.Dense(2))(seq)
    np.testing.assert_array_equal(get_keras_mask(td).numpy(), tokens != 0)
    last = layers.LSTM(2)(td)
    assert get_keras_mask(last) is None
    # masked steps carry the last state: the output equals that of the unpadded sequences
    lstm = layers.LSTM(2)
    padded = lstm(embedded).numpy()
    np.testing.assert_allclose(padded[0], lstm(embedded[0:1, :2]).numpy()[0], rtol=1e-5)
    np.testing.assert_allclose(padded[1], lstm(embedded[1:2, :1]).numpy()[0], rtol=1e-5)


def test_an_attached_mask_is_used_and_an_explicit_one_wins():
    x = ops.convert_to_tensor(_rand(3, 4, 2).astype("float32"))
    lstm = layers.LSTM(2, return_sequences=True)
    unmasked = lstm(x).numpy()
    set_keras_mask(x, MASK)
    attached = lstm(x).numpy()
    explicit = lstm(x, mask=np.ones((3, 4), bool)).numpy()
    assert not np.allclose(attached, unmasked)
    np.testing.assert_allclose(explicit, unmasked, rtol=1e-6)


def test_time_distributed_passes_step_masks_to_a_layer_that_takes_one():
    seen = []

    class Recorder(layers.Layer):
        def call(self, inputs, mask=None):
            seen.append(None if mask is None else mask.numpy().tolist())
            return inputs

    layers.TimeDistributed(Recorder())(_rand(3, 4, 2), mask=MASK)
    assert seen == [MASK[:, t].tolist() for t in range(4)]
    with pytest.raises(ValueError, match="does not start"):
        layers.TimeDistributed(Recorder())(_rand(3, 4, 2), mask=MASK[:, :3])


# --------------------------------------------------------------------------- states
def test_stateful_layer_keeps_states_checks_batch_and_resets():
    x = _rand(2, 3, 2).astype("float32")
    layer = layers.GRU(3, stateful=True)
    first = layer(x).numpy()
    assert [v.trainable for v in layer.states] == [False] and layer.states[0] not in layer.weights
    second = layer(x).numpy()
    assert not np.allclose(first, second)
    np.testing.assert_allclose(layer.states[0].numpy(), second, rtol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(layer(x).numpy(), first, rtol=1e-6)
    with pytest.raises(ValueError, match="batch size"):
        layer(_rand(3, 3, 2).astype("float32"))
    with pytest.raises(ValueError, match="static batch size"):
        keras.Sequential([keras.Input((3, 2)), layers.LSTM(2, stateful=True)])
    bidirectional = layers.Bidirectional(layers.LSTM(2, stateful=True))
    bidirectional(x)
    assert len(bidirectional.states) == 4
    bidirectional.reset_states()
    assert all(np.allclose(s.numpy(), 0) for s in bidirectional.states)
    with pytest.raises(AttributeError, match="stateful"):
        layers.Bidirectional(layers.LSTM(2)).reset_state()


def test_initial_states_positional_and_in_a_functional_graph():
    x = _rand(2, 3, 2).astype("float32")
    h, c = _rand(2, 4, seed=1).astype("float32"), _rand(2, 4, seed=2).astype("float32")
    lstm = layers.LSTM(4, return_state=True)
    by_keyword = [o.numpy() for o in lstm(x, initial_state=[h, c])]
    by_position = [o.numpy() for o in lstm(x, [h, c])]
    for a, b in zip(by_keyword, by_position):
        np.testing.assert_allclose(a, b)
    assert not np.allclose(by_keyword[0], lstm(x)[0].numpy())
    seq_in, h_in, c_in = keras.Input((3, 2)), keras.Input((4,)), keras.Input((4,))
    out, h_out, c_out = lstm(seq_in, initial_state=[h_in, c_in])
    assert out.shape == (None, 4) and h_out.shape == (None, 4) and c_out.shape == (None, 4)
    model = keras.Model([seq_in, h_in, c_in], [out, c_out])
    got = model.predict([x, h, c], verbose=0)
    np.testing.assert_allclose(got[0], by_keyword[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], by_keyword[2], rtol=1e-6)
    with pytest.raises(ValueError, match="batch size"):
        lstm(x, initial_state=[h[:1], c[:1]])


# --------------------------------------------------------------------------- weights, arguments
def test_weight_names_layouts_and_initializers_follow_keras():
    x = _rand(2, 3, 5).astype("float32")
    lstm = layers.LSTM(4)
    lstm(x)
    assert [(w.name, w.shape) for w in lstm.weights] == [("kernel", (5, 16)), ("recurrent_kernel", (4, 16)),
                                                         ("bias", (16,))]
    np.testing.assert_array_equal(lstm.cell.bias.numpy(), np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    r = lstm.cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(r @ r.T, np.eye(4), atol=1e-5)  # orthogonal
    gru = layers.GRU(4)
    gru(x)
    assert [w.shape for w in gru.weights] == [(5, 12), (4, 12), (2, 12)]
    gru_v1 = layers.GRU(4, reset_after=False, use_bias=False)
    gru_v1(x)
    assert [w.shape for w in gru_v1.weights] == [(5, 12), (4, 12)]
    no_forget = layers.LSTM(2, unit_forget_bias=False, bias_initializer="ones")
    no_forget(x)
    np.testing.assert_array_equal(no_forget.cell.bias.numpy(), np.ones(8))
    assert lstm.units == 4 and lstm.recurrent_activation is keras.activations.sigmoid and gru.reset_after


def test_regularizers_and_constraints_reach_the_cell_weights():
    layer = layers.LSTM(2, kernel_regularizer="l2", recurrent_regularizer="l1", bias_regularizer="l2",
                        activity_regularizer="l2", recurrent_constraint="non_neg")
    layer(_rand(2, 3, 2).astype("float32"))
    assert len(layer.losses) == 4
    assert layer.cell.recurrent_kernel.constraint is not None


@pytest.mark.parametrize("make, message", [
    (lambda: layers.LSTM(0), "units"),
    (lambda: layers.GRU(2.5), "units"),
    (lambda: layers.SimpleRNN(2, dropout=1.0), "dropout"),
    (lambda: layers.LSTM(2, recurrent_dropout=-0.1), "recurrent_dropout"),
    (lambda: layers.LSTM(2, use_cudnn=True), "cuDNN"),
    (lambda: layers.GRU(2, use_cudnn="yes"), "use_cudnn"),
    (lambda: layers.LSTMCell(2, implementation=3), "implementation"),
    (lambda: layers.GRU(2, seed="x"), "seed"),
    (lambda: layers.LSTM(2, return_sequences="yes"), "return_sequences"),
    (lambda: layers.RNN(object()), "call"),
    (lambda: layers.RNN(CELLS["MinimalRNNCell"](2), stateful=None), "stateful"),
    (lambda: layers.StackedRNNCells([]), "non-empty"),
    (lambda: layers.Bidirectional(layers.LSTM(2), merge_mode="max"), "merge_mode"),
    (lambda: layers.Bidirectional(layers.Dense(2)), "go_backwards"),
    (lambda: layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2)), "go_backwards"),
    (lambda: layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2, go_backwards=True,
                                                                             return_sequences=True)),
     "return_sequences"),
    (lambda: layers.TimeDistributed("dense"), "Layer instance"),
])
def test_arguments_are_validated(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_call_errors_are_clear():
    with pytest.raises(ValueError, match="time, features"):
        layers.LSTM(2)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="unroll"):
        keras.Sequential([keras.Input((None, 2)), layers.GRU(2, unroll=True)])
    with pytest.raises(ValueError, match="mask"):
        layers.LSTM(2)(np.zeros((2, 3, 2), "float32"), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="3 dimensions"):
        layers.TimeDistributed(layers.Dense(2))(np.zeros((2, 3), "float32"))


# --------------------------------------------------------------------------- configs and saving
CONFIG_CASES = [
    lambda: layers.SimpleRNN(3, activation="relu", dropout=0.1, return_sequences=True, seed=1),
    lambda: layers.LSTM(3, recurrent_activation="hard_sigmoid", unit_forget_bias=False, go_backwards=True,
                        kernel_regularizer="l2", recurrent_constraint="non_neg", return_state=True),
    lambda: layers.GRU(3, reset_after=False, use_bias=False, unroll=True, stateful=False),
    lambda: layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], return_sequences=True, zero_output_for_mask=True),
    lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="ave"),
    lambda: layers.Bidirectional(layers.LSTM(3), backward_layer=layers.GRU(3, go_backwards=True), merge_mode=None),
    lambda: layers.TimeDistributed(layers.Dense(2, activation="tanh")),
]


@pytest.mark.parametrize("case", range(len(CONFIG_CASES)))
def test_config_round_trip_gives_the_same_layer(case):
    layer = CONFIG_CASES[case]()
    x = _rand(2, 4, 3).astype("float32")
    out = tree.flatten(layer(x))
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    assert keras.saving.serialize_keras_object(clone)["config"] == config["config"]
    clone.set_weights(layer.get_weights())
    for a, b in zip(out, tree.flatten(clone(x))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_keras_file_round_trip_and_weight_paths(tmp_path):
    keras.saving.register_keras_serializable(package="rnn_tests")(CELLS["MinimalRNNCell"])
    inputs = keras.Input((4, 3))
    seq = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(inputs)
    seq = layers.RNN([CELLS["MinimalRNNCell"](2), layers.GRUCell(2)], return_sequences=True)(seq)
    seq = layers.TimeDistributed(layers.Dense(2))(seq)
    out = layers.SimpleRNN(2, go_backwards=True)(seq)
    model = keras.Model(inputs, out)
    model.compile(optimizer="adam", loss="mse")
    x = _rand(4, 4, 3).astype("float32")
    model.fit(x, _rand(4, 2).astype("float32"), epochs=1, verbose=0)
    path = tmp_path / "rnn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    weights_path = tmp_path / "rnn.weights.h5"
    model.save_weights(weights_path)
    with h5py.File(weights_path) as f:
        names = []
        f.visit(names.append)
    assert "layers/bidirectional/forward_layer/cell/vars/0" in names
    assert "layers/bidirectional/backward_layer/cell/vars/2" in names
    assert "layers/rnn/cell/cells/minimal_rnn_cell/vars/1" in names
    assert "layers/rnn/cell/cells/gru_cell/vars/2" in names
    assert "layers/time_distributed/layer/vars/1" in names
    assert "layers/simple_rnn/cell/vars/2" in names
