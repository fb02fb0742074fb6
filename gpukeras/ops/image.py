"""keras.ops.image: resizing, affine transforms and coordinate mapping of images, differentiable in
the images, computed by the backend (gpukeras/backend/fused/image.py) with Keras 3's (JAX's) numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.backend.fused.image import FILL_MODES, INTERPOLATION_ORDERS, RESIZE_METHODS
from gpukeras.ops.convolution import normalize_data_format
from gpukeras.ops.core import convert_to_tensor, data_of
from gpukeras.ops.numpy import concatenate, expand_dims, full, getitem, squeeze, stack
from gpukeras.tensor import Tensor

AFFINE_FILL_MODES = FILL_MODES


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


def _check_images_rank(images: Tensor) -> None:
    if images.ndim not in (3, 4):
        raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 (batch of images). "
                         f"Received input with shape: images.shape={images.shape}")


def spatial_axes(ndim: int, data_format: str) -> tuple[int, int]:
    """(height axis, width axis) of images of rank `ndim` in `data_format`."""
    return (ndim - 2, ndim - 1) if data_format == "channels_first" else (ndim - 3, ndim - 2)


# ---------------------------------------------------------------------------- resize
def _check_size(size: Any) -> tuple[int, int]:
    if not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size}")
    if any(isinstance(s, bool) or not isinstance(s, int) for s in size):
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size}")
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"`size` must have positive height and width. Received: size={size}")
    return int(size[0]), int(size[1])


def check_resize_arguments(size: Any, interpolation: str, fill_mode: str, crop_to_aspect_ratio: bool,
                           pad_to_aspect_ratio: bool) -> tuple[int, int]:
    """Keras 3's checks of `resize`'s arguments (the Resizing layer makes them in its constructor)."""
    size = _check_size(size)
    if interpolation not in RESIZE_METHODS:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one {RESIZE_METHODS}. "
                         f"Received: interpolation={interpolation}")
    if fill_mode != "constant":
        raise ValueError("Invalid value for argument `fill_mode`. Only `'constant'` is supported. "
                         f"Received: fill_mode={fill_mode}")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`.")
    return size


def crop_to_aspect(images: Tensor, size: tuple[int, int], data_format: str) -> Tensor:
    """The largest centred window of `images` with the aspect ratio of `size` (Keras's smart crop)."""
    h_axis, w_axis = spatial_axes(images.ndim, data_format)
    height, width = images.shape[h_axis], images.shape[w_axis]
    crop_height = max(min(height, int(float(width * size[0]) / size[1])), 1)
    crop_width = max(min(width, int(float(height * size[1]) / size[0])), 1)
    top = int(float(height - crop_height) / 2)
    left = int(float(width - crop_width) / 2)
    key = [slice(None)] * images.ndim
    key[h_axis] = slice(top, top + crop_height)
    key[w_axis] = slice(left, left + crop_width)
    return getitem(images, tuple(key))


def _pad_to_aspect(images: Tensor, size: tuple[int, int], fill_value: float, data_format: str) -> Tensor:
    """`images` padded evenly on the short side with `fill_value` to the aspect ratio of `size`
    (the same amount on both sides, height first, as Keras 3 does)."""
    h_axis, w_axis = spatial_axes(images.ndim, data_format)
    height, width = images.shape[h_axis], images.shape[w_axis]
    pad_height = max(height, int(float(width * size[0]) / size[1]))
    pad_width = max(width, int(float(height * size[1]) / size[0]))
    top = int(float(pad_height - height) / 2)
    left = int(float(pad_width - width) / 2)
    if top > 0:
        axis, amount = h_axis, top
    elif left > 0:
        axis, amount = w_axis, left
    else:
        return images
    shape = list(images.shape)
    shape[axis] = amount
    band = full(shape, fill_value, dtype=images.dtype)
    return concatenate([band, images, band], axis=axis)


def resize(images: Any, size: Sequence[int], interpolation: str = "bilinear", antialias: bool = False,
           crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False, fill_mode: str = "constant",
           fill_value: float = 0.0, data_format: str | None = None) -> Tensor:
    """Images (3-D or 4-D) resized to `size` = (height, width) with half-pixel centres ("bilinear",
    "nearest", "bicubic", "lanczos3", "lanczos5"; `antialias` widens the kernel when shrinking),
    after cropping or padding them to the target aspect ratio when asked. Integer images come back
    rounded in their own dtype, as in Keras 3."""
    size = check_resize_arguments(size, interpolation, fill_mode, crop_to_aspect_ratio, pad_to_aspect_ratio)
    data_format = normalize_data_format(data_format)
    x = _as_tensor(images)
    _check_images_rank(x)
    if crop_to_aspect_ratio:
        x = crop_to_aspect(x, size, data_format)
    elif pad_to_aspect_ratio:
        x = _pad_to_aspect(x, size, fill_value, data_format)
    return _resize(x, size, interpolation, bool(antialias), data_format == "channels_first")


def _resize(x: Tensor, size: tuple[int, int], method: str, antialias: bool, channels_first: bool) -> Tensor:
    B = _backend.active
    a = data_of(x)
    out = B.resize(a, size, method, antialias, channels_first)
    return attach(out, (x,), lambda g: (B.resize_backward(g, a.shape, method, antialias, channels_first),))


# ---------------------------------------------------------------------------- affine_transform
def check_affine_arguments(interpolation: str, fill_mode: str) -> None:
    if interpolation not in INTERPOLATION_ORDERS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{set(INTERPOLATION_ORDERS)}. Received: interpolation={interpolation}")
    if fill_mode not in AFFINE_FILL_MODES:
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected of one {set(AFFINE_FILL_MODES)}. "
                         f"Received: fill_mode={fill_mode}")


def affine_transform(images: Any, transform: Any, interpolation: str = "bilinear", fill_mode: str = "constant",
                     fill_value: float = 0, data_format: str | None = None) -> Tensor:
    """Images sampled where their transforms map each output pixel: a row `[a0, a1, a2, b0, b1, b2,
    c0, c1]` takes output (x, y) to input ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x +
    c1 y + 1 (TensorFlow's meaning; Keras 3's other backends treat c0, c1 as 0, the same for affine
    rows). One transform (8,) or one per image (N, 8); a single row applies to the whole batch.
    Fill modes: constant, nearest, wrap, mirror, reflect. Gradients reach the images only."""
    check_affine_arguments(interpolation, fill_mode)
    data_format = normalize_data_format(data_format)
    x = _as_tensor(images)
    _check_images_rank(x)
    t = _as_tensor(transform)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError("Invalid transform: expected shape (8,) (single transform) or (N, 8) (batch of "
                         f"transforms). Received input with shape: transform.shape={t.shape}")
    unbatched = x.ndim == 3
    if unbatched:
        x = expand_dims(x, 0)
    t_data = data_of(t)
    if t.ndim == 1:
        t_data = t_data[None]
    if t_data.shape[0] != x.shape[0]:
        if t_data.shape[0] != 1:
            raise ValueError(f"affine_transform: got {t_data.shape[0]} transforms for {x.shape[0]} images.")
        t_data = _backend.active.broadcast_to(t_data, (x.shape[0], 8))
    out = _affine(x, t_data, interpolation, fill_mode, fill_value, data_format == "channels_first")
    return squeeze(out, 0) if unbatched else out


def _affine(x: Tensor, transform: Any, interpolation: str, fill_mode: str, fill_value: float,
            channels_first: bool) -> Tensor:
    B = _backend.active
    out = B.affine_transform(data_of(x), transform, interpolation, fill_mode, fill_value, channels_first)
    return attach(out, (x,), lambda g: (B.affine_transform_backward(g, transform, interpolation, fill_mode,
                                                                    channels_first),))


# ---------------------------------------------------------------------------- map_coordinates
def map_coordinates(inputs: Any, coordinates: Any, order: int, fill_mode: str = "constant",
                    fill_value: float = 0) -> Tensor:
    """`inputs` interpolated at `coordinates` (shape (inputs.ndim, *out), or a list of inputs.ndim
    arrays): order 0 (nearest) or 1 (linear); fill modes constant, nearest, wrap, mirror, reflect.
    Gradients reach `inputs` only."""
    x = _as_tensor(inputs)
    if isinstance(coordinates, (list, tuple)):
        coords = stack([_as_tensor(c) for c in coordinates])
    else:
        coords = _as_tensor(coordinates)
    if coords.ndim < 1 or coords.shape[0] != x.ndim:
        raise ValueError("First dim of `coordinates` must be the same as the rank of `inputs`. Received inputs "
                         f"with shape: {x.shape} and coordinate leading dim of "
                         f"{coords.shape[0] if coords.ndim else None}")
    if coords.ndim < 2:
        raise ValueError(f"Invalid coordinates rank: expected at least rank 2. Received input with shape: "
                         f"{coords.shape}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected one of {set(FILL_MODES)}. "
                         f"Received: fill_mode={fill_mode}")
    if isinstance(order, bool) or order not in range(2):
        raise ValueError(f"Invalid value for argument `order`. Expected one of {[0, 1]}. Received: order={order}")
    B = _backend.active
    a, c = data_of(x), data_of(coords)
    out = B.map_coordinates(a, c, int(order), fill_mode, fill_value)
    return attach(out, (x,), lambda g: (B.map_coordinates_backward(g, a.shape, c, int(order), fill_mode),))


__all__ = ["affine_transform", "map_coordinates", "resize"]
