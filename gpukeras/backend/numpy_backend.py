"""NumPy backend: the generic ops on host arrays, and the CPU fast paths.

The hottest float32 paths (the Adam/AdamW and SGD updates, Dense's bias + ReLU forward and
backward, sparse softmax cross-entropy, max pooling) run in `_cpu_kernels`, a small C extension
that does in one pass what NumPy does in up to twelve; it is optional, and without it the generic
code computes the same bits (tests/test_cpu_kernels.py checks it).
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpukeras.backend import cpu_recurrent
from gpukeras.backend.base import Array, Ops, UpdateRule
from gpukeras.backend.convolution import pool2d_geometry
from gpukeras.backend.fused.multi_tensor import Scalars, decay_flags
from gpukeras.backend.registry import register_backend

try:
    import gpukeras.backend._cpu_kernels as cpu_kernels
except ImportError:  # not compiled (no C compiler at install): the NumPy paths below
    cpu_kernels = None

CPU_KERNELS_API = 3  # the API_VERSION of _cpu_kernels.c this module calls
if cpu_kernels is not None and getattr(cpu_kernels, "API_VERSION", 1) != CPU_KERNELS_API:
    warnings.warn("gpukeras: the compiled gpukeras.backend._cpu_kernels was built from another version of "
                  "_cpu_kernels.c, so the NumPy backend runs without it (same numbers, slower); rebuild it with "
                  "`pip install -e .`.", RuntimeWarning, stacklevel=2)
    cpu_kernels = None

# Arrays at least this long are updated by several threads (the C loops release the GIL).
_THREADED_SIZE = 1 << 18
_WORKERS = os.cpu_count() or 1
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _run_split(fn: Callable[..., None], arrays: Sequence[np.ndarray | None], *scalars: Any) -> None:
    """fn(*flat_slices, *scalars) over the whole arrays (None passed as is), in equal slices on every core
    when large."""
    global _pool
    size = arrays[0].size
    if size < _THREADED_SIZE or _WORKERS == 1:
        fn(*arrays, *scalars)
        return
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    if _pool is None:
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="gpukeras-cpu")
    bounds = np.linspace(0, size, _WORKERS + 1).astype(int)
    jobs = [_pool.submit(fn, *(None if f is None else f[lo:hi] for f in flat), *scalars)
            for lo, hi in zip(bounds[:-1], bounds[1:])]
    for job in jobs:
        job.result()


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks for reuse instead of returning them to the OS.

    Training frees and reallocates the same multi-megabyte activations and gradients every
    step; glibc serves large blocks with fresh mmap pages, so each step paid thousands of page
    faults (the W3 convnet step: 108 ms without this, 70 ms with it; MLP steps barely change).
    Like PyTorch's caching allocator, the process keeps its peak memory in exchange. Opt out with
    GPUKERAS_MALLOC_TUNING=0. Returns whether it applied.
    """
    if os.environ.get("GPUKERAS_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        ok = libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's maximum (32 MiB on 64-bit)
        # Never trim the heap's top: a step that frees more than any threshold at once (W6's ResNet-20: ~1 GB of
        # columns and activations) would hand it back and fault it in again next step (-1 is SIZE_MAX to glibc).
        ok &= libc.mallopt(m_trim_threshold, -1)
        ok &= libc.mallopt(m_top_pad, 64 << 20)
        return bool(ok)
    except (OSError, AttributeError):  # not glibc (musl, macOS): leave the allocator alone
        return False


def _fast(*arrays: Any) -> bool:
    """True when the C kernels can take these arrays (float32, C-contiguous)."""
    if cpu_kernels is None:
        return False
    for a in arrays:  # a loop, not all(genexpr): this runs for every weight of every step
        if a.dtype != np.float32 or not a.flags.c_contiguous:
            return False
    return True


class NumpyOps(Ops):
    """Primitive ops on NumPy arrays (host memory)."""

    name = "numpy"
    xp = np

    def __init__(self) -> None:
        keep_freed_memory()

    def to_numpy(self, x: Array) -> np.ndarray:
        return np.asarray(x)

    def _act_relu(self, x, negative_slope=0.0, max_value=None, threshold=0.0):
        if negative_slope == 0.0 and max_value is None and threshold == 0.0:
            return np.maximum(x, 0, out=np.empty_like(x))
        return super()._act_relu(x, negative_slope, max_value, threshold)

    def bias_activation(self, z, bias, activation, params=()):
        """Bias + ReLU in one C pass over a float32 GEMM output (Dense and Conv); else NumPy in place."""
        relu = activation == "relu" and not params
        if relu and bias is not None and _fast(z, bias):
            y = np.empty_like(z)
            cpu_kernels.bias_relu(z, bias, y)
            return y, z
        if bias is not None:
            np.add(z, bias, out=z)
        if activation == "linear":
            return z, z
        if relu:
            return np.maximum(z, 0), z
        return self.activation(activation, z, params), z

    def bias_activation_backward(self, dy, z, y, activation, params=(), has_bias=True):
        """ReLU gradient and bias gradient in one C pass (float32); else the generic code."""
        if not (activation == "relu" and not params and has_bias and _fast(dy, z)):
            return super().bias_activation_backward(dy, z, y, activation, params, has_bias)
        dz = np.empty_like(dy)
        dbias = np.empty(dy.shape[-1], dtype=dy.dtype)
        cpu_kernels.relu_grad_bias(dy, z, dz, dbias)
        return dz, dbias

    def sparse_softmax_cross_entropy(self, logits: Array, labels: Array) -> tuple[Array, Array]:
        """Fused per-row softmax and cross-entropy in C for float32 (twin: base.Ops)."""
        if logits.ndim != 2 or not _fast(logits):
            return super().sparse_softmax_cross_entropy(logits, labels)
        labels = np.ascontiguousarray(labels, dtype=np.int64).reshape(-1)
        loss = np.empty(logits.shape[0], dtype=np.float32)
        probs = np.empty_like(logits)
        cpu_kernels.sparse_softmax_xent(logits, labels, loss, probs)
        return loss, probs

    def sparse_softmax_cross_entropy_backward(self, dloss: Array, probs: Array, labels: Array) -> Array:
        if probs.ndim != 2 or not _fast(probs) or dloss.dtype != np.float32:
            return super().sparse_softmax_cross_entropy_backward(dloss, probs, labels)
        grad = np.empty_like(probs)
        cpu_kernels.sparse_softmax_xent_grad(probs, np.ascontiguousarray(labels, dtype=np.int64).reshape(-1),
                                             np.ascontiguousarray(dloss).reshape(-1), grad)
        return grad

    def pool(self, x: Array, mode: str, pool_size: Sequence[int], strides: Sequence[int],
             padding: Any = "valid") -> Array:
        """2-D max pooling with valid windows in C for float32 (twin: ConvolutionOps.pool)."""
        geometry = pool2d_geometry(x, pool_size, strides, padding) if mode == "max" and _fast(x) else None
        if geometry is None:
            return super().pool(x, mode, pool_size, strides, padding)
        (n, h, w, c), out = geometry
        y = np.empty((n, *out, c), dtype=np.float32)
        cpu_kernels.max_pool2d(x, y, (n, h, w, c), tuple(pool_size), tuple(strides))
        return y

    def pool_backward(self, dy: Array, x: Array, y: Array, mode: str, pool_size: Sequence[int],
                      strides: Sequence[int], padding: Any = "valid") -> Array:
        geometry = pool2d_geometry(x, pool_size, strides, padding) if mode == "max" else None
        if geometry is None or not _fast(x, dy, y):
            return super().pool_backward(dy, x, y, mode, pool_size, strides, padding)
        dx = np.empty_like(x)
        cpu_kernels.max_pool2d_grad(x, y, dy, dx, x.shape, tuple(pool_size), tuple(strides))
        return dx

    def multi_tensor_apply(self, rule: UpdateRule, tensor_lists: Sequence[Sequence[Array] | None], scalars: Scalars,
                           decay_mask: Sequence[bool] | None = None) -> None:
        """Each float32 weight in one pass of the rule's C function (weight decay fused, threaded when large),
        where _cpu_kernels has one (Adam, SGD); else the rule's formula (the generic code, same numbers)."""
        fn = getattr(cpu_kernels, rule.kernel, None) if rule.kernel and cpu_kernels is not None else None
        if fn is None or not _fast(*[a for arrays in tensor_lists if arrays is not None for a in arrays]):
            return super().multi_tensor_apply(rule, tensor_lists, scalars, decay_mask)
        params, grads, *slots = tensor_lists
        wd = float(scalars.get("weight_decay") or 0.0)
        flags = decay_flags(len(params), scalars, decay_mask) if wd else None
        tail = (scalars["lr"], *rule.kernel_args(scalars))  # after the decay: decay_lr, then the rule's scalars
        for i, w in enumerate(params):
            group = [w, grads[i]] + [None if s is None else s[i] for s in slots]
            decay = wd if flags is not None and flags[i] else 0.0
            if w.size < _THREADED_SIZE:
                fn(*group, decay, *tail)
            else:
                _run_split(fn, group, decay, *tail)

    def scatter_add(self, out: Array, idx: Any, values: Array) -> None:
        """Rows added in C when it can (Embedding's gradient, cpu_recurrent.scatter_add_rows), else np.add.at."""
        if cpu_kernels is None or not cpu_recurrent.scatter_add_rows(cpu_kernels, out, idx, values):
            np.add.at(out, idx, values)

    # The LSTM / GRU steps in one C pass each for float32 (cpu_recurrent.py); the generic code otherwise.
    def lstm_step(self, x, hr, bias, h_prev, c_prev, mask, fallback, activation, recurrent_activation):
        out = None if cpu_kernels is None else cpu_recurrent.lstm_step(
            cpu_kernels, x, hr, bias, h_prev, c_prev, mask, fallback, activation, recurrent_activation)
        return out or super().lstm_step(x, hr, bias, h_prev, c_prev, mask, fallback, activation, recurrent_activation)

    def lstm_step_backward(self, dh, dc, dout, saved, c_prev, mask, masked_output, activation, recurrent_activation):
        out = None if cpu_kernels is None else cpu_recurrent.lstm_step_backward(
            cpu_kernels, dh, dc, dout, saved, c_prev, mask, masked_output, activation, recurrent_activation)
        return out or super().lstm_step_backward(dh, dc, dout, saved, c_prev, mask, masked_output, activation,
                                                 recurrent_activation)

    def gru_step(self, x, hr, recurrent_bias, h_prev, mask, fallback, activation, recurrent_activation):
        out = None if cpu_kernels is None else cpu_recurrent.gru_step(
            cpu_kernels, x, hr, recurrent_bias, h_prev, mask, fallback, activation, recurrent_activation)
        return out or super().gru_step(x, hr, recurrent_bias, h_prev, mask, fallback, activation, recurrent_activation)

    def gru_step_backward(self, dh, dout, saved, h_prev, mask, masked_output, activation, recurrent_activation):
        out = None if cpu_kernels is None else cpu_recurrent.gru_step_backward(
            cpu_kernels, dh, dout, saved, h_prev, mask, masked_output, activation, recurrent_activation)
        return out or super().gru_step_backward(dh, dout, saved, h_prev, mask, masked_output, activation,
                                                recurrent_activation)


register_backend("numpy", NumpyOps, auto_priority=0)
