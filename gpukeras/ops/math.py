"""keras.ops' math family (Keras 3's keras.src.ops.math): error functions, logsumexp, top-k, segment reductions."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops import numpy as _np_ops
from gpukeras.ops.core import data_of
from gpukeras.tensor import Tensor


def erf(x: Any) -> Tensor:
    B = _backend.active
    scale = 2.0 / float(np.sqrt(np.pi))
    return _np_ops._unary("erf", x, lambda a, out: B.multiply(B.exp(B.negative(B.square(a))), scale))


def erfinv(x: Any) -> Tensor:
    B = _backend.active
    scale = float(np.sqrt(np.pi)) / 2.0
    return _np_ops._unary("erfinv", x, lambda a, out: B.multiply(B.exp(B.square(out)), scale))


def rsqrt(x: Any) -> Tensor:
    """1 / sqrt(x); d/dx = -out**3 / 2."""
    B = _backend.active
    out = B.unary("reciprocal", B.sqrt(_np_ops._float_of(data_of(x))))
    return attach(out, (x,), lambda g: (B.multiply(g, B.multiply(B.power(out, 3), -0.5)),))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis`, shifted by the (constant) maximum so it cannot overflow."""
    B = _backend.active
    a = data_of(x)
    top = B.max(a, axis=axis, keepdims=True)
    top = B.where(B.isfinite(top), top, B.zeros((), top.dtype))
    shifted = _np_ops.subtract(x, Tensor(top))
    out = _np_ops.add(_np_ops.log(_np_ops.sum(_np_ops.exp(shifted), axis=axis, keepdims=True)), Tensor(top))
    return out if keepdims else _np_ops.squeeze(out, axis=axis) if axis is not None else _np_ops.reshape(out, ())


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[Tensor, Tensor]:  # noqa: A002 - Keras's name
    """The k largest entries along the last axis and their int32 indices (ties: the lower index first)."""
    order = _np_ops.argsort(_np_ops.negative(x) if data_of(x).dtype.kind != "b" else _np_ops.logical_not(x), -1)
    indices = _np_ops.getitem(order, (Ellipsis, slice(0, k)))
    return _np_ops.take_along_axis(x, indices, axis=-1), indices


def in_top_k(targets: Any, predictions: Any, k: int) -> Tensor:
    """Whether each row's target class is among its k largest predictions (a tie with the k-th counts)."""
    B = _backend.active
    p = data_of(predictions)
    t = B.cast(data_of(targets), "int64")
    at_target = B.take_along_axis(p, B.expand_dims(t, -1), -1)
    larger = B.sum(B.cast(B.compare("greater", p, at_target), "int32"), axis=-1)
    return Tensor(B.logical("and", B.compare("less", larger, k), B.squeeze(B.isfinite(at_target), -1)))


def _num_segments(ids: Any, num_segments: int | None) -> int:
    B = _backend.active
    return int(num_segments) if num_segments is not None else int(B.item(B.max(ids))) + 1


def segment_sum(data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False) -> Tensor:  # noqa: A002
    """Sums of `data`'s rows per segment id (ids outside [0, num_segments) are dropped)."""
    B = _backend.active
    a = data_of(data)
    ids = data_of(segment_ids)
    n = _num_segments(ids, num_segments)
    valid = B.logical("and", B.compare("greater_equal", ids, 0), B.compare("less", ids, n))
    safe = B.where(valid, ids, n)  # invalid rows go to an extra segment, dropped below
    rows = a.shape[:ids.ndim]
    flat = B.reshape(a, (int(np.prod(rows)),) + a.shape[ids.ndim:])
    flat_ids = B.reshape(safe, (-1,))
    out = B.take_backward(flat, (n + 1,) + a.shape[ids.ndim:], flat_ids, 0)[:n]

    def backward(g):
        padded = B.concatenate([g, B.zeros((1,) + g.shape[1:], g.dtype)], axis=0)
        return (B.reshape(B.take(padded, flat_ids, axis=0), a.shape),)

    return attach(out, (data,), backward)


def segment_max(data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False) -> Tensor:  # noqa: A002
    """Maxima of `data`'s rows per segment id; an empty segment holds the dtype's lowest value, as in JAX.

    Built as a masked max over a (segments, rows, ...) grid: memory grows with segments x rows."""
    return _np_ops.max(_segment_grid(data, segment_ids, num_segments, _highest(data_of(data).dtype, -1)), axis=1)


def _segment_grid(data: Any, segment_ids: Any, num_segments: int | None, fill: Any) -> Tensor:
    """(segments, rows, ...): each row where its segment is, `fill` elsewhere (the masked reductions' input)."""
    B = _backend.active
    a = data_of(data)
    ids = data_of(segment_ids)
    n = _num_segments(ids, num_segments)
    member = B.compare("equal", B.reshape(B.arange(n, dtype=ids.dtype), (n, 1)), B.reshape(ids, (1, -1)))
    member = B.reshape(member, member.shape + (1,) * (a.ndim - 1))
    return _np_ops.where(Tensor(member), _np_ops.expand_dims(data, 0), Tensor(B.full((), fill, a.dtype)))


def _highest(dtype: Any, sign: int) -> Any:
    dtype = np.dtype(dtype)
    return sign * np.inf if dtype.kind == "f" else (np.iinfo(dtype).max if sign > 0 else np.iinfo(dtype).min)


def segment_min(data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False) -> Tensor:  # noqa: A002
    """Minima of `data`'s rows per segment id; an empty segment holds the dtype's highest value, as in JAX."""
    return _np_ops.min(_segment_grid(data, segment_ids, num_segments, _highest(data_of(data).dtype, 1)), axis=1)


def segment_prod(data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False) -> Tensor:  # noqa: A002
    """Products of `data`'s rows per segment id (1 for an empty segment); the gradient needs non-zero data."""
    return _np_ops.prod(_segment_grid(data, segment_ids, num_segments, 1), axis=1)


def extract_sequences(x: Any, sequence_length: int, sequence_stride: int) -> Tensor:
    """Frames of `sequence_length` along the last axis, one every `sequence_stride` (..., frames, length)."""
    n = _np_ops.shape(x)[-1]
    count = 1 + (n - sequence_length) // sequence_stride
    starts = np.arange(count) * sequence_stride
    return _np_ops.take(x, starts[:, None] + np.arange(sequence_length)[None, :], axis=-1)


def histogram(x: Any, bins: int = 10, range: tuple[float, float] | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
    """Counts of x in `bins` equal bins over `range` (default: x's min to max), the last bin closed; and
    the bin edges. Both float32, as Keras 3 returns them."""
    B = _backend.active
    a = B.cast(B.reshape(data_of(x), (-1,)), "float32")
    lo, hi = (float(B.item(B.min(a))), float(B.item(B.max(a)))) if range is None else (float(range[0]),
                                                                                      float(range[1]))
    edges = _np_ops.linspace(lo, hi, bins + 1)
    inside = B.logical("and", B.compare("greater_equal", a, lo), B.compare("less_equal", a, hi))
    index = B.cast(B.searchsorted(edges.data, a, side="right"), "int64")
    index = B.where(B.compare("equal", a, hi), bins, index)  # the last bin includes its right edge
    index = B.where(inside, B.subtract(index, 1), bins)  # outside values go to a dropped extra bin
    counts = B.take_backward(B.ones(a.shape, "float32"), (bins + 1,), index, 0)
    return Tensor(B.getitem(counts, slice(0, bins))), edges


# Chebyshev-fitted coefficients of Numerical Recipes' erfcc: erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2),
# relative error below 1.2e-7 for z >= 0 (float32's precision).
_ERFC_COEFFICIENTS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
                      1.48851587, -0.82215223, 0.17087277)


def erfc(x: Any) -> Tensor:
    """1 - erf(x), accurate where it is tiny (large x): 1 - erf below 0.5, the fitted tail above (float32
    precision, also for float64 inputs); d/dx = -2 / sqrt(pi) exp(-x^2)."""
    B = _backend.active
    a = _np_ops._float_of(data_of(x))
    z = B.abs(a)
    t = B.unary("reciprocal", B.add(B.multiply(z, 0.5), 1.0))
    poly = B.full((), _ERFC_COEFFICIENTS[-1], a.dtype)
    for c in reversed(_ERFC_COEFFICIENTS[:-1]):
        poly = B.add(B.multiply(poly, t), c)
    tail = B.multiply(t, B.exp(B.add(B.negative(B.square(z)), poly)))
    tail = B.where(B.compare("less", a, 0), B.subtract(2.0, tail), tail)
    out = B.where(B.compare("less", z, 0.5), B.subtract(1.0, B.unary("erf", a)), tail)
    scale = -2.0 / float(np.sqrt(np.pi))
    return attach(out, (x,), lambda g: (B.multiply(g, B.multiply(B.exp(B.negative(B.square(a))), scale)),))
