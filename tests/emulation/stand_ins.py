"""NumPy stand-ins for kernels whose fiber emulation is too slow for the suite's models: the GEMM.

kernel_runner runs a kernel's CPU build by default; a large launch of a kernel listed here runs its
stand-in instead, which reads and writes the same memory by the same argument protocol (raw pointers
and element strides), so the CuPy backend's launchers are exercised exactly as with the build. Only
kernels whose own tests run the real build on every layout belong here (tests/test_gemm_kernel.py
switches the stand-ins off: `enabled = False`). A captured training step's matrix products run
through gk_gemm (CuPy's cuBLAS cannot be captured); emulated with fibers they made the suite 5x slower.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np

enabled = True
runs = 0  # launches a stand-in ran (tests check that it did)
MIN_WORK = 1 << 15  # multiply-adds below which the real build runs (quick enough, and it keeps being run)


def _view(x: Any, dtype: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    """The array the kernel sees at `x`'s address through element `strides`."""
    dtype = np.dtype(dtype)
    extent = 1 + sum((n - 1) * s for n, s in zip(shape, strides) if n > 0)
    buffer = (ctypes.c_char * (extent * dtype.itemsize)).from_address(x.data.ptr)
    return np.ndarray(shape, dtype, buffer=buffer, strides=tuple(s * dtype.itemsize for s in strides))


def _gemm(args: tuple) -> None:
    """gk_gemm_<tile>_<dtype>: C (or split-K parts) = A @ B over k ranges, accumulated in float32."""
    a, b, c, part, batch, splits, kchunk, m, n, k, sa0, sa1, sab, sb0, sb1, sbb, scb, accumulate = args
    batch, splits, kchunk, m, n, k = (int(v) for v in (batch, splits, kchunk, m, n, k))
    av = _view(a, c.dtype, (batch, m, k), (int(sab), int(sa0), int(sa1))).astype(np.float32)
    bv = _view(b, c.dtype, (batch, k, n), (int(sbb), int(sb0), int(sb1))).astype(np.float32)
    if splits == 1:
        cv = _view(c, c.dtype, (batch, m, n), (int(scb), n, 1))
        product = np.matmul(av, bv)
        cv[...] = (cv.astype(np.float32) + product if accumulate else product).astype(c.dtype)
        return
    pv = _view(part, np.float32, (batch, splits, m, n), (splits * m * n, m * n, n, 1))
    for s in range(splits):
        lo, hi = s * kchunk, min((s + 1) * kchunk, k)
        pv[:, s] = np.matmul(av[:, :, lo:hi], bv[:, lo:hi, :])


def _gemm_work(args: tuple) -> int:
    return int(args[4]) * int(args[7]) * int(args[8]) * int(args[9])


# kernel name prefix -> (stand-in, work of a launch)
STAND_INS: dict[str, tuple[Callable[[tuple], None], Callable[[tuple], int]]] = {"gk_gemm_t": (_gemm, _gemm_work)}


def find(name: str, args: tuple) -> Callable[[tuple], None] | None:
    """The stand-in to run for this launch, or None (run the kernel's CPU build)."""
    global runs
    if not enabled:
        return None
    for prefix, (fn, work) in STAND_INS.items():
        if name.startswith(prefix) and work(args) >= MIN_WORK:
            runs += 1
            return fn
    return None
