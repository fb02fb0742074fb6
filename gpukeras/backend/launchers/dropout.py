"""Launchers of kernels/dropout.cu: Philox dropout masks (and the masked product) on the device."""

from __future__ import annotations

from typing import Any

import cupy

from gpukeras.backend.launchers.base import BLOCK, Launcher, is_number

Array = Any


def _philox_args(seed: int, rate: float) -> tuple:
    return seed & 0xFFFFFFFF, seed >> 32, rate, 1.0 / (1.0 - rate)


class DropoutMask(Launcher):
    """mask = 1/(1-rate) where Philox's uniform >= rate, else 0 (twin: gpukeras.backend.philox)."""

    kernel = "gk_dropout_mask"

    def __call__(self, shape: tuple[int, ...], rate: float, seed: int, dtype: Any,
                 seed_dev: Array | None = None) -> Array | None:
        """`seed_dev` (one int64 on the device) replaces `seed` when given: a step graph's per-launch seed."""
        mask = cupy.empty(shape, dtype=dtype)
        suffix = self.suffix(mask)
        if suffix is None or mask.size == 0 or not is_number(rate):
            return None
        quads = (mask.size + 3) // 4
        ok = self.launch(suffix, (self.device.grid(quads),), (BLOCK,), mask, mask.size, *_philox_args(seed, rate),
                         seed_dev)
        return mask if ok else None


class Dropout(Launcher):
    """(x * mask, mask) in one pass, the mask as `DropoutMask` draws it for the same seed."""

    kernel = "gk_dropout"

    def __call__(self, x: Array, rate: float, seed: int, seed_dev: Array | None = None) -> tuple[Array, Array] | None:
        suffix = self.suffix(x)
        if suffix is None or x.size == 0 or not is_number(rate):
            return None
        x = cupy.ascontiguousarray(x)
        y, mask = cupy.empty_like(x), cupy.empty_like(x)
        quads = (x.size + 3) // 4
        ok = self.launch(suffix, (self.device.grid(quads),), (BLOCK,), x, y, mask, x.size, *_philox_args(seed, rate),
                         seed_dev)
        return (y, mask) if ok else None
