"""Fused fast paths for images: sampling at transformed coordinates (affine transforms,
map_coordinates) and separable resizing, each with its backward, as generic code.

The generic code computes what Keras 3's JAX backend computes (jax.scipy.ndimage.map_coordinates
and jax.image.resize), in the same order: an output point interpolates its neighbours along each
axis ("taps": an index, whether it lies inside, a weight), the fill mode maps indices outside the
input back into it (or, for "constant", marks them outside so `fill_value` is used), and the
weighted neighbours are summed in JAX's order. Resizing multiplies each resized axis by a weight
matrix built on the host from the sizes alone (nearest: gathers rows). A backend with a kernel
overrides `affine_transform` (CupyOps: one gather kernel for the whole batch).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

Array = Any
Taps = list[tuple[Array, Array | None, Array | None]]  # (index, inside or None, weight or None)
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
INTERPOLATION_ORDERS = {"nearest": 0, "bilinear": 1}
RESIZE_METHODS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")
_F32 = np.float32


# ---------------------------------------------------------------------------- resize weights (host)
def _triangle(x: np.ndarray) -> np.ndarray:
    return np.maximum(_F32(0), _F32(1) - np.abs(x))


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    """The Keys cubic kernel (a = -0.5), as jax.image writes it."""
    out = ((_F32(1.5) * x - _F32(2.5)) * x) * x + _F32(1)
    out = np.where(x >= 1, ((_F32(-0.5) * x + _F32(2.5)) * x - _F32(4)) * x + _F32(2), out)
    return np.where(x >= 2, _F32(0), out).astype(_F32)


def _lanczos(radius: float, x: np.ndarray) -> np.ndarray:
    pi = _F32(np.pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = _F32(radius) * np.sin(pi * x) * np.sin(pi * x / _F32(radius))
        out = np.where(x > _F32(1e-3), y / np.where(x != 0, _F32(np.pi ** 2) * (x * x), _F32(1)), _F32(1))
    return np.where(x > radius, _F32(0), out).astype(_F32)


_KERNELS = {"bilinear": _triangle, "bicubic": _keys_cubic,
            "lanczos3": functools.partial(_lanczos, 3.0), "lanczos5": functools.partial(_lanczos, 5.0)}


@functools.lru_cache(maxsize=64)
def resize_weights(in_size: int, out_size: int, method: str, antialias: bool) -> np.ndarray:
    """The (in_size, out_size) float32 matrix that resizes one axis with half-pixel centres; with
    `antialias` the kernel is widened by the downscaling factor (jax.image.compute_weight_mat)."""
    inv_scale = 1.0 / (out_size / in_size)
    kernel_scale = max(inv_scale, 1.0) if antialias else 1.0
    sample = (np.arange(out_size, dtype=_F32) + _F32(0.5)) * _F32(inv_scale) - _F32(0.5)
    distance = np.abs(sample[None, :] - np.arange(in_size, dtype=_F32)[:, None]) / _F32(kernel_scale)
    weights = _KERNELS[method](distance)
    total = weights.sum(axis=0, keepdims=True, dtype=_F32)
    weights = np.where(np.abs(total) > 1000.0 * np.finfo(_F32).eps,
                       weights / np.where(total != 0, total, _F32(1)), _F32(0))
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    out = np.where(inside[None, :], weights, _F32(0)).astype(_F32)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def nearest_indices(in_size: int, out_size: int) -> np.ndarray:
    """Input row of each output row for nearest resizing: floor((i + 0.5) * in / out) in float32."""
    offsets = (np.arange(out_size, dtype=_F32) + _F32(0.5)) * _F32(in_size) / _F32(out_size)
    out = np.floor(offsets).astype(np.int64)
    out.flags.writeable = False
    return out


def sampling_dtype(dtype: Any) -> np.dtype:
    """The float type images of `dtype` are sampled in: float64 for float64, else float32 (JAX computes
    coordinates and weights in float32 for integer and half-precision images too)."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(_F32)


class ImageFusions:
    """affine_transform, map_coordinates and resize with their backwards, generic over `self.xp`."""

    xp: Any = None

    # ------------------------------------------------------------------ taps along one axis
    def _fix_index(self, index: Array, size: int, fill_mode: str) -> tuple[Array, Array | None]:
        """(index inside [0, size), inside-mask or None): JAX's index fixers for each fill mode."""
        xp = self.xp
        if fill_mode == "constant":
            inside = (index >= 0) & (index < size)
            return xp.clip(index, 0, size - 1), inside
        if fill_mode == "nearest":
            return xp.clip(index, 0, size - 1), None
        if fill_mode == "wrap":
            return xp.remainder(index, size), None
        if fill_mode == "mirror":
            return self._mirror(index, size), None
        return xp.floor_divide(self._mirror(2 * index + 1, 2 * size + 1) - 1, 2), None  # reflect

    def _mirror(self, index: Array, size: int) -> Array:
        """The triangular wave of period 2 (size - 1) folding `index` into [0, size)."""
        xp = self.xp
        if size == 1:
            return xp.zeros_like(index)
        half = size - 1
        return xp.abs(xp.remainder(index + half, 2 * half) - half)

    def _taps(self, coord: Array, size: int, order: int, fill_mode: str) -> Taps:
        """The neighbours `coord` interpolates along one axis of `size`: nearest (round half away
        from zero) for order 0, the two linear neighbours for order 1, as JAX lists them."""
        xp = self.xp
        lower = xp.floor(coord)
        if order == 0:
            frac = coord - lower
            up = xp.where(coord >= 0, frac >= 0.5, frac > 0.5)
            nodes = [((lower + up).astype(np.int64), None)]
        else:
            upper_weight = coord - lower
            index = lower.astype(np.int64)
            nodes = [(index, 1 - upper_weight), (index + 1, upper_weight)]
        taps: Taps = []
        for index, weight in nodes:
            fixed, inside = self._fix_index(index, size, fill_mode)
            taps.append((fixed, inside, weight))
        return taps

    def _combine(self, axes_taps: Sequence[Taps]) -> list[tuple[tuple[Array, ...], Array | None, Array | None]]:
        """Every combination of one tap per axis, in JAX's (itertools.product) order: the indices,
        where all are inside (None: always), and the product of the weights (None: 1)."""
        xp = self.xp
        out = []
        for combo in itertools.product(*axes_taps):
            indices = tuple(t[0] for t in combo)
            masks = [t[1] for t in combo if t[1] is not None]
            weights = [t[2] for t in combo if t[2] is not None]
            inside = functools.reduce(xp.logical_and, masks) if masks else None
            weight = functools.reduce(xp.multiply, weights) if weights else None
            out.append((indices, inside, weight))
        return out

    # ------------------------------------------------------------------ map_coordinates
    def map_coordinates(self, x: Array, coordinates: Array, order: int, fill_mode: str = "constant",
                        fill_value: float = 0.0) -> Array:
        """x interpolated at `coordinates` (shape (x.ndim, *out)), order 0 or 1; integer inputs are
        interpolated in float32 and rounded half away from zero (jax.scipy.ndimage.map_coordinates)."""
        xp = self.xp
        dtype = sampling_dtype(x.dtype)
        flat = x.reshape(-1).astype(dtype, copy=False)
        fill = xp.asarray(fill_value, dtype=x.dtype).astype(dtype)
        out = None
        for index, inside, weight in self._map_taps(x.shape, coordinates.astype(dtype, copy=False), order,
                                                    fill_mode):
            values = xp.take(flat, index)
            if inside is not None:
                values = xp.where(inside, values, fill)
            term = values if weight is None else weight * values
            out = term if out is None else out + term
        return self._restore_dtype(out, x.dtype)

    def map_coordinates_backward(self, dy: Array, x_shape: Sequence[int], coordinates: Array, order: int,
                                 fill_mode: str = "constant") -> Array:
        """Gradient of `map_coordinates` for x: each output's gradient added to the inputs it read."""
        xp = self.xp
        dtype = sampling_dtype(dy.dtype)
        g = dy.astype(dtype, copy=False)
        dx = xp.zeros(int(np.prod(x_shape)), dtype=dtype)
        for index, inside, weight in self._map_taps(tuple(x_shape), coordinates.astype(dtype, copy=False),
                                                    order, fill_mode):
            grad = g if weight is None else g * weight
            if inside is not None:
                grad = xp.where(inside, grad, 0)
            self.scatter_add(dx, index.reshape(-1), grad.reshape(-1))
        return dx.reshape(tuple(x_shape)).astype(dy.dtype, copy=False)

    def _map_taps(self, shape: Sequence[int], coordinates: Array, order: int,
                  fill_mode: str) -> list[tuple[Array, Array | None, Array | None]]:
        """(flat index, inside, weight) of every neighbour combination of `coordinates` in `shape`."""
        strides = [int(np.prod(shape[d + 1:])) for d in range(len(shape))]
        axes = [self._taps(coordinates[d], int(shape[d]), order, fill_mode) for d in range(len(shape))]
        found = []
        for indices, inside, weight in self._combine(axes):
            flat = functools.reduce(lambda a, b: a + b, [i * s for i, s in zip(indices, strides)])
            found.append((flat, inside, weight))
        return found

    # ------------------------------------------------------------------ affine_transform
    def affine_transform(self, images: Array, transform: Array, interpolation: str = "bilinear",
                         fill_mode: str = "constant", fill_value: float = 0.0,
                         channels_first: bool = False) -> Array:
        """A batch of images (N, H, W, C) (or (N, C, H, W)) sampled at the points their transforms
        (N, 8) map each output pixel to: `[a0, a1, a2, b0, b1, b2, c0, c1]` takes output (x, y) to
        input ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1."""
        xp = self.xp
        x = xp.transpose(images, (0, 2, 3, 1)) if channels_first else images
        n, h, w, c = x.shape
        dtype = sampling_dtype(x.dtype)
        rows, cols = self._affine_coordinates(transform, h, w, dtype)
        flat = xp.ascontiguousarray(x).reshape(n * h * w, c).astype(dtype, copy=False)
        fill = xp.asarray(fill_value, dtype=x.dtype).astype(dtype)
        out = None
        for index, inside, weight in self._affine_taps(rows, cols, n, h, w, interpolation, fill_mode):
            values = xp.take(flat, index, axis=0)
            if inside is not None:
                values = xp.where(inside[..., None], values, fill)
            term = values if weight is None else weight[..., None] * values
            out = term if out is None else out + term
        out = self._restore_dtype(out, x.dtype)
        return xp.transpose(out, (0, 3, 1, 2)) if channels_first else out

    def affine_transform_backward(self, dy: Array, transform: Array, interpolation: str = "bilinear",
                                  fill_mode: str = "constant", channels_first: bool = False) -> Array:
        """Gradient of `affine_transform` for the images (none flows to the transforms, as in Keras)."""
        xp = self.xp
        dtype = sampling_dtype(dy.dtype)
        g = (xp.transpose(dy, (0, 2, 3, 1)) if channels_first else dy).astype(dtype, copy=False)
        n, h, w, c = g.shape
        rows, cols = self._affine_coordinates(transform, h, w, dtype)
        dx = xp.zeros((n * h * w, c), dtype=dtype)
        for index, inside, weight in self._affine_taps(rows, cols, n, h, w, interpolation, fill_mode):
            grad = g if weight is None else g * weight[..., None]
            if inside is not None:
                grad = xp.where(inside[..., None], grad, 0)
            self.scatter_add(dx, index.reshape(-1), grad.reshape(-1, c))
        dx = dx.reshape(n, h, w, c).astype(dy.dtype, copy=False)
        return xp.transpose(dx, (0, 3, 1, 2)) if channels_first else dx

    def _affine_coordinates(self, transform: Array, h: int, w: int, dtype: Any) -> tuple[Array, Array]:
        """(rows, cols), each (N, H, W): where each output pixel samples its input. Sums in JAX's order
        (y * b1 + x * b0, then + b2); the division by k is exact (by 1) for affine transforms."""
        xp = self.xp
        t = transform.astype(dtype, copy=False)[:, :, None, None]
        a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i] for i in range(8))
        ys = xp.arange(h, dtype=dtype)[None, :, None]
        xs = xp.arange(w, dtype=dtype)[None, None, :]
        k = (xs * c0 + ys * c1) + 1
        rows = ((ys * b1 + xs * b0) + b2) / k
        cols = ((ys * a1 + xs * a0) + a2) / k
        return rows, cols

    def _affine_taps(self, rows: Array, cols: Array, n: int, h: int, w: int, interpolation: str,
                     fill_mode: str) -> list[tuple[Array, Array | None, Array | None]]:
        """(row of the (N*H*W, C) input, inside, weight) of every neighbour combination."""
        order = INTERPOLATION_ORDERS[interpolation]
        base = (self.xp.arange(n, dtype=np.int64) * (h * w))[:, None, None]
        axes = [self._taps(rows, h, order, fill_mode), self._taps(cols, w, order, fill_mode)]
        return [(base + r * w + c, inside, weight) for (r, c), inside, weight in self._combine(axes)]

    def _restore_dtype(self, out: Array, dtype: Any) -> Array:
        """Interpolated values back in the input's dtype (integers rounded half away from zero)."""
        xp = self.xp
        if np.dtype(dtype).kind in "biu":
            out = xp.where(out >= 0, xp.floor(out + 0.5), xp.ceil(out - 0.5))
        return out.astype(dtype, copy=False)

    # ------------------------------------------------------------------ resize
    def resize(self, images: Array, size: Sequence[int], method: str = "bilinear", antialias: bool = False,
               channels_first: bool = False) -> Array:
        """Images (..., H, W, C) (or (..., C, H, W)) resized to `size` with half-pixel centres: nearest
        gathers rows, the other methods multiply each resized axis by `resize_weights` (integer images
        are computed in float32, then rounded half to even and saturated, as Keras 3 does)."""
        xp = self.xp
        axes = self._spatial_axes(images.ndim, channels_first)
        out = images
        if method == "nearest":
            for axis, n in zip(axes, size):
                if out.shape[axis] != n:
                    out = xp.take(out, self.asarray(nearest_indices(out.shape[axis], int(n))), axis=axis)
            return out
        dtype = images.dtype if images.dtype.kind == "f" else np.dtype(_F32)  # JAX resizes halves in their type
        out = out.astype(dtype, copy=False)
        for axis, n in zip(axes, size):
            if out.shape[axis] != n:
                weights = self.asarray(resize_weights(out.shape[axis], int(n), method, bool(antialias)), dtype=dtype)
                out = self._contract(out, weights, axis)
        if images.dtype.kind in "biu":
            info = np.iinfo(images.dtype)
            out = xp.clip(xp.rint(out), info.min, info.max).astype(images.dtype)
        return out

    def resize_backward(self, dy: Array, in_shape: Sequence[int], method: str = "bilinear",
                        antialias: bool = False, channels_first: bool = False) -> Array:
        """Gradient of `resize` for the images: the weight matrices transposed (nearest: rows scattered back)."""
        axes = self._spatial_axes(len(in_shape), channels_first)
        shapes = [tuple(int(d) for d in in_shape)]  # the shape before each axis was resized, then after
        for axis in axes:
            shapes.append(shapes[-1][:axis] + (int(dy.shape[axis]),) + shapes[-1][axis + 1:])
        g = dy
        for i in reversed(range(len(axes))):
            axis, before = axes[i], shapes[i]
            m, n = before[axis], shapes[i + 1][axis]
            if m == n:
                continue
            if method == "nearest":
                g = self.take_backward(g, before, self.asarray(nearest_indices(m, n)), axis)
            else:
                weights = self.asarray(resize_weights(m, n, method, bool(antialias)), dtype=g.dtype)
                g = self._contract(g, weights.T, axis)
        return g

    def _contract(self, x: Array, weights: Array, axis: int) -> Array:
        """x with `axis` (size m) replaced by its product with the (m, n) `weights`."""
        xp = self.xp
        return xp.moveaxis(xp.tensordot(x, weights, axes=([axis], [0])), -1, axis)

    @staticmethod
    def _spatial_axes(ndim: int, channels_first: bool) -> tuple[int, int]:
        return (ndim - 2, ndim - 1) if channels_first else (ndim - 3, ndim - 2)
