"""CuPy backend: the generic ops on GPU arrays, with our CUDA kernels for the hot primitives.

Kernels (kernels/*.cu, loaded lazily by `gpukeras.backend.kernels`): activations forward and
backward (softmax / log_softmax row-wise over the last axis), the Dense and Conv epilogue (bias
+ activation; activation gradient + bias gradient), fused sparse softmax cross-entropy and
sigmoid binary cross-entropy, multi-tensor optimizer updates (SGD, Adam/AdamW, RMSprop,
Adagrad, Adadelta, Adamax, Nadam, Lion: one launch per step for all weights), 2-D max pooling,
2-D col2im (the convolution input gradient), batch and layer normalization and dropout. Each
override falls back to the generic `Ops` code for dtypes, layouts or parameters its kernel does
not cover, or when the kernel cannot be built (e.g. NVRTC finds no half headers).
`GPUKERAS_CUPY_KERNELS=0` turns every kernel off (generic CuPy code only), which the benchmarks
use as the unfused baseline.
Dropout masks come from a Philox stream on the device, so they differ from NumPy's masks.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpukeras.backend import kernels as K

K.cache_dir()  # before CuPy compiles anything (CuPy 14 reads CUPY_CACHE_DIR at import)

import cupy  # noqa: E402
import cupyx  # noqa: E402

from gpukeras.backend.base import Array, Ops, Shape, adam_step_size  # noqa: E402
from gpukeras.backend.convolution import pool2d_geometry  # noqa: E402

_BLOCK = 256
_CHUNK = 8192  # elements per block in the multi-tensor optimizer kernels
_ROW = 8  # int64 entries per weight in the optimizer tensor table (see optimizers.cu)
_KERNEL_DTYPES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}
_NULL = np.uint64(0)
_POOL_KERNEL = {"max": "max", "average": "avg"}  # pooling mode -> kernel name in pooling.cu


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _f32(v: float) -> np.float32:
    return np.float32(v)


class CupyOps(Ops):
    """Primitive ops on CuPy arrays (NVIDIA GPU memory)."""

    name = "cupy"
    xp = cupy

    def __init__(self) -> None:
        self.use_kernels = os.environ.get("GPUKERAS_CUPY_KERNELS", "1").strip() not in ("0", "false", "no")
        self._tables: OrderedDict[tuple, Any] = OrderedDict()
        self._sm_count: int | None = None

    # ------------------------------------------------------------------ helpers
    def _suffix(self, *arrays: Array | None) -> str | None:
        """Kernel dtype suffix when every array is a CuPy array of one kernel dtype, else None."""
        if not self.use_kernels:
            return None
        first = arrays[0]
        if not isinstance(first, cupy.ndarray):
            return None
        suffix = _KERNEL_DTYPES.get(first.dtype.name)
        for a in arrays[1:]:
            if a is not None and (not isinstance(a, cupy.ndarray) or a.dtype != first.dtype):
                return None
        return suffix

    def _sms(self) -> int:
        if self._sm_count is None:
            self._sm_count = int(cupy.cuda.Device().attributes["MultiProcessorCount"])
        return self._sm_count

    def _grid(self, n: int, block: int = _BLOCK) -> int:
        """Blocks for a grid-stride loop over n items: enough to fill the GPU, no more."""
        return max(1, min((n + block - 1) // block, self._sms() * 32))

    def _launch(self, filename: str, name: str, grid: tuple, block: tuple, args: tuple) -> bool:
        """Run one kernel; False (nothing launched) when it cannot be built here."""
        try:
            fn = K.function(filename, name)
        except K.KernelUnavailableError:
            return False
        fn(grid, block, args)
        K.launch_counts[name] += 1
        return True

    @staticmethod
    def _act_params(name: str, params: tuple) -> tuple[float, float, float] | None:
        return K.act_params(name, params)

    # ------------------------------------------------------------------ creation/transfer
    def asarray(self, x: Any, dtype: Any = None) -> Array:
        """Host data to the device; CuPy stages NumPy arrays through pinned memory (async copy)."""
        return cupy.asarray(x, dtype=dtype)

    def to_numpy(self, x: Array) -> np.ndarray:
        return x.get() if isinstance(x, cupy.ndarray) else np.asarray(x)

    def is_array(self, x: Any) -> bool:
        return isinstance(x, cupy.ndarray)

    def item(self, x: Array) -> float:
        """A Python float (waits for the device)."""
        return float(x.get()) if isinstance(x, cupy.ndarray) else float(x)

    def synchronize(self) -> None:
        cupy.cuda.get_current_stream().synchronize()

    def clear_caches(self) -> None:
        """Drop optimizer tables and loaded kernel modules; free CuPy's device and pinned pools."""
        self._tables.clear()
        K.clear()
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()

    # ------------------------------------------------------------------ generic fixes for CuPy
    def _erf(self, x: Array) -> Array:
        from cupyx.scipy.special import erf

        return erf(x)

    def scatter_add(self, out: Array, idx: Any, values: Array) -> None:
        cupyx.scatter_add(out, idx, values)

    def one_hot(self, labels: Array, num_classes: int, dtype: Any = "float32") -> Array:
        labels = cupy.asarray(labels).astype("int64")
        return (labels[..., None] == cupy.arange(num_classes)).astype(dtype)

    # ------------------------------------------------------------------ activations
    def _row_softmax_shape(self, name: str, x: Array, params: tuple) -> tuple[int, int] | None:
        """(rows, cols) when softmax / log_softmax of x runs over its last axis; else None."""
        if name not in ("softmax", "log_softmax") or len(params) > 1 or x.ndim < 1 or x.size == 0:
            return None
        axis = params[0] if params else -1
        if not isinstance(axis, (int, np.integer)) or axis not in (-1, x.ndim - 1):
            return None
        cols = x.shape[-1]
        return x.size // cols, cols

    def _row_block(self, cols: int) -> int:
        return min(_BLOCK, (cols + 31) // 32 * 32)  # whole warps, at most one block of threads per row

    def activation(self, name: str, x: Array, params: tuple = ()) -> Array:
        rows_cols = self._row_softmax_shape(name, x, params)
        suffix = self._suffix(x) if rows_cols is not None else None
        if suffix is not None:
            x = cupy.ascontiguousarray(x)
            y = cupy.empty_like(x)
            rows, cols = rows_cols
            if self._launch("softmax.cu", f"gk_{name}_fwd_{suffix}", (self._grid(rows, 1),),
                            (self._row_block(cols),), (x, y, np.int64(rows), np.int64(cols))):
                return y
            return super().activation(name, x, params)
        p = self._act_params(name, params) if name != "linear" else None
        suffix = self._suffix(x) if p is not None else None
        if suffix is None:
            return super().activation(name, x, params)
        x = cupy.ascontiguousarray(x)
        y = cupy.empty_like(x)
        n = x.size
        if n == 0:
            return y
        if not self._launch("activations.cu", f"gk_act_{name}_fwd_{suffix}", (self._grid(n),), (_BLOCK,),
                            (x, y, np.int64(n), _f32(p[0]), _f32(p[1]), _f32(p[2]))):
            return super().activation(name, x, params)
        return y

    def activation_backward(self, name: str, dy: Array, x: Array, y: Array, params: tuple = ()) -> Array:
        rows_cols = self._row_softmax_shape(name, x, params)
        ok = rows_cols is not None and y is not None and dy.shape == y.shape == x.shape
        suffix = self._suffix(dy, y) if ok else None
        if suffix is not None:
            dy, y = cupy.ascontiguousarray(dy), cupy.ascontiguousarray(y)
            dx = cupy.empty_like(dy)
            rows, cols = rows_cols
            if self._launch("softmax.cu", f"gk_{name}_bwd_{suffix}", (self._grid(rows, 1),),
                            (self._row_block(cols),), (dy, y, dx, np.int64(rows), np.int64(cols))):
                return dx
            return super().activation_backward(name, dy, x, y, params)
        p = self._act_params(name, params) if name != "linear" else None
        suffix = self._suffix(dy, x, y) if p is not None else None
        if suffix is None or y is None or dy.shape != x.shape or y.shape != x.shape:
            return super().activation_backward(name, dy, x, y, params)
        dy, x, y = (cupy.ascontiguousarray(a) for a in (dy, x, y))
        dx = cupy.empty_like(x)
        n = x.size
        if n == 0:
            return dx
        if not self._launch("activations.cu", f"gk_act_{name}_bwd_{suffix}", (self._grid(n),), (_BLOCK,),
                            (dy, x, y, dx, np.int64(n), _f32(p[0]), _f32(p[1]), _f32(p[2]))):
            return super().activation_backward(name, dy, x, y, params)
        return dx

    # ------------------------------------------------------------------ fused bias + activation (Dense, Conv)
    def _rows_grid(self, rows: int, cols: int, bx: int, rows_per_block: int = 1, per_sm: int = 16) -> tuple[int, int]:
        """(column blocks, row blocks) for the row-strided kernels: about `per_sm` blocks per SM."""
        gx = (cols + bx - 1) // bx
        gy = min((rows + rows_per_block - 1) // rows_per_block, max(1, self._sms() * per_sm // gx), 65535)
        return gx, max(1, gy)

    def _epilogue_params(self, activation: str, params: tuple) -> tuple[float, float, float] | None:
        return (0.0, 0.0, 0.0) if activation == "linear" and not params else self._act_params(activation, params)

    def bias_activation(self, z: Array, bias: Array | None, activation: str,
                        params: tuple = ()) -> tuple[Array, Array]:
        """One kernel over the GEMM output: z += bias (in place), y = act(z). Dense and Conv use it."""
        p = self._epilogue_params(activation, params)
        suffix = self._suffix(z, bias) if p is not None and z.ndim >= 1 and z.size else None
        if (suffix is None or (bias is None and activation == "linear")
                or (bias is not None and bias.shape != (z.shape[-1],))):
            return super().bias_activation(z, bias, activation, params)
        z = cupy.ascontiguousarray(z)
        cols = z.shape[-1]
        rows = z.size // cols
        y = z if activation == "linear" else cupy.empty_like(z)
        bx = self._row_block(cols)
        b = cupy.ascontiguousarray(bias) if bias is not None else _NULL
        if not self._launch("dense.cu", f"gk_dense_fwd_{activation}_{suffix}", self._rows_grid(rows, cols, bx),
                            (bx, 1), (z, y, b, np.int64(rows), np.int64(cols), _f32(p[0]), _f32(p[1]), _f32(p[2]))):
            return super().bias_activation(z, bias, activation, params)
        return y, z

    def bias_activation_backward(self, dy: Array, z: Array, y: Array, activation: str, params: tuple = (),
                                 has_bias: bool = True) -> tuple[Array, Array | None]:
        """One kernel: dz = dy * act'(z) and the bias gradient (block column sums, no atomics)."""
        p = self._epilogue_params(activation, params)
        suffix = self._suffix(dy, z, y) if p is not None and dy.shape == z.shape and z.size else None
        if suffix is None or (activation == "linear" and not has_bias):
            return super().bias_activation_backward(dy, z, y, activation, params, has_bias)
        dy, z, y = (cupy.ascontiguousarray(a) for a in (dy, z, y))
        cols = z.shape[-1]
        rows = z.size // cols
        dz = dy if activation == "linear" else cupy.empty_like(dy)
        # few row blocks: each block reduces many rows, so the float32 partials stay small
        gx, gy = self._rows_grid(rows, cols, 32, rows_per_block=8, per_sm=8)
        dbias = cupy.empty((cols,), dtype=dy.dtype) if has_bias else None
        partial = cupy.empty((gy, cols), dtype=cupy.float32) if has_bias and gy > 1 else None
        ok = self._launch("dense.cu", f"gk_dense_bwd_{activation}_{suffix}", (gx, gy), (32, 8),
                          (dy, z, y, dz, partial if partial is not None else _NULL,
                           dbias if dbias is not None else _NULL, np.int64(rows), np.int64(cols),
                           _f32(p[0]), _f32(p[1]), _f32(p[2])))
        if ok and partial is not None:
            ok = self._launch("dense.cu", f"gk_dense_bias_finish_{suffix}", (self._grid(cols),), (_BLOCK,),
                              (partial, dbias, np.int64(gy), np.int64(cols)))
        if not ok:
            return super().bias_activation_backward(dy, z, y, activation, params, has_bias)
        return dz, dbias

    # ------------------------------------------------------------------ convolution input gradient
    def col2im_add(self, dx: Array, dcols: Array, out_sizes: Sequence[int], kernel_sizes: Sequence[int],
                    strides: Sequence[int], dilation_rate: Sequence[int]) -> None:
        """2-D col2im in one gather kernel (the generic code makes one strided add per kernel offset)."""
        suffix = self._suffix(dx, dcols) if len(kernel_sizes) == 2 and dx.flags.c_contiguous else None
        if suffix is not None and dx.size:
            n, h, w, c = dx.shape
            dcols = cupy.ascontiguousarray(dcols)
            ints = (*kernel_sizes, *strides, *dilation_rate)
            if self._launch("col2im.cu", f"gk_col2im_add_{suffix}", (self._grid(dx.size),), (_BLOCK,),
                            (dx, dcols, *(np.int64(v) for v in (n, h, w, c, *out_sizes)),
                             *(np.int32(v) for v in ints))):
                return
        super().col2im_add(dx, dcols, out_sizes, kernel_sizes, strides, dilation_rate)

    # ------------------------------------------------------------------ batch and layer normalization
    def _norm_kind(self, x: Array, axes: tuple[int, ...],
                   param_shape: Sequence[int] | None) -> tuple[str | None, str | None]:
        """("channel", suffix) for statistics over every axis but the last (BatchNormalization),
        ("row", suffix) over the last axis only (LayerNormalization), else (None, None)."""
        if x.ndim < 2 or x.size == 0:
            return None, None
        if param_shape is not None and tuple(param_shape) != (1,) * (x.ndim - 1) + (x.shape[-1],):
            return None, None
        axes = tuple(axes)
        kind = "channel" if axes == tuple(range(x.ndim - 1)) else "row" if axes == (x.ndim - 1,) else None
        suffix = self._suffix(x) if kind is not None else None
        return (kind, suffix) if suffix is not None else (None, None)

    def _column_sums(self, suffix: str, a: Array, b: Array | None, center: Array | None, mode: int,
                     scale: float) -> tuple[Array, Array | None] | None:
        """scale * per-channel sums of a (mode 0), (a - center)^2 (mode 1), or a and a*b (mode 2)."""
        cols = a.shape[-1]
        rows = a.size // cols
        gx, gy = self._rows_grid(rows, cols, 32, rows_per_block=8, per_sm=8)
        p1 = cupy.empty((gy, cols), dtype=cupy.float32)
        p2 = cupy.empty((gy, cols), dtype=cupy.float32) if mode == 2 else None
        out1 = cupy.empty((cols,), dtype=cupy.float32)
        out2 = cupy.empty((cols,), dtype=cupy.float32) if mode == 2 else None
        null = _NULL
        ok = self._launch("normalization.cu", f"gk_bn_sums_{suffix}", (gx, gy), (32, 8),
                          (a, b if b is not None else null, center if center is not None else null, p1,
                           p2 if p2 is not None else null, np.int64(rows), np.int64(cols), np.int32(mode)))
        ok = ok and self._launch("normalization.cu", "gk_bn_finish_f32", (self._grid(cols),), (_BLOCK,),
                                 (p1, p2 if p2 is not None else null, out1, out2 if out2 is not None else null,
                                  np.int64(gy), np.int64(cols), _f32(scale)))
        return (out1, out2) if ok else None

    def normalize(self, x: Array, axes: tuple[int, ...], epsilon: float, gamma: Array | None = None,
                  beta: Array | None = None) -> tuple[Array, Array, Array, Array, Array]:
        """Per channel: two column-sum passes, then one for xhat and y. Per row: one block per row."""
        shape = gamma.shape if gamma is not None else beta.shape if beta is not None else None
        kind, suffix = self._norm_kind(x, axes, shape) if _is_number(epsilon) else (None, None)
        params = [None if p is None or kind is None else cupy.ascontiguousarray(p.reshape(-1), dtype=cupy.float32)
                  for p in (gamma, beta)]
        if kind == "row":
            x = cupy.ascontiguousarray(x)
            cols = x.shape[-1]
            rows = x.size // cols
            xhat, y = cupy.empty_like(x), cupy.empty_like(x)
            mean, var, inv = (cupy.empty((rows,), dtype=cupy.float32) for _ in range(3))
            if self._launch("normalization.cu", f"gk_ln_fwd_{suffix}", (self._grid(rows, 1),),
                            (self._row_block(cols),),
                            (x, *(p if p is not None else _NULL for p in params), xhat, y, mean, var, inv,
                             np.int64(rows), np.int64(cols), _f32(epsilon))):
                keep = x.shape[:-1] + (1,)
                mean, var, inv = (a.reshape(keep).astype(x.dtype, copy=False) for a in (mean, var, inv))
                return y, mean, var, xhat, inv
        if kind == "channel":
            x = cupy.ascontiguousarray(x)
            cols = x.shape[-1]
            rows = x.size // cols
            sums = self._column_sums(suffix, x, None, None, 0, 1.0 / rows)
            mean = sums[0] if sums else None
            sums = self._column_sums(suffix, x, None, mean, 1, 1.0 / rows) if mean is not None else None
            if sums is not None:
                var = sums[0]
                inv = (1.0 / cupy.sqrt(var + _f32(epsilon))).astype(cupy.float32)
                xhat, y = cupy.empty_like(x), cupy.empty_like(x)
                if self._launch("normalization.cu", f"gk_bn_apply_{suffix}", (self._grid(x.size),), (_BLOCK,),
                                (x, mean, inv, *(p if p is not None else _NULL for p in params), xhat, y,
                                 np.int64(rows), np.int64(cols))):
                    keep = (1,) * (x.ndim - 1) + (cols,)
                    mean, var, inv = (a.reshape(keep).astype(x.dtype, copy=False) for a in (mean, var, inv))
                    return y, mean, var, xhat, inv
        return super().normalize(x, axes, epsilon, gamma, beta)

    def normalize_backward(self, dy: Array, xhat: Array, inv_std: Array, axes: tuple[int, ...],
                           param_shape: Sequence[int], gamma: Array | None = None, has_beta: bool = False
                           ) -> tuple[Array, Array | None, Array | None]:
        """One column-sum pass (dbeta = sum dy, dgamma = sum dy*xhat over the rows), then one pass for dx."""
        kind, suffix = self._norm_kind(xhat, axes, param_shape)
        if suffix is not None and self._suffix(dy, xhat) == suffix and dy.shape == xhat.shape:
            dy, xhat = cupy.ascontiguousarray(dy), cupy.ascontiguousarray(xhat)
            cols = xhat.shape[-1]
            rows = xhat.size // cols
            sums = self._column_sums(suffix, dy, xhat, None, 2, 1.0)
            if sums is not None:
                sum_dy, sum_dy_xhat = sums
                g = None if gamma is None else cupy.ascontiguousarray(gamma.reshape(-1), dtype=cupy.float32)
                inv = cupy.ascontiguousarray(inv_std.reshape(-1), dtype=cupy.float32)
                dx = cupy.empty_like(dy)
                if kind == "row":
                    ok = self._launch("normalization.cu", f"gk_ln_bwd_{suffix}", (self._grid(rows, 1),),
                                      (self._row_block(cols),), (dy, xhat, inv, g if g is not None else _NULL, dx,
                                                                 np.int64(rows), np.int64(cols)))
                else:
                    ok = self._launch("normalization.cu", f"gk_bn_grad_{suffix}", (self._grid(dx.size),), (_BLOCK,),
                                      (dy, xhat, inv, g if g is not None else _NULL, sum_dy, sum_dy_xhat, dx,
                                       np.int64(rows), np.int64(cols)))
                if ok:
                    keep = tuple(param_shape)
                    dgamma = sum_dy_xhat.reshape(keep).astype(dy.dtype) if gamma is not None else None
                    dbeta = sum_dy.reshape(keep).astype(dy.dtype) if has_beta else None
                    return dx, dgamma, dbeta
        return super().normalize_backward(dy, xhat, inv_std, axes, param_shape, gamma, has_beta)

    # ------------------------------------------------------------------ pooling
    def pool(self, x: Array, mode: str, pool_size: Sequence[int], strides: Sequence[int],
             padding: Any = "valid") -> Array:
        """2-D max / average pooling with valid windows in one kernel (no cuDNN in CuPy 14)."""
        geometry = pool2d_geometry(x, pool_size, strides, padding) if mode in ("max", "average") else None
        suffix = self._suffix(x) if geometry is not None else None
        if suffix is not None:
            (n, h, w, c), (oh, ow) = geometry
            x = cupy.ascontiguousarray(x)
            y = cupy.empty((n, oh, ow, c), dtype=x.dtype)
            name = f"gk_{_POOL_KERNEL[mode]}_pool2d_fwd_{suffix}"
            if self._launch("pooling.cu", name, (self._grid(y.size),), (_BLOCK,),
                            (x, y, *(np.int64(d) for d in (n, h, w, c)), *self._pool_ints(pool_size, strides),
                             *self._pool_scale(mode, pool_size))):
                return y
        return super().pool(x, mode, pool_size, strides, padding)

    def pool_backward(self, dy: Array, x: Array, y: Array, mode: str, pool_size: Sequence[int],
                      strides: Sequence[int], padding: Any = "valid") -> Array:
        """Its gradient in one kernel: each input gathers dy from the windows it belongs to (for max,
        those whose first maximum it is)."""
        geometry = pool2d_geometry(x, pool_size, strides, padding) if mode in ("max", "average") else None
        suffix = self._suffix(x, y, dy) if geometry is not None and dy.shape == y.shape else None
        if suffix is not None:
            (n, h, w, c), _ = geometry
            x, y, dy = (cupy.ascontiguousarray(a) for a in (x, y, dy))
            dx = cupy.empty_like(x)
            args = (x, y, dy, dx) if mode == "max" else (dy, dx)
            name = f"gk_{_POOL_KERNEL[mode]}_pool2d_bwd_{suffix}"
            if self._launch("pooling.cu", name, (self._grid(dx.size),), (_BLOCK,),
                            (*args, *(np.int64(d) for d in (n, h, w, c)), *self._pool_ints(pool_size, strides),
                             *self._pool_scale(mode, pool_size))):
                return dx
        return super().pool_backward(dy, x, y, mode, pool_size, strides, padding)

    @staticmethod
    def _pool_scale(mode: str, pool_size: Sequence[int]) -> tuple[np.float32, ...]:
        """Average pooling's 1/window size, rounded to float32 as the generic code multiplies by it."""
        return (_f32(1.0 / (pool_size[0] * pool_size[1])),) if mode == "average" else ()

    @staticmethod
    def _pool_ints(pool_size: Sequence[int], strides: Sequence[int]) -> tuple[np.int32, ...]:
        return tuple(np.int32(v) for v in (*pool_size, *strides))

    # ------------------------------------------------------------------ fused losses
    def sparse_softmax_cross_entropy(self, logits: Array, labels: Array) -> tuple[Array, Array]:
        """One block per row: max, sum of exp, loss and the softmax probabilities."""
        suffix = self._suffix(logits)
        if suffix is None or logits.ndim < 1 or logits.size == 0 or tuple(labels.shape) != logits.shape[:-1]:
            return self._generic_sxent(logits, labels)
        logits = cupy.ascontiguousarray(logits)
        labels64 = cupy.ascontiguousarray(cupy.asarray(labels).astype(cupy.int64, copy=False))
        cols = logits.shape[-1]
        rows = logits.size // cols
        loss = cupy.empty(logits.shape[:-1], dtype=logits.dtype)
        probs = cupy.empty_like(logits)
        block = self._row_block(cols)
        if not self._launch("softmax_xent.cu", f"gk_sxent_fwd_{suffix}", (self._grid(rows, 1),), (block,),
                            (logits, labels64, loss, probs, np.int64(rows), np.int64(cols))):
            return self._generic_sxent(logits, labels)
        return loss, probs

    def _generic_sxent(self, logits: Array, labels: Array) -> tuple[Array, Array]:
        shifted = logits - cupy.max(logits, axis=-1, keepdims=True)
        e = cupy.exp(shifted)
        total = cupy.sum(e, axis=-1, keepdims=True)
        idx = cupy.asarray(labels).astype("int64")[..., None]
        picked = cupy.take_along_axis(shifted, idx, axis=-1)[..., 0]
        return cupy.log(total[..., 0]) - picked, e / total

    def sparse_softmax_cross_entropy_backward(self, dloss: Array, probs: Array, labels: Array) -> Array:
        """(softmax - onehot) * dloss in one pass."""
        suffix = self._suffix(probs)
        cols = probs.shape[-1] if probs.ndim else 0
        if suffix is None or probs.size == 0 or tuple(labels.shape) != probs.shape[:-1]:
            return self._generic_sxent_backward(dloss, probs, labels)
        dloss = cupy.ascontiguousarray(cupy.broadcast_to(cupy.asarray(dloss, dtype=probs.dtype), labels.shape))
        probs = cupy.ascontiguousarray(probs)
        labels64 = cupy.ascontiguousarray(cupy.asarray(labels).astype(cupy.int64, copy=False))
        rows = probs.size // cols
        grad = cupy.empty_like(probs)
        bx = self._row_block(cols)
        if not self._launch("softmax_xent.cu", f"gk_sxent_bwd_{suffix}", self._rows_grid(rows, cols, bx), (bx, 1),
                            (probs, labels64, dloss, grad, np.int64(rows), np.int64(cols))):
            return self._generic_sxent_backward(dloss, probs, labels)
        return grad

    def _generic_sxent_backward(self, dloss: Array, probs: Array, labels: Array) -> Array:
        return (probs - self.one_hot(labels, probs.shape[-1], probs.dtype)) * dloss[..., None]

    def sigmoid_binary_cross_entropy(self, logits: Array, targets: Array) -> tuple[Array, Array]:
        """Elementwise BCE from logits and sigmoid(logits), in one pass (twin: kernels.sigmoid_bce)."""
        targets = cupy.asarray(targets, dtype=logits.dtype)
        suffix = self._suffix(logits, targets)
        if suffix is None or targets.shape != logits.shape or logits.size == 0:
            return K.sigmoid_bce(cupy, logits, targets)
        logits, targets = cupy.ascontiguousarray(logits), cupy.ascontiguousarray(targets)
        loss, probs = cupy.empty_like(logits), cupy.empty_like(logits)
        n = logits.size
        if not self._launch("softmax_xent.cu", f"gk_sbce_fwd_{suffix}", (self._grid(n),), (_BLOCK,),
                            (logits, targets, loss, probs, np.int64(n))):
            return K.sigmoid_bce(cupy, logits, targets)
        return loss, probs

    def sigmoid_binary_cross_entropy_backward(self, dloss: Array, probs: Array, targets: Array) -> Array:
        """(sigmoid(z) - t) * dloss in one pass."""
        targets = cupy.asarray(targets, dtype=probs.dtype)
        dloss = cupy.asarray(dloss, dtype=probs.dtype)
        suffix = self._suffix(probs, targets, dloss)
        if suffix is None or not (targets.shape == dloss.shape == probs.shape) or probs.size == 0:
            return K.sigmoid_bce_backward(dloss, probs, targets)
        probs, targets, dloss = (cupy.ascontiguousarray(a) for a in (probs, targets, dloss))
        grad = cupy.empty_like(probs)
        n = probs.size
        if not self._launch("softmax_xent.cu", f"gk_sbce_bwd_{suffix}", (self._grid(n),), (_BLOCK,),
                            (probs, targets, dloss, grad, np.int64(n))):
            return K.sigmoid_bce_backward(dloss, probs, targets)
        return grad

    # ------------------------------------------------------------------ multi-tensor optimizers
    def _tensor_table(self, columns: Sequence[Sequence[Array | None]]) -> tuple[Any, int, int] | None:
        """Device table for optimizers.cu, or None when some array is not float32 C-contiguous.

        columns = [params, grads, slot1, slot2, slot3] (a slot list may be None). Tables are cached by
        the (pointer, size) tuple; CuPy's pool reuses addresses, so steady-state steps upload nothing.
        """
        params = columns[0]
        n = len(params)
        if not self.use_kernels or n == 0:
            return None
        key_parts = []
        for col in columns:
            if col is None:
                key_parts.append(None)
                continue
            if len(col) != n:
                return None
            for a, w in zip(col, params):
                if (not isinstance(a, cupy.ndarray) or a.dtype != cupy.float32 or not a.flags.c_contiguous
                        or a.shape != w.shape):
                    return None
            key_parts.append(tuple(a.data.ptr for a in col))
        key = (tuple(int(w.size) for w in params), tuple(key_parts))
        found = self._tables.get(key)
        if found is None:
            host = np.zeros((n, _ROW), dtype=np.int64)
            chunks = 0
            for i, w in enumerate(params):
                for j, ptrs in enumerate(key_parts):
                    host[i, j] = 0 if ptrs is None else ptrs[i]
                host[i, 5] = w.size
                host[i, 6] = chunks
                chunks += (int(w.size) + _CHUNK - 1) // _CHUNK
            found = (cupy.asarray(host), n, chunks)  # staged through pinned memory by CuPy
            self._tables[key] = found
            while len(self._tables) > 16:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(key)
        return found

    def _fused_update(self, kernel: str, columns: list, scalars: tuple, args: Callable[[], tuple]) -> bool:
        """One launch of optimizers.cu `kernel` over every weight; False (nothing done) when it cannot run.

        columns = [params, grads, slot1, slot2, slot3] (a slot may be None); scalars are the
        hyperparameters, which must all be plain numbers; args() builds the kernel's scalar
        arguments (after the tensor table), only once that is known.
        """
        if not all(_is_number(v) for v in scalars):
            return False
        grads = [cupy.ascontiguousarray(g) if isinstance(g, cupy.ndarray) else g for g in columns[1]]
        table = self._tensor_table([columns[0], grads, *columns[2:]])
        if table is None or table[2] == 0:
            return False
        return self._launch("optimizers.cu", kernel, (table[2],), (_BLOCK,),
                            (table[0], np.int32(table[1]), np.int64(_CHUNK), *args()))

    def sgd_update(self, params: Sequence[Array], grads: Sequence[Array], moments: Sequence[Array] | None,
                   lr: float, momentum: float, nesterov: bool) -> None:
        """Keras SGD (momentum, nesterov) for all weights in one launch."""
        use_m = bool(momentum)
        if (moments is None and use_m) or not self._fused_update(
                "gk_sgd_multi_f32", [params, grads, moments if use_m else None, None, None], (lr, momentum),
                lambda: (_f32(lr), _f32(momentum), np.int32(use_m), np.int32(bool(nesterov)))):
            super().sgd_update(params, grads, moments, lr, momentum, nesterov)

    def adam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                    vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                    step: int, vhats: Sequence[Array] | None = None, weight_decay: float = 0.0) -> None:
        """Keras Adam (amsgrad with vhats; AdamW decay w -= lr*weight_decay*w first) in one launch."""
        if self._fused_update(
                "gk_adam_multi_f32", [params, grads, ms, vs, vhats], (lr, beta_1, beta_2, epsilon, step, weight_decay),
                lambda: (_f32(adam_step_size(lr, beta_1, beta_2, step, np.float32)),  # rounded as the generic path
                         _f32(1.0 - beta_1), _f32(1.0 - beta_2), _f32(epsilon), _f32(lr * weight_decay),
                         np.int32(vhats is not None))):
            return
        if weight_decay:
            for w in params:
                w -= w * (weight_decay * lr)
        super().adam_update(params, grads, ms, vs, lr, beta_1, beta_2, epsilon, step, vhats)

    def rmsprop_update(self, params: Sequence[Array], grads: Sequence[Array], velocities: Sequence[Array],
                       momentums: Sequence[Array] | None, average_grads: Sequence[Array] | None, lr: float,
                       rho: float, momentum: float, epsilon: float) -> None:
        """Keras RMSprop (centered when average_grads, momentum when momentums) in one launch."""
        if not self._fused_update(
                "gk_rmsprop_multi_f32", [params, grads, velocities, average_grads, momentums],
                (lr, rho, momentum, epsilon),
                lambda: (_f32(lr), _f32(rho), _f32(1.0 - rho), _f32(momentum), _f32(epsilon),
                         np.int32(average_grads is not None), np.int32(momentums is not None))):
            super().rmsprop_update(params, grads, velocities, momentums, average_grads, lr, rho, momentum, epsilon)

    def adagrad_update(self, params: Sequence[Array], grads: Sequence[Array], accumulators: Sequence[Array],
                       lr: float, epsilon: float) -> None:
        """Keras Adagrad for all weights in one launch."""
        if not self._fused_update("gk_adagrad_multi_f32", [params, grads, accumulators, None, None], (lr, epsilon),
                                  lambda: (_f32(lr), _f32(epsilon))):
            super().adagrad_update(params, grads, accumulators, lr, epsilon)

    def adadelta_update(self, params: Sequence[Array], grads: Sequence[Array],
                        accumulated_grads: Sequence[Array], accumulated_deltas: Sequence[Array], lr: float,
                        rho: float, epsilon: float) -> None:
        """Keras Adadelta for all weights in one launch."""
        if not self._fused_update(
                "gk_adadelta_multi_f32", [params, grads, accumulated_grads, accumulated_deltas, None],
                (lr, rho, epsilon), lambda: (_f32(lr), _f32(rho), _f32(1 - rho), _f32(epsilon))):
            super().adadelta_update(params, grads, accumulated_grads, accumulated_deltas, lr, rho, epsilon)

    def nadam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                     vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                     u_t: float, u_t_1: float, u_product_t: float, beta_2_power: float) -> None:
        """Keras Nadam for all weights in one launch (schedule scalars folded on the host, as the twin)."""
        if not self._fused_update(
                "gk_nadam_multi_f32", [params, grads, ms, vs, None],
                (lr, beta_1, beta_2, epsilon, u_t, u_t_1, u_product_t, beta_2_power),
                lambda: (_f32(lr), _f32(1 - beta_1), _f32(1 - beta_2), _f32(epsilon), _f32(u_t_1),
                         _f32(1 - u_product_t * u_t_1), _f32(1 - u_t), _f32(1 - u_product_t),
                         _f32(1 - beta_2_power))):
            super().nadam_update(params, grads, ms, vs, lr, beta_1, beta_2, epsilon, u_t, u_t_1, u_product_t,
                                 beta_2_power)

    def adamax_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                      us: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                      step: int) -> None:
        """Keras Adamax for all weights in one launch (1 - beta_1^t in float32 on the host, as the twin)."""
        if not self._fused_update(
                "gk_adamax_multi_f32", [params, grads, ms, us, None], (lr, beta_1, beta_2, epsilon, step),
                lambda: (_f32(lr), np.float32(1) - np.power(np.float32(beta_1), np.float32(step)),
                         _f32(1 - beta_1), _f32(beta_2), _f32(epsilon))):
            super().adamax_update(params, grads, ms, us, lr, beta_1, beta_2, epsilon, step)

    def lion_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array], lr: float,
                    beta_1: float, beta_2: float) -> None:
        """Keras Lion for all weights in one launch."""
        if not self._fused_update(
                "gk_lion_multi_f32", [params, grads, ms, None, None], (lr, beta_1, beta_2),
                lambda: (_f32(lr), _f32(beta_1), _f32(1.0 - beta_1), _f32(beta_2), _f32(1.0 - beta_2))):
            super().lion_update(params, grads, ms, lr, beta_1, beta_2)

    # ------------------------------------------------------------------ dropout
    def dropout_mask(self, shape: Shape, rate: float, rng: np.random.Generator,
                     dtype: Any = "float32") -> Array:
        """Philox mask on the device (seeded from `rng`): 1/(1-rate) where kept, else 0."""
        mask, _ = self._dropout(None, tuple(shape), rate, rng, dtype)
        return mask

    def dropout(self, x: Array, rate: float, rng: np.random.Generator) -> tuple[Array, Array]:
        """(x * mask, mask) in one kernel."""
        mask, y = self._dropout(x, tuple(x.shape), rate, rng, x.dtype)
        return y, mask

    def _dropout(self, x: Array | None, shape: Shape, rate: float, rng: np.random.Generator,
                 dtype: Any) -> tuple[Array, Array | None]:
        seed = int(rng.integers(0, 2**63 - 1, dtype=np.int64))
        scale = 1.0 / (1.0 - rate)
        mask = cupy.empty(shape, dtype=dtype)
        suffix = self._suffix(mask, x)
        n = mask.size
        y = None if x is None else cupy.empty_like(mask)
        if suffix is not None and n and _is_number(rate):
            xs = None if x is None else cupy.ascontiguousarray(x)
            name = f"gk_dropout_mask_{suffix}" if x is None else f"gk_dropout_{suffix}"
            args = (mask, np.int64(n)) if x is None else (xs, y, mask, np.int64(n))
            quads = (n + 3) // 4
            if self._launch("dropout.cu", name, (self._grid(quads),), (_BLOCK,),
                            args + (np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32), _f32(rate), _f32(scale))):
                return mask, y
        mask = cupy.asarray(K.philox_dropout_mask(shape, rate, seed, dtype))
        return mask, (None if x is None else x * mask)
