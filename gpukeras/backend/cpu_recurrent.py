"""The NumPy backend's C paths for the LSTM / GRU (reset_after) step and for Embedding's gradient.

Each function takes the compiled `_cpu_kernels` module and the arguments of the method it speeds up
(RecurrentFusions' step methods, `Ops.scatter_add`), and returns what that method returns, or None when
the C code does not cover the call (dtypes other than float32, activations other than Keras's default
tanh / sigmoid pair, odd shapes): the caller then runs the generic code. The same shape as the CuPy
launchers (launchers/recurrent.py), so `saved` tuples are interchangeable with the generic code's.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

Array = Any
MASKED_OUTPUT_CODES = {"carry": 0, "zero": 1, "unroll": 2}
_TANH, _SIGMOID = ("tanh", ()), ("sigmoid", ())
_F32 = np.dtype(np.float32)


def _ready(arrays: tuple, activation: tuple, recurrent_activation: tuple) -> bool:
    """Whether the C step covers these: Keras's default activations and float32 NumPy arrays (None skipped)."""
    if activation != _TANH or recurrent_activation != _SIGMOID:
        return False
    for a in arrays:  # a loop, not all(genexpr): this runs twice per time step
        if a is not None and (type(a) is not np.ndarray or a.dtype != _F32):
            return False
    return True


def _c(a: Array | None) -> Array | None:
    """`a` C-contiguous (the C code reads flat rows); usually already is, so usually no copy."""
    return a if a is None or a.flags.c_contiguous else np.ascontiguousarray(a)


def _gate_major(gates: Any) -> Array:
    """Per-gate values as one (gates, rows, units) array: the C step's own, or the generic code's tuple stacked."""
    return gates if isinstance(gates, np.ndarray) else np.stack(gates)


def _empty(n: int, shape: tuple) -> list[Array]:
    """n new float32 arrays of `shape` (the C step writes every element)."""
    return [np.empty(shape, np.float32) for _ in range(n)]


def lstm_step(kernels: ModuleType, x: Array, hr: Array, bias: Array | None, h_prev: Array, c_prev: Array,
              mask: Array | None, fallback: Array | None, activation: tuple,
              recurrent_activation: tuple) -> tuple | None:
    """RecurrentFusions.lstm_step in one C pass: (h, c, output, (z, gates (4, rows, units), c_new, act(c_new)))."""
    if not _ready((x, hr, bias, h_prev, c_prev, mask, fallback), activation, recurrent_activation):
        return None
    rows, units = h_prev.shape
    if x.shape != (rows, 4 * units) or hr.shape != x.shape or c_prev.shape != h_prev.shape:
        return None
    z, gates = np.empty_like(x, order="C"), np.empty((4, rows, units), np.float32)
    c_new, act_c, h = _empty(3, (rows, units))
    c, out = (None, None) if mask is None else _empty(2, (rows, units))
    kernels.lstm_step(_c(x), _c(hr), _c(bias), _c(h_prev), _c(c_prev), _c(mask), _c(fallback), z, gates, c_new, act_c,
                      h, c, out, rows, units)
    if mask is None:  # as in the generic code, the new h is also the output
        return h, c_new, h, (z, gates, c_new, act_c)
    return h, c, out, (z, gates, c_new, act_c)


def lstm_step_backward(kernels: ModuleType, dh: Array, dc: Array, dout: Array | None, saved: tuple, c_prev: Array,
                       mask: Array | None, masked_output: str, activation: tuple,
                       recurrent_activation: tuple) -> tuple | None:
    """RecurrentFusions.lstm_step_backward in one C pass: (dz, dh_skip or None, dc_prev, dout_prev or None)."""
    z, gates, _, act_c = saved
    gates = _gate_major(gates)
    if not _ready((dh, dc, dout, gates, act_c, c_prev, mask), activation, recurrent_activation):
        return None
    rows, units = c_prev.shape
    if dh.shape != c_prev.shape or dc.shape != c_prev.shape or gates.shape != (4, rows, units):
        return None
    dz = np.empty((rows, 4 * units), np.float32)
    dc_prev = np.empty((rows, units), np.float32)
    dh_skip = np.empty((rows, units), np.float32) if mask is not None else None
    unrolls = mask is not None and dout is not None and masked_output == "unroll"
    dout_prev = np.empty((rows, units), np.float32) if unrolls else None
    kernels.lstm_step_backward(_c(dh), _c(dc), _c(dout), _c(gates), _c(act_c), _c(c_prev), _c(mask), dz, dh_skip,
                               dc_prev, dout_prev, rows, units, MASKED_OUTPUT_CODES[masked_output])
    return dz, dh_skip, dc_prev, dout_prev


def gru_step(kernels: ModuleType, x: Array, hr: Array, recurrent_bias: Array | None, h_prev: Array,
             mask: Array | None, fallback: Array | None, activation: tuple,
             recurrent_activation: tuple) -> tuple | None:
    """RecurrentFusions.gru_step in one C pass: (h, output, (pre-activations, activations, inner_h)), the
    triples as (3, rows, units) arrays."""
    if not _ready((x, hr, recurrent_bias, h_prev, mask, fallback), activation, recurrent_activation):
        return None
    rows, units = h_prev.shape
    if x.shape != (rows, 3 * units) or hr.shape != x.shape:
        return None
    pre, post = np.empty((3, rows, units), np.float32), np.empty((3, rows, units), np.float32)
    inner_h, h = np.empty((rows, units), np.float32), np.empty((rows, units), np.float32)
    out = np.empty((rows, units), np.float32) if mask is not None else None
    kernels.gru_step(_c(x), _c(hr), _c(recurrent_bias), _c(h_prev), _c(mask), _c(fallback), pre, post, inner_h, h,
                     out, rows, units)
    return h, (h if mask is None else out), (pre, post, inner_h)


def gru_step_backward(kernels: ModuleType, dh: Array, dout: Array | None, saved: tuple, h_prev: Array,
                      mask: Array | None, masked_output: str, activation: tuple,
                      recurrent_activation: tuple) -> tuple | None:
    """RecurrentFusions.gru_step_backward in one C pass: (dx, dinner, dh_skip, dout_prev or None)."""
    _, post, inner_h = saved
    post = _gate_major(post)
    if not _ready((dh, dout, post, inner_h, h_prev, mask), activation, recurrent_activation):
        return None
    rows, units = h_prev.shape
    if dh.shape != h_prev.shape or post.shape != (3, rows, units) or inner_h.shape != h_prev.shape:
        return None
    dx, dinner = np.empty((rows, 3 * units), np.float32), np.empty((rows, 3 * units), np.float32)
    dh_skip = np.empty((rows, units), np.float32)
    unrolls = mask is not None and dout is not None and masked_output == "unroll"
    dout_prev = np.empty((rows, units), np.float32) if unrolls else None
    kernels.gru_step_backward(_c(dh), _c(dout), _c(post), _c(inner_h), _c(h_prev), _c(mask), dx, dinner, dh_skip,
                              dout_prev, rows, units, MASKED_OUTPUT_CODES[masked_output])
    return dx, dinner, dh_skip, dout_prev


def scatter_add_rows(kernels: ModuleType, out: Array, idx: Any, values: Array) -> bool:
    """out[idx] += values (np.add.at's sums, bit for bit) in C when idx is a 1-D int64 array indexing out's
    first axis and both arrays are float32 and C-contiguous (Embedding's gradient: take's backward);
    returns False, touching nothing, otherwise."""
    if not (type(idx) is np.ndarray and idx.ndim == 1 and idx.dtype == np.int64 and type(out) is np.ndarray
            and type(values) is np.ndarray and out.dtype == _F32 and values.dtype == _F32 and out.ndim >= 1
            and values.shape == idx.shape + out.shape[1:] and out.flags.c_contiguous and out.shape[0] > 0):
        return False
    kernels.scatter_add_rows(out, _c(idx), _c(values), out.shape[0])
    return True
