"""Launchers of kernels/normalization.cu, and the launch sequences of batch and layer normalization.

Batch normalization (statistics over every axis but the last): column sums in row tiles then a
finish (twice: mean, then the centred variance), then one pass for xhat and y; its backward is one
column-sum pass (dbeta, dgamma) and one pass for dx. Layer normalization (over the last axis): one
block per row forward and backward. Group normalization (channels-last (N, *spatial, G, C/G), over the
spatial axes and C/G): one block per (sample, group) forward and backward; dgamma / dbeta are column sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cupy
import numpy as np

from gpukeras.backend.launchers.base import BLOCK, Device, Launcher, is_number

Array = Any


class ColumnSumsFinish(Launcher):
    """out = scale * the sum of the per-row-tile partials, per column (float32)."""

    kernel = "gk_bn_finish"

    def __call__(self, p1: Array, p2: Array | None, out1: Array, out2: Array | None, scale: float) -> bool:
        parts, cols = p1.shape
        return self.launch("f32", (self.device.grid(cols),), (BLOCK,), p1, p2, out1, out2, parts, cols, scale)


class ColumnSums(Launcher):
    """scale * per-channel sums of a (mode 0), of (a - center)^2 (mode 1), or of a and a*b (mode 2)."""

    kernel = "gk_bn_sums"

    def __init__(self, device: Device, finish: ColumnSumsFinish) -> None:
        super().__init__(device)
        self.finish = finish

    def __call__(self, suffix: str, a: Array, b: Array | None, center: Array | None, mode: int,
                 scale: float) -> tuple[Array, Array | None] | None:
        cols = a.shape[-1]
        rows = a.size // cols
        gx, gy = self.device.rows_grid(rows, cols, 32, rows_per_block=8, per_sm=8)
        p1 = cupy.empty((gy, cols), dtype=cupy.float32)
        p2 = cupy.empty((gy, cols), dtype=cupy.float32) if mode == 2 else None
        out1 = cupy.empty((cols,), dtype=cupy.float32)
        out2 = cupy.empty((cols,), dtype=cupy.float32) if mode == 2 else None
        ok = self.launch(suffix, (gx, gy), (32, 8), a, b, center, p1, p2, rows, cols, mode)
        ok = ok and self.finish(p1, p2, out1, out2, scale)
        return (out1, out2) if ok else None


class BatchNormApply(Launcher):
    """xhat = (x - mean) * inv; y = xhat * gamma + beta, per channel, one pass."""

    kernel = "gk_bn_apply"

    def __call__(self, suffix: str, x: Array, mean: Array, inv: Array, gamma: Array | None,
                 beta: Array | None) -> tuple[Array, Array] | None:
        cols = x.shape[-1]
        xhat, y = cupy.empty_like(x), cupy.empty_like(x)
        ok = self.launch(suffix, (self.device.grid(x.size),), (BLOCK,), x, mean, inv, gamma, beta, xhat, y,
                         x.size // cols, cols)
        return (xhat, y) if ok else None


class BatchNormGrad(Launcher):
    """dx of batch normalization from dy, xhat and the column sums of dy and dy * xhat."""

    kernel = "gk_bn_grad"

    def __call__(self, suffix: str, dy: Array, xhat: Array, inv: Array, gamma: Array | None, sum_dy: Array,
                 sum_dy_xhat: Array) -> Array | None:
        cols = xhat.shape[-1]
        dx = cupy.empty_like(dy)
        ok = self.launch(suffix, (self.device.grid(dx.size),), (BLOCK,), dy, xhat, inv, gamma, sum_dy, sum_dy_xhat,
                         dx, xhat.size // cols, cols)
        return dx if ok else None


class LayerNormForward(Launcher):
    """One block per row: mean, variance, xhat and y; returns (y, mean, var, xhat, inv) (statistics float32)."""

    kernel = "gk_ln_fwd"

    def __call__(self, suffix: str, x: Array, gamma: Array | None, beta: Array | None,
                 epsilon: float) -> tuple[Array, ...] | None:
        cols = x.shape[-1]
        rows = x.size // cols
        xhat, y = cupy.empty_like(x), cupy.empty_like(x)
        mean, var, inv = (cupy.empty((rows,), dtype=cupy.float32) for _ in range(3))
        ok = self.launch(suffix, (self.device.grid(rows, 1),), (self.device.row_block(cols),), x, gamma, beta, xhat,
                         y, mean, var, inv, rows, cols, epsilon)
        return (y, mean, var, xhat, inv) if ok else None


class LayerNormBackward(Launcher):
    """One block per row: dx of layer normalization."""

    kernel = "gk_ln_bwd"

    def __call__(self, suffix: str, dy: Array, xhat: Array, inv: Array, gamma: Array | None) -> Array | None:
        cols = xhat.shape[-1]
        rows = xhat.size // cols
        dx = cupy.empty_like(dy)
        ok = self.launch(suffix, (self.device.grid(rows, 1),), (self.device.row_block(cols),), dy, xhat, inv, gamma,
                         dx, rows, cols)
        return dx if ok else None


class GroupNormForward(Launcher):
    """One block per (sample, group): mean, variance, xhat and y; returns (y, mean, var, xhat, inv) (statistics
    float32, (N * G,))."""

    kernel = "gk_gn_fwd"

    def __call__(self, suffix: str, x: Array, gamma: Array | None, beta: Array | None,
                 epsilon: float) -> tuple[Array, ...] | None:
        n, groups, cg = x.shape[0], x.shape[-2], x.shape[-1]
        s = x.size // (n * groups * cg)
        xhat, y = cupy.empty_like(x), cupy.empty_like(x)
        mean, var, inv = (cupy.empty((n * groups,), dtype=cupy.float32) for _ in range(3))
        ok = self.launch(suffix, (self.device.grid(n * groups, 1),), (self.device.row_block(s * cg),), x, gamma,
                         beta, xhat, y, mean, var, inv, n, s, groups, cg, epsilon)
        return (y, mean, var, xhat, inv) if ok else None


class GroupNormBackward(Launcher):
    """One block per (sample, group): dx of group normalization."""

    kernel = "gk_gn_bwd"

    def __call__(self, suffix: str, dy: Array, xhat: Array, inv: Array, gamma: Array | None) -> Array | None:
        n, groups, cg = xhat.shape[0], xhat.shape[-2], xhat.shape[-1]
        s = xhat.size // (n * groups * cg)
        dx = cupy.empty_like(dy)
        ok = self.launch(suffix, (self.device.grid(n * groups, 1),), (self.device.row_block(s * cg),), dy, xhat,
                         inv, gamma, dx, n, s, groups, cg)
        return dx if ok else None


def norm_kind(x: Array, axes: tuple[int, ...], param_shape: Sequence[int] | None) -> str | None:
    """"channel" for statistics over every axis but the last (BatchNormalization), "row" over the last axis only
    (LayerNormalization), "group" over every axis but the first and the second-last ((N, *spatial, G, C/G),
    GroupNormalization), else None (the generic code)."""
    if x.ndim < 2 or x.size == 0:
        return None
    axes = tuple(axes)
    params = None if param_shape is None else tuple(param_shape)
    if params is None or params == (1,) * (x.ndim - 1) + (x.shape[-1],):
        if axes == tuple(range(x.ndim - 1)):
            return "channel"
        if axes == (x.ndim - 1,):
            return "row"
    group_axes = tuple(i for i in range(1, x.ndim) if i != x.ndim - 2)
    if x.ndim >= 3 and axes == group_axes and params in (None, (1,) * (x.ndim - 2) + tuple(x.shape[-2:])):
        return "group"
    return None


class NormalizationKernels:
    """The normalization launchers and their sequences (forward, backward) for batch, layer and group norm."""

    def __init__(self, device: Device) -> None:
        self.sums = ColumnSums(device, ColumnSumsFinish(device))
        self.bn_apply = BatchNormApply(device)
        self.bn_grad = BatchNormGrad(device)
        self.ln_fwd = LayerNormForward(device)
        self.ln_bwd = LayerNormBackward(device)
        self.gn_fwd = GroupNormForward(device)
        self.gn_bwd = GroupNormBackward(device)

    def launchers(self) -> list[Launcher]:
        return [self.sums, self.sums.finish, self.bn_apply, self.bn_grad, self.ln_fwd, self.ln_bwd, self.gn_fwd,
                self.gn_bwd]

    def forward(self, x: Array, axes: tuple[int, ...], epsilon: float, gamma: Array | None,
                beta: Array | None) -> tuple[Array, ...] | None:
        """(y, mean, variance, xhat, inv_std) as `normalize` returns them, or None (the generic code)."""
        shape = gamma.shape if gamma is not None else beta.shape if beta is not None else None
        kind = norm_kind(x, axes, shape) if is_number(epsilon) else None
        launcher = {"row": self.ln_fwd, "group": self.gn_fwd}.get(kind, self.bn_apply)
        suffix = launcher.suffix(x) if kind is not None else None
        if suffix is None:
            return None
        params = [None if p is None else cupy.ascontiguousarray(p.reshape(-1), dtype=cupy.float32)
                  for p in (gamma, beta)]
        x = cupy.ascontiguousarray(x)
        if kind == "row":
            out = self.ln_fwd(suffix, x, *params, epsilon)
            if out is None:
                return None
            y, mean, var, xhat, inv = out
            keep = x.shape[:-1] + (1,)
        elif kind == "group":
            out = self.gn_fwd(suffix, x, *params, epsilon)
            if out is None:
                return None
            y, mean, var, xhat, inv = out
            keep = (x.shape[0],) + (1,) * (x.ndim - 3) + (x.shape[-2], 1)
        else:
            rows = x.size // x.shape[-1]
            sums = self.sums(suffix, x, None, None, 0, 1.0 / rows)
            mean = sums[0] if sums else None
            sums = self.sums(suffix, x, None, mean, 1, 1.0 / rows) if mean is not None else None
            if sums is None:
                return None
            var = sums[0]
            inv = (1.0 / cupy.sqrt(var + np.float32(epsilon))).astype(cupy.float32)
            out = self.bn_apply(suffix, x, mean, inv, *params)
            if out is None:
                return None
            xhat, y = out
            keep = (1,) * (x.ndim - 1) + (x.shape[-1],)
        mean, var, inv = (a.reshape(keep).astype(x.dtype, copy=False) for a in (mean, var, inv))
        return y, mean, var, xhat, inv

    def backward(self, dy: Array, xhat: Array, inv_std: Array, axes: tuple[int, ...], param_shape: Sequence[int],
                 gamma: Array | None, has_beta: bool) -> tuple[Array, Array | None, Array | None] | None:
        """(dx, dgamma, dbeta): one column-sum pass (dbeta = sum dy, dgamma = sum dy*xhat), then one pass for dx."""
        kind = norm_kind(xhat, axes, param_shape)
        launcher = {"row": self.ln_bwd, "group": self.gn_bwd}.get(kind, self.bn_grad)
        suffix = launcher.suffix(xhat) if kind is not None else None
        if suffix is None or launcher.suffix(dy, xhat) != suffix or dy.shape != xhat.shape:
            return None
        dy, xhat = cupy.ascontiguousarray(dy), cupy.ascontiguousarray(xhat)
        cols = xhat.shape[-2] * xhat.shape[-1] if kind == "group" else xhat.shape[-1]  # one column per parameter
        sums = self.sums(suffix, dy.reshape(-1, cols), xhat.reshape(-1, cols), None, 2, 1.0)
        if sums is None:
            return None
        sum_dy, sum_dy_xhat = sums
        g = None if gamma is None else cupy.ascontiguousarray(gamma.reshape(-1), dtype=cupy.float32)
        inv = cupy.ascontiguousarray(inv_std.reshape(-1), dtype=cupy.float32)
        if kind == "row":
            dx = self.ln_bwd(suffix, dy, xhat, inv, g)
        elif kind == "group":
            dx = self.gn_bwd(suffix, dy, xhat, inv, g)
        else:
            dx = self.bn_grad(suffix, dy, xhat, inv, g, sum_dy, sum_dy_xhat)
        if dx is None:
            return None
        keep = tuple(param_shape)
        dgamma = sum_dy_xhat.reshape(keep).astype(dy.dtype) if gamma is not None else None
        dbeta = sum_dy.reshape(keep).astype(dy.dtype) if has_beta else None
        return dx, dgamma, dbeta
