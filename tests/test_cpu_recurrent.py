"""The NumPy backend's C LSTM / GRU steps and row scatter-add (_cpu_recurrent.c via backend/cpu_recurrent.py)
against their NumPy twins (backend/fused/recurrent.py, np.add.at).

Bit for bit where the arithmetic is the twin's: every backward step, the masked rows' states and outputs,
the scatter-add. The forward gates are the one tolerance: the twin's sigmoid and tanh call NumPy's SIMD exp
and tanh, which C cannot reproduce, so the C step has its own exp (within about an ulp of the true value);
gates then differ by a few ulp (checked against float64 below), and the states built from them by as much.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import gpukeras as keras
from gpukeras.backend import cpu_recurrent, numpy_backend
from gpukeras.backend.base import Ops
from gpukeras.backend.numpy_backend import NumpyOps

pytestmark = [pytest.mark.skipif(numpy_backend.cpu_kernels is None and shutil.which("cc") is None,
                                 reason="no C compiler here, so gpukeras._cpu_kernels was not built"),
              pytest.mark.any_backend]  # NumPy arrays and NumpyOps only

TANH, SIGMOID = ("tanh", ()), ("sigmoid", ())
RULES = ["carry", "zero", "unroll"]
# W4's step (32 rows, 64 units) and an odd one (the vector loops' tails); rows 1 and 4 masked off
SHAPES = [(32, 64), (5, 7)]
# Forward tolerance: a few float32 ulp of values of order 1 (see the module docstring).
FWD_TOL = dict(rtol=1e-6, atol=2e-7)


def _f32(rng, *shape, scale=2.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


def _mask(rows):
    m = np.ones(rows, np.float32)
    m[1::3] = 0.0
    return m


def _bits_equal(a, b):
    assert (a is None) == (b is None)
    if a is not None:
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


# ---------------------------------------------------------------------------------- the nonlinearities
def _gates_of(x):
    """The C step's sigmoid (gate i) and tanh (gate c) of `x`, read from a 1-row LSTM step with hr = -0
    (x + -0 is x, -0 included)."""
    units = x.size
    z = np.zeros((1, 4 * units), np.float32)
    z[0, :units], z[0, 2 * units:3 * units] = x, x
    zero = np.zeros((1, units), np.float32)
    _, _, _, (_, gates, _, _) = cpu_recurrent.lstm_step(numpy_backend.cpu_kernels, z, np.full_like(z, -0.0), None,
                                                        zero, zero, None, None, TANH, SIGMOID)
    return gates[0, 0], gates[2, 0]


def _ulps(got, want):
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)


def test_c_sigmoid_and_tanh_are_within_a_few_ulp_of_float64():
    # Dense over the range the gates see, past both saturation points, the tanh series/exp switch at 0.3,
    # and subnormal results (sigmoid(-100) = 3.7e-44).
    x = np.concatenate([np.linspace(-110, 110, 40001), np.linspace(-0.4, 0.4, 4001)]).astype(np.float32)
    sig, tanh = _gates_of(x)
    x64 = x.astype(np.float64)
    want_sig = np.exp(-np.logaddexp(0.0, -x64))
    normal = want_sig > 1.2e-38
    assert _ulps(sig, want_sig)[normal].max() <= 3
    np.testing.assert_allclose(sig[~normal], want_sig[~normal], rtol=0, atol=2e-45)
    assert _ulps(tanh, np.tanh(x64)).max() <= 3
    # and within the same few ulp of the twin's NumPy formulas
    twin = NumpyOps()
    np.testing.assert_allclose(sig, twin.activation("sigmoid", x), rtol=5e-7, atol=2e-45)
    np.testing.assert_allclose(tanh, twin.activation("tanh", x), rtol=5e-7, atol=0)


def test_c_nonlinearities_keep_the_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 200.0, -200.0], np.float32)
    sig, tanh = _gates_of(x)
    np.testing.assert_array_equal(sig, np.float32([0.5, 0.5, 1.0, 0.0, np.nan, 0.5, 0.5, 1.0, 0.0]))
    np.testing.assert_array_equal(tanh, np.float32([0.0, -0.0, 1.0, -1.0, np.nan, 1e-30, -1e-30, 1.0, -1.0]))
    assert np.signbit(tanh[1]) and not np.signbit(tanh[0])


# ---------------------------------------------------------------------------------- LSTM
@pytest.mark.parametrize("rows,units", SHAPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_lstm_step_forward_matches_twin(rows, units, with_bias):
    rng = np.random.default_rng(rows + units)
    x, hr = _f32(rng, rows, 4 * units), _f32(rng, rows, 4 * units)
    bias = _f32(rng, 4 * units) if with_bias else None
    h, c, fb = _f32(rng, rows, units), _f32(rng, rows, units), _f32(rng, rows, units)
    ops = NumpyOps()
    for mask in (None, _mask(rows)):
        for fallback in (None, fb):
            fast = ops.lstm_step(x, hr, bias, h, c, mask, fallback, TANH, SIGMOID)
            twin = Ops.lstm_step(ops, x, hr, bias, h, c, mask, fallback, TANH, SIGMOID)
            assert isinstance(fast[3][1], np.ndarray)  # the C step ran (its gates come as one array)
            for got, want in zip(fast[:3], twin[:3]):
                np.testing.assert_allclose(got, want, **FWD_TOL)
            _bits_equal(fast[3][0], twin[3][0])  # z = x + hr (+ bias): plain float32 adds
            np.testing.assert_allclose(fast[3][1], np.stack(twin[3][1]), **FWD_TOL)
            if mask is not None:  # masked-off rows keep their states and give the fallback, exactly
                off = mask == 0
                _bits_equal(fast[0][off], h[off])
                _bits_equal(fast[1][off], c[off])
                _bits_equal(fast[2][off], np.zeros_like(h[off]) if fallback is None else fb[off])


def _check_backward_bits(method, saved_of, args_of, rows):
    """For each mask (none, some rows off) and dout (none, given): `method` of NumpyOps (the C step) and of the
    generic code, on the same saved values and gradients, give the same bits."""
    ops = NumpyOps()
    for mask in (None, _mask(rows)):
        saved = saved_of(ops, mask)
        for with_dout in (False, True):
            args = args_of(saved, mask, with_dout)
            for got, want in zip(getattr(ops, method)(*args), getattr(Ops, method)(ops, *args)):
                _bits_equal(got, want)


@pytest.mark.parametrize("rows,units", SHAPES)
@pytest.mark.parametrize("rule", RULES)
def test_lstm_step_backward_matches_twin_bit_for_bit(rows, units, rule):
    rng = np.random.default_rng(7)
    x, hr, bias = _f32(rng, rows, 4 * units), _f32(rng, rows, 4 * units), _f32(rng, 4 * units)
    h, c = _f32(rng, rows, units), _f32(rng, rows, units)
    dh, dc, dout = _f32(rng, rows, units), _f32(rng, rows, units), _f32(rng, rows, units)
    dh[0, :3] = [-0.0, np.nan, np.inf]
    _check_backward_bits("lstm_step_backward",
                         lambda ops, mask: ops.lstm_step(x, hr, bias, h, c, mask, h, TANH, SIGMOID)[3],
                         lambda saved, mask, d: (dh, dc, dout if d else None, saved, c, mask, rule, TANH, SIGMOID),
                         rows)


# ---------------------------------------------------------------------------------- GRU (reset_after)
@pytest.mark.parametrize("rows,units", SHAPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_gru_step_forward_matches_twin(rows, units, with_bias):
    rng = np.random.default_rng(3 * rows + units)
    x, hr = _f32(rng, rows, 3 * units), _f32(rng, rows, 3 * units)
    rbias = _f32(rng, 3 * units) if with_bias else None
    h, fb = _f32(rng, rows, units), _f32(rng, rows, units)
    ops = NumpyOps()
    for mask in (None, _mask(rows)):
        for fallback in (None, fb):
            fast = ops.gru_step(x, hr, rbias, h, mask, fallback, TANH, SIGMOID)
            twin = Ops.gru_step(ops, x, hr, rbias, h, mask, fallback, TANH, SIGMOID)
            assert isinstance(fast[2][1], np.ndarray)
            for got, want in zip(fast[:2], twin[:2]):
                np.testing.assert_allclose(got, want, **FWD_TOL)
            _bits_equal(fast[2][0][:2], np.stack(twin[2][0][:2]))  # z and r pre-activations: plain adds
            np.testing.assert_allclose(fast[2][1], np.stack(twin[2][1]), **FWD_TOL)
            _bits_equal(fast[2][2], np.ascontiguousarray(twin[2][2]))  # inner_h
            if mask is not None:
                off = mask == 0
                _bits_equal(fast[0][off], h[off])
                _bits_equal(fast[1][off], np.zeros_like(h[off]) if fallback is None else fb[off])


@pytest.mark.parametrize("rows,units", SHAPES)
@pytest.mark.parametrize("rule", RULES)
def test_gru_step_backward_matches_twin_bit_for_bit(rows, units, rule):
    rng = np.random.default_rng(11)
    x, hr, rbias = _f32(rng, rows, 3 * units), _f32(rng, rows, 3 * units), _f32(rng, 3 * units)
    h, dh, dout = _f32(rng, rows, units), _f32(rng, rows, units), _f32(rng, rows, units)
    dh[0, :3] = [-0.0, np.nan, np.inf]
    _check_backward_bits("gru_step_backward",
                         lambda ops, mask: ops.gru_step(x, hr, rbias, h, mask, h, TANH, SIGMOID)[2],
                         lambda saved, mask, d: (dh, dout if d else None, saved, h, mask, rule, TANH, SIGMOID), rows)


# ---------------------------------------------------------------------------------- what the C steps leave
def test_steps_leave_other_activations_and_dtypes_to_the_twin():
    kernels = numpy_backend.cpu_kernels
    rng = np.random.default_rng(0)
    x, h = _f32(rng, 3, 16), _f32(rng, 3, 4)
    assert cpu_recurrent.lstm_step(kernels, x, x, None, h, h, None, None, TANH, SIGMOID) is not None
    assert cpu_recurrent.lstm_step(kernels, x, x, None, h, h, None, None, ("relu", ()), SIGMOID) is None
    assert cpu_recurrent.lstm_step(kernels, x, x, None, h, h, None, None, TANH, ("hard_sigmoid", ())) is None
    assert cpu_recurrent.lstm_step(kernels, x.astype(np.float64), x, None, h, h, None, None, TANH, SIGMOID) is None
    # a float64 mask (not the step's dtype) is the twin's too, and the backend still answers
    got = NumpyOps().lstm_step(x, x, None, h, h, np.ones(3), None, TANH, SIGMOID)
    assert isinstance(got[3][1], tuple)
    # strided inputs are copied, not refused
    wide = _f32(rng, 3, 32)
    assert cpu_recurrent.lstm_step(kernels, wide[:, ::2], x, None, h, h, None, None, TANH, SIGMOID) is not None


def test_step_kernels_refuse_wrong_sizes():
    kernels = numpy_backend.cpu_kernels
    a = np.zeros((2, 8), np.float32)
    s = np.zeros((2, 2), np.float32)
    g = np.zeros((4, 2, 2), np.float32)
    with pytest.raises(ValueError, match="hr must hold 16"):
        kernels.lstm_step(a, a[:1], None, s, s, None, None, a, g, s, s, s, None, None, 2, 2)
    with pytest.raises(TypeError, match="float32"):
        kernels.lstm_step(a, a.astype(np.float64), None, s, s, None, None, a, g, s, s, s, None, None, 2, 2)
    with pytest.raises(ValueError, match="dh_skip goes with a mask"):
        kernels.lstm_step_backward(s, s, None, g, s, s, None, a, s, s, None, 2, 2, 0)
    with pytest.raises(ValueError, match="positive"):
        kernels.gru_step_backward(s, None, g, s, s, None, a, a, s, None, 2, 2, 5)


# ---------------------------------------------------------------------------------- scatter-add
def _scatter_twins(out_shape, idx, values):
    fast, twin = np.zeros(out_shape, np.float32), np.zeros(out_shape, np.float32)
    NumpyOps().scatter_add(fast, idx, values)
    np.add.at(twin, idx, values)
    return fast, twin


def test_scatter_add_rows_matches_add_at_bit_for_bit():
    rng = np.random.default_rng(5)
    # W4's Embedding gradient: 32 x 200 token ids (many repeats) into a 20000 x 128 table, and a small
    # table where every row repeats often (the order of the sums matters), negative ids counting from the end
    for rows, cols, n in ((20000, 128, 6400), (13, 5, 999)):
        idx = rng.integers(-rows if rows < 100 else 0, rows, size=n).astype(np.int64)
        values = _f32(rng, n, cols)
        values[0, 0] = np.nan
        _bits_equal(*_scatter_twins((rows, cols), idx, values))
    idx = rng.integers(0, 9, size=40).astype(np.int64)
    _bits_equal(*_scatter_twins((9,), idx, _f32(rng, 40)))  # 1-D: rows of one value
    _bits_equal(*_scatter_twins((9, 2, 3), idx, _f32(rng, 40, 2, 3)))  # rows of a 3-D array


def test_scatter_add_leaves_other_indexing_to_add_at():
    kernels = numpy_backend.cpu_kernels
    out = np.zeros((6, 3), np.float32)
    values = np.ones((4, 3), np.float32)
    assert not cpu_recurrent.scatter_add_rows(kernels, out, np.array([0, 1, 1, 5], np.int32), values)
    assert not cpu_recurrent.scatter_add_rows(kernels, out.astype(np.float64), np.arange(4), values)
    assert not cpu_recurrent.scatter_add_rows(kernels, out, (slice(None), 0), values)
    assert not out.any()
    _bits_equal(*_scatter_twins((6, 3), np.array([0, 1, 1, 5], np.int32), values))  # via np.add.at
    with pytest.raises(IndexError, match="out of bounds"):
        NumpyOps().scatter_add(out, np.array([0, 6], np.int64), values[:2])
    with pytest.raises(IndexError, match="out of bounds"):
        NumpyOps().scatter_add(out, np.array([-7], np.int64), values[:1])
    assert not out.any()  # checked before any row is added


# ---------------------------------------------------------------------------------- whole layers
@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_recurrent_training_with_c_steps_matches_the_twin(monkeypatch, layer):
    """An Embedding -> LSTM/GRU -> Dense model trained three steps with the C kernels and without: the same
    losses and weights but for the gates' few ulp, carried through the steps."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, size=(8, 12)).astype("int32")
    x[:2, -3:] = 0  # padding: mask_zero masks these steps
    y = rng.integers(0, 2, size=(8, 1)).astype("float32")

    def train():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(50, 16, mask_zero=True),
                                  getattr(keras.layers, layer)(8, return_sequences=True),
                                  getattr(keras.layers, layer)(6), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
        return losses, model.get_weights()

    keras.backend.set_backend("numpy")
    fast = train()
    monkeypatch.setattr(numpy_backend, "cpu_kernels", None)
    twin = train()
    np.testing.assert_allclose(fast[0], twin[0], rtol=1e-5)
    for a, b in zip(fast[1], twin[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
