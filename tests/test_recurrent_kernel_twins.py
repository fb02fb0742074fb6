"""kernels/recurrent.cu against its NumPy twin (gpukeras/backend/fused/recurrent.py), and the twin
against float64 formulas.

CPU (always): one LSTM / GRU (reset_after) step of the generic code (NumpyOps) against a float64
step written out here, forward with and without a mask, and its backward against central differences
of the float64 step, for every masked-output rule. GPU (marked `gpu`; without one they run on
cupy-emulated, the kernels compiled for the CPU): CupyOps' steps against the generic code on the same
CuPy arrays, float32 and float16, each inside a launch check so a silent fallback fails; the cases the
kernels leave to the generic code; and an LSTM/GRU layer's training step running the kernels.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend
from gpukeras.backend import kernels as K
from gpukeras.backend.base import Ops
from gpukeras.backend.numpy_backend import NumpyOps

NP = NumpyOps()
ROWS, UNITS = 3, 4
MASK = np.array([1.0, 0.0, 1.0])
ACTS = [(("tanh", ()), ("sigmoid", ())), (("relu", (0.1, 4.0, 0.5)), ("hard_sigmoid", ())),
        (("linear", ()), ("softsign", ()))]
RULES = ["carry", "zero", "unroll"]


def _rand(shape, seed):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, size=shape)


def _act(spec, x):
    return NP.activation(spec[0], np.asarray(x, np.float64), spec[1])


# ---------------------------------------------------------------------------------- float64 references
def _lstm_ref(x, hr, bias, h, c, mask, fallback, act, ract):
    """(h, c, out) of one LSTM step, written out in float64."""
    u = h.shape[1]
    z = x + hr + (0 if bias is None else bias)
    i, f, o = _act(ract, z[:, :u]), _act(ract, z[:, u:2 * u]), _act(ract, z[:, 3 * u:])
    c_new = f * c + i * _act(act, z[:, 2 * u:3 * u])
    h_new = o * _act(act, c_new)
    if mask is None:
        return h_new, c_new, h_new
    m = mask[:, None] != 0
    fb = 0 if fallback is None else fallback
    return np.where(m, h_new, h), np.where(m, c_new, c), np.where(m, h_new, fb)


def _gru_ref(x, hr, rbias, h, mask, fallback, act, ract):
    """(h, out) of one GRU step (reset_after), written out in float64."""
    u = h.shape[1]
    inner = hr + (0 if rbias is None else rbias)
    z = _act(ract, x[:, :u] + inner[:, :u])
    r = _act(ract, x[:, u:2 * u] + inner[:, u:2 * u])
    hh = _act(act, x[:, 2 * u:] + r * inner[:, 2 * u:])
    h_new = z * h + (1 - z) * hh
    if mask is None:
        return h_new, h_new
    m = mask[:, None] != 0
    return np.where(m, h_new, h), np.where(m, h_new, 0 if fallback is None else fallback)


def _numeric(fn, arrays, index, weights, eps=1e-6):
    """d sum(fn(*arrays) . weights) / d arrays[index], by central differences."""
    base = arrays[index]
    grad = np.zeros_like(base)
    for j in range(base.size):
        for sign in (1, -1):
            bumped = base.copy()
            bumped.reshape(-1)[j] += sign * eps
            outs = fn(*[bumped if k == index else a for k, a in enumerate(arrays)])
            grad.reshape(-1)[j] += sign * sum(np.sum(o * w) for o, w in zip(outs, weights)) / (2 * eps)
    return grad


# ---------------------------------------------------------------------------------- CPU twins
@pytest.mark.any_backend
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("acts", range(len(ACTS)))
def test_numpy_lstm_step_twin_matches_float64(acts, rule):
    act, ract = ACTS[acts]
    x, hr = _rand((ROWS, 4 * UNITS), 1), _rand((ROWS, 4 * UNITS), 2)
    bias, h, c, fb = _rand((4 * UNITS,), 3), _rand((ROWS, UNITS), 4), _rand((ROWS, UNITS), 5), _rand((ROWS, UNITS), 6)
    for mask in (None, MASK):
        got = NP.lstm_step(x, hr, bias, h, c, mask, fb, act, ract)[:3]
        for g, want in zip(got, _lstm_ref(x, hr, bias, h, c, mask, fb, act, ract)):
            np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)
    # backward: the gradients of sum(h * wh + c * wc + out * wo) against central differences
    wh, wc, wo = _rand((ROWS, UNITS), 7), _rand((ROWS, UNITS), 8), _rand((ROWS, UNITS), 9)
    fallback = {"carry": h, "zero": None, "unroll": fb}[rule]
    _, _, _, saved = NP.lstm_step(x, hr, bias, h, c, MASK, fallback, act, ract)
    dz, dh_skip, dc_prev, dout_prev = NP.lstm_step_backward(wh, wc, wo, saved, c, MASK, rule, act, ract)

    def step(x_, h_, c_, fb_):
        fb_ = {"carry": h_, "zero": None, "unroll": fb_}[rule]
        return _lstm_ref(x_, hr, bias, h_, c_, MASK, fb_, act, ract)

    arrays = [x, h, c, fb]
    np.testing.assert_allclose(dz, _numeric(step, arrays, 0, (wh, wc, wo)), rtol=1e-6, atol=1e-7)
    # h_prev reaches the step through hr (dz @ R^T, the caller's) and directly (dh_skip)
    np.testing.assert_allclose(dh_skip, _numeric(step, arrays, 1, (wh, wc, wo)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dc_prev, _numeric(step, arrays, 2, (wh, wc, wo)), rtol=1e-6, atol=1e-7)
    want_prev = _numeric(step, arrays, 3, (wh, wc, wo))
    np.testing.assert_allclose(dout_prev if rule == "unroll" else 0.0, want_prev, rtol=1e-6, atol=1e-7)


@pytest.mark.any_backend
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("acts", range(len(ACTS)))
def test_numpy_gru_step_twin_matches_float64(acts, rule):
    act, ract = ACTS[acts]
    x, hr = _rand((ROWS, 3 * UNITS), 1), _rand((ROWS, 3 * UNITS), 2)
    rbias, h, fb = _rand((3 * UNITS,), 3), _rand((ROWS, UNITS), 4), _rand((ROWS, UNITS), 6)
    for mask in (None, MASK):
        got = NP.gru_step(x, hr, rbias, h, mask, fb, act, ract)[:2]
        for g, want in zip(got, _gru_ref(x, hr, rbias, h, mask, fb, act, ract)):
            np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)
    wh, wo = _rand((ROWS, UNITS), 7), _rand((ROWS, UNITS), 9)
    fallback = {"carry": h, "zero": None, "unroll": fb}[rule]
    _, _, saved = NP.gru_step(x, hr, rbias, h, MASK, fallback, act, ract)
    dx, dinner, dh_skip, dout_prev = NP.gru_step_backward(wh, wo, saved, h, MASK, rule, act, ract)

    def step(x_, hr_, h_, fb_):
        fb_ = {"carry": h_, "zero": None, "unroll": fb_}[rule]
        return _gru_ref(x_, hr_, rbias, h_, MASK, fb_, act, ract)

    arrays = [x, hr, h, fb]
    np.testing.assert_allclose(dx, _numeric(step, arrays, 0, (wh, wo)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dinner, _numeric(step, arrays, 1, (wh, wo)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dh_skip, _numeric(step, arrays, 2, (wh, wo)), rtol=1e-6, atol=1e-7)
    want_prev = _numeric(step, arrays, 3, (wh, wo))
    np.testing.assert_allclose(dout_prev if rule == "unroll" else 0.0, want_prev, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------- GPU
def _cupy_ops():
    if backend.backend() != "cupy":
        pytest.skip("kernel tests run under the cupy backend (a GPU, or cupy-emulated on the CPU)")
    from gpukeras.backend.cupy_backend import CupyOps

    return CupyOps()


@contextlib.contextmanager
def _launches(*names: str):
    """Fail unless each kernel ran inside the block (a build failure falls back to generic code silently)."""
    before = K.launch_counts.copy()
    yield
    missing = [n for n in names if K.launch_counts[n] == before[n]]
    assert not missing, f"these kernels never ran (generic fallback?): {missing}"


def _close(got, want, dtype, what):
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == "float32" else dict(rtol=2e-2, atol=2e-2)
    if want is None:
        assert got is None, what
        return
    xp = backend.active.xp
    got, want = (xp.stack(a) if isinstance(a, tuple) else a for a in (got, want))  # per-gate values, gate-major
    assert got.dtype == want.dtype, what
    np.testing.assert_allclose(backend.active.to_numpy(got).astype(float), backend.active.to_numpy(want).astype(float),
                               err_msg=what, **tol)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("acts", range(len(ACTS)))
def test_gpu_lstm_step_matches_the_generic_twin(acts, rule, dtype):
    cp = _cupy_ops()
    act, ract = ACTS[acts]
    a = [cp.asarray(_rand(s, i).astype(dtype)) for i, s in enumerate(
        [(ROWS, 4 * UNITS), (ROWS, 4 * UNITS), (4 * UNITS,), (ROWS, UNITS), (ROWS, UNITS), (ROWS, UNITS),
         (ROWS, UNITS), (ROWS, UNITS), (ROWS, UNITS)])]
    x, hr, bias, h, c, fb, dh, dc, dout = a
    sfx = K.DTYPE_SUFFIX[dtype]
    for mask in (None, cp.asarray(MASK.astype(dtype))):
        fallback = {"carry": h, "zero": None, "unroll": fb}[rule] if mask is not None else None
        with _launches(f"gk_lstm_step_fwd_{sfx}", f"gk_lstm_step_bwd_{sfx}"):
            got = cp.lstm_step(x, hr, bias, h, c, mask, fallback, act, ract)
            got_b = cp.lstm_step_backward(dh, dc, dout, got[3], c, mask, rule, act, ract)
        want = Ops.lstm_step(cp, x, hr, bias, h, c, mask, fallback, act, ract)
        want_b = Ops.lstm_step_backward(cp, dh, dc, dout, want[3], c, mask, rule, act, ract)
        for what, g, w in zip(["h", "c", "out"], got[:3], want[:3]):
            _close(g, w, dtype, f"{what} (mask {mask is not None})")
        for what, g, w in zip(["z", "gates", "c_new", "act_c"], got[3], want[3]):
            _close(g, w, dtype, f"saved {what} (mask {mask is not None})")
        for what, g, w in zip(["dz", "dh_skip", "dc_prev", "dout_prev"], got_b, want_b):
            _close(g, w, dtype, f"{what} (mask {mask is not None}, {rule})")
        # each backward also takes the other's saved values (a fallback on one side only)
        with _launches(f"gk_lstm_step_bwd_{sfx}"):
            mixed = cp.lstm_step_backward(dh, dc, dout, want[3], c, mask, rule, act, ract)
        for what, g, w in zip(["dz", "dh_skip", "dc_prev", "dout_prev"], mixed, want_b):
            _close(g, w, dtype, f"{what} from the generic forward")
        for what, g, w in zip(["dz", "dh_skip", "dc_prev", "dout_prev"],
                              Ops.lstm_step_backward(cp, dh, dc, dout, got[3], c, mask, rule, act, ract), want_b):
            _close(g, w, dtype, f"generic {what} from the kernel's forward")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("acts", range(len(ACTS)))
def test_gpu_gru_step_matches_the_generic_twin(acts, rule, dtype):
    cp = _cupy_ops()
    act, ract = ACTS[acts]
    a = [cp.asarray(_rand(s, i).astype(dtype)) for i, s in enumerate(
        [(ROWS, 3 * UNITS), (ROWS, 3 * UNITS), (3 * UNITS,), (ROWS, UNITS), (ROWS, UNITS), (ROWS, UNITS),
         (ROWS, UNITS)])]
    x, hr, rbias, h, fb, dh, dout = a
    sfx = K.DTYPE_SUFFIX[dtype]
    for mask in (None, cp.asarray(MASK.astype(dtype))):
        fallback = {"carry": h, "zero": None, "unroll": fb}[rule] if mask is not None else None
        for bias in (rbias, None):
            with _launches(f"gk_gru_step_fwd_{sfx}", f"gk_gru_step_bwd_{sfx}"):
                got = cp.gru_step(x, hr, bias, h, mask, fallback, act, ract)
                got_b = cp.gru_step_backward(dh, dout, got[2], h, mask, rule, act, ract)
            want = Ops.gru_step(cp, x, hr, bias, h, mask, fallback, act, ract)
            want_b = Ops.gru_step_backward(cp, dh, dout, want[2], h, mask, rule, act, ract)
            for what, g, w in zip(["h", "out"], got[:2], want[:2]):
                _close(g, w, dtype, what)
            for what, g, w in zip(["pre", "post", "inner_h"], got[2], want[2]):
                _close(g, w, dtype, f"saved {what}")
            for what, g, w in zip(["dx", "dinner", "dh_skip", "dout_prev"], got_b, want_b):
                _close(g, w, dtype, f"{what} ({rule})")


@pytest.mark.gpu
def test_gpu_recurrent_steps_leave_the_rest_to_the_generic_code():
    """A softmax gate, float64, or mixed dtypes: no kernel, the generic code's numbers."""
    cp = _cupy_ops()
    x, hr = (cp.asarray(_rand((ROWS, 4 * UNITS), i).astype("float32")) for i in (1, 2))
    h, c = (cp.asarray(_rand((ROWS, UNITS), i).astype("float32")) for i in (3, 4))
    before = K.launch_counts["gk_lstm_step_fwd_f32"]
    got = cp.lstm_step(x, hr, None, h, c, None, None, ("tanh", ()), ("softmax", ()))
    want = Ops.lstm_step(NP, *(cp.to_numpy(a) for a in (x, hr)), None, cp.to_numpy(h), cp.to_numpy(c), None, None,
                         ("tanh", ()), ("softmax", ()))
    np.testing.assert_allclose(cp.to_numpy(got[0]), want[0], rtol=1e-5, atol=1e-6)
    cp.lstm_step(*(a.astype("float64") for a in (x, hr)), None, h.astype("float64"), c.astype("float64"), None, None,
                 ("tanh", ()), ("sigmoid", ()))
    cp.lstm_step(x, hr, None, h, c.astype("float16"), None, None, ("tanh", ()), ("sigmoid", ()))
    assert K.launch_counts["gk_lstm_step_fwd_f32"] == before


@pytest.mark.gpu
@pytest.mark.parametrize("layer", ["lstm", "gru"])
def test_gpu_recurrent_layers_train_through_the_kernels(layer):
    """A masked, backward-running LSTM / GRU layer's training step launches the step kernels and gives
    the NumPy backend's numbers."""
    _cupy_ops()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    mask = np.ones((4, 6), bool)
    mask[1, 4:] = mask[2, :2] = False
    results = []
    for name in ("numpy", "cupy"):
        backend.set_backend(name)
        keras.utils.set_random_seed(3)
        make = keras.layers.LSTM if layer == "lstm" else keras.layers.GRU
        rnn = make(5, return_sequences=True, go_backwards=True)
        xv = keras.Variable(x)
        with _launches(f"gk_{layer}_step_fwd_f32", f"gk_{layer}_step_bwd_f32") if name == "cupy" \
                else contextlib.nullcontext():
            with keras.GradientTape() as tape:
                loss = keras.ops.sum(keras.ops.square(rnn(xv, mask=mask)))
            grads = tape.gradient(loss, [*rnn.trainable_weights, xv])
        results.append([keras.ops.convert_to_numpy(t) for t in (loss, *grads)])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
