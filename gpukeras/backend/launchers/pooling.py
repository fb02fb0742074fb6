"""Launchers of kernels/pooling.cu (2-D max / average pooling, valid windows) and kernels/col2im.cu."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cupy

from gpukeras.backend.convolution import pool2d_geometry
from gpukeras.backend.launchers.base import BLOCK, Launcher

Array = Any


def _window_args(pool_size: Sequence[int], strides: Sequence[int], average: bool) -> tuple:
    """(ph, pw, sh, sw[, 1/window]): average pooling's scale rounded to float32, as the generic code uses it."""
    return (*pool_size, *strides) + ((1.0 / (pool_size[0] * pool_size[1]),) if average else ())


class PoolForward(Launcher):
    """Max or average pooling (the kernel named) of NHWC x, valid windows, one output per thread."""

    def __call__(self, x: Array, pool_size: Sequence[int], strides: Sequence[int], padding: Any) -> Array | None:
        geometry = pool2d_geometry(x, pool_size, strides, padding)
        suffix = self.suffix(x) if geometry is not None else None
        if suffix is None:
            return None
        (n, h, w, c), (oh, ow) = geometry
        x = cupy.ascontiguousarray(x)
        y = cupy.empty((n, oh, ow, c), dtype=x.dtype)
        ok = self.launch(suffix, (self.device.grid(y.size),), (BLOCK,), x, y, n, h, w, c,
                         *_window_args(pool_size, strides, "avg" in self.kernel))
        return y if ok else None


class PoolBackward(Launcher):
    """Its gradient: each input gathers dy from the windows it belongs to (for max, those whose first maximum
    it is); no atomics, any overlap."""

    def __call__(self, dy: Array, x: Array, y: Array, pool_size: Sequence[int], strides: Sequence[int],
                 padding: Any) -> Array | None:
        geometry = pool2d_geometry(x, pool_size, strides, padding)
        suffix = self.suffix(x, y, dy) if geometry is not None and dy.shape == y.shape else None
        if suffix is None:
            return None
        (n, h, w, c), _ = geometry
        x, y, dy = (cupy.ascontiguousarray(a) for a in (x, y, dy))
        dx = cupy.empty_like(x)
        average = "avg" in self.kernel
        arrays = (dy, dx) if average else (x, y, dy, dx)
        ok = self.launch(suffix, (self.device.grid(dx.size),), (BLOCK,), *arrays, n, h, w, c,
                         *_window_args(pool_size, strides, average))
        return dx if ok else None


class Col2imAdd(Launcher):
    """2-D col2im in one gather kernel: dx (padded NHWC, C-contiguous) += the column gradients."""

    kernel = "gk_col2im_add"

    def __call__(self, dx: Array, dcols: Array, out_sizes: Sequence[int], kernel_sizes: Sequence[int],
                 strides: Sequence[int], dilation_rate: Sequence[int]) -> bool:
        suffix = self.suffix(dx, dcols) if len(kernel_sizes) == 2 and dx.flags.c_contiguous else None
        if suffix is None or dx.size == 0:
            return False
        n, h, w, c = dx.shape
        return self.launch(suffix, (self.device.grid(dx.size),), (BLOCK,), dx, cupy.ascontiguousarray(dcols),
                           n, h, w, c, *out_sizes, *kernel_sizes, *strides, *dilation_rate)
