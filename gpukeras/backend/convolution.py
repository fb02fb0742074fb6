"""Window geometry shared by convolution and pooling: padding, output sizes, per-offset slices.

Every window op takes channels_last arrays (N, *spatial, C); the ops layer moves channels_first
data. `padding` is "valid", "same" (TensorFlow's split: the extra pixel goes after), "causal"
(1-D: all padding before) or explicit ((before, after), ...) pairs. The ops themselves are in
gpukeras/backend/fused/windows.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Pads = tuple[tuple[int, int], ...]


def conv_padding(in_sizes: Sequence[int], kernel_sizes: Sequence[int], strides: Sequence[int],
                 dilation_rate: Sequence[int], padding: Any) -> tuple[Pads, tuple[int, ...]]:
    """((before, after) per spatial axis, output sizes) for a window op, as TensorFlow computes them."""
    pads: list[tuple[int, int]] = []
    out: list[int] = []
    for i, (n, k, s, d) in enumerate(zip(in_sizes, kernel_sizes, strides, dilation_rate)):
        eff = (k - 1) * d + 1
        if padding == "same":
            o = -(-n // s)
            total = max((o - 1) * s + eff - n, 0)
            pad = (total // 2, total - total // 2)
        elif padding == "valid":
            pad = (0, 0)
        elif padding == "causal":
            pad = (eff - 1, 0)
        else:
            pad = (int(padding[i][0]), int(padding[i][1]))
        span = n + pad[0] + pad[1]
        if span < eff:
            raise ValueError(f"Window of size {eff} (kernel {k}, dilation {d}) does not fit in a "
                             f"spatial dimension of size {n} with padding {padding!r}: "
                             f"the output would be empty.")
        pads.append(pad)
        out.append((span - eff) // s + 1)
    return tuple(pads), tuple(out)


def pool2d_geometry(x: Any, pool_size: Sequence[int], strides: Sequence[int],
                    padding: Any) -> tuple[tuple[int, ...], tuple[int, int]] | None:
    """(input shape, output size) for 2-D pooling of NHWC x with valid windows (what the fused C
    and CUDA kernels cover), else None."""
    if padding != "valid" or x.ndim != 4 or len(pool_size) != 2:
        return None
    out = tuple((x.shape[1 + i] - pool_size[i]) // strides[i] + 1 for i in range(2))
    if min(out) <= 0:
        return None
    return tuple(x.shape), out


def offset_slices(offsets: Sequence[int], out_sizes: Sequence[int], strides: Sequence[int],
                  dilation_rate: Sequence[int]) -> tuple[slice, ...]:
    """Index of the inputs that kernel offset `offsets` touches, for every output pixel."""
    inner = tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                  for o, n, s, d in zip(offsets, out_sizes, strides, dilation_rate))
    return (slice(None),) + inner + (slice(None),)
