"""Launchers of kernels/depthwise_conv.cu (direct depthwise convolution, forward and both backwards),
kernels/upsampling.cu (bilinear up-sampling, forward and backward) and kernels/conv_input_grad.cu (the
convolution input gradient, also the transposed convolution's forward, without a column matrix).

Each returns what the generic code (gpukeras/backend/fused/depthwise.py, resampling.py, windows.py)
returns, or None when it does not cover the call (rank, dtypes, layout, sizes) or cannot be built here.
Arrays are channels_last (N, *spatial, C) as the backend's window ops take them; a 1-D input runs as an
image of height 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import cupy

from gpukeras.backend.convolution import conv_padding
from gpukeras.backend.launchers.base import BLOCK, Device, Launcher

Array = Any
# The direct input gradient sums, per kernel offset, over a group's output channels. Up to this many it
# reads less memory than the GEMM + col2im path's column matrix (KH*KW*Cout numbers written and read
# per input pixel) for about the same arithmetic; a roofline estimate (H100/H200: ~60 TFLOP/s fp32 on
# the CUDA cores, ~4.8 TB/s), not yet measured on a GPU.
MAX_DIRECT_OUTPUTS = 32
KERNEL_GRAD_TILE, KERNEL_GRAD_ROWS = 32, 8  # blockDim of gk_depthwise_conv_bwd_kernel (GK_DW_TILE, GK_DW_ROWS)


class Geometry(NamedTuple):
    """A 1-D or 2-D window op as the kernels take it: sizes, kernel, strides, dilation, leading padding."""

    n: int
    h: int
    w: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pl: int

    def args(self) -> tuple[int, ...]:
        return (self.kh, self.kw, self.sh, self.sw, self.dh, self.dw, self.pt, self.pl)


def window_geometry(x_shape: Sequence[int], kernel_sizes: Sequence[int], strides: Sequence[int], padding: Any,
                    dilation_rate: Sequence[int]) -> Geometry | None:
    """The kernels' view of a 1-D or 2-D window op on channels_last x_shape, or None for other ranks."""
    rank = len(x_shape) - 2
    if rank not in (1, 2) or len(kernel_sizes) != rank:
        return None
    pads, out = conv_padding(x_shape[1:-1], kernel_sizes, strides, dilation_rate, padding)
    lift = (lambda v: (1, *v)) if rank == 1 else tuple
    (h, w), (oh, ow), (kh, kw) = lift(x_shape[1:-1]), lift(out), lift(kernel_sizes)
    (sh, sw), (dh, dw) = lift(strides), lift(dilation_rate)
    (pt, _), (pl, _) = ((0, 0), *pads) if rank == 1 else pads
    return Geometry(x_shape[0], h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl)


# ---------------------------------------------------------------------------- depthwise convolution
class DepthwiseForward(Launcher):
    """y (N, *out, C*M) of x (N, *spatial, C) and kernel (*k, C, M), one output per thread."""

    kernel = "gk_depthwise_conv_fwd"

    def __call__(self, x: Array, kernel: Array, strides: Sequence[int], padding: Any,
                 dilation_rate: Sequence[int]) -> Array | None:
        g = window_geometry(x.shape, kernel.shape[:-2], strides, padding, dilation_rate)
        suffix = self.suffix(x, kernel) if g is not None and x.shape[-1] == kernel.shape[-2] else None
        if suffix is None:
            return None
        c, m = kernel.shape[-2:]
        out_spatial = (g.ow,) if x.ndim == 3 else (g.oh, g.ow)
        y = cupy.empty((g.n, *out_spatial, c * m), dtype=x.dtype)
        if y.size == 0:
            return None
        ok = self.launch(suffix, (self.device.grid(y.size),), (BLOCK,), cupy.ascontiguousarray(x),
                         cupy.ascontiguousarray(kernel), y, g.n, g.h, g.w, c, m, g.oh, g.ow, *g.args())
        return y if ok else None


class DepthwiseInputGradient(Launcher):
    """dx of the depthwise convolution: each input element gathers dy * kernel over the windows holding it."""

    kernel = "gk_depthwise_conv_bwd_input"

    def __call__(self, dy: Array, kernel: Array, x_shape: Sequence[int], g: Geometry, suffix: str) -> Array | None:
        c, m = kernel.shape[-2:]
        dx = cupy.empty(tuple(x_shape), dtype=dy.dtype)
        ok = self.launch(suffix, (self.device.grid(dx.size),), (BLOCK,), dy, kernel, dx, g.n, g.h, g.w, c, m,
                         g.oh, g.ow, *g.args())
        return dx if ok else None


class DepthwiseKernelGradient(Launcher):
    """dkernel of the depthwise convolution: blocks of 32 output channels x 8 positions per kernel offset and
    share of the positions write float32 partial sums, which are then added in a fixed order."""

    kernel = "gk_depthwise_conv_bwd_kernel"

    def splits(self, blocks: int, positions: int) -> int:
        """How many shares of the positions: enough blocks to fill the GPU, at least 64 positions a share."""
        want = -(-4 * self.device.sm_count() // max(blocks, 1))
        return max(1, min(want, -(-positions // 64), 65535))

    def __call__(self, x: Array, dy: Array, kernel_shape: Sequence[int], g: Geometry, suffix: str) -> Array | None:
        c, m = kernel_shape[-2:]
        tiles = -(-(c * m) // KERNEL_GRAD_TILE)
        splits = self.splits(tiles * g.kh * g.kw, g.n * g.oh * g.ow)
        partial = cupy.empty((splits, g.kh * g.kw, c * m), dtype=cupy.float32)
        ok = self.launch(suffix, (tiles, g.kh * g.kw, splits), (KERNEL_GRAD_TILE, KERNEL_GRAD_ROWS, 1), x, dy,
                         partial, g.n, g.h, g.w, c, m, g.oh, g.ow, *g.args(), splits)
        if not ok:
            return None
        total = partial[0] if splits == 1 else partial.sum(axis=0)
        return total.astype(dy.dtype, copy=False).reshape(tuple(kernel_shape))


class DepthwiseKernels:
    """The three depthwise launchers behind the backend's depthwise_conv / depthwise_conv_backward."""

    def __init__(self, device: Device) -> None:
        self.forward = DepthwiseForward(device)
        self.input_grad = DepthwiseInputGradient(device)
        self.kernel_grad = DepthwiseKernelGradient(device)

    def launchers(self) -> list[Launcher]:
        return [self.forward, self.input_grad, self.kernel_grad]

    def backward(self, dy: Array, x: Array, kernel: Array, strides: Sequence[int], padding: Any,
                 dilation_rate: Sequence[int], need_dx: bool = True) -> tuple[Array | None, Array] | None:
        """(dx or None, dkernel), or None when not covered."""
        g = window_geometry(x.shape, kernel.shape[:-2], strides, padding, dilation_rate)
        c, m = kernel.shape[-2:]
        covered = g is not None and x.shape[-1] == c and dy.shape[-1] == c * m and x.size and dy.size
        suffix = self.forward.suffix(dy, x, kernel) if covered else None
        if suffix is None:
            return None
        dy, x, kernel = (cupy.ascontiguousarray(a) for a in (dy, x, kernel))
        dkernel = self.kernel_grad(x, dy, kernel.shape, g, suffix)
        if dkernel is None:
            return None
        if not need_dx:
            return None, dkernel
        dx = self.input_grad(dy, kernel, x.shape, g, suffix)
        return None if dx is None else (dx, dkernel)


# ---------------------------------------------------------------------------- bilinear up-sampling
def _image_layout(shape: Sequence[int], axes: Sequence[int]) -> tuple[int, int, int, int, int] | None:
    """(n, c, h, w, channels_first) of a 4-D image batch up-sampled along `axes`, or None."""
    if len(shape) != 4 or tuple(axes) not in ((1, 2), (2, 3)):
        return None
    if tuple(axes) == (1, 2):
        n, h, w, c = shape
        return n, c, h, w, 0
    n, c, h, w = shape
    return n, c, h, w, 1


class UpsampleBilinearForward(Launcher):
    """y of a 2-D bilinear up-sampling by whole factors, one output per thread."""

    kernel = "gk_upsample_bilinear2d_fwd"

    def __call__(self, x: Array, factors: Sequence[int], axes: Sequence[int]) -> Array | None:
        layout = _image_layout(x.shape, axes)
        suffix = self.suffix(x) if layout is not None and x.size and min(factors) >= 1 else None
        if suffix is None:
            return None
        n, c, h, w, channels_first = layout
        fh, fw = (int(f) for f in factors)
        shape = list(x.shape)
        shape[axes[0]], shape[axes[1]] = h * fh, w * fw
        y = cupy.empty(tuple(shape), dtype=x.dtype)
        ok = self.launch(suffix, (self.device.grid(y.size),), (BLOCK,), cupy.ascontiguousarray(x), y, n, c, h, w,
                         fh, fw, channels_first)
        return y if ok else None


class UpsampleBilinearBackward(Launcher):
    """dx of the up-sampling: each input gathers dy over the outputs of its neighbouring rows and columns."""

    kernel = "gk_upsample_bilinear2d_bwd"

    def __call__(self, dy: Array, factors: Sequence[int], axes: Sequence[int]) -> Array | None:
        layout = _image_layout(dy.shape, axes)
        fh, fw = (int(f) for f in factors) if len(factors) == 2 else (0, 0)
        fits = layout is not None and fh >= 1 and fw >= 1 and dy.size and dy.shape[axes[0]] % fh == 0 \
            and dy.shape[axes[1]] % fw == 0
        suffix = self.suffix(dy) if fits else None
        if suffix is None:
            return None
        n, c, oh, ow, channels_first = layout
        shape = list(dy.shape)
        shape[axes[0]], shape[axes[1]] = oh // fh, ow // fw
        dx = cupy.empty(tuple(shape), dtype=dy.dtype)
        ok = self.launch(suffix, (self.device.grid(dx.size),), (BLOCK,), cupy.ascontiguousarray(dy), dx, n, c,
                         oh // fh, ow // fw, fh, fw, channels_first)
        return dx if ok else None


# ---------------------------------------------------------------------------- convolution input gradient
class ConvInputGradDirect(Launcher):
    """dx (N, *spatial, Cin) of a 1-D/2-D convolution from dy, without the column matrix, where a group has
    at most MAX_DIRECT_OUTPUTS output channels."""

    kernel = "gk_conv_input_grad_direct"

    def __call__(self, dy: Array, kernel: Array, x_shape: Sequence[int], strides: Sequence[int], padding: Any,
                 dilation_rate: Sequence[int], groups: int = 1) -> Array | None:
        cout = kernel.shape[-1]
        if cout % groups or cout // groups > MAX_DIRECT_OUTPUTS or x_shape[-1] != kernel.shape[-2] * groups:
            return None
        g = window_geometry(tuple(x_shape), kernel.shape[:-2], strides, padding, dilation_rate)
        suffix = self.suffix(dy, kernel) if g is not None and dy.shape[-1] == cout and dy.size else None
        if suffix is None:
            return None
        dx = cupy.empty(tuple(x_shape), dtype=dy.dtype)
        ok = self.launch(suffix, (self.device.grid(dx.size),), (BLOCK,), cupy.ascontiguousarray(dy),
                         cupy.ascontiguousarray(kernel), dx, g.n, g.h, g.w, x_shape[-1], g.oh, g.ow, cout,
                         *g.args(), groups)
        return dx if ok else None


class ConvolutionFamilyKernels:
    """Every launcher of this module, for CudaKernels."""

    def __init__(self, device: Device) -> None:
        self.depthwise = DepthwiseKernels(device)
        self.bilinear_fwd = UpsampleBilinearForward(device)
        self.bilinear_bwd = UpsampleBilinearBackward(device)
        self.conv_input_grad = ConvInputGradDirect(device)

    def launchers(self) -> list[Launcher]:
        return [*self.depthwise.launchers(), self.bilinear_fwd, self.bilinear_bwd, self.conv_input_grad]
