"""Fused fast paths over sliding windows: convolution, pooling and col2im, with the generic code.

CuPy 14 has no cuDNN, so convolution is im2col + one GEMM: a strided view of the padded
input (no Python loop over pixels) is copied once into a contiguous column matrix whose
rows are output pixels and whose columns follow the Keras kernel layout (*kernel, in), so
the kernel reshapes to (prod(kernel) * in, out) without a copy. The input gradient is
col2im (`col2im_add`: one strided add per kernel offset, a gather kernel on the GPU). Pooling
loops over window offsets only. Arrays are channels_last (N, *spatial, C); padding is as in
`gpukeras.backend.convolution.conv_padding`.

On the host, 2-D float32 im2col and col2im run as C loops (_cpu_windows.c: `im2col2d`, `col2im2d`)
that never build the padded input or the padded gradient. The forward and the kernel gradient take
the batch a chunk at a time, each chunk's columns rebuilt into one cache-sized buffer instead of one
column matrix kept from forward to backward (W6's first stage: 75 MB per convolution): y and dx are
the generic code's bits; dkernel sums the chunks' GEMMs in batch order (float32 rounding apart).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from gpukeras.backend.convolution import Pads, conv_padding, offset_slices
from gpukeras.backend.fused.host import host_kernel

Array = Any


def _geometry2d(x_shape: Sequence[int], out: Sequence[int], kernel_sizes: Sequence[int], strides: Sequence[int],
                dilation_rate: Sequence[int], pads: Pads) -> tuple:
    """The geometry tuple `im2col2d`/`col2im2d` take: input (N, H, W, C), output, kernel, strides, dilation,
    padding before each axis."""
    return (tuple(x_shape), tuple(out), tuple(kernel_sizes), tuple(strides), tuple(dilation_rate),
            (pads[0][0], pads[1][0]))


class WindowFusions:
    """conv (+ its epilogue), pooling and col2im, generic over `self.xp` and the required primitives."""

    xp: Any = None
    col2im_chunk_bytes = 4 << 20  # host only: one batch chunk's columns (im2col, col2im); 4 MiB was best on W6

    # ------------------------------------------------------------------ helpers

    def _windows(self, xp_: Array, out_sizes: Sequence[int], kernel_sizes: Sequence[int],
                 strides: Sequence[int], dilation_rate: Sequence[int]) -> Array:
        """Strided view (N, *out, *kernel, C) of a padded input: every window, no copy."""
        st = xp_.strides
        d = len(out_sizes)
        shape = (xp_.shape[0], *out_sizes, *kernel_sizes, xp_.shape[-1])
        strides_b = (st[0], *(st[1 + i] * strides[i] for i in range(d)),
                     *(st[1 + i] * dilation_rate[i] for i in range(d)), st[-1])
        return self.xp.lib.stride_tricks.as_strided(xp_, shape=shape, strides=strides_b)

    def _im2col(self, x: Array, kernel_sizes: Sequence[int], strides: Sequence[int], padding: Any,
                dilation_rate: Sequence[int], groups: int) -> tuple[Array, tuple[int, ...]]:
        """Column matrix (M, K) (or (groups, M, K/groups)) and the output spatial sizes."""
        pads, out = conv_padding(x.shape[1:-1], kernel_sizes, strides, dilation_rate, padding)
        win = self._windows(self.pad_spatial(x, pads), out, kernel_sizes, strides, dilation_rate)
        m = x.shape[0] * math.prod(out)
        if groups == 1:
            return self.xp.ascontiguousarray(win).reshape(m, -1), out
        c = x.shape[-1]
        win = win.reshape(win.shape[:-1] + (groups, c // groups))
        d = len(out)
        # (G, N, *out, *kernel, C/G): each group's columns contiguous for a batched GEMM.
        axes = (2 * d + 1,) + tuple(range(2 * d + 1)) + (2 * d + 2,)
        return self.xp.ascontiguousarray(self.xp.transpose(win, axes)).reshape(groups, m, -1), out

    def _host_im2col(self, x: Array, kernel: Array, groups: int) -> Any:
        """_cpu_kernels.im2col2d for a 2-D ungrouped float32 convolution on the host, else None."""
        return host_kernel("im2col2d", self.xp, x, kernel) if groups == 1 and x.ndim == 4 == kernel.ndim else None

    def _column_chunks(self, im2col: Any, x: Array, kernel_sizes: Sequence[int], strides: Sequence[int],
                       padding: Any, dilation_rate: Sequence[int]):
        """(rows, columns) per batch chunk of x: the chunk's column matrix, built by the C im2col into one
        reused buffer small enough to stay in cache for the GEMM that reads it, and its rows in the full one
        (a pointwise convolution's columns are x: one chunk, no copy)."""
        xp = self.xp
        pads, out = conv_padding(x.shape[1:-1], kernel_sizes, strides, dilation_rate, padding)
        x = xp.ascontiguousarray(x)
        if max(kernel_sizes) == 1 and max(strides) == 1 and not any(lo or hi for lo, hi in pads):
            yield slice(None), x.reshape(-1, x.shape[-1])  # 1x1, stride 1: the columns are x itself, one GEMM
            return
        pixels, width = math.prod(out), math.prod(kernel_sizes) * x.shape[-1]
        step = self._batch_chunk(x.shape[0], pixels * width * x.itemsize)
        buf = xp.empty((step * pixels, width), dtype=x.dtype)
        for b0 in range(0, x.shape[0], step):
            nb = min(step, x.shape[0] - b0)
            cols = buf[:nb * pixels]
            im2col(x[b0:b0 + nb], cols, _geometry2d((nb, *x.shape[1:]), out, kernel_sizes, strides, dilation_rate,
                                                    pads))
            yield slice(b0 * pixels, (b0 + nb) * pixels), cols

    def _group_kernel(self, kernel: Array, groups: int) -> Array:
        """(*k, in/G, out) kernel as a GEMM operand: (K, out), or (G, K/G, out/G) when grouped."""
        k2 = kernel.reshape(-1, kernel.shape[-1])
        if groups == 1:
            return k2
        og = kernel.shape[-1] // groups
        return self.xp.transpose(k2.reshape(k2.shape[0], groups, og), (1, 0, 2))

    def col2im_add(self, dx: Array, dcols: Array, out_sizes: Sequence[int], kernel_sizes: Sequence[int],
                    strides: Sequence[int], dilation_rate: Sequence[int]) -> None:
        """Scatter-add column gradients (n, *out, *kernel, C) onto padded dx (loops over offsets only)."""
        lead = (slice(None),) * (1 + len(out_sizes))
        for offs in itertools.product(*(range(k) for k in kernel_sizes)):
            dx[offset_slices(offs, out_sizes, strides, dilation_rate)] += dcols[lead + offs]

    def _batch_chunk(self, n: int, bytes_per_sample: int) -> int:
        """Samples per chunk: on the host, small enough that a chunk's columns stay in cache."""
        if getattr(self.xp, "__name__", "") != "numpy":
            return n
        return max(1, min(n, self.col2im_chunk_bytes // max(bytes_per_sample, 1)))

    # ------------------------------------------------------------------ convolution
    def conv(self, x: Array, kernel: Array, bias: Array | None = None, strides: Sequence[int] = (1, 1),
             padding: Any = "valid", dilation_rate: Sequence[int] = (1, 1),
             groups: int = 1) -> tuple[Array, Array]:
        """N-d convolution (Keras layout: x (N, *sp, C), kernel (*k, C/groups, out)) plus bias.

        Returns (y, cols); `cols` is the column matrix `conv_backward` reuses for the kernel gradient. On the
        host (2-D, float32, ungrouped) the columns are built and multiplied a batch chunk at a time, and `cols`
        is x itself: `conv_backward` builds them again, chunk by chunk (cheaper than keeping them in memory).
        """
        xp = self.xp
        ksz = kernel.shape[:-2]
        im2col = self._host_im2col(x, kernel, groups)
        if im2col is not None:
            _, out = conv_padding(x.shape[1:-1], ksz, strides, dilation_rate, padding)
            y = xp.empty((x.shape[0] * math.prod(out), kernel.shape[-1]), dtype=x.dtype)
            k2 = kernel.reshape(-1, kernel.shape[-1])
            for rows, cols in self._column_chunks(im2col, x, ksz, strides, padding, dilation_rate):
                xp.matmul(cols, k2, out=y[rows])
            if bias is not None:
                y += bias
            return y.reshape((x.shape[0],) + out + (kernel.shape[-1],)), x
        cols, out = self._im2col(x, ksz, strides, padding, dilation_rate, groups)
        k2 = self._group_kernel(kernel, groups)
        if groups == 1:
            y = xp.matmul(cols, k2)
        else:
            y = xp.ascontiguousarray(xp.transpose(xp.matmul(cols, k2), (1, 0, 2))).reshape(cols.shape[1], -1)
        if bias is not None:
            y += bias
        return y.reshape((x.shape[0],) + out + (kernel.shape[-1],)), cols

    def conv_activation(self, x: Array, kernel: Array, bias: Array | None, strides: Sequence[int], padding: Any,
                        dilation_rate: Sequence[int], groups: int, activation: str,
                        params: tuple = ()) -> tuple[Array, Array, Array]:
        """activation(conv(x) + bias) as one primitive: returns (y, cols, z), z the pre-activation."""
        z, cols = self.conv(x, kernel, None, strides, padding, dilation_rate, groups)
        y, z = self.bias_activation(z, bias, activation, params)
        return y, cols, z

    def conv_activation_backward(self, dy: Array, x_shape: Sequence[int], kernel: Array, cols: Array, z: Array,
                                 y: Array, strides: Sequence[int], padding: Any, dilation_rate: Sequence[int],
                                 groups: int, activation: str, params: tuple = (), has_bias: bool = True,
                                 need_dx: bool = True) -> tuple[Array | None, Array, Array | None]:
        """(dx, dkernel, dbias) of `conv_activation`."""
        dz, dbias = self.bias_activation_backward(dy, z, y, activation, params, has_bias)
        dx, dkernel, _ = self.conv_backward(dz, x_shape, kernel, cols, strides, padding, dilation_rate, groups,
                                            has_bias=False, need_dx=need_dx)
        return dx, dkernel, dbias

    def conv_backward(self, dy: Array, x_shape: Sequence[int], kernel: Array, cols: Array,
                      strides: Sequence[int], padding: Any, dilation_rate: Sequence[int], groups: int = 1,
                      has_bias: bool = True, need_dx: bool = True) -> tuple[Array | None, Array, Array | None]:
        """(dx, dkernel, dbias) of `conv` from dy and the forward's column matrix."""
        xp = self.xp
        cout = kernel.shape[-1]
        dy2 = dy.reshape(-1, cout)
        dbias = xp.sum(dy2, axis=0) if has_bias else None
        if groups == 1 and cols.ndim == len(x_shape) == 4:  # x standing in for the columns (see `conv`)
            dkernel = self._chunked_kernel_grad(dy2, cols, kernel, strides, padding, dilation_rate)
        elif groups == 1:
            dkernel = xp.matmul(cols.T, dy2).reshape(kernel.shape)
        else:
            dyg = xp.transpose(dy2.reshape(dy2.shape[0], groups, -1), (1, 0, 2))
            dkg = xp.matmul(xp.swapaxes(cols, 1, 2), dyg)  # (G, K/G, out/G)
            dkernel = xp.ascontiguousarray(xp.transpose(dkg, (1, 0, 2))).reshape(kernel.shape)
        if not need_dx:
            return None, dkernel, dbias
        dx = self._flipped_input_grad(dy, kernel, x_shape, strides, padding, dilation_rate, groups)
        if dx is None:
            dx = self.conv_input_grad(dy, kernel, x_shape, strides, padding, dilation_rate, groups)
        return dx, dkernel, dbias

    def _chunked_kernel_grad(self, dy2: Array, x: Array, kernel: Array, strides: Sequence[int], padding: Any,
                             dilation_rate: Sequence[int]) -> Array:
        """dL/dkernel as the sum over batch chunks (in order) of columns.T @ dy, each chunk's columns rebuilt."""
        xp = self.xp
        im2col = self._host_im2col(x, kernel, 1)
        dkernel = xp.zeros((math.prod(kernel.shape[:-1]), kernel.shape[-1]), dtype=dy2.dtype)
        part = xp.empty_like(dkernel)
        for rows, cols in self._column_chunks(im2col, x, kernel.shape[:-2], strides, padding, dilation_rate):
            xp.matmul(cols.T, dy2[rows], out=part)
            dkernel += part
        return dkernel.reshape(kernel.shape)

    def conv_input_grad(self, dy: Array, kernel: Array, x_shape: Sequence[int], strides: Sequence[int],
                        padding: Any, dilation_rate: Sequence[int], groups: int = 1) -> Array:
        """dL/dx of `conv` (also the forward of a transposed convolution): GEMM then col2im.

        On the host the batch goes in chunks so each chunk's column gradients stay in cache.
        """
        xp = self.xp
        ksz = tuple(kernel.shape[:-2])
        cin = x_shape[-1]
        pads, out = conv_padding(x_shape[1:-1], ksz, strides, dilation_rate, padding)
        gather = host_kernel("col2im2d", xp, dy, kernel) if len(ksz) == 2 else None
        if gather is not None:  # the C gather writes the unpadded dx
            dx = xp.empty(tuple(x_shape), dtype=dy.dtype)
        else:
            padded = (x_shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[1:-1], pads)) + (cin,)
            dx = xp.zeros(padded, dtype=dy.dtype)
        k2 = self._group_kernel(kernel, groups)
        step = self._batch_chunk(dy.shape[0], math.prod(out) * math.prod(ksz) * cin * dy.itemsize)
        d = len(ksz)
        for b0 in range(0, dy.shape[0], step):
            dyc = dy[b0:b0 + step]
            nb = dyc.shape[0]
            dy2 = dyc.reshape(-1, kernel.shape[-1])
            if groups == 1:
                dcols = xp.matmul(dy2, k2.T).reshape((nb,) + out + ksz + (cin,))
            else:
                dyg = xp.transpose(dy2.reshape(dy2.shape[0], groups, -1), (1, 0, 2))
                dcg = xp.matmul(dyg, xp.swapaxes(k2, 1, 2))  # (G, M, K/G)
                dcg = dcg.reshape((groups, nb) + out + ksz + (cin // groups,))
                axes = tuple(range(1, 2 * d + 2)) + (0, 2 * d + 2)
                dcols = xp.ascontiguousarray(xp.transpose(dcg, axes)).reshape((nb,) + out + ksz + (cin,))
            if gather is not None:
                gather(dcols, dx[b0:b0 + step], _geometry2d((nb, *x_shape[1:]), out, ksz, strides, dilation_rate,
                                                            pads))
            else:
                self.col2im_add(dx[b0:b0 + step], dcols, out, ksz, strides, dilation_rate)
        return dx if gather is not None else self.crop_spatial(dx, pads)

    def _flipped_input_grad(self, dy: Array, kernel: Array, x_shape: Sequence[int], strides: Sequence[int],
                            padding: Any, dilation_rate: Sequence[int], groups: int) -> Array | None:
        """On the host, a stride-1 2-D float32 convolution's dL/dx as the convolution of dy with the kernel
        flipped in space and in/out swapped, padded to the full width ((k-1)*d minus the forward's padding on
        each side): chunked C im2col + one GEMM per chunk, where GEMM + col2im would write and gather a 9x
        larger column gradient (3x3 kernels): W6's step 350 -> 320 ms. The same sum in another order, so equal
        to `conv_input_grad` to float32 rounding. None where it does not apply (wider padding too)."""
        xp = self.xp
        ksz = kernel.shape[:-2]
        im2col = self._host_im2col(dy, kernel, groups) if all(s == 1 for s in strides) else None
        if im2col is None:
            return None
        pads, _ = conv_padding(x_shape[1:-1], ksz, strides, dilation_rate, padding)
        if any(lo > (k - 1) * d or hi > (k - 1) * d for (lo, hi), k, d in zip(pads, ksz, dilation_rate)):
            return None
        flipped = xp.ascontiguousarray(xp.swapaxes(kernel[::-1, ::-1], 2, 3)).reshape(-1, kernel.shape[-2])
        full = tuple(((k - 1) * d - lo, (k - 1) * d - hi) for (lo, hi), k, d in zip(pads, ksz, dilation_rate))
        dx = xp.empty(tuple(x_shape), dtype=dy.dtype)
        dx2 = dx.reshape(-1, x_shape[-1])
        for rows, cols in self._column_chunks(im2col, dy, ksz, (1, 1), full, dilation_rate):
            xp.matmul(cols, flipped, out=dx2[rows])
        return dx

    def conv_kernel_grad(self, dy: Array, x: Array, kernel_shape: Sequence[int], strides: Sequence[int],
                         padding: Any, dilation_rate: Sequence[int], groups: int = 1) -> Array:
        """dL/dkernel of `conv` recomputing the columns from x (transposed convolution's backward)."""
        kernel = self.xp.empty(tuple(kernel_shape), dtype=x.dtype)  # only its shape (and dtype) is used
        if self._host_im2col(x, kernel, groups) is not None:
            cols = x  # conv_backward builds the columns chunk by chunk
        else:
            cols, _ = self._im2col(x, tuple(kernel_shape[:-2]), strides, padding, dilation_rate, groups)
        _, dkernel, _ = self.conv_backward(dy, x.shape, kernel, cols, strides, padding, dilation_rate,
                                           groups, has_bias=False, need_dx=False)
        return dkernel

    # ------------------------------------------------------------------ pooling
    def _pool_geometry(self, x: Array, pool_size: Sequence[int], strides: Sequence[int], padding: Any):
        return conv_padding(x.shape[1:-1], pool_size, strides, (1,) * len(pool_size), padding)

    def _pool_counts(self, in_sizes: Sequence[int], pool_size: Sequence[int], strides: Sequence[int],
                     pads: Pads, out: Sequence[int], dtype: Any) -> Array | float:
        """Per-output window sizes without the padding (TensorFlow's "same" average), or one number."""
        if not any(lo or hi for lo, hi in pads):
            return float(math.prod(pool_size))
        ones = self.pad_spatial(self.xp.ones((1,) + tuple(in_sizes) + (1,), dtype=dtype), pads)
        counts = self.xp.zeros((1,) + tuple(out) + (1,), dtype=dtype)
        for offs in itertools.product(*(range(k) for k in pool_size)):
            counts += ones[offset_slices(offs, out, strides, (1,) * len(out))]
        return counts

    def pool(self, x: Array, mode: str, pool_size: Sequence[int], strides: Sequence[int],
             padding: Any = "valid") -> Array:
        """Max ("max") or average ("average") pooling; "same" padding is ignored by both, as in TF."""
        xp = self.xp
        pads, out = self._pool_geometry(x, pool_size, strides, padding)
        is_max = mode == "max"
        xp_ = self.pad_spatial(x, pads, -xp.inf if is_max else 0.0)
        acc = None
        ones = (1,) * len(out)
        for offs in itertools.product(*(range(k) for k in pool_size)):
            window = xp_[offset_slices(offs, out, strides, ones)]
            if acc is None:
                acc = window.copy()
            elif is_max:
                xp.maximum(acc, window, out=acc)
            else:
                acc += window
        if not is_max:
            counts = self._pool_counts(x.shape[1:-1], pool_size, strides, pads, out, x.dtype)
            if isinstance(counts, float):
                acc *= 1.0 / counts  # a Python float keeps x's dtype
            else:
                acc /= counts
        return acc

    def pool_backward(self, dy: Array, x: Array, y: Array, mode: str, pool_size: Sequence[int],
                      strides: Sequence[int], padding: Any = "valid") -> Array:
        """dL/dx of `pool`: max routes each window's gradient to its first maximum (TF's rule)."""
        xp = self.xp
        pads, out = self._pool_geometry(x, pool_size, strides, padding)
        padded = (x.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], pads)) + (x.shape[-1],)
        dx = xp.zeros(padded, dtype=dy.dtype)
        ones = (1,) * len(out)
        offsets = list(itertools.product(*(range(k) for k in pool_size)))
        disjoint = all(s >= k for s, k in zip(strides, pool_size))  # each input in at most one window
        if mode == "max":
            xp_ = self.pad_spatial(x, pads, -xp.inf)
            pending = None  # windows whose maximum has not been credited yet
            for i, offs in enumerate(offsets):
                sl = offset_slices(offs, out, strides, ones)
                hit = xp_[sl] == y
                if pending is None:
                    pending = ~hit
                else:
                    hit &= pending
                    if i + 1 < len(offsets):
                        pending ^= hit  # hit is within pending: this clears the credited windows
                if disjoint:
                    dx[sl] = dy * hit  # a bool factor: cheaper than where()
                else:
                    dx[sl] += dy * hit
        else:
            counts = self._pool_counts(x.shape[1:-1], pool_size, strides, pads, out, dy.dtype)
            g = dy * (1.0 / counts) if isinstance(counts, float) else dy / counts
            for offs in offsets:
                if disjoint:
                    dx[offset_slices(offs, out, strides, ones)] = g
                else:
                    dx[offset_slices(offs, out, strides, ones)] += g
        return self.crop_spatial(dx, pads)

