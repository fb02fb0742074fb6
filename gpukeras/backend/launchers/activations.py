"""Launchers of kernels/activations.cu (elementwise activations) and kernels/softmax.cu (row softmax)."""

from __future__ import annotations

from typing import Any

import cupy
import numpy as np

import gpukeras.backend.kernels as K
from gpukeras.backend.launchers.base import BLOCK, Launcher

Array = Any


class ActivationForward(Launcher):
    """y = act(x), elementwise, for the activations of act_functions.cuh with their parameters."""

    kernel = "gk_act_{}_fwd"

    def __call__(self, name: str, x: Array, params: tuple) -> Array | None:
        p = K.act_params(name, params)
        suffix = self.suffix(x) if p is not None else None
        if suffix is None:
            return None
        x = cupy.ascontiguousarray(x)
        y = cupy.empty_like(x)
        if x.size and not self.launch(suffix, (self.device.grid(x.size),), (BLOCK,), x, y, x.size, *p, variant=name):
            return None
        return y


class ActivationBackward(Launcher):
    """dx = dy * act'(x) (given the forward's y), elementwise."""

    kernel = "gk_act_{}_bwd"

    def __call__(self, name: str, dy: Array, x: Array, y: Array | None, params: tuple) -> Array | None:
        p = K.act_params(name, params)
        suffix = self.suffix(dy, x, y) if p is not None else None
        if suffix is None or y is None or dy.shape != x.shape or y.shape != x.shape:
            return None
        dy, x, y = (cupy.ascontiguousarray(a) for a in (dy, x, y))
        dx = cupy.empty_like(x)
        if x.size and not self.launch(suffix, (self.device.grid(x.size),), (BLOCK,), dy, x, y, dx, x.size, *p,
                                      variant=name):
            return None
        return dx


def row_softmax_shape(x: Array, params: tuple) -> tuple[int, int] | None:
    """(rows, cols) when softmax / log_softmax of x runs over its last axis (what the kernels do); else None."""
    if len(params) > 1 or x.ndim < 1 or x.size == 0:
        return None
    axis = params[0] if params else -1
    if not isinstance(axis, (int, np.integer)) or axis not in (-1, x.ndim - 1):
        return None
    cols = x.shape[-1]
    return x.size // cols, cols


class RowSoftmaxForward(Launcher):
    """softmax or log_softmax (the kernel named) over the last axis: one block per row."""

    def __call__(self, x: Array, params: tuple) -> Array | None:
        rows_cols = row_softmax_shape(x, params)
        suffix = self.suffix(x) if rows_cols is not None else None
        if suffix is None:
            return None
        rows, cols = rows_cols
        x = cupy.ascontiguousarray(x)
        y = cupy.empty_like(x)
        ok = self.launch(suffix, (self.device.grid(rows, 1),), (self.device.row_block(cols),), x, y, rows, cols)
        return y if ok else None


class RowSoftmaxBackward(Launcher):
    """The gradient of softmax or log_softmax (the kernel named) from dy and the forward's y, per row."""

    def __call__(self, dy: Array, x: Array, y: Array | None, params: tuple) -> Array | None:
        rows_cols = row_softmax_shape(x, params)
        ok = rows_cols is not None and y is not None and dy.shape == y.shape == x.shape
        suffix = self.suffix(dy, y) if ok else None
        if suffix is None:
            return None
        rows, cols = rows_cols
        dy, y = cupy.ascontiguousarray(dy), cupy.ascontiguousarray(y)
        dx = cupy.empty_like(dy)
        ok = self.launch(suffix, (self.device.grid(rows, 1),), (self.device.row_block(cols),), dy, y, dx, rows, cols)
        return dx if ok else None
