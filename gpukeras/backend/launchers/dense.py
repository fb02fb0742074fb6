"""Launchers of kernels/dense.cu: the bias + activation epilogue of Dense and Conv, and its gradient."""

from __future__ import annotations

from typing import Any

import cupy

import gpukeras.backend.kernels as K
from gpukeras.backend.launchers.base import BLOCK, Device, Launcher

Array = Any


def epilogue_params(activation: str, params: tuple) -> tuple[float, float, float] | None:
    """The kernel's (p0, p1, p2) for `activation` ("linear" too), or None when it has no kernel for them."""
    return (0.0, 0.0, 0.0) if activation == "linear" and not params else K.act_params(activation, params)


class EpilogueForward(Launcher):
    """z += bias (in place, last axis), y = act(z) in one pass over the GEMM output; returns (y, z)."""

    kernel = "gk_dense_fwd_{}"

    def __call__(self, z: Array, bias: Array | None, activation: str, params: tuple) -> tuple[Array, Array] | None:
        p = epilogue_params(activation, params)
        suffix = self.suffix(z, bias) if p is not None and z.ndim >= 1 and z.size else None
        if (suffix is None or (bias is None and activation == "linear")
                or (bias is not None and bias.shape != (z.shape[-1],))):
            return None
        z = cupy.ascontiguousarray(z)
        cols = z.shape[-1]
        rows = z.size // cols
        y = z if activation == "linear" else cupy.empty_like(z)
        bx = self.device.row_block(cols)
        b = cupy.ascontiguousarray(bias) if bias is not None else None
        if not self.launch(suffix, self.device.rows_grid(rows, cols, bx), (bx, 1), z, y, b, rows, cols, *p,
                           variant=activation):
            return None
        return y, z


class BiasGradientFinish(Launcher):
    """dbias = the sum of the backward's float32 per-row-block partials (one tiny launch)."""

    kernel = "gk_dense_bias_finish"

    def __call__(self, suffix: str, partial: Array, dbias: Array) -> bool:
        parts, cols = partial.shape
        return self.launch(suffix, (self.device.grid(cols),), (BLOCK,), partial, dbias, parts, cols)


class EpilogueBackward(Launcher):
    """dz = dy * act'(z) and the bias gradient (block column sums, no atomics; finished by `finish`)."""

    kernel = "gk_dense_bwd_{}"

    def __init__(self, device: Device, finish: BiasGradientFinish) -> None:
        super().__init__(device)
        self.finish = finish

    def __call__(self, dy: Array, z: Array, y: Array, activation: str, params: tuple,
                 has_bias: bool) -> tuple[Array, Array | None] | None:
        p = epilogue_params(activation, params)
        suffix = self.suffix(dy, z, y) if p is not None and dy.shape == z.shape and z.size else None
        if suffix is None or (activation == "linear" and not has_bias):
            return None
        dy, z, y = (cupy.ascontiguousarray(a) for a in (dy, z, y))
        cols = z.shape[-1]
        rows = z.size // cols
        dz = dy if activation == "linear" else cupy.empty_like(dy)
        # few row blocks: each block reduces many rows, so the float32 partials stay small
        gx, gy = self.device.rows_grid(rows, cols, 32, rows_per_block=8, per_sm=8)
        dbias = cupy.empty((cols,), dtype=dy.dtype) if has_bias else None
        partial = cupy.empty((gy, cols), dtype=cupy.float32) if has_bias and gy > 1 else None
        ok = self.launch(suffix, (gx, gy), (32, 8), dy, z, y, dz, partial, dbias, rows, cols, *p, variant=activation)
        if ok and partial is not None:
            ok = self.finish(suffix, partial, dbias)
        return (dz, dbias) if ok else None
