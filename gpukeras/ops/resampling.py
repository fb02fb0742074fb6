"""Differentiable changes of the spatial grid: zero padding, cropping and up-sampling by whole factors.

What the ZeroPadding, Cropping and UpSampling layers compute. Inputs are (batch, *spatial, channels)
("channels_last") or (batch, channels, *spatial) ("channels_first"); `pads`/`factors` give one entry per
spatial axis. Bilinear up-sampling has Keras 3's (jax.image.resize's) semantics, computed by the backend
(gpukeras/backend/fused/resampling.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops.convolution import normalize_data_format
from gpukeras.ops.core import data_of
from gpukeras.ops.numpy import broadcast_to, reshape
from gpukeras.tensor import Tensor

Pads = tuple[tuple[int, int], ...]


def spatial_axes(ndim: int, data_format: str) -> list[int]:
    """Indices of the spatial axes of a rank-`ndim` input in `data_format`."""
    return list(range(2, ndim)) if data_format == "channels_first" else list(range(1, ndim - 1))


def _check_spatial(x: Any, count: int, what: str) -> tuple[int, ...]:
    shape = tuple(data_of(x).shape)
    if len(shape) != count + 2:
        raise ValueError(f"{what} expects inputs of rank {count + 2} (batch, {count} spatial axes, channels), "
                         f"got shape {shape}.")
    return shape


def _backend_form(a: Any, data_format: str, pads: Pads) -> tuple[Any, Pads]:
    """(array, pads) such that the padded axes are 1..ndim-2, as the backend's pad/crop primitives expect:
    channels_first data gets a trailing axis of size 1 (a view) and no padding on the channel axis."""
    if data_format == "channels_last":
        return a, pads
    return _backend.active.reshape(a, tuple(a.shape) + (1,)), ((0, 0),) + tuple(pads)


# ---------------------------------------------------------------------------- padding and cropping
def zero_pad(inputs: Any, pads: Sequence[Sequence[int]], data_format: str | None = None) -> Tensor:
    """Zeros added before/after each spatial axis: pads ((before, after), ...) per spatial axis."""
    B = _backend.active
    fmt = normalize_data_format(data_format)
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    shape = _check_spatial(inputs, len(pads), "zero_pad")
    a = data_of(inputs)
    form, full = _backend_form(a, fmt, pads)
    y = B.reshape(B.pad_spatial(form, full), _grown(shape, fmt, pads)) if any(lo or hi for lo, hi in pads) \
        else B.copy(a)

    def backward(g):
        g_form, _ = _backend_form(g, fmt, pads)
        return (B.reshape(B.copy(B.crop_spatial(g_form, full)), shape),)

    return attach(y, (inputs,), backward)


def crop(inputs: Any, crops: Sequence[Sequence[int]], data_format: str | None = None) -> Tensor:
    """Each spatial axis without its first `before` and last `after` entries: crops ((before, after), ...)."""
    B = _backend.active
    fmt = normalize_data_format(data_format)
    crops = tuple((int(lo), int(hi)) for lo, hi in crops)
    shape = _check_spatial(inputs, len(crops), "crop")
    for ax, (lo, hi) in zip(spatial_axes(len(shape), fmt), crops):
        if lo < 0 or hi < 0 or lo + hi >= shape[ax]:
            raise ValueError(f"crop: cropping {crops} must be >= 0 and leave at least one entry of each spatial "
                             f"axis; input shape {shape}.")
    a = data_of(inputs)
    form, full = _backend_form(a, fmt, crops)
    y = B.reshape(B.copy(B.crop_spatial(form, full)), _grown(shape, fmt, tuple((-lo, -hi) for lo, hi in crops)))

    def backward(g):
        g_form, _ = _backend_form(g, fmt, crops)
        return (B.reshape(B.pad_spatial(g_form, full), shape),)

    return attach(y, (inputs,), backward)


def _grown(shape: tuple[int, ...], data_format: str, pads: Pads) -> tuple[int, ...]:
    out = list(shape)
    for ax, (lo, hi) in zip(spatial_axes(len(shape), data_format), pads):
        out[ax] += lo + hi
    return tuple(out)


# ---------------------------------------------------------------------------- up-sampling
def upsample_nearest(inputs: Any, factors: Sequence[int], data_format: str | None = None) -> Tensor:
    """Each spatial entry repeated factors[i] times along its axis (Keras's `ops.repeat` on each axis)."""
    fmt = normalize_data_format(data_format)
    shape = _check_spatial(inputs, len(factors), "upsample_nearest")
    axes = spatial_axes(len(shape), fmt)
    if all(f == 1 for f in factors):
        return inputs if isinstance(inputs, Tensor) else reshape(inputs, shape)
    expanded, tiled, merged = [], [], list(shape)
    for i, n in enumerate(shape):
        expanded.append(n)
        tiled.append(n)
        if i in axes:
            f = factors[axes.index(i)]
            expanded.append(1)
            tiled.append(f)
            merged[i] = n * f
    return reshape(broadcast_to(reshape(inputs, expanded), tiled), merged)


def upsample_bilinear(inputs: Any, factors: Sequence[int], data_format: str | None = None) -> Tensor:
    """Bilinear up-sampling by whole factors (Keras 3's UpSampling2D(interpolation="bilinear")), one backend
    op each way (the backend's `upsample_bilinear`)."""
    B = _backend.active
    fmt = normalize_data_format(data_format)
    shape = _check_spatial(inputs, len(factors), "upsample_bilinear")
    factors = tuple(int(f) for f in factors)
    axes = tuple(spatial_axes(len(shape), fmt))
    y = B.upsample_bilinear(data_of(inputs), factors, axes)
    return attach(y, (inputs,), lambda g: (B.upsample_bilinear_backward(g, factors, axes),))


__all__ = ["crop", "upsample_bilinear", "upsample_nearest", "zero_pad"]
