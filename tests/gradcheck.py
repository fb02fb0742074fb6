"""Finite-difference gradient checking for gpukeras ops (test helper, not a test module).

`check_gradients(fn, inputs)` differentiates `sum(fn(*inputs) * W)` for a fixed random `W`
(so a wrong sign or a transposed gradient cannot hide behind symmetry) with
`gpukeras.GradientTape`, and compares each input's gradient with central differences
computed on the host in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import gpukeras
from gpukeras import ops

_WEIGHT_SEED = 20240607


def _weights(shape: tuple[int, ...]) -> np.ndarray:
    """Fixed, asymmetric output weights: N(0, 1) shifted so that none is near zero."""
    rng = np.random.default_rng(_WEIGHT_SEED)
    w = rng.standard_normal(size=shape)
    return np.where(w >= 0, w + 0.25, w - 0.25)


def _as_float64_tensor(x: Any) -> gpukeras.Tensor:
    return ops.convert_to_tensor(np.asarray(x, dtype=np.float64), dtype="float64")


def _loss_value(fn: Callable[..., Any], arrays: Sequence[np.ndarray], w_tensor: gpukeras.Tensor) -> float:
    """sum(fn(*arrays) * W) outside any tape, as a host float."""
    out = fn(*[_as_float64_tensor(a) for a in arrays])
    return float(ops.convert_to_numpy(ops.sum(out * w_tensor)))


def check_gradients(fn: Callable[..., Any], inputs: Sequence[np.ndarray], atol: float = 1e-6,
                    rtol: float = 1e-5, eps: float = 1e-6, name: str | None = None) -> list[np.ndarray]:
    """Assert the tape's gradients of `fn` match central finite differences.

    `inputs` are host arrays; each becomes `gpukeras.Variable(..., dtype="float64")` (watched
    by the tape because it is trainable). Returns the analytic gradients as host arrays.
    """
    label = name or getattr(fn, "__name__", repr(fn))
    arrays = [np.array(x, dtype=np.float64) for x in inputs]
    variables = [gpukeras.Variable(a, dtype="float64", name=f"input_{i}") for i, a in enumerate(arrays)]

    probe = fn(*variables)
    w = _weights(tuple(probe.shape))
    w_tensor = _as_float64_tensor(w)

    with gpukeras.GradientTape() as tape:
        out = fn(*variables)
        loss = ops.sum(out * w_tensor)
    assert str(out.dtype) == "float64", f"{label}: output dtype {out.dtype}, expected float64"
    grads = tape.gradient(loss, variables)

    analytic: list[np.ndarray] = []
    for i, (a, g) in enumerate(zip(arrays, grads, strict=True)):
        assert g is not None, f"{label}: gradient for input {i} is None (not connected?)"
        g_host = np.asarray(ops.convert_to_numpy(g))
        assert g_host.shape == a.shape, (
            f"{label}: gradient for input {i} has shape {g_host.shape}, expected {a.shape}")
        assert g_host.dtype == np.float64, (
            f"{label}: gradient for input {i} has dtype {g_host.dtype}, expected float64")

        numeric = np.zeros_like(a)
        flat = a.reshape(-1)  # a view: perturbing it perturbs `arrays[i]`
        for j in range(flat.size):
            saved = flat[j]
            flat[j] = saved + eps
            plus = _loss_value(fn, arrays, w_tensor)
            flat[j] = saved - eps
            minus = _loss_value(fn, arrays, w_tensor)
            flat[j] = saved
            numeric.reshape(-1)[j] = (plus - minus) / (2.0 * eps)

        if not np.allclose(g_host, numeric, atol=atol, rtol=rtol):
            err = np.abs(g_host - numeric)
            worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
            raise AssertionError(
                f"{label}: gradient mismatch for input {i} (shape {a.shape}); max abs error "
                f"{err.max():.3e} at index {worst}: analytic {g_host[worst]!r} vs numeric "
                f"{numeric[worst]!r}\nanalytic=\n{g_host}\nnumeric=\n{numeric}")
        analytic.append(g_host)
    return analytic
