"""Launchers of kernels/attention.cu: fused scaled dot-product attention, forward and backward.

They cover q (B, T, N, H), k (B, S, K, H), v (B, S, K, Hv) of one float dtype with N a multiple of K,
head sizes up to 128, no bias, a boolean mask broadcastable to (B, N, T, S) (passed as float32 with
stride 0 on broadcast axes), the causal mask, and dropout from a Philox seed. The forward keeps the
log-sum-exp of each row for the backward, which runs two kernels: dq per query block, dk and dv per
key tile (summing the query heads of a group, no atomics).
"""

from __future__ import annotations

from typing import Any

import cupy

from gpukeras.backend.launchers.base import Device, Launcher

Array = Any
MAX_HEAD = 128  # GK_ATT_MAX_D
THREADS = 128  # GK_ATT_THREADS
ROWS, BROWS, KEYS = 16, 8, 32  # GK_ATT_ROWS, GK_ATT_BROWS, GK_ATT_KEYS
_GRID_YZ = 65535


def covers(q: Array, k: Array, v: Array, bias: Array | None, mask: Array | None) -> bool:
    """Whether the kernels take these operands (dtype and device are the launchers' own check)."""
    if bias is not None or q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        return False
    b, t, n, h = q.shape
    _, s, kh, hv = v.shape
    if min(b, t, n, h, s, kh, hv) == 0 or n % kh or h > MAX_HEAD or hv > MAX_HEAD or max(n, b) > _GRID_YZ:
        return False
    return mask is None or mask_strides(mask, (b, n, t, s)) is not None


def mask_strides(mask: Array, shape: tuple[int, int, int, int]) -> tuple[int, ...] | None:
    """Element strides of `mask` as a contiguous (.., .., .., ..) float32 array read over `shape` (0 where
    it broadcasts); None when it does not broadcast to `shape`."""
    if mask.ndim > 4:
        return None
    dims = (1,) * (4 - mask.ndim) + tuple(mask.shape)
    if any(d not in (1, full) for d, full in zip(dims, shape)):
        return None
    strides, step = [], 1
    for d in reversed(dims):
        strides.append(0 if d == 1 else step)
        step *= d
    return tuple(reversed(strides))


class _AttentionLauncher(Launcher):
    """The common tail of the three kernels' arguments (mask, sizes, flags, dropout)."""

    @staticmethod
    def tail(q: Array, v: Array, mask: Array | None, causal: bool, scale: float, zero_rows: bool, rate: float,
             seed: int) -> tuple:
        b, t, n, h = q.shape
        _, s, kh, hv = v.shape
        if mask is None:
            keep, strides = None, (0, 0, 0, 0)
        else:
            strides = mask_strides(mask, (b, n, t, s))
            keep = cupy.ascontiguousarray(mask, dtype=cupy.float32)
        drop_scale = 1.0 / (1.0 - rate) if rate > 0 else 1.0
        return (keep, *strides, b, t, s, n, kh, h, hv, int(causal), int(zero_rows), float(scale), float(rate),
                drop_scale, seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)


class AttentionForward(_AttentionLauncher):
    """(out, lse): out (B, T, N, Hv) and the float32 log-sum-exp of each (B, N, T) row."""

    kernel = "gk_attention_fwd"

    def __call__(self, q: Array, k: Array, v: Array, mask: Array | None, causal: bool, scale: float,
                 zero_rows: bool, rate: float, seed: int) -> tuple[Array, Array] | None:
        suffix = self.suffix(q, k, v)
        if suffix is None or not covers(q, k, v, None, mask):
            return None
        q, k, v = (cupy.ascontiguousarray(x) for x in (q, k, v))
        b, t, n, _ = q.shape
        out = cupy.empty((b, t, n, v.shape[3]), dtype=q.dtype)
        lse = cupy.empty((b, n, t), dtype=cupy.float32)
        ok = self.launch(suffix, ((t + ROWS - 1) // ROWS, n, b), (THREADS,), q, k, v, out, lse,
                         *self.tail(q, v, mask, causal, scale, zero_rows, rate, seed))
        return (out, lse) if ok else None


class AttentionBackwardQ(_AttentionLauncher):
    """dq (B, T, N, H) from dout, the forward's out and lse."""

    kernel = "gk_attention_bwd_q"

    def __call__(self, suffix: str, q: Array, k: Array, v: Array, out: Array, dout: Array, lse: Array, tail: tuple
                 ) -> Array | None:
        b, t, n, _ = q.shape
        dq = cupy.empty_like(q)
        ok = self.launch(suffix, ((t + BROWS - 1) // BROWS, n, b), (THREADS,), q, k, v, out, dout, lse, dq, *tail)
        return dq if ok else None


class AttentionBackwardKV(_AttentionLauncher):
    """(dk, dv), each key tile of each key/value head summing over its query heads."""

    kernel = "gk_attention_bwd_kv"

    def __call__(self, suffix: str, q: Array, k: Array, v: Array, out: Array, dout: Array, lse: Array, tail: tuple
                 ) -> tuple[Array, Array] | None:
        b, s, kh, _ = k.shape
        dk, dv = cupy.empty_like(k), cupy.empty_like(v)
        ok = self.launch(suffix, ((s + KEYS - 1) // KEYS, kh, b), (THREADS,), q, k, v, out, dout, lse, dk, dv,
                         *tail)
        return (dk, dv) if ok else None


class AttentionKernels:
    """The forward launcher and the backward's two, as one group."""

    def __init__(self, device: Device) -> None:
        self.forward = AttentionForward(device)
        self.backward_q = AttentionBackwardQ(device)
        self.backward_kv = AttentionBackwardKV(device)

    def covers(self, q: Array, k: Array, v: Array, bias: Array | None, mask: Array | None) -> bool:
        """Whether the forward (and so the backward) kernel runs for these operands."""
        return self.forward.suffix(q, k, v) is not None and covers(q, k, v, bias, mask)

    def backward(self, dout: Array, q: Array, k: Array, v: Array, out: Array, lse: Array, mask: Array | None,
                 causal: bool, scale: float, zero_rows: bool, rate: float, seed: int
                 ) -> tuple[Array, Array, Array] | None:
        """(dq, dk, dv), or None when a kernel cannot run."""
        suffix = self.backward_q.suffix(dout, q, k, v, out)
        if suffix is None:
            return None
        dout, q, k, v, out = (cupy.ascontiguousarray(x) for x in (dout, q, k, v, out))
        tail = _AttentionLauncher.tail(q, v, mask, causal, scale, zero_rows, rate, seed)
        dq = self.backward_q(suffix, q, k, v, out, dout, lse, tail)
        kv = self.backward_kv(suffix, q, k, v, out, dout, lse, tail) if dq is not None else None
        return None if kv is None else (dq, *kv)

    def launchers(self) -> list[Launcher]:
        return [self.forward, self.backward_q, self.backward_kv]
