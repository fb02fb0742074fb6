"""Differentiable array ops with Keras 3 names (keras.ops.*), built on backend primitives.

Each op computes with the active backend, then `attach` records its backward rule when a
tape is recording and an input needs a gradient.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops.core import convert_to_numpy, convert_to_tensor, data_of
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
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is None or db is None:  # a Python scalar (NumPy keeps the array's dtype) unless int array x float
        array_dtype = db if da is None else da
        if array_dtype is None or array_dtype.kind not in "biu" or type(a if da is None else b) is not float:
            return a, b
    elif da == db:  # every op between equal dtypes: nothing to decide
        return a, b
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


# ---------------------------------------------------------------------------- more of keras.ops.numpy
# Composed from the ops above where that gives the gradient for free; index arrays that depend only on
# shapes are made on the host (like a slice key), numbers are computed by the backend.
def _host_int_array(x: Any) -> np.ndarray:
    """Indices or repeats given as a tensor, list or int, on the host (they decide output shapes)."""
    return np.asarray(convert_to_numpy(x) if isinstance(x, Tensor) else x).astype(np.int64)


def _float_of(a: Any) -> Any:
    """`a` as floatx when it holds integers or booleans (Keras 3 answers float32 for their float functions)."""
    return _backend.active.cast(a, "float32") if a.dtype.kind in "biu" else a


def _unary(op: str, x: Any, derivative: Any = None, integers_stay: bool = False) -> Tensor:
    """Elementwise `op`; `derivative(a, out)` gives dy/dx (None: not differentiable)."""
    B = _backend.active
    a = data_of(x)
    a = a if integers_stay and a.dtype.kind in "iu" else _float_of(a)
    out = B.unary(op, a)
    if derivative is None:
        return Tensor(out)
    return attach(out, (x,), lambda g: (B.multiply(g, derivative(a, out)),))


def floor(x: Any) -> Tensor:
    return _unary("floor", x)


def ceil(x: Any) -> Tensor:
    return _unary("ceil", x)


def trunc(x: Any) -> Tensor:
    return _unary("trunc", x, integers_stay=True)


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001 - Keras's name
    """Round half to even at `decimals` places (integers are kept, as Keras 3 keeps them)."""
    B = _backend.active
    a = data_of(x)
    if a.dtype.kind in "biu" and decimals >= 0:
        return Tensor(a)
    scale = 10.0 ** decimals
    return Tensor(B.divide(B.unary("rint", B.multiply(_float_of(a), scale)), scale) if decimals
                  else B.unary("rint", _float_of(a)))


def tan(x: Any) -> Tensor:
    B = _backend.active
    return _unary("tan", x, lambda a, out: B.add(B.square(out), 1))


def sinh(x: Any) -> Tensor:
    return _unary("sinh", x, lambda a, out: _backend.active.unary("cosh", a))


def cosh(x: Any) -> Tensor:
    return _unary("cosh", x, lambda a, out: _backend.active.unary("sinh", a))


def _inverse_sqrt(value: Any) -> Any:
    B = _backend.active
    return B.unary("reciprocal", B.sqrt(value))


def arcsin(x: Any) -> Tensor:
    B = _backend.active
    return _unary("arcsin", x, lambda a, out: _inverse_sqrt(B.subtract(1, B.square(a))))


def arccos(x: Any) -> Tensor:
    B = _backend.active
    return _unary("arccos", x, lambda a, out: B.negative(_inverse_sqrt(B.subtract(1, B.square(a)))))


def arctan(x: Any) -> Tensor:
    B = _backend.active
    return _unary("arctan", x, lambda a, out: B.unary("reciprocal", B.add(B.square(a), 1)))


def arcsinh(x: Any) -> Tensor:
    B = _backend.active
    return _unary("arcsinh", x, lambda a, out: _inverse_sqrt(B.add(B.square(a), 1)))


def arccosh(x: Any) -> Tensor:
    B = _backend.active
    return _unary("arccosh", x, lambda a, out: _inverse_sqrt(B.subtract(B.square(a), 1)))


def arctanh(x: Any) -> Tensor:
    B = _backend.active
    return _unary("arctanh", x, lambda a, out: B.unary("reciprocal", B.subtract(1, B.square(a))))


def expm1(x: Any) -> Tensor:
    return _unary("expm1", x, lambda a, out: _backend.active.add(out, 1))


def exp2(x: Any) -> Tensor:
    return _unary("exp2", x, lambda a, out: _backend.active.multiply(out, float(np.log(2.0))))


def log2(x: Any) -> Tensor:
    B = _backend.active
    return _unary("log2", x, lambda a, out: B.unary("reciprocal", B.multiply(a, float(np.log(2.0)))))


def log10(x: Any) -> Tensor:
    B = _backend.active
    return _unary("log10", x, lambda a, out: B.unary("reciprocal", B.multiply(a, float(np.log(10.0)))))


def reciprocal(x: Any) -> Tensor:
    B = _backend.active
    return _unary("reciprocal", x, lambda a, out: B.negative(B.square(out)))


def isinf(x: Any) -> Tensor:
    return Tensor(_backend.active.unary("isinf", data_of(x)))


def _binary(op: str, x1: Any, x2: Any, backward: Any = None, integers_stay: bool = False) -> Tensor:
    """Elementwise `op(x1, x2)`; `backward(g, a, b, out)` gives both operands' gradients before unbroadcasting."""
    B = _backend.active
    a, b = _operands(x1, x2)
    if not integers_stay:
        a, b = (_float_of(v) if hasattr(v, "dtype") else v for v in (a, b))
        if not builtins.any(hasattr(v, "dtype") for v in (a, b)):
            a = B.asarray(np.float32(a))
    out = B.binary(op, a, b)
    if backward is None:
        return Tensor(out)
    return attach(out, (x1, x2), lambda g: tuple(_unbroadcast(d, v) for d, v in zip(backward(g, a, b, out), (a, b))))


def arctan2(x1: Any, x2: Any) -> Tensor:
    B = _backend.active

    def backward(g, a, b, out):
        scale = B.divide(g, B.add(B.square(a), B.square(b)))
        return B.multiply(scale, b), B.negative(B.multiply(scale, a))

    return _binary("arctan2", x1, x2, backward)


def hypot(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    return _binary("hypot", x1, x2, lambda g, a, b, out: (B.multiply(g, B.divide(a, out)),
                                                           B.multiply(g, B.divide(b, out))))


def logaddexp(x1: Any, x2: Any) -> Tensor:
    B = _backend.active
    return _binary("logaddexp", x1, x2, lambda g, a, b, out: (B.multiply(g, B.exp(B.subtract(a, out))),
                                                               B.multiply(g, B.exp(B.subtract(b, out)))))


def floor_divide(x1: Any, x2: Any) -> Tensor:
    return _binary("floor_divide", x1, x2, integers_stay=True)


def mod(x1: Any, x2: Any) -> Tensor:
    """x1 - floor(x1 / x2) * x2 (the sign of x2); d/dx1 = 1, d/dx2 = -floor(x1 / x2)."""
    B = _backend.active
    return _binary("remainder", x1, x2, lambda g, a, b, out: (
        g, B.negative(B.multiply(g, B.unary("floor", B.divide(a, b))))), integers_stay=True)


def fmod(x1: Any, x2: Any) -> Tensor:
    """x1 - trunc(x1 / x2) * x2 (the sign of x1); d/dx1 = 1, d/dx2 = -trunc(x1 / x2)."""
    B = _backend.active
    return _binary("fmod", x1, x2, lambda g, a, b, out: (
        g, B.negative(B.multiply(g, B.unary("trunc", B.divide(a, b))))), integers_stay=True)


def divide_no_nan(x1: Any, x2: Any) -> Tensor:
    """x1 / x2, and 0 where x2 == 0 (the gradient there too)."""
    B = _backend.active
    a, b = (_float_of(v) if hasattr(v, "dtype") else v for v in _operands(x1, x2))
    out = B.divide_no_nan(a, b)

    def backward(g):
        ga = B.divide_no_nan(g, b)
        return _unbroadcast(ga, a), _unbroadcast(B.negative(B.multiply(ga, out)), b)

    return attach(out, (x1, x2), backward)


def _reversed_cumsum(g: Any, axis: int) -> Any:
    B = _backend.active
    flip_key = (builtins.slice(None),) * (axis % g.ndim) + (builtins.slice(None, None, -1),)
    return B.getitem(B.cumulative("sum", B.getitem(g, flip_key), axis), flip_key)


def _accumulated_input(x: Any, dtype: Any) -> Any:
    """x's array in the dtype a sum or product runs in: `dtype` when given, int32 for booleans (Keras's rule)."""
    B = _backend.active
    a = data_of(x)
    if dtype is not None:
        return B.cast(a, dtype)
    return B.cast(a, "int32") if a.dtype.kind == "b" else a


def _cumulative(op: str, x: Any, axis: int | None, dtype: Any) -> Tensor:
    B = _backend.active
    a = _accumulated_input(x, dtype)
    flat = axis is None
    src = B.reshape(a, (-1,)) if flat else a
    ax = 0 if flat else axis
    out = B.cast(B.cumulative(op, src, ax), a.dtype)  # NumPy widens int32 to int64; Keras keeps the dtype

    def backward(g):
        if op == "sum":
            gx = _reversed_cumsum(g, ax)
        else:  # d out_j / d x_i = out_j / x_i for j >= i (x_i != 0)
            gx = B.divide(_reversed_cumsum(B.multiply(g, out), ax), src)
        return (B.reshape(gx, a.shape),)

    return attach(out, (x,), backward)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    return _cumulative("sum", x, axis, dtype)


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Running product; its gradient divides by x, so it needs non-zero entries."""
    return _cumulative("prod", x, axis, dtype)


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Tensor:
    """Product over `axis`; its gradient (out / x) needs non-zero entries."""
    B = _backend.active
    a = _accumulated_input(x, dtype)
    out = B.cast(B.prod(a, axis=axis, keepdims=keepdims), a.dtype)

    def backward(g):
        full = B.reduce_backward(B.multiply(g, out), a.shape, axis, keepdims)
        return (B.divide(full, a),)

    return attach(out, (x,), backward)


# ---------------------------------------------------------------------------- rearranging
def ravel(x: Any) -> Tensor:
    return reshape(x, (-1,))


def size(x: Any) -> int:
    return int(np.prod(data_of(x).shape))


def ndim(x: Any) -> int:
    return len(data_of(x).shape)


def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    n = ndim(x)
    src = [s % n for s in ((source,) if isinstance(source, int) else source)]
    dst = [d % n for d in ((destination,) if isinstance(destination, int) else destination)]
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    order = list(range(ndim(x)))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return transpose(x, order)


def flip(x: Any, axis: Any = None) -> Tensor:
    n = ndim(x)
    axes = range(n) if axis is None else [a % n for a in ((axis,) if isinstance(axis, int) else axis)]
    key = tuple(builtins.slice(None, None, -1) if i in axes else builtins.slice(None) for i in range(n))
    return getitem(x, key)


def roll(x: Any, shift: Any, axis: Any = None) -> Tensor:
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), shape(x))
    shifts = np.broadcast_to(_host_int_array(shift), np.shape(axis))
    out = x
    for s, ax in zip(np.atleast_1d(shifts), np.atleast_1d(axis)):
        n = shape(x)[int(ax)]
        out = take(out, (np.arange(n) - int(s)) % builtins.max(n, 1), axis=int(ax))
    return out


def tile(x: Any, repeats: Any) -> Tensor:
    reps = tuple(int(r) for r in np.atleast_1d(_host_int_array(repeats)))
    dims = builtins.max(len(reps), ndim(x))
    reps = (1,) * (dims - len(reps)) + reps
    src = (1,) * (dims - ndim(x)) + shape(x)
    interleaved = reshape(x, [v for n in src for v in (1, n)])
    spread = broadcast_to(interleaved, [v for r, n in zip(reps, src) for v in (r, n)])
    return reshape(spread, [r * n for r, n in zip(reps, src)])


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    if axis is None:
        x, axis = ravel(x), 0
    n = shape(x)[axis]
    return take(x, np.repeat(np.arange(n), _host_int_array(repeats)), axis=axis)


_PAD_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> Tensor:
    """np.pad for the modes constant, edge, reflect, symmetric and wrap."""
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width)
                             else np.asarray(pad_width), (ndim(x), 2))
    if mode != "constant" and constant_values is not None:
        raise ValueError(f"pad: constant_values is only for mode='constant', not {mode!r}.")
    if mode not in ("constant",) + _PAD_MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (constant, {', '.join(_PAD_MODES)}).")
    out = x
    for axis, (lo, hi) in enumerate(widths.tolist()):
        if not lo and not hi:
            continue
        if mode == "constant":
            out = _pad_constant(out, axis, lo, hi, 0 if constant_values is None else constant_values)
        else:
            out = take(out, np.pad(np.arange(shape(out)[axis]), (lo, hi), mode=mode), axis=axis)
    return out


def _pad_constant(x: Any, axis: int, lo: int, hi: int, value: Any) -> Tensor:
    a = data_of(x)
    edge = list(a.shape)
    parts = []
    for width in (lo, hi):
        edge[axis] = width
        parts.append(full(edge, value, dtype=a.dtype))
    return concatenate([parts[0], x, parts[1]], axis=axis)


def sort(x: Any, axis: int = -1) -> Tensor:
    return take_along_axis(x, argsort(x, axis), axis)


def argsort(x: Any, axis: int = -1) -> Tensor:
    """Indices that sort `x` along `axis` (None: the flattened array), ties in index order, as int32."""
    B = _backend.active
    a = data_of(x)
    if axis is None:
        a, axis = B.reshape(a, (-1,)), 0
    return Tensor(B.cast(B.argsort(a, axis), "int32"))


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    B = _backend.active
    a = data_of(x)
    idx = data_of(indices)
    idx = idx if hasattr(idx, "dtype") else B.asarray(np.asarray(idx))
    if axis is None:
        a, axis = B.reshape(a, (-1,)), 0
        idx = B.reshape(idx, (-1,))
    shape_in = a.shape
    wide = tuple(np.broadcast_shapes(tuple(shape_in[:axis % a.ndim]) + (1,) + tuple(shape_in[axis % a.ndim + 1:]),
                                     tuple(idx.shape)))
    full_shape = wide[:axis % a.ndim] + (shape_in[axis % a.ndim],) + wide[axis % a.ndim + 1:]
    src = B.broadcast_to(a, full_shape) if full_shape != tuple(shape_in) else a
    out = B.take_along_axis(src, B.broadcast_to(idx, wide), axis)

    def backward(g):
        gx = B.take_along_axis_backward(g, full_shape, B.broadcast_to(idx, wide), axis)
        return (B.reshape(B.sum_to_shape(gx, shape_in), data_of(x).shape),)

    return attach(out, (x,), backward)


# ---------------------------------------------------------------------------- creation
def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    a = data_of(x)
    return full(a.shape, fill_value, dtype or a.dtype)


def empty(shape: Sequence[int], dtype: Any = None) -> Tensor:
    return zeros(shape, dtype or "float32")


def empty_like(x: Any, dtype: Any = None) -> Tensor:
    return zeros_like(x, dtype)


def identity(n: int, dtype: Any = None) -> Tensor:
    return eye(n, dtype=dtype or "float32")


def copy(x: Any) -> Tensor:
    B = _backend.active
    return attach(B.copy(data_of(x)), (x,), lambda g: (g,))


def _tri_mask(rows: int, cols: int, k: int) -> Any:
    """True on and below diagonal k of a rows x cols matrix (on the backend)."""
    B = _backend.active
    r = B.reshape(B.arange(rows, dtype="int32"), (rows, 1))
    c = B.reshape(B.arange(cols, dtype="int32"), (1, cols))
    return B.compare("greater_equal", B.add(r, k), c)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:  # noqa: N803 - Keras's names
    return Tensor(_backend.active.cast(_tri_mask(N, N if M is None else M, k), dtype or "float32"))


def tril(x: Any, k: int = 0) -> Tensor:
    rows, cols = shape(x)[-2:]
    return where(_tri_mask(rows, cols, k), x, zeros((), data_of(x).dtype))


def triu(x: Any, k: int = 0) -> Tensor:
    rows, cols = shape(x)[-2:]
    return where(_tri_mask(rows, cols, k - 1), zeros((), data_of(x).dtype), x)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0) -> Any:
    """`num` evenly spaced values from start to stop (float32 unless `dtype` says otherwise)."""
    B = _backend.active
    lo, hi = (convert_to_tensor(v, "float32") for v in (start, stop))
    div = (num - 1) if endpoint else num
    step = divide(subtract(hi, lo), float(builtins.max(div, 1)))
    steps = B.arange(num, dtype="float32")
    lead = len(shape(step))
    steps_t = Tensor(B.reshape(steps, (num,) + (1,) * lead))
    out = add(multiply(steps_t, step), lo)
    if endpoint and num > 1:
        last = np.arange(num) == num - 1
        out = where(B.asarray(last.reshape((num,) + (1,) * lead)), broadcast_to(hi, shape(out)[1:]), out)
    if lead and axis % (lead + 1):
        out = moveaxis(out, 0, axis)
    out = out if dtype is None else cast(out, dtype)
    return (out, step) if retstep else out


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: float = 10, dtype: Any = None,
             axis: int = 0) -> Tensor:
    out = power(convert_to_tensor(float(base), "float32"), linspace(start, stop, num, endpoint, dtype=None, axis=axis))
    return out if dtype is None else cast(out, dtype)


def meshgrid(*x: Any, indexing: str = "xy") -> list[Tensor]:
    vectors = [ravel(v) for v in x]
    sizes = [shape(v)[0] for v in vectors]
    if indexing == "xy" and len(vectors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for i, v in enumerate(vectors):
        where_ = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and len(vectors) >= 2 else i
        dims = [1] * len(vectors)
        dims[where_] = shape(v)[0]
        grids.append(broadcast_to(reshape(v, dims), sizes))
    return grids


# ---------------------------------------------------------------------------- diagonals and products
def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    moved = moveaxis(x, (axis1, axis2), (-2, -1))
    rows, cols = shape(moved)[-2:]
    n = builtins.max(0, builtins.min(rows + builtins.min(offset, 0), cols - builtins.max(offset, 0)))
    r = np.arange(n) - builtins.min(offset, 0)
    c = np.arange(n) + builtins.max(offset, 0)
    return getitem(moved, (Ellipsis, r, c))


def diag(x: Any, k: int = 0) -> Tensor:
    """The k-th diagonal of a matrix, or a square matrix with a vector on its k-th diagonal."""
    if ndim(x) == 2:
        return diagonal(x, k)
    n = shape(x)[0]
    size_ = n + builtins.abs(k)
    source = np.full((size_, size_), n)  # index n reads the appended zero
    source[np.arange(n) + builtins.max(-k, 0), np.arange(n) + builtins.max(k, 0)] = np.arange(n)
    padded = concatenate([x, zeros((1,), data_of(x).dtype)], axis=0)
    return take(padded, source)


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    d = diagonal(x, offset, axis1, axis2)
    total = sum(d, axis=-1)
    kind = data_of(d).dtype.kind
    return cast(total, "int32" if kind == "b" else data_of(d).dtype) if kind in "biu" else total


def tensordot(x1: Any, x2: Any, axes: Any = 2) -> Tensor:
    """Sum of products over `axes` (an int: the last of x1 with the first of x2; or two lists of axes)."""
    n1, n2 = ndim(x1), ndim(x2)
    if isinstance(axes, int):
        ax1, ax2 = list(range(n1 - axes, n1)), list(range(axes))
    else:
        ax1, ax2 = ([a] if isinstance(a, int) else list(a) for a in axes)
    ax1, ax2 = [a % n1 for a in ax1], [a % n2 for a in ax2]
    free1, free2 = [i for i in range(n1) if i not in ax1], [i for i in range(n2) if i not in ax2]
    s1, s2 = shape(x1), shape(x2)
    inner_size = int(np.prod([s1[i] for i in ax1]))
    a = reshape(transpose(x1, free1 + ax1), (-1, inner_size))
    b = reshape(transpose(x2, ax2 + free2), (inner_size, -1))
    return reshape(matmul(a, b), [s1[i] for i in free1] + [s2[i] for i in free2])


def outer(x1: Any, x2: Any) -> Tensor:
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


def inner(x1: Any, x2: Any) -> Tensor:
    if ndim(x1) == 0 or ndim(x2) == 0:
        return multiply(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-1]))


# ---------------------------------------------------------------------------- splitting and joining
def _split_bounds(n: int, indices_or_sections: Any, even: bool) -> list[int]:
    if isinstance(indices_or_sections, int):
        parts = indices_or_sections
        if even and n % parts:
            raise ValueError(f"split: {n} entries do not divide into {parts} equal sections; use array_split.")
        base, extra = divmod(n, parts)
        sizes = [base + 1] * extra + [base] * (parts - extra)
        return np.cumsum([0] + sizes).tolist()
    return [0] + [int(i) for i in indices_or_sections] + [n]


def _split(x: Any, indices_or_sections: Any, axis: int, even: bool) -> list[Tensor]:
    n = shape(x)[axis]
    bounds = _split_bounds(n, indices_or_sections, even)
    lead = (builtins.slice(None),) * (axis % ndim(x))
    return [getitem(x, lead + (builtins.slice(builtins.min(lo, n), builtins.min(builtins.max(lo, hi), n)),))
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    return _split(x, indices_or_sections, axis, even=True)


def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    return _split(x, indices_or_sections, axis, even=False)


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[Tensor]:
    return [squeeze(p, axis=axis) for p in split(x, shape(x)[axis], axis)]


def hstack(xs: Sequence[Any]) -> Tensor:
    xs = [reshape(x, (1,)) if ndim(x) == 0 else x for x in xs]
    return concatenate(xs, axis=0 if ndim(xs[0]) == 1 else 1)


def vstack(xs: Sequence[Any]) -> Tensor:
    return concatenate([reshape(x, (1, -1)) if ndim(x) < 2 else x for x in xs], axis=0)


# ---------------------------------------------------------------------------- tests, counts, statistics
def count_nonzero(x: Any, axis: Any = None) -> Tensor:
    B = _backend.active
    nonzero_ = B.compare("not_equal", data_of(x), 0)
    return Tensor(B.cast(B.sum(B.cast(nonzero_, "int32"), axis=axis), "int32"))


def isclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    a, b = (B.asarray(np.float32(v)) if not hasattr(v, "dtype") else v for v in (a, b))
    close = B.compare("less_equal", B.abs(B.subtract(a, b)), B.add(atol, B.multiply(rtol, B.abs(b))))
    close = B.logical("or", close, B.compare("equal", a, b))  # equal infinities
    if equal_nan:
        close = B.logical("or", close, B.logical("and", B.isnan(a), B.isnan(b)))
    return Tensor(close)


def allclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    return all(isclose(x1, x2, rtol, atol, equal_nan))


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    B = _backend.active
    a = data_of(x)
    if a.dtype.kind != "f":
        return Tensor(a)
    big = float(np.finfo(np.dtype(a.dtype)).max)
    out = where(Tensor(B.isnan(a)), nan, x)
    out = where(Tensor(B.logical("and", B.unary("isinf", a), B.compare("greater", a, 0))),
                big if posinf is None else posinf, out)
    return where(Tensor(B.logical("and", B.unary("isinf", a), B.compare("less", a, 0))),
                 -big if neginf is None else neginf, out)


def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return subtract(max(x, axis=axis, keepdims=keepdims), min(x, axis=axis, keepdims=keepdims))


def average(x: Any, axis: int | None = None, weights: Any = None) -> Tensor:
    a = data_of(x)
    x = cast(x, "float32") if a.dtype.kind in "biu" else x
    if weights is None:
        return mean(x, axis=axis)
    w = cast(weights, data_of(x).dtype)
    if axis is not None and ndim(w) == 1 and ndim(x) > 1:
        dims = [1] * ndim(x)
        dims[axis] = shape(w)[0]
        w = reshape(w, dims)
    return divide(sum(multiply(x, w), axis=axis), sum(broadcast_to(w, shape(x)), axis=axis))


def _reduce_last(x: Any, axis: Any) -> tuple[Tensor, tuple[int, ...]]:
    """`x` with the axes in `axis` moved last and flattened into one; also the kept-dims shape."""
    n = ndim(x)
    axes = list(range(n)) if axis is None else sorted(a % n for a in ((axis,) if isinstance(axis, int) else axis))
    kept = [i for i in range(n) if i not in axes]
    moved = transpose(x, kept + axes) if n else reshape(x, (1,))
    keep_shape = tuple(1 if i in axes else shape(x)[i] for i in range(n))
    return reshape(moved, [shape(x)[i] for i in kept] + [-1]), keep_shape


def quantile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Tensor:
    """Quantiles q (in [0, 1]) over `axis`, interpolating between order statistics (methods linear, lower,
    higher, nearest, midpoint); a vector q puts its axis first."""
    return _quantile(x, q, axis, method, keepdims, skip_nan=False)


def percentile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Tensor:
    return quantile(x, _fractions(q), axis=axis, method=method, keepdims=keepdims)


def median(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------- searching and indexing
def searchsorted(sorted_sequence: Any, values: Any, side: str = "left") -> Tensor:
    B = _backend.active
    a, v = _operands(sorted_sequence, values)
    return Tensor(B.cast(B.searchsorted(a, v, side=side), "int32"))


def digitize(x: Any, bins: Any) -> Tensor:
    """Index of the bin each x falls in, for increasing `bins` (bins[i-1] <= x < bins[i]), as int32."""
    return searchsorted(bins, x, side="right")


def bincount(x: Any, weights: Any = None, minlength: int = 0, sparse: bool = False) -> Tensor:
    """Counts (or summed weights) of each non-negative integer in the 1-D `x`; its length is read on the host."""
    if sparse:
        raise ValueError("bincount(sparse=True): gpukeras has no sparse tensors.")
    B = _backend.active
    idx = data_of(x)
    length = builtins.max(int(B.item(B.max(idx))) + 1 if idx.size else 0, minlength)
    if weights is None:
        w, dtype = B.ones(idx.shape, "int32"), "int32"
    else:
        w = data_of(weights)
        dtype = w.dtype if w.dtype.kind == "f" else "int32"
    return Tensor(B.cast(B.take_backward(w, (length,), idx, 0), dtype))


def nonzero(x: Any) -> tuple[Tensor, ...]:
    B = _backend.active
    return tuple(Tensor(B.cast(i, "int32")) for i in B.nonzero(data_of(x)))


def unique(x: Any, sorted: bool = True, return_index: bool = False, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, axis: int | None = None, size: int | None = None,
           fill_value: Any = None) -> Any:
    """np.unique on the host (its size depends on the values); `size` pads with `fill_value` (default the
    minimum) or truncates, as Keras 3 does for static shapes."""
    host = convert_to_numpy(x)
    found = np.unique(host, return_index=return_index, return_inverse=return_inverse,
                      return_counts=return_counts, axis=axis)
    parts = list(found) if isinstance(found, tuple) else [found]
    if size is not None:
        values = parts[0]
        fill = values.min() if fill_value is None and values.size else (fill_value or 0)
        pad_rows = builtins.max(size - values.shape[0], 0)
        parts[0] = np.concatenate([values[:size], np.full((pad_rows,) + values.shape[1:], fill, values.dtype)])
    out = [convert_to_tensor(parts[0])] + [convert_to_tensor(p.astype(np.int32)) for p in parts[1:]]
    return out[0] if len(out) == 1 else tuple(out)


def isin(x1: Any, x2: Any, assume_unique: bool = False, invert: bool = False) -> Tensor:
    B = _backend.active
    a, b = _operands(x1, x2)
    hits = B.compare("equal", B.expand_dims(a, -1), B.reshape(b, (-1,)))
    found = B.max(hits, axis=-1) if B.reshape(b, (-1,)).shape[0] else B.zeros(a.shape, "bool")
    return Tensor(B.logical("not", found) if invert else found)


def unravel_index(indices: Any, shape: Sequence[int]) -> tuple[Tensor, ...]:  # noqa: A002
    B = _backend.active
    idx = data_of(indices)
    out = []
    for n in reversed(tuple(shape)):
        out.append(B.cast(B.binary("remainder", idx, n), "int32"))
        idx = B.binary("floor_divide", idx, n)
    return tuple(Tensor(i) for i in reversed(out))


def get_item(x: Any, key: Any) -> Tensor:
    return getitem(x, key)


def slice(inputs: Any, start_indices: Sequence[int], shape: Sequence[int]) -> Tensor:  # noqa: A001
    """The block of `shape` starting at `start_indices`."""
    starts = [int(s) for s in np.asarray(convert_to_numpy(start_indices) if isinstance(start_indices, Tensor)
                                         else start_indices).reshape(-1)]
    return getitem(inputs, tuple(builtins.slice(s, s + int(n)) for s, n in zip(starts, shape)))


def _set_block(x: Any, key: Any, values: Any) -> Tensor:
    """x with x[key] = values; gradients: x's outside the block, the values' inside it."""
    B = _backend.active
    a = data_of(x)
    v = B.cast(data_of(values), a.dtype)
    out = B.setitem(a, key, v)

    def backward(g):
        gv = B.getitem(g, key)
        return B.setitem(g, key, 0), B.sum_to_shape(gv, v.shape) if gv.shape != v.shape else gv

    return attach(out, (x, values), backward)


def slice_update(inputs: Any, start_indices: Sequence[int], updates: Any) -> Tensor:
    starts = [int(s) for s in np.asarray(convert_to_numpy(start_indices) if isinstance(start_indices, Tensor)
                                         else start_indices).reshape(-1)]
    key = tuple(builtins.slice(s, s + n) for s, n in zip(starts, shape(updates)))
    return _set_block(inputs, key, updates)


def _index_key(indices: Any) -> tuple[Any, ...]:
    """Keras's scatter indices, (..., k) coordinates into the first k axes, as a getitem key."""
    idx = data_of(indices)
    idx = idx if hasattr(idx, "dtype") else _backend.active.asarray(np.asarray(idx))
    return tuple(_backend.active.getitem(idx, (Ellipsis, i)) for i in range(idx.shape[-1]))


def scatter(indices: Any, values: Any, shape: Sequence[int]) -> Tensor:
    """Zeros of `shape` with `values` added at `indices` (repeated indices add up)."""
    B = _backend.active
    v = data_of(values)
    key = _index_key(indices)
    return attach(B.getitem_backward(v, tuple(shape), key), (values,), lambda g: (B.getitem(g, key),))


def scatter_update(inputs: Any, indices: Any, updates: Any, reduction: str | None = None) -> Tensor:
    """`inputs` with its entries at `indices` replaced by `updates` (reduction="add": added to)."""
    key = _index_key(indices)
    if reduction is None:
        return _set_block(inputs, key, updates)
    if reduction != "add":
        raise NotImplementedError(f"scatter_update: reduction {reduction!r} (gpukeras has None and 'add').")
    return add(inputs, scatter(indices, cast(updates, data_of(inputs).dtype), shape(inputs)))


# ---------------------------------------------------------------------------- more elementwise
def cbrt(x: Any) -> Tensor:
    B = _backend.active
    return _unary("cbrt", x, lambda a, out: B.unary("reciprocal", B.multiply(B.square(out), 3.0)))


def sinc(x: Any) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0; d/dx = (cos(pi x) - sinc(x)) / x, 0 at 0."""
    B = _backend.active

    def derivative(a, out):
        zero = B.compare("equal", a, 0)
        safe = B.where(zero, B.ones((), a.dtype), a)
        return B.where(zero, B.zeros((), a.dtype), B.divide(B.subtract(B.cos(B.multiply(safe, np.pi)), out), safe))

    return _unary("sinc", x, derivative)


def deg2rad(x: Any) -> Tensor:
    return multiply(_to_float(x), float(np.pi / 180.0))


def rad2deg(x: Any) -> Tensor:
    return multiply(_to_float(x), float(180.0 / np.pi))


def fabs(x: Any) -> Tensor:
    return abs(_to_float(x))


def _to_float(x: Any) -> Any:
    """`x` itself, or as float32 when it holds integers or booleans (differentiable)."""
    return cast(x, "float32") if data_of(x).dtype.kind in "biu" else x


def signbit(x: Any) -> Tensor:
    return Tensor(_backend.active.unary("signbit", data_of(x)))


def isposinf(x: Any) -> Tensor:
    return logical_and(isinf(x), greater(x, 0))


def isneginf(x: Any) -> Tensor:
    return logical_and(isinf(x), less(x, 0))


def heaviside(x1: Any, x2: Any) -> Tensor:
    """0 where x1 < 0, 1 where x1 > 0, x2 where x1 == 0 (float32 for integer inputs)."""
    a, b = _to_float(convert_to_tensor(x1)), _to_float(convert_to_tensor(x2))
    return Tensor(where(less(a, 0), 0.0, where(greater(a, 0), 1.0, b)).data)


def fmax(x1: Any, x2: Any) -> Tensor:
    """maximum, ignoring a NaN operand."""
    return where(isnan(x2), x1, where(isnan(x1), x2, maximum(x1, x2)))


def fmin(x1: Any, x2: Any) -> Tensor:
    """minimum, ignoring a NaN operand."""
    return where(isnan(x2), x1, where(isnan(x1), x2, minimum(x1, x2)))


def logaddexp2(x1: Any, x2: Any) -> Tensor:
    ln2 = float(np.log(2.0))
    return divide(logaddexp(multiply(_to_float(x1), ln2), multiply(_to_float(x2), ln2)), ln2)


def ldexp(x1: Any, x2: Any) -> Tensor:
    """x1 * 2 ** x2."""
    return multiply(_to_float(x1), exp2(cast(x2, data_of(_to_float(x1)).dtype)))


def gcd(x1: Any, x2: Any) -> Tensor:
    return _binary("gcd", x1, x2, integers_stay=True)


def lcm(x1: Any, x2: Any) -> Tensor:
    return _binary("lcm", x1, x2, integers_stay=True)


def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Tensor:
    """choicelist[i] where condlist[i] is the first true condition, else `default`."""
    out = broadcast_to(cast(default, data_of(choicelist[0]).dtype) if hasattr(data_of(default), "dtype")
                       else full((), default, data_of(choicelist[0]).dtype), shape(choicelist[0]))
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = where(cond, choice, out)
    return out


def saturate_cast(x: Any, dtype: Any) -> Tensor:
    """Cast with values clipped to the target dtype's range (no wrap-around)."""
    a = data_of(x)
    target = np.dtype(dtype)
    if target.kind not in "iu" or a.dtype.kind not in "iuf":
        return cast(x, dtype)
    info = np.iinfo(target)
    if a.dtype.kind in "iu":
        own = np.iinfo(a.dtype)
        if own.min >= info.min and own.max <= info.max:
            return cast(x, dtype)
        return cast(clip(x, int(builtins.max(info.min, own.min)), int(builtins.min(info.max, own.max))), dtype)
    # a float: clip to the largest float below the range's end, then the end itself at or above it
    top = np.asarray(info.max, dtype=a.dtype)
    while float(top) > info.max:
        top = np.nextafter(top, np.asarray(0, dtype=a.dtype))
    clipped = cast(clip(x, float(info.min), float(top)), dtype)
    return where(greater_equal(x, float(info.max)), full((), info.max, dtype), clipped)


# ---------------------------------------------------------------------------- NaN-ignoring reductions
def _without_nan(x: Any, fill: float) -> Tensor:
    return where(isnan(x), fill, x) if data_of(x).dtype.kind == "f" else x


def nansum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _same_int(sum(_without_nan(x, 0.0), axis=axis, keepdims=keepdims), x)


def _same_int(out: Tensor, x: Any) -> Tensor:
    """Keras keeps an integer input's dtype where NumPy would widen it."""
    return cast(out, data_of(x).dtype) if data_of(x).dtype.kind in "iu" else out


def nanprod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return prod(_without_nan(x, 1.0), axis=axis, keepdims=keepdims)


def _count_valid(x: Any, axis: Any, keepdims: bool) -> Tensor:
    valid = logical_not(isnan(x)) if data_of(x).dtype.kind == "f" else ones_like(x, "bool")
    return sum(cast(valid, data_of(_to_float(x)).dtype), axis=axis, keepdims=keepdims)


def nanmean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = _to_float(x)
    return divide(sum(_without_nan(x, 0.0), axis=axis, keepdims=keepdims), _count_valid(x, axis, keepdims))


def nanvar(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = _to_float(x)
    centered = subtract(x, nanmean(x, axis=axis, keepdims=True))
    return nanmean(square(centered), axis=axis, keepdims=keepdims)


def nanstd(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def _nan_extremum(reduce: Any, x: Any, fill: float, axis: Any, keepdims: bool) -> Tensor:
    """max/min over the non-NaN entries; NaN where all are NaN."""
    if data_of(x).dtype.kind != "f":
        return reduce(x, axis=axis, keepdims=keepdims)
    out = reduce(_without_nan(x, fill), axis=axis, keepdims=keepdims)
    return where(equal(_count_valid(x, axis, keepdims), 0), float("nan"), out)


def nanmax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _nan_extremum(max, x, -np.inf, axis, keepdims)


def nanmin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _nan_extremum(min, x, np.inf, axis, keepdims)


def _nan_arg(arg: Any, x: Any, fill: float, axis: Any, keepdims: bool) -> Tensor:
    src = _without_nan(x, fill)
    if axis is None:
        out = arg(ravel(src), axis=0)
        return reshape(out, (1,) * ndim(x)) if keepdims else out
    out = arg(src, axis=axis)
    return expand_dims(out, axis) if keepdims else out


def nanargmax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _nan_arg(argmax, x, -np.inf, axis, keepdims)


def nanargmin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _nan_arg(argmin, x, np.inf, axis, keepdims)


def nancumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    return cumsum(_without_nan(x, 0.0), axis=axis, dtype=dtype)


def nancumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    return cumprod(_without_nan(x, 1.0), axis=axis, dtype=dtype)


# ---------------------------------------------------------------------------- more rearranging
def fliplr(x: Any) -> Tensor:
    return flip(x, axis=1)


def flipud(x: Any) -> Tensor:
    return flip(x, axis=0)


def rot90(array: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Tensor:
    """`array` rotated by 90 degrees k times in the plane of `axes` (from the first axis towards the second)."""
    k %= 4
    first, second = axes
    if k == 0:
        return convert_to_tensor(array)
    if k == 2:
        return flip(array, axis=(first, second))
    swapped = swapaxes(array, first, second)
    return flip(swapped, axis=first) if k == 1 else flip(swapaxes(array, first, second), axis=second)


def diff(a: Any, n: int = 1, axis: int = -1) -> Tensor:
    out = a
    for _ in range(n):
        lead = (builtins.slice(None),) * (axis % ndim(out))
        upper, lower = getitem(out, lead + (builtins.slice(1, None),)), getitem(out, lead + (builtins.slice(None, -1),))
        out = subtract(upper, lower)
    return out


def append(x1: Any, x2: Any, axis: int | None = None) -> Tensor:
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)], axis=0)
    return concatenate([x1, x2], axis=axis)


def _at_least_3d(x: Any) -> Tensor:
    dims = ndim(x)
    if dims >= 3:
        return x
    return reshape(x, (1, 1, 1) if dims == 0 else (1, shape(x)[0], 1) if dims == 1 else shape(x) + (1,))


def dstack(xs: Sequence[Any]) -> Tensor:
    return concatenate([_at_least_3d(x) for x in xs], axis=2)


def hsplit(x: Any, indices_or_sections: Any) -> list[Tensor]:
    return split(x, indices_or_sections, axis=1 if ndim(x) > 1 else 0)


def vsplit(x: Any, indices_or_sections: Any) -> list[Tensor]:
    return split(x, indices_or_sections, axis=0)


def dsplit(x: Any, indices_or_sections: Any) -> list[Tensor]:
    return split(x, indices_or_sections, axis=2)


def diagflat(x: Any, k: int = 0) -> Tensor:
    return diag(ravel(x), k)


def vdot(x1: Any, x2: Any) -> Tensor:
    return _same_int(sum(multiply(ravel(x1), ravel(x2))), x1)


def kron(x1: Any, x2: Any) -> Tensor:
    """The Kronecker product: blocks x1[i] * x2."""
    dims = builtins.max(ndim(x1), ndim(x2))
    s1 = (1,) * (dims - ndim(x1)) + shape(x1)
    s2 = (1,) * (dims - ndim(x2)) + shape(x2)
    a = reshape(x1, [v for n in s1 for v in (n, 1)])
    b = reshape(x2, [v for n in s2 for v in (1, n)])
    return reshape(multiply(a, b), [m * n for m, n in zip(s1, s2)])


def cross(x1: Any, x2: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Tensor:
    """The cross product of 3-vectors (or 2-vectors, whose product is the scalar z component)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(x1, axisa, -1), moveaxis(x2, axisb, -1)
    na, nb = shape(a)[-1], shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: vectors must have 2 or 3 components, not {na} and {nb}.")

    def part(v: Any, i: int, size: int) -> Tensor:
        return take(v, i, axis=-1) if i < size else zeros((), data_of(v).dtype)

    a0, a1, a2 = (part(a, i, na) for i in range(3))
    b0, b1, b2 = (part(b, i, nb) for i in range(3))
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if na == 2 and nb == 2:
        return z
    x_part, y_part = subtract(multiply(a1, b2), multiply(a2, b1)), subtract(multiply(a2, b0), multiply(a0, b2))
    out = stack([x_part, y_part, broadcast_to(z, shape(x_part))], axis=-1)
    return moveaxis(out, -1, axisc)


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Tensor:
    """The integral of y by the trapezoidal rule, over sample points x (or a spacing dx)."""
    y = _to_float(y)
    lead = (builtins.slice(None),) * (axis % ndim(y))
    upper, lower = getitem(y, lead + (builtins.slice(1, None),)), getitem(y, lead + (builtins.slice(None, -1),))
    widths = dx if x is None else diff(_to_float(convert_to_tensor(x)), axis=axis if ndim(x) > 1 else -1)
    if x is not None and ndim(x) == 1 and ndim(y) > 1:
        dims = [1] * ndim(y)
        dims[axis] = shape(widths)[0]
        widths = reshape(widths, dims)
    return sum(multiply(divide(add(upper, lower), 2.0), widths), axis=axis)


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803 - Keras's name
    n = shape(x)[0] if N is None else N
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    exps = convert_to_tensor(powers.astype(data_of(x).dtype.name if data_of(x).dtype.kind == "f" else np.int32))
    return power(reshape(x, (-1, 1)), reshape(exps, (1, -1)))


def corrcoef(x: Any) -> Tensor:
    """Pearson correlation of the rows of x (each row a variable)."""
    x = _to_float(x)
    x = reshape(x, (1, -1)) if ndim(x) == 1 else x
    centered = subtract(x, mean(x, axis=1, keepdims=True))
    cov = matmul(centered, transpose(centered))
    scale = sqrt(diagonal(cov))
    out = clip(divide(divide(cov, reshape(scale, (-1, 1))), reshape(scale, (1, -1))), -1.0, 1.0)
    return reshape(out, ()) if shape(out) == (1, 1) else out


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> Tensor:
    """`num` values from start to stop spaced evenly on a log scale (start and stop of one sign)."""
    lo, hi = (convert_to_tensor(v, "float32") for v in (start, stop))
    sign_ = Tensor(_backend.active.sign(lo.data))
    out = multiply(exp(linspace(log(abs(lo)), log(abs(hi)), num, endpoint, axis=axis)), sign_)
    return out if dtype is None else cast(out, dtype)


def argpartition(x: Any, kth: int, axis: int = -1) -> Tensor:
    """Indices that put the kth entry where a sort would, smaller ones before, larger after (a full sort
    satisfies this; the order within each side is the sort's, which Keras leaves unspecified)."""
    return argsort(x, axis=axis)


def correlate(x1: Any, x2: Any, mode: str = "valid") -> Tensor:
    """Cross-correlation of two 1-D sequences: c[k] = sum_n x1[n + k] x2[n] (modes valid, same, full)."""
    n, m = shape(x1)[0], shape(x2)[0]
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"correlate: mode must be 'valid', 'same' or 'full', not {mode!r}.")
    if m > n:  # as NumPy: the longer sequence slides, the result reversed
        return flip(correlate(x2, x1, mode))
    lo = {"valid": 0, "same": m // 2, "full": m - 1}[mode]
    hi = {"valid": 0, "same": m - 1 - m // 2, "full": m - 1}[mode]
    padded = pad(x1, ((lo, hi),))
    count = n + lo + hi - m + 1
    windows = take(padded, np.arange(count)[:, None] + np.arange(m)[None, :])
    a = data_of(x1)
    out = matmul(windows, cast(x2, data_of(windows).dtype))
    return out if a.dtype.kind == "f" else cast(out, "float32")


# ---------------------------------------------------------------------------- bits, windows, odds and ends
def _integer_op(op: str, name: str) -> Any:
    """The Keras op `name`: NumPy's `op` on two integer tensors (or Python ints)."""
    def fn(x: Any, y: Any) -> Tensor:
        return _binary(op, x, y, integers_stay=True)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {op} of integers."
    return fn


bitwise_and = _integer_op("bitwise_and", "bitwise_and")
bitwise_or = _integer_op("bitwise_or", "bitwise_or")
bitwise_xor = _integer_op("bitwise_xor", "bitwise_xor")
bitwise_left_shift = _integer_op("left_shift", "bitwise_left_shift")
bitwise_right_shift = _integer_op("right_shift", "bitwise_right_shift")
left_shift = bitwise_left_shift
right_shift = bitwise_right_shift


def bitwise_invert(x: Any) -> Tensor:
    return Tensor(_backend.active.unary("invert", data_of(x)))


bitwise_not = bitwise_invert


def nextafter(x1: Any, x2: Any) -> Tensor:
    """The next float after x1 towards x2 (float32 for integer inputs)."""
    return _binary("nextafter", x1, x2)


def i0(x: Any) -> Tensor:
    """The modified Bessel function of the first kind, order 0."""
    return _unary("i0", x)


def _window(m: int, terms: Sequence[float]) -> Tensor:
    """sum_k terms[k] cos(2 pi k n / (m - 1)) for n in [0, m): the cosine-sum windows (float32)."""
    if m <= 1:
        return ones((builtins.max(m, 0),))
    n = arange(m, dtype="float32")
    out = full((m,), terms[0])
    for k, weight in enumerate(terms[1:], start=1):
        out = add(out, multiply(cos(multiply(n, float(2.0 * np.pi * k / (m - 1)))), weight))
    return out


def hanning(x: int) -> Tensor:
    return _window(int(x), (0.5, -0.5))


def hamming(x: int) -> Tensor:
    return _window(int(x), (0.54, -0.46))


def blackman(x: int) -> Tensor:
    return _window(int(x), (0.42, -0.5, 0.08))


def bartlett(x: int) -> Tensor:
    """The triangular window: 1 - |2n / (m - 1) - 1|."""
    m = int(x)
    if m <= 1:
        return ones((builtins.max(m, 0),))
    return subtract(1.0, abs(subtract(multiply(arange(m, dtype="float32"), 2.0 / (m - 1)), 1.0)))


def kaiser(x: int, beta: float) -> Tensor:
    """i0(beta sqrt(1 - (2n / (m - 1) - 1)^2)) / i0(beta)."""
    m = int(x)
    if m <= 1:
        return ones((builtins.max(m, 0),))
    ratio = subtract(multiply(arange(m, dtype="float32"), 2.0 / (m - 1)), 1.0)
    inner = sqrt(clip(subtract(1.0, square(ratio)), 0.0, 1.0))
    return divide(i0(multiply(inner, float(beta))), i0(full((), float(beta))))


def cdist(x: Any, y: Any) -> Tensor:
    """Euclidean distances between the rows of x (..., m, d) and of y (..., n, d): (..., m, n)."""
    gap = subtract(expand_dims(_to_float(x), -2), expand_dims(_to_float(y), -3))
    return sqrt(sum(square(gap), axis=-1))


def dtype(x: Any) -> str:
    """The name of x's dtype ("float32", "int32", ...)."""
    return str(data_of(x).dtype) if hasattr(data_of(x), "dtype") else str(convert_to_tensor(x).dtype)


def array(x: Any, dtype: Any = None) -> Tensor:  # noqa: A002 - Keras's name
    return convert_to_tensor(x, dtype)


def _quantile(x: Any, q: Any, axis: Any, method: str, keepdims: bool, skip_nan: bool) -> Tensor:
    """quantile and nanquantile: positions q * (count - 1) in x sorted along the reduced axes (NaN sorts
    last, so the first `count` entries are the non-NaN ones when `skip_nan`)."""
    B = _backend.active
    flat, keep_shape = _reduce_last(_to_float(x), axis)
    ordered = sort(flat, axis=-1)
    count = _count_valid(flat, -1, True) if skip_nan else full((), shape(flat)[-1], data_of(flat).dtype)
    last = maximum(subtract(count, 1.0), 0.0)
    qs = np.atleast_1d(convert_to_numpy(q) if isinstance(q, Tensor) else np.asarray(q, dtype=np.float64))
    results = []
    for qv in qs.astype(np.float64):
        pos = broadcast_to(multiply(last, float(qv)), shape(ordered)[:-1] + (1,))
        lo, hi = floor(pos), ceil(pos)
        frac = _quantile_fraction(method, pos, lo, hi)
        low = take_along_axis(ordered, Tensor(B.cast(lo.data, "int64")), axis=-1)
        high = take_along_axis(ordered, Tensor(B.cast(hi.data, "int64")), axis=-1)
        value = add(low, multiply(subtract(high, low), frac))
        value = squeeze(where(equal(count, 0.0), float("nan"), value) if skip_nan else value, axis=-1)
        results.append(reshape(value, keep_shape) if keepdims else value)
    return results[0] if np.ndim(q) == 0 else stack(results, axis=0)


def _quantile_fraction(method: str, pos: Any, lo: Any, hi: Any) -> Any:
    """How far between the order statistics lo and hi the quantile at `pos` lies, per `method`."""
    if method == "linear":
        return subtract(pos, lo)
    if method == "nearest":
        return subtract(round(pos), lo)
    if method == "midpoint":  # halfway, unless both neighbours are the same entry
        return multiply(cast(not_equal(lo, hi), data_of(lo).dtype), 0.5)
    return {"lower": 0.0, "higher": 1.0}[method]


def _fractions(q: Any) -> np.ndarray:
    """Percentages as fractions, on the host (they decide which entries are read)."""
    return (convert_to_numpy(q) if isinstance(q, Tensor) else np.asarray(q, dtype=np.float64)) / 100.0


def nanquantile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Tensor:
    """quantile over the non-NaN entries (NaN where all are NaN)."""
    return _quantile(x, q, axis, method, keepdims, skip_nan=True)


def nanpercentile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Tensor:
    """percentile over the non-NaN entries."""
    return _quantile(x, _fractions(q), axis, method, keepdims, skip_nan=True)


def nanmedian(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """median over the non-NaN entries."""
    return _quantile(x, 0.5, axis, "linear", keepdims, skip_nan=True)


# ---------------------------------------------------------------------------- complex parts
def real(x: Any) -> Tensor:
    """The real part (x itself for real x, whose gradient passes through)."""
    B = _backend.active
    a = data_of(x)
    out = B.unary("real", a)
    return attach(out, (x,), lambda g: (g,)) if a.dtype.kind != "c" else Tensor(out)


def imag(x: Any) -> Tensor:
    return Tensor(_backend.active.unary("imag", data_of(x)))


def conj(x: Any) -> Tensor:
    """The complex conjugate (x itself for real x, whose gradient passes through)."""
    B = _backend.active
    a = data_of(x)
    out = B.unary("conj", a)
    return attach(out, (x,), lambda g: (g,)) if a.dtype.kind != "c" else Tensor(out)


conjugate = conj


def angle(x: Any) -> Tensor:
    """The complex argument, float32 for real or complex64 inputs (pi for negative reals)."""
    a = data_of(x)
    out = _backend.active.unary("angle", a)
    return Tensor(_backend.active.cast(out, "float32") if a.dtype.kind != "f" and a.dtype != np.complex128 else out)


def isreal(x: Any) -> Tensor:
    return Tensor(_backend.active.unary("isreal", data_of(x)))


def polar(abs_: Any, angle: Any) -> Tensor:
    """abs_ * exp(i angle), complex64."""
    B = _backend.active
    phase = B.exp(B.multiply(B.cast(data_of(angle), "complex64"), 1j))
    return Tensor(B.cast(B.multiply(B.cast(data_of(abs_), "complex64"), phase), "complex64"))


def view_as_real(x: Any) -> Tensor:
    """A complex tensor as (..., 2) float32: real and imaginary parts."""
    B = _backend.active
    a = data_of(x)
    return Tensor(B.cast(B.stack([B.unary("real", a), B.unary("imag", a)], axis=-1), "float32"))


def view_as_complex(x: Any) -> Tensor:
    """(..., 2) real and imaginary parts as one complex64 tensor."""
    B = _backend.active
    a = B.cast(data_of(x), "complex64")
    real_, imag_ = B.getitem(a, (Ellipsis, 0)), B.getitem(a, (Ellipsis, 1))
    return Tensor(B.cast(B.add(real_, B.multiply(imag_, 1j)), "complex64"))


# ---------------------------------------------------------------------------- Fourier transforms (forward only)
def _complex_of(x: Any) -> Any:
    """Keras's (real, imag) pair as one complex64 array."""
    real_, imag_ = x
    return data_of(view_as_complex(stack([_to_float(real_), _to_float(imag_)], axis=-1)))


def _parts(c: Any) -> tuple[Tensor, Tensor]:
    B = _backend.active
    return Tensor(B.cast(B.unary("real", c), "float32")), Tensor(B.cast(B.unary("imag", c), "float32"))


def fft(x: tuple[Any, Any]) -> tuple[Tensor, Tensor]:
    """The DFT over the last axis of (real, imag); returns (real, imag). No gradient is recorded."""
    return _parts(_backend.active.fft("fft", _complex_of(x)))


def fft2(x: tuple[Any, Any]) -> tuple[Tensor, Tensor]:
    """The DFT over the last two axes of (real, imag). No gradient is recorded."""
    return _parts(_backend.active.fft("fft2", _complex_of(x)))


def ifft2(x: tuple[Any, Any]) -> tuple[Tensor, Tensor]:
    """The inverse DFT over the last two axes of (real, imag). No gradient is recorded."""
    return _parts(_backend.active.fft("ifft2", _complex_of(x)))


def rfft(x: Any, fft_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The DFT of a real signal over its last axis, the fft_length // 2 + 1 non-negative frequencies."""
    return _parts(_backend.active.fft("rfft", data_of(_to_float(x)), fft_length))


def irfft(x: tuple[Any, Any], fft_length: int | None = None) -> Tensor:
    """The real signal (float32) whose rfft is (real, imag)."""
    B = _backend.active
    return Tensor(B.cast(B.fft("irfft", _complex_of(x), fft_length), "float32"))
