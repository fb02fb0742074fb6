"""Launcher of kernels/gemm.cu: a @ b by our own kernel, for steps captured into a CUDA graph.

CuPy refuses cuBLAS while a stream is captured, so a captured step's matrix products come from
here. NumPy's matmul rules for the batch axes (broadcasting included); operands are passed as
strided views (transposes and slices cost no copy). Nothing is allocated but the result
(`cupy.empty`), nothing is read back to the host: the call is legal inside a capture.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import cupy
import numpy as np

from gpukeras.backend.launchers.base import BLOCK, Device, Launcher

Array = Any
THREADS = 256
MAX_GRID_Y = 65535
MAX_OUTER_LAUNCHES = 4096  # batch axes that do not merge into one stride are walked on the host
DEPTH = 16  # k per stage (GK_GEMM_BK)
MIN_SPLIT_STAGES = 4  # split-K: each split sums at least this many stages
MAX_SPLITS = 16
MAX_WORKSPACE = 1 << 24  # split-K partial sums, float32 elements (64 MiB)
# tile name -> (side of the square C tile, relative speed of an SM working on it): rough figures from
# the outputs per thread (8x8, 4x4, 2x2: multiply-adds per shared-memory read); bench/bench_gemm_gpu.py
# times every tile, to check the choice on a GPU.
TILES = {"t128": (128, 1.0), "t64": (64, 0.7), "t32": (32, 0.35)}


def element_strides(x: Array) -> tuple[int, ...] | None:
    """Strides of `x` in elements (0 on axes of length 1), or None when negative or not whole elements."""
    out = []
    for size, stride in zip(x.shape, x.strides):
        if size == 1:
            out.append(0)
        elif stride < 0 or stride % x.itemsize:
            return None
        else:
            out.append(stride // x.itemsize)
    return tuple(out)


def merged_batch(shape: tuple[int, ...], strides: list[tuple[int, ...]]) -> tuple[int, int, tuple[int, ...]]:
    """(first axis, count, strides) of the longest run of trailing batch axes that one stride per operand walks.

    Axes of length 1 join any run; the axes before `first` are looped over by the caller.
    """
    first, count, step = len(shape), 1, tuple(0 for _ in strides)
    for axis in reversed(range(len(shape))):
        size = shape[axis]
        if size != 1:
            here = tuple(s[axis] for s in strides)
            if count == 1:
                step = here
            elif here != tuple(s * count for s in step):
                break
            count *= size
        first = axis
    return first, count, step


def _extent(x: Array, strides: tuple[int, ...]) -> tuple[int, int]:
    """The device addresses [lo, hi) that `x` (non-negative strides) touches."""
    last = sum((n - 1) * s for n, s in zip(x.shape, strides))
    return x.data.ptr, x.data.ptr + (last + 1) * x.itemsize


class GemmSplitSum(Launcher):
    """C (+)= the sum of split-K's float32 partial products, in split order (one light launch)."""

    kernel = "gk_gemm_split_sum"

    def __call__(self, suffix: str, part: Array, c: Array, batch: int, splits: int, mn: int, scb: int,
                 accumulate: bool) -> bool:
        return self.launch(suffix, (self.device.grid(batch * mn),), (BLOCK,), part, c, batch, splits, mn, scb,
                           int(accumulate))


class Gemm(Launcher):
    """C = a @ b (or out += a @ b) for float device arrays of one dtype; None when the kernel does not cover it."""

    kernel = "gk_gemm_{}"

    def __init__(self, device: Device) -> None:
        super().__init__(device)
        self.finish = GemmSplitSum(device)
        self.tile: str | None = None  # force one tile (tests, benchmarks); None: chosen per call
        self.splits: int | None = None  # force split-K's number of splits (tests, benchmarks); None: chosen

    def __call__(self, a: Array, b: Array, out: Array | None = None, accumulate: bool = False) -> Array | None:
        if accumulate and out is None:
            raise ValueError("accumulate=True adds into `out`, which is missing")
        suffix = self.suffix(a, b, out)
        if suffix is None or a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            return None
        try:
            batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        except ValueError:
            return None
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        shape = batch + (m, n)
        if out is not None and (out.shape != shape or not out.flags.c_contiguous or out.dtype != a.dtype):
            return None
        a, b = self._broadcast(a, batch + (m, k)), self._broadcast(b, batch + (k, n))
        sa, sb = element_strides(a), element_strides(b)
        if sa is None or sb is None or self._too_big(m, n):
            return None
        c = out if out is not None else cupy.empty(shape, dtype=a.dtype)
        if c.size == 0:
            return c
        if out is not None and any(self._overlap(out, x, s) for x, s in ((a, sa), (b, sb))):
            return None
        return c if self._run(suffix, a, b, c, (sa, sb), accumulate) else None

    @staticmethod
    def _broadcast(x: Array, shape: tuple[int, ...]) -> Array:
        return x if x.shape == shape else cupy.broadcast_to(x, shape)

    @staticmethod
    def _too_big(m: int, n: int) -> bool:
        """Row tiles go on grid y (at most 65535 blocks, counted with the smallest tile)."""
        return -(-m // min(side for side, _ in TILES.values())) > MAX_GRID_Y or n >= 2**31

    @staticmethod
    def _overlap(out: Array, x: Array, strides: tuple[int, ...]) -> bool:
        """Whether `out` shares memory with operand `x` (the kernel reads operands while writing C)."""
        if x.size == 0:
            return False
        lo, hi = _extent(x, strides)
        olo, ohi = _extent(out, element_strides(out) or ())
        return lo < ohi and olo < hi

    def plan(self, m: int, n: int, k: int, batch: int) -> tuple[str, int, int]:
        """(tile, k per split, splits): the tile, each with the split-K it would use, of least estimated time.

        Estimate: the blocks one SM runs (the busiest) times a block's work (outputs x k per split / speed).
        """
        sms = self.device.sm_count()

        def cost(name: str) -> tuple[float, int, int]:
            side, speed = TILES[name]
            blocks = -(-m // side) * -(-n // side) * batch
            kchunk, splits = self._split(k, self.choose_splits(blocks, m, n, k, batch))
            return math.ceil(blocks * splits / sms) * side * side * kchunk / speed, kchunk, splits

        name = self.tile or min(TILES, key=lambda t: cost(t)[0])
        return (name, *cost(name)[1:])

    def choose_splits(self, blocks: int, m: int, n: int, k: int, batch: int) -> int:
        """How many parts k is split into: enough blocks for every SM when C alone has too few tiles."""
        if self.splits is not None:
            return max(1, self.splits)
        sms = self.device.sm_count()
        if blocks >= sms:
            return 1
        return max(1, min(-(-sms // blocks), k // (DEPTH * MIN_SPLIT_STAGES), MAX_SPLITS,
                          MAX_WORKSPACE // max(1, batch * m * n)))

    def _run(self, suffix: str, a: Array, b: Array, c: Array, strides: tuple, accumulate: bool) -> bool:
        """Launch per outer batch index; the trailing batch axes that merge go to grid z."""
        batch = c.shape[:-2]
        m, k, n = a.shape[-2], a.shape[-1], c.shape[-1]
        sa, sb = strides
        sc = tuple(s // c.itemsize for s in c.strides)
        first, count, (sab, sbb, scb) = merged_batch(batch, [sa[:-2], sb[:-2], sc[:-2]])
        outer = list(itertools.product(*(range(size) for size in batch[:first])))
        if len(outer) > MAX_OUTER_LAUNCHES:
            return False
        name, kchunk, splits = self.plan(m, n, k, count)
        side = TILES[name][0]
        grid = (-(-n // side), -(-m // side), min(count * splits, MAX_GRID_Y))
        part = cupy.empty((count * splits, m, n), dtype=cupy.float32) if splits > 1 else None
        for index in outer:
            ci = c[index]
            args = (a[index], b[index], ci, part, count, splits, kchunk, m, n, k, sa[-2], sa[-1], sab, sb[-2],
                    sb[-1], sbb, scb, int(accumulate))
            if not self.launch(suffix, grid, (THREADS,), *args, variant=name):
                return False
            if part is not None and not self.finish(suffix, part, ci, count, splits, m * n, scb, accumulate):
                return False
        return True

    @staticmethod
    def _split(k: int, splits: int) -> tuple[int, int]:
        """(k per split, a whole number of stages; splits), every split non-empty."""
        if splits <= 1 or k <= DEPTH:
            return max(k, 1), 1
        per_split = -(-k // splits)
        kchunk = -(-per_split // DEPTH) * DEPTH
        return kchunk, -(-k // kchunk)

    def _arguments(self, name: str, suffix: str, args: tuple) -> tuple:
        """As every launcher checks them, except A and B: strided views (read through their strides) of C's dtype."""
        c = args[2]
        checked = super()._arguments(name, suffix, (c, c, *args[2:]))
        for i, x in enumerate(args[:2]):
            if not isinstance(x, cupy.ndarray) or x.dtype != c.dtype:
                raise TypeError(f"{name} argument {i} must be a {c.dtype} device array, got {type(x).__name__}")
        return (args[0], args[1], *checked[2:])
