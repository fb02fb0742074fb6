"""Launchers of kernels/recurrent.cu: one LSTM / GRU (reset_after) step's elementwise work, forward
and backward, one thread per (row, unit). Each returns what RecurrentFusions' generic code returns
(the same `saved` tuple), or None when it does not cover the call (dtypes, shapes, activations)."""

from __future__ import annotations

from typing import Any

import cupy

import gpukeras.backend.kernels as K
from gpukeras.backend.launchers.base import BLOCK, Device, Launcher

Array = Any
MASKED_OUTPUT_CODES = {"carry": 0, "zero": 1, "unroll": 2}


def activation_args(activation: tuple[str, tuple]) -> tuple[int, float, float, float] | None:
    """(id, p0, p1, p2) of an activation for the kernels (act_functions.cuh; linear is 0), or None."""
    name, params = activation
    if name == "linear":
        return None if params else (0, 0.0, 0.0, 0.0)
    p = K.act_params(name, params)
    return None if p is None else (K.act_ids()[name], *p)


def _contiguous(*arrays: Array | None) -> list[Array | None]:
    return [None if a is None else cupy.ascontiguousarray(a) for a in arrays]


def _gate_major(gates: Any) -> Array | None:
    """Per-gate values as one (gates, rows, units) array: the kernels' own, or the generic code's tuple
    stacked (None for arrays not on the device)."""
    if isinstance(gates, cupy.ndarray):
        return gates
    return cupy.stack(gates) if all(isinstance(g, cupy.ndarray) for g in gates) else None


class _StepLauncher(Launcher):
    """Shared checks: activations the kernels know, one storage dtype, (rows, units) states."""

    def _cover(self, arrays: tuple, rows_units: tuple[int, int], activations: tuple) -> tuple[str, tuple] | None:
        acts = tuple(activation_args(a) for a in activations)
        if None in acts or rows_units[0] * rows_units[1] == 0:
            return None
        suffix = self.suffix(*arrays)
        return None if suffix is None else (suffix, acts)

    def _grid(self, rows: int, units: int) -> tuple[tuple, tuple]:
        return (self.device.grid(rows * units),), (BLOCK,)


class LSTMStepForward(_StepLauncher):
    """h, c, output and (z, gates (4, rows, units), c_new, act(c_new)) of one LSTM step."""

    kernel = "gk_lstm_step_fwd"

    def __call__(self, x: Array, hr: Array, bias: Array | None, h_prev: Array, c_prev: Array, mask: Array | None,
                 fallback: Array | None, activation: tuple, recurrent_activation: tuple) -> tuple | None:
        rows, units = h_prev.shape
        shapes_ok = (x.shape == hr.shape == (rows, 4 * units) and c_prev.shape == (rows, units)
                     and (bias is None or bias.shape == (4 * units,)) and (mask is None or mask.shape == (rows,))
                     and (fallback is None or fallback.shape == (rows, units)))
        covered = self._cover((x, hr, bias, h_prev, c_prev, mask, fallback), (rows, units),
                              (activation, recurrent_activation)) if shapes_ok else None
        if covered is None:
            return None
        suffix, (act, ract) = covered
        x, hr, bias, h_prev, c_prev, mask, fallback = _contiguous(x, hr, bias, h_prev, c_prev, mask, fallback)
        z, gates = cupy.empty_like(x), cupy.empty((4, rows, units), dtype=x.dtype)
        c_new, act_c, h, c, out = (cupy.empty_like(h_prev) for _ in range(5))
        ok = self.launch(suffix, *self._grid(rows, units), x, hr, bias, h_prev, c_prev, mask, fallback, z, gates,
                         c_new, act_c, h, c, out, rows, units, *act, *ract)
        return (h, c, out, (z, gates, c_new, act_c)) if ok else None


class LSTMStepBackward(_StepLauncher):
    """(dz, dh_skip, dc_prev, dout_prev) of one LSTM step."""

    kernel = "gk_lstm_step_bwd"

    def __call__(self, dh: Array, dc: Array, dout: Array | None, saved: tuple, c_prev: Array, mask: Array | None,
                 masked_output: str, activation: tuple, recurrent_activation: tuple) -> tuple | None:
        z, gates, c_new, act_c = saved
        gates = _gate_major(gates)
        rows, units = c_prev.shape
        shapes_ok = (gates is not None and dh.shape == dc.shape == c_new.shape == act_c.shape == (rows, units)
                     and z.shape == (rows, 4 * units) and gates.shape == (4, rows, units)
                     and (dout is None or dout.shape == dh.shape)
                     and (mask is None or mask.shape == (rows,)) and masked_output in MASKED_OUTPUT_CODES)
        covered = self._cover((dh, dc, dout, z, gates, c_new, act_c, c_prev, mask), (rows, units),
                              (activation, recurrent_activation)) if shapes_ok else None
        if covered is None:
            return None
        suffix, (act, ract) = covered
        dh, dc, dout, z, gates, c_new, act_c, c_prev, mask = _contiguous(dh, dc, dout, z, gates, c_new, act_c,
                                                                         c_prev, mask)
        dz = cupy.empty_like(z)
        dc_prev = cupy.empty_like(dc)
        dh_skip = cupy.empty_like(dh) if mask is not None else None
        dout_prev = cupy.empty_like(dh) if mask is not None and dout is not None and masked_output == "unroll" else None
        ok = self.launch(suffix, *self._grid(rows, units), dh, dc, dout, z, gates, c_new, act_c, c_prev, mask, dz,
                         dh_skip, dc_prev, dout_prev, rows, units, MASKED_OUTPUT_CODES[masked_output], *act, *ract)
        return (dz, dh_skip, dc_prev, dout_prev) if ok else None


class GRUStepForward(_StepLauncher):
    """h, output and (pre-activations, activations (each (3, rows, units)), inner_h) of one GRU step."""

    kernel = "gk_gru_step_fwd"

    def __call__(self, x: Array, hr: Array, recurrent_bias: Array | None, h_prev: Array, mask: Array | None,
                 fallback: Array | None, activation: tuple, recurrent_activation: tuple) -> tuple | None:
        rows, units = h_prev.shape
        shapes_ok = (x.shape == hr.shape == (rows, 3 * units)
                     and (recurrent_bias is None or recurrent_bias.shape == (3 * units,))
                     and (mask is None or mask.shape == (rows,))
                     and (fallback is None or fallback.shape == (rows, units)))
        covered = self._cover((x, hr, recurrent_bias, h_prev, mask, fallback), (rows, units),
                              (activation, recurrent_activation)) if shapes_ok else None
        if covered is None:
            return None
        suffix, (act, ract) = covered
        x, hr, recurrent_bias, h_prev, mask, fallback = _contiguous(x, hr, recurrent_bias, h_prev, mask, fallback)
        pre, post = (cupy.empty((3, rows, units), dtype=x.dtype) for _ in range(2))
        inner_h, h, out = (cupy.empty_like(h_prev) for _ in range(3))
        ok = self.launch(suffix, *self._grid(rows, units), x, hr, recurrent_bias, h_prev, mask, fallback, pre, post,
                         inner_h, h, out, rows, units, *act, *ract)
        return (h, out, (pre, post, inner_h)) if ok else None


class GRUStepBackward(_StepLauncher):
    """(dx, dinner, dh_skip, dout_prev) of one GRU step (reset_after)."""

    kernel = "gk_gru_step_bwd"

    def __call__(self, dh: Array, dout: Array | None, saved: tuple, h_prev: Array, mask: Array | None,
                 masked_output: str, activation: tuple, recurrent_activation: tuple) -> tuple | None:
        pre, post, inner_h = saved
        pre, post = _gate_major(pre), _gate_major(post)
        rows, units = h_prev.shape
        shapes_ok = (pre is not None and post is not None and dh.shape == inner_h.shape == (rows, units)
                     and pre.shape == post.shape == (3, rows, units)
                     and (dout is None or dout.shape == dh.shape) and (mask is None or mask.shape == (rows,))
                     and masked_output in MASKED_OUTPUT_CODES)
        covered = self._cover((dh, dout, pre, post, inner_h, h_prev, mask), (rows, units),
                              (activation, recurrent_activation)) if shapes_ok else None
        if covered is None:
            return None
        suffix, (act, ract) = covered
        dh, dout, pre, post, inner_h, h_prev, mask = _contiguous(dh, dout, pre, post, inner_h, h_prev, mask)
        dx, dinner = (cupy.empty((rows, 3 * units), dtype=dh.dtype) for _ in range(2))
        dh_skip = cupy.empty_like(dh)
        dout_prev = cupy.empty_like(dh) if mask is not None and dout is not None and masked_output == "unroll" else None
        ok = self.launch(suffix, *self._grid(rows, units), dh, dout, pre, post, inner_h, h_prev, mask, dx, dinner,
                         dh_skip, dout_prev, rows, units, MASKED_OUTPUT_CODES[masked_output], *act, *ract)
        return (dx, dinner, dh_skip, dout_prev) if ok else None


class RecurrentKernels:
    """The four recurrent step launchers of one CuPy backend."""

    def __init__(self, device: Device) -> None:
        self.lstm_step = LSTMStepForward(device)
        self.lstm_step_backward = LSTMStepBackward(device)
        self.gru_step = GRUStepForward(device)
        self.gru_step_backward = GRUStepBackward(device)

    def launchers(self) -> list[Launcher]:
        return [self.lstm_step, self.lstm_step_backward, self.gru_step, self.gru_step_backward]
