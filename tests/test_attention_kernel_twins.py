"""kernels/attention.cu against its NumPy twin (gpukeras/backend/fused/attention.py), and the twin against
float64 formulas.

CPU (always): the generic attention (NumpyOps) against independent float64 formulas, both masked-row
modes and with dropout factors. GPU (marked `gpu`; on a machine without one they run on cupy-emulated,
the kernels compiled for the CPU): CupyOps.attention and attention_backward against the generic code on
the same CuPy arrays with the same dropout seed, float32 and float16, each wrapped in a launch check so
a silent fallback fails; and the cases the kernels leave to the generic code.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

from gpukeras import backend
from gpukeras.backend import kernels as K
from gpukeras.backend.base import Ops
from gpukeras.backend.numpy_backend import NumpyOps
from gpukeras.backend.philox import philox_dropout_mask

NP = NumpyOps()
MASKED = -0.7 * np.finfo(np.float32).max


def _rand(shape, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def _reference(q, k, v, mask, causal, scale, zero_rows, drop=None):
    """float64 attention over explicit (B, N, T, S) weights (keys repeated over the query heads)."""
    g = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, g, axis=2), np.repeat(v, g, axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    keep = np.ones(logits.shape, bool)
    if mask is not None:
        keep &= np.broadcast_to(mask, logits.shape)
    if causal:
        keep &= np.tri(logits.shape[2], logits.shape[3], dtype=bool)
    if zero_rows:
        masked = np.where(keep, logits, -np.inf)
        top = masked.max(-1, keepdims=True)
        e = np.exp(masked - np.where(np.isfinite(top), top, 0.0))
        total = e.sum(-1, keepdims=True)
        p = e / np.where(total == 0, 1, total)
    else:
        logits = np.where(keep, logits, MASKED)
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
    w = p if drop is None else p * drop
    return np.einsum("bnts,bsnh->btnh", w, v)


# (B, T, S, N, K, H, Hv, causal, mask shape or None, zero_rows, dropout rate)
CASES = {
    "plain": (2, 5, 7, 2, 2, 3, 4, False, None, False, 0.0),
    "tiles_wide_heads": (1, 20, 40, 2, 1, 40, 36, False, None, False, 0.0),
    "causal_square": (2, 18, 18, 2, 2, 8, 8, True, None, False, 0.0),
    "causal_more_keys": (1, 9, 37, 4, 2, 5, 5, True, None, False, 0.0),
    "padding_uniform_rows": (2, 6, 9, 2, 2, 4, 4, False, (2, 1, 6, 9), False, 0.0),
    "padding_zero_rows": (2, 6, 9, 2, 2, 4, 4, False, (2, 1, 6, 9), True, 0.0),
    "key_mask_causal": (2, 7, 7, 4, 1, 3, 3, True, (2, 1, 1, 7), False, 0.0),
    "shared_mask_dropout": (2, 6, 35, 2, 2, 4, 6, False, (6, 35), True, 0.3),
    "causal_dropout": (1, 17, 17, 2, 1, 4, 4, True, None, False, 0.5),
}


def _inputs(case, dtype, seed=0):
    b, t, s, n, kh, h, hv, causal, mask_shape, zero_rows, rate = case
    q, k, v = _rand((b, t, n, h), seed), _rand((b, s, kh, h), seed + 1), _rand((b, s, kh, hv), seed + 2)
    dout = _rand((b, t, n, hv), seed + 3)
    mask = None
    if mask_shape is not None:
        mask = _rand(mask_shape, seed + 4) > -0.2
        if len(mask_shape) == 4 and mask_shape[2] > 1:
            mask[..., 1, :] = False  # a query row with no key allowed
    return [x.astype(dtype) for x in (q, k, v, dout)], mask


@pytest.mark.any_backend
@pytest.mark.parametrize("zero_rows", [False, True])
@pytest.mark.parametrize("name", ["plain", "padding_uniform_rows", "key_mask_causal", "causal_more_keys"])
def test_numpy_attention_twin_matches_float64(name, zero_rows):
    case = CASES[name]
    (q, k, v, dout), mask = _inputs(case, "float64")
    causal, scale = case[7], 0.6
    rng = np.random.default_rng(5)
    out, saved = NP.attention(q, k, v, None, mask, causal, scale, zero_rows, 0.25, rng)
    drop = saved.dropout_mask
    assert set(np.unique(drop)) <= {0.0, 1 / 0.75}
    np.testing.assert_allclose(out, _reference(q, k, v, mask, causal, scale, zero_rows, drop), rtol=1e-12, atol=1e-12)
    dq, dk, dv, _ = NP.attention_backward(dout, q, k, v, out, saved, None, mask, causal, scale, zero_rows)
    eps = 1e-6
    for arr, grad, where in ((q, dq, (0, 1, 1, 2)), (k, dk, (0, 2, 1, 1)), (v, dv, (1, 3, 1, 0))):
        idx = tuple(min(i, d - 1) for i, d in zip(where, arr.shape))
        plus, minus = arr.copy(), arr.copy()
        plus[idx] += eps
        minus[idx] -= eps
        args = [plus if x is arr else x for x in (q, k, v)], [minus if x is arr else x for x in (q, k, v)]
        numeric = (np.sum(_reference(*args[0], mask, causal, scale, zero_rows, drop) * dout)
                   - np.sum(_reference(*args[1], mask, causal, scale, zero_rows, drop) * dout)) / (2 * eps)
        assert math.isclose(grad[idx], numeric, rel_tol=1e-6, abs_tol=1e-8), (idx, grad[idx], numeric)


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


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("name", list(CASES))
def test_gpu_attention_matches_the_generic_twin(name, dtype):
    cp = _cupy_ops()
    case = CASES[name]
    arrays, mask = _inputs(case, dtype)
    q, k, v, dout = (cp.asarray(x) for x in arrays)
    mask = None if mask is None else cp.asarray(mask)
    causal, zero_rows, rate = case[7], case[9], case[10]
    scale = 1.0 / math.sqrt(q.shape[-1])
    sfx = K.DTYPE_SUFFIX[dtype]
    with _launches(f"gk_attention_fwd_{sfx}", f"gk_attention_bwd_q_{sfx}", f"gk_attention_bwd_kv_{sfx}"):
        out, saved = cp.attention(q, k, v, None, mask, causal, scale, zero_rows, rate, np.random.default_rng(9))
        grads = cp.attention_backward(dout, q, k, v, out, saved, None, mask, causal, scale, zero_rows)
    assert saved.probs is None and saved.lse.shape == (q.shape[0], q.shape[2], q.shape[1])  # weights never stored
    # the twin: the generic code on the same arrays; the same seed draws the same Philox factors
    ref_out, ref_saved = Ops.attention(cp, q, k, v, None, mask, causal, scale, zero_rows, rate,
                                       np.random.default_rng(9))
    ref_grads = Ops.attention_backward(cp, dout, q, k, v, ref_out, ref_saved, None, mask, causal, scale, zero_rows)
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == "float32" else dict(rtol=2e-2, atol=2e-2)
    assert out.dtype == q.dtype
    np.testing.assert_allclose(cp.to_numpy(out).astype(float), cp.to_numpy(ref_out).astype(float), **tol)
    for got, want, what in zip(grads[:3], ref_grads[:3], ("dq", "dk", "dv")):
        assert got.dtype == q.dtype and got.shape == want.shape
        np.testing.assert_allclose(cp.to_numpy(got).astype(float), cp.to_numpy(want).astype(float), err_msg=what,
                                   **tol)
    if rate:
        seed = saved.seed
        expected = philox_dropout_mask((q.shape[0], q.shape[2], q.shape[1], k.shape[1]), rate, seed, "float32")
        np.testing.assert_array_equal(cp.to_numpy(ref_saved.dropout_mask), expected)


@pytest.mark.gpu
def test_gpu_attention_leaves_the_rest_to_the_generic_code():
    """A bias, a head over 128, float64 or a mask that does not broadcast: no kernel, the right numbers."""
    cp = _cupy_ops()
    q, k, v = (cp.asarray(_rand(s, i).astype("float32")) for i, s in enumerate([(1, 3, 2, 4), (1, 5, 2, 4),
                                                                                  (1, 5, 2, 4)]))
    bias = cp.asarray(_rand((1, 2, 3, 5), 7).astype("float32"))
    wide = [cp.asarray(_rand((1, 3, 1, 130), i).astype("float32")) for i in range(3)]
    before = K.launch_counts["gk_attention_fwd_f32"]
    out, saved = cp.attention(q, k, v, bias, None, False, 0.5)
    assert saved.probs is not None and not cp.flash_attention_available(q, k, v, bias)
    expected = Ops.attention(NP, *(cp.to_numpy(x) for x in (q, k, v, bias)), None, False, 0.5)[0]
    np.testing.assert_allclose(cp.to_numpy(out), expected, rtol=1e-5, atol=1e-6)
    assert cp.attention(*wide)[1].probs is not None and not cp.flash_attention_available(*wide)
    assert cp.attention(*(x.astype("float64") for x in (q, k, v)))[1].probs is not None
    assert not cp.flash_attention_available(q, k, v, None, cp.asarray(np.ones((2, 1, 3, 5), bool)))
    assert K.launch_counts["gk_attention_fwd_f32"] == before
    assert cp.flash_attention_available(q, k, v, None, cp.asarray(np.ones((3, 5), bool)))
