"""Differentiable array ops with Keras 3 names (keras.ops.*), built on backend primitives.

Each op computes with the active backend, then `attach` records its backward rule when a
tape is recording and an input needs a gradient.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops.core import convert_to_tensor, data_of
from gpukeras.tensor import Tensor


def _shape(a: Any) -> tuple[int, ...]:
    return tuple(getattr(a, "shape", ()))


def _unbroadcast(g: Any, a: Any) -> Any:
    """Gradient `g` summed back to the shape of operand `a` (None for Python scalars)."""
    if not hasattr(a, "shape"):
        return None
    return _backend.active.sum_to_shape(g, a.shape)


def _float_dtype(arrays: Sequence[Any]) -> Any:
    """The float dtype integer or boolean arrays become when mixed with it, as in Keras 3 (NumPy would make an
    int64 plus a float32 a float64); None when nothing mixes."""
    dtypes = [a.dtype for a in arrays if hasattr(a, "dtype")]
    floats = [d for d in dtypes if d.kind == "f" or str(d) == "bfloat16"]
    if not floats or len(floats) == len(dtypes):
        return None
    return floats[0] if builtins.all(d == floats[0] for d in floats) else None


def _cast_to(arrays: Sequence[Any], dtype: Any) -> list[Any]:
    B = _backend.active
    return [B.cast(a, dtype) if hasattr(a, "dtype") and a.dtype != dtype else a for a in arrays]


def _operands(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Both operands' arrays, an integer one cast to the other's float dtype (Keras 3's promotion)."""
    a, b = data_of(x1), data_of(x2)
    dtype = _float_dtype((a, b))
    if dtype is None and builtins.any(type(v) is float for v in (a, b)) and builtins.any(
            hasattr(v, "dtype") and v.dtype.kind in "biu" for v in (a, b)):
        dtype = "float32"  # an integer array and a Python float: Keras's floatx, not NumPy's float64
    return (a, b) if dtype is None else tuple(_cast_to((a, b), dtype))


# ---------------------------------------------------------------------------- arithmetic
def add(x1: Any, x2: Any) -> Tensor:
    a, b = _operands(x1, x2)
    return attach(_backend.active.add(a, b), (x1, x2),
                  lambda g: (_unbroadcast(g, a), _unbroadcast(g, b)))


def subtract(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    return attach(B.subtract(a, b), (x1, x2),
                  lambda g: (_unbroadcast(g, a), _unbroadcast(B.negative(g), b)))


def multiply(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    return attach(B.multiply(a, b), (x1, x2),
                  lambda g: (_unbroadcast(B.multiply(g, b), a), _unbroadcast(B.multiply(g, a), b)))


def divide(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    if builtins.all(v.dtype.kind in "biu" if hasattr(v, "dtype") else type(v) in (int, bool) for v in (a, b)):
        a, b = _cast_to((a, b), "float32")  # integers divide into Keras's floatx, not NumPy's float64
    out = B.divide(a, b)

    def backward(g):
        ga = B.divide(g, b)
        return _unbroadcast(ga, a), _unbroadcast(B.negative(B.multiply(ga, out)), b)

    return attach(out, (x1, x2), backward)


true_divide = divide


def power(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    out = B.power(a, b)

    def backward(g):
        ga = B.multiply(g, B.multiply(b, B.power(a, B.subtract(b, 1))))
        gb = None
        if hasattr(b, "shape"):
            safe = B.where(B.compare("greater", a, 0), a, 1)
            gb = _unbroadcast(B.multiply(g, B.multiply(out, B.log(safe))), b)
        return _unbroadcast(ga, a), gb

    return attach(out, (x1, x2), backward)


def negative(x: Any) -> Tensor:
    B = _backend.active
    return attach(B.negative(data_of(x)), (x,), lambda g: (B.negative(g),))


def square(x: Any) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.square(a), (x,), lambda g: (B.multiply(g, B.multiply(a, 2)),))


def sqrt(x: Any) -> Tensor:
    B = _backend.active
    out = B.sqrt(data_of(x))
    return attach(out, (x,), lambda g: (B.divide(g, B.multiply(out, 2)),))


def exp(x: Any) -> Tensor:
    B = _backend.active
    out = B.exp(data_of(x))
    return attach(out, (x,), lambda g: (B.multiply(g, out),))


def log(x: Any) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.log(a), (x,), lambda g: (B.divide(g, a),))


def log1p(x: Any) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.log1p(a), (x,), lambda g: (B.divide(g, B.add(a, 1)),))


def abs(x: Any) -> Tensor:  # noqa: A001 - Keras's name
    B = _backend.active
    a = data_of(x)
    return attach(B.abs(a), (x,), lambda g: (B.multiply(g, B.sign(a)),))


absolute = abs


def sign(x: Any) -> Tensor:
    return Tensor(_backend.active.sign(data_of(x)))


def sin(x: Any) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.sin(a), (x,), lambda g: (B.multiply(g, B.cos(a)),))


def cos(x: Any) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.cos(a), (x,), lambda g: (B.negative(B.multiply(g, B.sin(a))),))


def _pick(x1: Any, x2: Any, take_first: Any, out: Any) -> Tensor:
    """Shared backward of maximum/minimum: the gradient goes to the chosen operand."""
    B = _backend.active
    a, b = data_of(x1), data_of(x2)
    return attach(out, (x1, x2), lambda g: (_unbroadcast(B.where(take_first, g, 0), a),
                                            _unbroadcast(B.where(take_first, 0, g), b)))


def maximum(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    return _pick(x1, x2, B.compare("greater_equal", a, b), B.maximum(a, b))


def minimum(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    return _pick(x1, x2, B.compare("less_equal", a, b), B.minimum(a, b))


def where(condition: Any, x1: Any = None, x2: Any = None) -> Tensor:
    B = _backend.active
    cond = data_of(condition)
    a, b = _operands(x1, x2)
    return attach(B.where(cond, a, b), (condition, x1, x2),
                  lambda g: (None, _unbroadcast(B.where(cond, g, 0), a), _unbroadcast(B.where(cond, 0, g), b)))


def clip(x: Any, x_min: float, x_max: float) -> Tensor:
    B = _backend.active
    a = data_of(x)
    inside = B.logical("and", B.compare("greater_equal", a, x_min), B.compare("less_equal", a, x_max))
    return attach(B.clip(a, x_min, x_max), (x,), lambda g: (B.where(inside, g, 0),))


def _compare(op: str, x1: Any, x2: Any) -> Tensor:
    return Tensor(_backend.active.compare(op, *_operands(x1, x2)))


def equal(x1: Any, x2: Any) -> Tensor:
    return _compare("equal", x1, x2)


def not_equal(x1: Any, x2: Any) -> Tensor:
    return _compare("not_equal", x1, x2)


def less(x1: Any, x2: Any) -> Tensor:
    return _compare("less", x1, x2)


def less_equal(x1: Any, x2: Any) -> Tensor:
    return _compare("less_equal", x1, x2)


def greater(x1: Any, x2: Any) -> Tensor:
    return _compare("greater", x1, x2)


def greater_equal(x1: Any, x2: Any) -> Tensor:
    return _compare("greater_equal", x1, x2)


def _logical(op: str, x1: Any, x2: Any = None) -> Tensor:
    B = _backend.active
    a = B.cast(data_of(x1), "bool")
    return Tensor(B.logical(op, a) if x2 is None else B.logical(op, a, B.cast(data_of(x2), "bool")))


def logical_and(x1: Any, x2: Any) -> Tensor:
    return _logical("and", x1, x2)


def logical_or(x1: Any, x2: Any) -> Tensor:
    return _logical("or", x1, x2)


def logical_xor(x1: Any, x2: Any) -> Tensor:
    return _logical("xor", x1, x2)


def logical_not(x: Any) -> Tensor:
    return _logical("not", x)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - Keras's name
    """True where every entry along `axis` is true (booleans, or non-zero numbers)."""
    B = _backend.active
    return Tensor(B.min(B.cast(data_of(x), "bool"), axis=axis, keepdims=keepdims))


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - Keras's name
    """True where some entry along `axis` is true."""
    B = _backend.active
    return Tensor(B.max(B.cast(data_of(x), "bool"), axis=axis, keepdims=keepdims))


def isnan(x: Any) -> Tensor:
    return Tensor(_backend.active.isnan(data_of(x)))


def isfinite(x: Any) -> Tensor:
    return Tensor(_backend.active.isfinite(data_of(x)))


# ---------------------------------------------------------------------------- reductions
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    B = _backend.active
    a = data_of(x)
    return attach(B.sum(a, axis=axis, keepdims=keepdims), (x,),
                  lambda g: (B.reduce_backward(g, a.shape, axis, keepdims),))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    B = _backend.active
    a = data_of(x)
    out = B.mean(a, axis=axis, keepdims=keepdims)
    count = a.size // builtins.max(out.size, 1) if a.size else 1  # the builtin: `max` is ops.max here
    return attach(out, (x,), lambda g: (B.reduce_backward(B.divide(g, count), a.shape, axis, keepdims),))


def _extremum(fn: str, x: Any, axis: Any, keepdims: bool) -> Tensor:
    B = _backend.active
    a = data_of(x)
    out = getattr(B, fn)(a, axis=axis, keepdims=keepdims)
    return attach(out, (x,), lambda g: (B.extremum_backward(g, a, out, axis, keepdims),))


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _extremum("max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _extremum("min", x, axis, keepdims)


amax = max
amin = min


def argmax(x: Any, axis: int = -1) -> Tensor:
    """Index of the largest entry along `axis`, as int32 (Keras 3's dtype)."""
    B = _backend.active
    return Tensor(B.cast(B.argmax(data_of(x), axis=axis), "int32"))


def argmin(x: Any, axis: int = -1) -> Tensor:
    """Index of the smallest entry along `axis`, as int32 (Keras 3's dtype)."""
    B = _backend.active
    return Tensor(B.cast(B.argmin(data_of(x), axis=axis), "int32"))


# ---------------------------------------------------------------------------- shapes
def reshape(x: Any, newshape: Sequence[int]) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.reshape(a, tuple(newshape)), (x,), lambda g: (B.reshape(g, a.shape),))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    B = _backend.active
    a = data_of(x)
    if axes is None:
        inverse = None
    else:
        axes = normalize_axes_order(axes, a.ndim)
        inverse = [0] * len(axes)
        for i, ax in enumerate(axes):
            inverse[ax] = i
    return attach(B.transpose(a, axes), (x,), lambda g: (B.transpose(g, inverse),))


def normalize_axes_order(axes: Sequence[int], ndim: int) -> list[int]:
    return [ax % ndim for ax in axes]


def expand_dims(x: Any, axis: int) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.expand_dims(a, axis), (x,), lambda g: (B.reshape(g, a.shape),))


def squeeze(x: Any, axis: Any = None) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.squeeze(a, axis=axis), (x,), lambda g: (B.reshape(g, a.shape),))


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    B = _backend.active
    a = data_of(x)
    return attach(B.broadcast_to(a, tuple(shape)), (x,), lambda g: (B.sum_to_shape(g, a.shape),))


def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    B = _backend.active
    arrays = [data_of(x) for x in xs]
    dtype = _float_dtype(arrays)
    arrays = arrays if dtype is None else _cast_to(arrays, dtype)
    sizes = [a.shape[axis] for a in arrays]
    return attach(B.concatenate(arrays, axis=axis), tuple(xs),
                  lambda g: B.split_sizes(g, sizes, axis))


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    B = _backend.active
    arrays = [data_of(x) for x in xs]
    dtype = _float_dtype(arrays)
    arrays = arrays if dtype is None else _cast_to(arrays, dtype)

    def backward(g):
        return [B.squeeze(p, axis=axis) for p in B.split_sizes(g, [1] * len(arrays), axis)]

    return attach(B.stack(arrays, axis=axis), tuple(xs), backward)


def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    B = _backend.active
    a = data_of(x)
    idx = data_of(indices)
    return attach(B.take(a, idx, axis=axis), (x,), lambda g: (B.take_backward(g, a.shape, idx, axis),))


def getitem(x: Any, key: Any) -> Tensor:
    B = _backend.active
    a = data_of(x)
    if isinstance(key, Tensor):
        key = key.data
    elif isinstance(key, tuple):  # x[idx_tensor, 0]: unwrap Tensors inside the tuple too
        key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
    return attach(B.getitem(a, key), (x,), lambda g: (B.getitem_backward(g, a.shape, key),))


def matmul(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    return attach(B.matmul(a, b), (x1, x2), lambda g: B.matmul_backward(g, a, b))


dot = matmul


# ---------------------------------------------------------------------------- creation
def zeros(shape: Sequence[int], dtype: Any = "float32") -> Tensor:
    return Tensor(_backend.active.zeros(tuple(shape), dtype=dtype))


def ones(shape: Sequence[int], dtype: Any = "float32") -> Tensor:
    return Tensor(_backend.active.ones(tuple(shape), dtype=dtype))


def full(shape: Sequence[int], fill_value: float, dtype: Any = "float32") -> Tensor:
    return Tensor(_backend.active.full(tuple(shape), fill_value, dtype=dtype))


def zeros_like(x: Any, dtype: Any = None) -> Tensor:
    a = data_of(x)
    return zeros(a.shape, dtype or a.dtype)


def ones_like(x: Any, dtype: Any = None) -> Tensor:
    a = data_of(x)
    return ones(a.shape, dtype or a.dtype)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    return Tensor(_backend.active.arange(start, stop, step, dtype=dtype))


def eye(n: int, m: int | None = None, dtype: Any = "float32") -> Tensor:
    return Tensor(_backend.active.eye(n, m, dtype=dtype))


def cast(x: Any, dtype: Any) -> Tensor:
    B = _backend.active
    a = data_of(x)
    if not hasattr(a, "dtype"):
        return convert_to_tensor(a, dtype)
    return attach(B.cast(a, dtype), (x,), lambda g: (B.cast(g, a.dtype),))


def stop_gradient(x: Any) -> Tensor:
    return Tensor(data_of(x))


def shape(x: Any) -> tuple[int, ...]:
    return tuple(data_of(x).shape)


def var(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    centered = subtract(x, mean(x, axis=axis, keepdims=True))
    return mean(square(centered), axis=axis, keepdims=keepdims)


def std(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def _install_operators() -> None:
    """Give Tensor its Python operators, each one of the ops above."""
    def rev(fn):
        return lambda self, other: fn(other, self)

    table = {
        "__add__": add, "__radd__": rev(add), "__sub__": subtract, "__rsub__": rev(subtract),
        "__mul__": multiply, "__rmul__": rev(multiply), "__truediv__": divide,
        "__rtruediv__": rev(divide), "__pow__": power, "__rpow__": rev(power),
        "__matmul__": matmul, "__rmatmul__": rev(matmul), "__neg__": negative,
        "__abs__": abs, "__getitem__": getitem, "__lt__": less, "__le__": less_equal,
        "__gt__": greater, "__ge__": greater_equal,
    }
    for name, fn in table.items():
        setattr(Tensor, name, fn)
    Tensor.__pos__ = lambda self: self
    Tensor.T = property(lambda self: transpose(self))
    Tensor.reshape = lambda self, *s: reshape(self, s[0] if len(s) == 1 and not isinstance(s[0], int) else s)
    Tensor.astype = lambda self, dtype: cast(self, dtype)


_install_operators()
