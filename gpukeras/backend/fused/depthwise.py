"""Fused fast path: depthwise convolution, forward and both backwards, with the generic code.

A depthwise convolution filters each input channel c with its own `depth_multiplier` (M) kernels:
x (N, *spatial, C) channels_last, kernel (*kernel_size, C, M), y (N, *out, C * M) with output channel
c * M + m. As a grouped convolution (C groups) it would go through im2col and C tiny GEMMs; here it is
direct: a strided view of every window (no copy) contracted with the kernel by one einsum, in one pass
over the output. The kernel gradient contracts the same view with the output gradient. The input
gradient, at stride 1, is the same contraction over the zero-padded output gradient with the kernel
flipped; with strides it adds the output gradient times the kernel into each offset's window. Padding
is as in `gpukeras.backend.convolution.conv_padding`. CuPy overrides these with
kernels/depthwise_conv.cu (one thread per output / input element; a split reduction for the kernel).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from gpukeras.backend.convolution import conv_padding, offset_slices

Array = Any


def _letters(rank: int) -> tuple[str, str]:
    """einsum letters for `rank` output positions and `rank` kernel offsets (n, c, m: batch, channel, multiplier)."""
    return "defghij"[:rank], "stuvwxy"[:rank]


class DepthwiseFusions:
    """depthwise_conv and depthwise_conv_backward, generic over `self.xp` and the required primitives."""

    xp: Any = None

    def _window_view(self, padded: Array, out: Sequence[int], kernel_sizes: Sequence[int], strides: Sequence[int],
                     dilation_rate: Sequence[int]) -> Array:
        """Strided view (N, *out, *kernel, *rest) of padded (N, *spatial, *rest): every window, no copy."""
        rank = len(out)
        st = padded.strides
        shape = (padded.shape[0], *out, *kernel_sizes, *padded.shape[1 + rank:])
        steps = (st[0], *(st[1 + i] * strides[i] for i in range(rank)),
                 *(st[1 + i] * dilation_rate[i] for i in range(rank)), *st[1 + rank:])
        return self.xp.lib.stride_tricks.as_strided(padded, shape=shape, strides=steps)

    def depthwise_conv(self, x: Array, kernel: Array, strides: Sequence[int], padding: Any,
                       dilation_rate: Sequence[int]) -> Array:
        """y (N, *out, C*M) of x (N, *spatial, C) and kernel (*k, C, M): every window times its kernel, summed."""
        ksz = tuple(kernel.shape[:-2])
        c, m = kernel.shape[-2:]
        pads, out = conv_padding(x.shape[1:-1], ksz, strides, dilation_rate, padding)
        windows = self._window_view(self.pad_spatial(x, pads), out, ksz, strides, dilation_rate)
        o, k = _letters(len(ksz))
        y = self.xp.einsum(f"n{o}{k}c,{k}cm->n{o}cm", windows, kernel)
        return y.reshape(x.shape[0], *out, c * m)

    def depthwise_conv_backward(self, dy: Array, x: Array, kernel: Array, strides: Sequence[int], padding: Any,
                                dilation_rate: Sequence[int], need_dx: bool = True) -> tuple[Array | None, Array]:
        """(dx, dkernel) of `depthwise_conv` from dy (N, *out, C*M); dx is None when not needed."""
        xp = self.xp
        ksz = tuple(kernel.shape[:-2])
        c, m = kernel.shape[-2:]
        pads, out = conv_padding(x.shape[1:-1], ksz, strides, dilation_rate, padding)
        dy5 = dy.reshape(dy.shape[:-1] + (c, m))
        o, k = _letters(len(ksz))
        windows = self._window_view(self.pad_spatial(x, pads), out, ksz, strides, dilation_rate)
        dkernel = xp.einsum(f"n{o}{k}c,n{o}cm->{k}cm", windows, dy5)
        if not need_dx:
            return None, dkernel
        return self._depthwise_input_grad(dy5, kernel, x.shape, pads, out, strides, dilation_rate), dkernel

    def _depthwise_input_grad(self, dy5: Array, kernel: Array, x_shape: Sequence[int], pads: Any,
                              out: Sequence[int], strides: Sequence[int], dilation_rate: Sequence[int]) -> Array:
        """dx: at stride 1 (padding within the window), windows of the re-padded dy with the kernel flipped;
        otherwise one strided add of dy * kernel[offset] (summed over M) per kernel offset."""
        xp = self.xp
        ksz = tuple(kernel.shape[:-2])
        spans = [(k - 1) * d for k, d in zip(ksz, dilation_rate)]
        if all(s == 1 for s in strides) and all(lo <= e and hi <= e for (lo, hi), e in zip(pads, spans)):
            back = tuple((e - lo, e - hi) for (lo, hi), e in zip(pads, spans))
            padded = self.pad_spatial(dy5.reshape(dy5.shape[:-2] + (-1,)), back).reshape(
                (dy5.shape[0], *(n + lo + hi for n, (lo, hi) in zip(out, back)), *dy5.shape[-2:]))
            windows = self._window_view(padded, x_shape[1:-1], ksz, (1,) * len(ksz), dilation_rate)
            flipped = kernel[(slice(None, None, -1),) * len(ksz)]
            o, k = _letters(len(ksz))
            return xp.einsum(f"n{o}{k}cm,{k}cm->n{o}c", windows, flipped)
        padded_shape = (x_shape[0], *(n + lo + hi for n, (lo, hi) in zip(x_shape[1:-1], pads)), x_shape[-1])
        dx = xp.zeros(padded_shape, dtype=dy5.dtype)
        for off in itertools.product(*(range(k) for k in ksz)):
            dx[offset_slices(off, out, strides, dilation_rate)] += xp.einsum("...cm,cm->...c", dy5, kernel[off])
        return self.crop_spatial(dx, pads)
