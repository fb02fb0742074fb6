"""Gradients (finite differences, float64) and forward values (NumPy formulas, float32) of gpukeras.ops.

Every case in CASES is checked twice:
  * `test_gradient`: the tape's gradient w.r.t. every input matches central differences
    (tests/gradcheck.py); inputs are float64 Variables.
  * `test_forward`: with float32 inputs the op's output is float32 and equals the NumPy formula.
Inputs stay away from kinks (0 for relu/abs, +-3 for hard_sigmoid, ties for max/min/maximum).
`test_every_differentiable_op_is_covered` fails when gpukeras.ops exports a differentiable op
that has no case here.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from gradcheck import check_gradients

import gpukeras
from gpukeras import backend, ops
from gpukeras.backend import kernels as K
from gpukeras.backend.base import ACTIVATIONS


# ---------------------------------------------------------------------------- inputs
def _rand(shape: tuple[int, ...], lo: float = -2.0, hi: float = 2.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def _away(shape: tuple[int, ...], kinks: tuple[float, ...] = (0.0,), margin: float = 0.25,
          lo: float = -2.0, hi: float = 2.0, seed: int = 0) -> np.ndarray:
    """Uniform values, each pushed at least `margin` away from every kink."""
    x = _rand(shape, lo, hi, seed)
    for k in kinks:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, margin, -margin), x)
    return x


def _pos(shape: tuple[int, ...], lo: float = 0.5, hi: float = 2.0, seed: int = 0) -> np.ndarray:
    return _rand(shape, lo, hi, seed)


def _distinct(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Values with no ties (gaps >= 0.2): max/min have a unique winner along any axis."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.3 + rng.uniform(-0.05, 0.05, size=n)).reshape(shape)


def _pair_apart(shape_a: tuple[int, ...], shape_b: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, ...]:
    """Two arrays whose broadcast elements differ by at least 0.2 (no ties for maximum/minimum)."""
    a = _rand(shape_a, seed=seed)
    b = _rand(shape_b, seed=seed + 1)
    for _ in range(100):
        diff = np.abs(np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)) - b)
        if diff.min() >= 0.2:
            return a, b
        seed += 2
        a, b = _rand(shape_a, seed=seed), _rand(shape_b, seed=seed + 1)
    raise RuntimeError("could not draw tie-free inputs")


# ---------------------------------------------------------------------------- NumPy references
def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_softplus(x):
    return np.log1p(np.exp(x))


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _np_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    y = np.where(x >= threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else np.minimum(y, max_value)


NP_ACTIVATIONS: dict[str, Callable[..., np.ndarray]] = {
    "linear": lambda x: x,
    "relu": _np_relu,
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "leaky_relu": lambda x, s=0.2: np.where(x >= 0, x, s * x),
    "elu": lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x)),
    "selu": lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0))),
    "gelu_tanh": lambda x: 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3))),
    "silu": lambda x: x * _np_sigmoid(x),
    "sigmoid": _np_sigmoid,
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "hard_silu": lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "tanh": np.tanh,
    "softplus": _np_softplus,
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(_np_softplus(x)),
    "softmax": _np_softmax,
    "log_softmax": _np_log_softmax,
}

# Where each activation's derivative jumps (inputs are kept away from these).
KINKS: dict[str, tuple[float, ...]] = {
    "relu": (0.0,), "relu6": (0.0, 6.0), "leaky_relu": (0.0,), "elu": (0.0,), "selu": (0.0,),
    "hard_sigmoid": (-3.0, 3.0), "hard_silu": (-3.0, 3.0), "softsign": (0.0,),
}


def _np_take(x, indices, axis=None):
    return np.take(x, indices, axis=axis)


def _np_sparse_ce(labels, logits):
    return -np.take_along_axis(_np_log_softmax(logits), labels[..., None], axis=-1)[..., 0]


# ---------------------------------------------------------------------------- cases
@dataclass
class Case:
    id: str
    op: str  # the gpukeras.ops name this case covers
    fn: Callable[..., Any]
    inputs: list[np.ndarray]
    ref: Callable[..., np.ndarray] | None = None  # NumPy formula of the forward (float64)
    atol: float = 1e-6
    rtol: float = 1e-5
    eps: float = 1e-6
    out_dtype: str = "float32"  # forward dtype expected for float32 inputs
    fwd_tol: float = 1e-5


CASES: list[Case] = []


def _add(*args: Any, **kwargs: Any) -> None:
    CASES.append(Case(*args, **kwargs))


def _shape_id(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


# --- arithmetic with broadcasting and Python scalars
_BINARY = {
    "add": (ops.add, np.add), "subtract": (ops.subtract, np.subtract),
    "multiply": (ops.multiply, np.multiply), "divide": (ops.divide, np.divide),
}
_BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((4,), (3, 4)),
                     ((3, 1), (1, 4)), ((2, 1, 4), (3, 1)), ((), (3, 4))]
for _name, (_op, _ref) in _BINARY.items():
    for _sa, _sb in _BROADCAST_SHAPES:
        _b = _away(_sb, margin=0.5, seed=2) if _name == "divide" else _rand(_sb, seed=2)
        _add(f"{_name}-{_shape_id(_sa)}-{_shape_id(_sb)}", _name, _op, [_rand(_sa, seed=1), _b], _ref)
    _x = _away((3, 4), margin=0.5, seed=3)
    _add(f"{_name}-tensor-pyfloat", _name, lambda x, f=_op: f(x, 2.5), [_x], lambda x, f=_ref: f(x, 2.5))
    _add(f"{_name}-pyfloat-tensor", _name, lambda x, f=_op: f(-1.5, x), [_x], lambda x, f=_ref: f(-1.5, x))
    _add(f"{_name}-tensor-pyint", _name, lambda x, f=_op: f(x, 3), [_x], lambda x, f=_ref: f(x, 3))
_add("true_divide", "true_divide", ops.true_divide, [_rand((3, 4)), _pos((4,))], np.divide)

# --- power
_add("power-tensor-tensor", "power", ops.power, [_pos((3, 4)), _rand((3, 4), seed=1)], np.power)
_add("power-broadcast", "power", ops.power, [_pos((3, 4)), _rand((4,), seed=1)], np.power)
_add("power-pyint", "power", lambda x: ops.power(x, 3), [_rand((3, 4))], lambda x: x ** 3)
_add("power-pyfloat", "power", lambda x: ops.power(x, 2.5), [_pos((3, 4))], lambda x: x ** 2.5)
_add("power-negative-exponent", "power", lambda x: ops.power(x, -1.5), [_pos((3, 4))], lambda x: x ** -1.5)
_add("power-pyfloat-base", "power", lambda x: ops.power(2.0, x), [_rand((3, 4))], lambda x: 2.0 ** x)

# --- unary
_UNARY = [
    ("negative", ops.negative, np.negative, _rand((3, 4))),
    ("square", ops.square, np.square, _rand((3, 4))),
    ("sqrt", ops.sqrt, np.sqrt, _pos((3, 4), 0.3, 3.0)),
    ("exp", ops.exp, np.exp, _rand((3, 4))),
    ("log", ops.log, np.log, _pos((3, 4), 0.3, 3.0)),
    ("log1p", ops.log1p, np.log1p, _rand((3, 4), -0.6, 2.0)),
    ("abs", ops.abs, np.abs, _away((3, 4))),
    ("absolute", ops.absolute, np.abs, _away((3, 4), seed=1)),
    ("sin", ops.sin, np.sin, _rand((3, 4), -3, 3)),
    ("cos", ops.cos, np.cos, _rand((3, 4), -3, 3)),
]
for _name, _op, _ref, _x in _UNARY:
    _add(_name, _name, _op, [_x], _ref)

# --- maximum / minimum / where / clip
for _name, _op, _ref in [("maximum", ops.maximum, np.maximum), ("minimum", ops.minimum, np.minimum)]:
    for _sa, _sb in [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4))]:
        _add(f"{_name}-{_shape_id(_sa)}-{_shape_id(_sb)}", _name, _op, list(_pair_apart(_sa, _sb)), _ref)
    _add(f"{_name}-pyfloat", _name, lambda x, f=_op: f(x, 0.3), [_away((3, 4), (0.3,))],
         lambda x, f=_ref: f(x, 0.3))

_COND = _rand((3, 4), seed=9) > 0
_add("where", "where", lambda a, b: ops.where(_COND, a, b), [_rand((3, 4)), _rand((3, 4), seed=1)],
     lambda a, b: np.where(_COND, a, b))
_add("where-broadcast", "where", lambda a, b: ops.where(_COND, a, b), [_rand((4,)), _rand((3, 1), seed=1)],
     lambda a, b: np.where(_COND, a, b))
_add("where-pyfloat-false", "where", lambda a: ops.where(_COND, a, 0.0), [_rand((3, 4))],
     lambda a: np.where(_COND, a, 0.0))
_add("where-pyfloat-true", "where", lambda b: ops.where(_COND, 1.5, b), [_rand((3, 4))],
     lambda b: np.where(_COND, 1.5, b))
_add("where-tensor-condition", "where", lambda x: ops.where(x > 0, x, x * 0.5), [_away((3, 4))],
     lambda x: np.where(x > 0, x, x * 0.5))
_add("clip", "clip", lambda x: ops.clip(x, -1.0, 1.0), [_away((3, 5), (-1.0, 1.0), 0.1)],
     lambda x: np.clip(x, -1.0, 1.0))
_add("clip-int-bounds", "clip", lambda x: ops.clip(x, 0, 1), [_away((3, 5), (0.0, 1.0), 0.1, seed=1)],
     lambda x: np.clip(x, 0, 1))

# --- reductions
_AXES: list[Any] = [None, 0, 1, -1, (0, 2), (0, 1, 2), (-1, 0)]
_REDUCTIONS = [("sum", ops.sum, np.sum), ("mean", ops.mean, np.mean),
               ("max", ops.max, np.max), ("min", ops.min, np.min)]
for _name, _op, _ref in _REDUCTIONS:
    for _axis in _AXES:
        for _kd in (False, True):
            _add(f"{_name}-axis{_axis}-keepdims{_kd}".replace(" ", ""), _name,
                 lambda x, f=_op, a=_axis, k=_kd: f(x, axis=a, keepdims=k), [_distinct((2, 3, 4))],
                 lambda x, f=_ref, a=_axis, k=_kd: f(x, axis=a, keepdims=k))
_add("amax", "amax", lambda x: ops.amax(x, axis=1), [_distinct((3, 4))], lambda x: np.max(x, axis=1))
_add("amin", "amin", lambda x: ops.amin(x, axis=0), [_distinct((3, 4))], lambda x: np.min(x, axis=0))
for _name, _op, _ref in [("var", ops.var, np.var), ("std", ops.std, np.std)]:
    for _axis in [None, 0, -1, (0, 2)]:
        for _kd in (False, True):
            _add(f"{_name}-axis{_axis}-keepdims{_kd}".replace(" ", ""), _name,
                 lambda x, f=_op, a=_axis, k=_kd: f(x, axis=a, keepdims=k), [_distinct((2, 3, 4), seed=4)],
                 lambda x, f=_ref, a=_axis, k=_kd: f(x, axis=a, keepdims=k))

# --- shapes
_X234 = _rand((2, 3, 4), seed=5)
for _shape in [(6, 4), (-1,), (4, 3, 2), (2, -1)]:
    _add(f"reshape-{_shape}".replace(" ", ""), "reshape", lambda x, s=_shape: ops.reshape(x, s), [_X234],
         lambda x, s=_shape: np.reshape(x, s))
_add("tensor.reshape", "reshape", lambda x: x.reshape(4, 6), [_X234], lambda x: x.reshape(4, 6))
for _axes in [None, (1, 0, 2), (2, 0, 1), (-1, 0, 1)]:
    _add(f"transpose-{_axes}".replace(" ", ""), "transpose", lambda x, a=_axes: ops.transpose(x, a), [_X234],
         lambda x, a=_axes: np.transpose(x, a))
_add("tensor.T", "transpose", lambda x: x.T, [_rand((3, 4))], lambda x: x.T)
for _axis in [0, 1, -1]:
    _add(f"expand_dims-{_axis}", "expand_dims", lambda x, a=_axis: ops.expand_dims(x, a), [_rand((3, 4))],
         lambda x, a=_axis: np.expand_dims(x, a))
for _axis in [None, 0, -1, (0, 2)]:
    _add(f"squeeze-{_axis}".replace(" ", ""), "squeeze", lambda x, a=_axis: ops.squeeze(x, a),
         [_rand((1, 3, 1))], lambda x, a=_axis: np.squeeze(x, a))
for _src, _dst in [((4,), (3, 4)), ((3, 1), (2, 3, 4)), ((), (2, 2)), ((1, 4), (3, 4))]:
    _add(f"broadcast_to-{_shape_id(_src)}-{_shape_id(_dst)}", "broadcast_to",
         lambda x, s=_dst: ops.broadcast_to(x, s), [_rand(_src)], lambda x, s=_dst: np.broadcast_to(x, s))
for _axis, _shapes in [(0, [(1, 4), (2, 4), (3, 4)]), (1, [(3, 1), (3, 2), (3, 4)]),
                       (-1, [(2, 3, 1), (2, 3, 2), (2, 3, 3)])]:
    _add(f"concatenate-axis{_axis}", "concatenate", lambda *xs, a=_axis: ops.concatenate(list(xs), axis=a),
         [_rand(s, seed=i) for i, s in enumerate(_shapes)],
         lambda *xs, a=_axis: np.concatenate(xs, axis=a))
for _axis in [0, 1, -1]:
    _add(f"stack-axis{_axis}", "stack", lambda *xs, a=_axis: ops.stack(list(xs), axis=a),
         [_rand((3, 4), seed=i) for i in range(3)], lambda *xs, a=_axis: np.stack(xs, axis=a))

# --- take / getitem
_TAKES: list[tuple[str, Any, Any, tuple[int, ...]]] = [
    ("flat-repeated", np.array([0, 5, 5, 11]), None, (3, 4)),
    ("flat-2d-indices", np.array([[1, 1], [10, 0]]), None, (3, 4)),
    ("flat-python-int", 7, None, (3, 4)),
    ("axis0-repeated", np.array([2, 0, 2]), 0, (3, 4)),
    ("axis1-2d-indices", np.array([[1, 1], [3, 0]]), 1, (3, 4)),
    ("axis-1-negative-indices", np.array([0, -1, 0]), -1, (3, 4)),
    ("axis0-python-int", 1, 0, (3, 4)),
    ("3d-axis1", np.array([2, 2, 0]), 1, (2, 3, 4)),
    ("list-indices", [1, 1, 0], 0, (3, 4)),
]
for _name, _idx, _axis, _shape in _TAKES:
    _add(f"take-{_name}", "take", lambda x, i=_idx, a=_axis: ops.take(x, i, axis=a), [_rand(_shape)],
         lambda x, i=_idx, a=_axis: _np_take(x, np.asarray(i), a))
_KEYS: list[tuple[str, Any, tuple[int, ...]]] = [
    ("slice", slice(1, None), (3, 4)),
    ("slice-step", (slice(None), slice(None, None, 2)), (3, 4)),
    ("negative-step", (Ellipsis, slice(None, None, -1)), (3, 4)),
    ("int", 1, (3, 4)),
    ("int-pair", (1, -2), (3, 4)),
    ("slice-int", (slice(None), 1), (2, 3, 4)),
    ("ellipsis-int", (Ellipsis, 2), (2, 3, 4)),
    ("newaxis", (None, 1), (3, 4)),
    ("fancy-repeated", [0, 2, 2], (3, 4)),
    ("fancy-pair", ([0, 2, 0], [1, 3, 1]), (3, 4)),
    ("slice-fancy", (slice(None), [2, 2, 0]), (2, 3, 4)),
    ("bool-mask", _COND, (3, 4)),
]
for _name, _key, _shape in _KEYS:
    _add(f"getitem-{_name}", "getitem", lambda x, k=_key: x[k], [_rand(_shape)], lambda x, k=_key: x[k])
    _add(f"ops.getitem-{_name}", "getitem", lambda x, k=_key: ops.getitem(x, k), [_rand(_shape)],
         lambda x, k=_key: x[k])
_add("getitem-tensor-key", "getitem", lambda x: x[ops.convert_to_tensor(np.array([2, 0, 2]))],
     [_rand((3, 4))], lambda x: x[np.array([2, 0, 2])])
_add("getitem-tensor-in-tuple", "getitem", lambda x: x[ops.convert_to_tensor(np.array([2, 2])), 1],
     [_rand((3, 4))], lambda x: x[np.array([2, 2]), 1])

# --- matmul
_MATMUL_SHAPES = [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
                  ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
                  ((4,), (2, 4, 3))]
for _sa, _sb in _MATMUL_SHAPES:
    _add(f"matmul-{_shape_id(_sa)}-{_shape_id(_sb)}", "matmul", ops.matmul,
         [_rand(_sa, seed=1), _rand(_sb, seed=2)], np.matmul)
_add("dot", "dot", ops.dot, [_rand((3, 4), seed=1), _rand((4, 2), seed=2)], np.matmul)

# --- cast (to float32 rounds, so the finite differences take a large step on a linear function)
_add("cast-float64", "cast", lambda x: ops.cast(x, "float64"), [_rand((3, 4))], lambda x: x,
     out_dtype="float64")
_add("cast-float32-roundtrip", "cast", lambda x: ops.cast(ops.cast(x, "float32"), "float64"), [_rand((3, 4))],
     lambda x: x, eps=1e-2, atol=1e-4, out_dtype="float64")

# --- Tensor operators
_A, _B = _rand((3, 4), seed=11), _away((3, 4), margin=0.5, seed=12)
# float32 constants: a float64 ndarray operand would promote a float32 Tensor on the NumPy backend.
_M = _rand((4, 2), seed=13).astype(np.float32)
_N = _rand((2, 3), seed=14).astype(np.float32)
_OPERATORS: list[tuple[str, Callable[..., Any], Callable[..., Any], list[np.ndarray]]] = [
    ("a+b", lambda a, b: a + b, lambda a, b: a + b, [_A, _B]),
    ("a-b", lambda a, b: a - b, lambda a, b: a - b, [_A, _B]),
    ("a*b", lambda a, b: a * b, lambda a, b: a * b, [_A, _B]),
    ("a/b", lambda a, b: a / b, lambda a, b: a / b, [_A, _B]),
    ("a**b", lambda a, b: a ** b, lambda a, b: a ** b, [np.abs(_B), _A]),
    ("a@b", lambda a, b: a @ b, lambda a, b: a @ b, [_A, _M]),
    ("-a", lambda a: -a, lambda a: -a, [_A]),
    ("+a", lambda a: +a, lambda a: +a, [_A]),
    ("abs(a)", lambda a: abs(a), lambda a: abs(a), [_B]),
    ("a[1:,::2]", lambda a: a[1:, ::2], lambda a: a[1:, ::2], [_A]),
    ("a[[0,0]]", lambda a: a[[0, 0]], lambda a: a[[0, 0]], [_A]),
    ("2.5+a", lambda a: 2.5 + a, lambda a: 2.5 + a, [_A]),
    ("2.5-a", lambda a: 2.5 - a, lambda a: 2.5 - a, [_A]),
    ("2.5*a", lambda a: 2.5 * a, lambda a: 2.5 * a, [_A]),
    ("a*0.1", lambda a: a * 0.1, lambda a: a * 0.1, [_A]),
    ("2.5/a", lambda a: 2.5 / a, lambda a: 2.5 / a, [_B]),
    ("a/3.0", lambda a: a / 3.0, lambda a: a / 3.0, [_A]),
    ("a**2", lambda a: a ** 2, lambda a: a ** 2, [_A]),
    ("a**0.5", lambda a: a ** 0.5, lambda a: a ** 0.5, [np.abs(_B)]),
    ("2.0**a", lambda a: 2.0 ** a, lambda a: 2.0 ** a, [_A]),
    ("ndarray@a", lambda a: _N @ a, lambda a: _N @ a, [_A]),
    ("a@ndarray", lambda a: a @ _M, lambda a: a @ _M, [_A]),
    ("ndarray+a", lambda a: _N.T + a[:, :2], lambda a: _N.T + a[:, :2], [_A]),
    ("a*a*b", lambda a, b: a * a * b, lambda a, b: a * a * b, [_A, _B]),
    ("a+sin(a)", lambda a: a + ops.sin(a), lambda a: a + np.sin(a), [_A]),
    ("exp(a)+sin(exp(a))", lambda a: (lambda e: e + ops.sin(e))(ops.exp(a)),
     lambda a: np.exp(a) + np.sin(np.exp(a)), [_A]),
]
for _name, _fn, _ref, _inputs in _OPERATORS:
    _add(f"operator:{_name}", "operator", _fn, _inputs, _ref)

# --- nn activations (ops.<name>)
_ACT_INPUT = {  # away from kinks; ranges wide enough to exercise every piece
    "relu": _away((3, 5), (0.0,), lo=-3, hi=3), "relu6": _away((3, 5), (0.0, 6.0), lo=-2, hi=8),
    "leaky_relu": _away((3, 5), (0.0,), lo=-3, hi=3), "elu": _away((3, 5), (0.0,), lo=-3, hi=3),
    "selu": _away((3, 5), (0.0,), lo=-3, hi=3), "softsign": _away((3, 5), (0.0,), lo=-3, hi=3),
    "hard_sigmoid": _away((3, 5), (-3.0, 3.0), lo=-5, hi=5),
    "hard_silu": _away((3, 5), (-3.0, 3.0), lo=-5, hi=5, seed=1),
}
_NN: list[tuple[str, str, Callable[..., Any], Callable[..., Any]]] = [
    ("relu", "relu", ops.relu, NP_ACTIVATIONS["relu"]),
    ("relu6", "relu6", ops.relu6, NP_ACTIVATIONS["relu6"]),
    ("sigmoid", "sigmoid", ops.sigmoid, NP_ACTIVATIONS["sigmoid"]),
    ("tanh", "tanh", ops.tanh, np.tanh),
    ("softplus", "softplus", ops.softplus, _np_softplus),
    ("softsign", "softsign", ops.softsign, NP_ACTIVATIONS["softsign"]),
    ("silu", "silu", ops.silu, NP_ACTIVATIONS["silu"]),
    ("swish", "swish", ops.swish, NP_ACTIVATIONS["silu"]),
    ("elu", "elu", ops.elu, NP_ACTIVATIONS["elu"]),
    ("elu-alpha0.5", "elu", lambda x: ops.elu(x, alpha=0.5), lambda x: NP_ACTIVATIONS["elu"](x, 0.5)),
    ("selu", "selu", ops.selu, NP_ACTIVATIONS["selu"]),
    ("gelu-approximate", "gelu", ops.gelu, NP_ACTIVATIONS["gelu_tanh"]),
    ("gelu-exact", "gelu", lambda x: ops.gelu(x, approximate=False), NP_ACTIVATIONS["gelu"]),
    ("leaky_relu", "leaky_relu", ops.leaky_relu, NP_ACTIVATIONS["leaky_relu"]),
    ("leaky_relu-slope0.1", "leaky_relu", lambda x: ops.leaky_relu(x, negative_slope=0.1),
     lambda x: NP_ACTIVATIONS["leaky_relu"](x, 0.1)),
    ("hard_sigmoid", "hard_sigmoid", ops.hard_sigmoid, NP_ACTIVATIONS["hard_sigmoid"]),
    ("hard_silu", "hard_silu", ops.hard_silu, NP_ACTIVATIONS["hard_silu"]),
]
for _name, _op_name, _op, _ref in _NN:
    _base = _op_name if _op_name != "swish" else "silu"
    _add(f"nn-{_name}", _op_name, _op, [_ACT_INPUT.get(_base, _rand((3, 5), -3, 3))], _ref)
for _name, _op in [("softmax", ops.softmax), ("log_softmax", ops.log_softmax)]:
    for _axis in (-1, 0):
        _add(f"nn-{_name}-axis{_axis}", _name, lambda x, f=_op, a=_axis: f(x, axis=a), [_rand((3, 5), -3, 3)],
             lambda x, f=NP_ACTIVATIONS[_name], a=_axis: f(x, axis=a))
_LABELS = np.array([0, 4, 2, 2])
_LABELS_3D = np.array([[1, 0, 3], [3, 3, 2]])
_add("nn-sparse_softmax_cross_entropy", "sparse_softmax_cross_entropy",
     lambda z: ops.sparse_softmax_cross_entropy(_LABELS, z), [_rand((4, 5), -3, 3)],
     lambda z: _np_sparse_ce(_LABELS, z))
_add("nn-sparse_softmax_cross_entropy-3d", "sparse_softmax_cross_entropy",
     lambda z: ops.sparse_softmax_cross_entropy(_LABELS_3D, z), [_rand((2, 3, 4), -3, 3)],
     lambda z: _np_sparse_ce(_LABELS_3D, z))
for _name, _labels, _shape in [("", _LABELS, (4, 5)), ("-3d", _LABELS_3D, (2, 3, 4))]:
    _add(f"nn-sparse_crossentropy_from_probs{_name}", "sparse_crossentropy_from_probs",
         lambda p, t=_labels: ops.sparse_crossentropy_from_probs(t, p, 1e-7), [_rand(_shape, 0.05, 1.0)],
         lambda p, t=_labels: -np.log(np.take_along_axis(p / p.sum(-1, keepdims=True), t[..., None], -1)[..., 0]))
_DROPOUT_RATE, _DROPOUT_SEED = 0.4, 7


def _dropout_mask(shape: tuple[int, ...]) -> np.ndarray:
    """The mask the active backend draws from default_rng(_DROPOUT_SEED): NumPy's stream, or Philox on CuPy."""
    rng = np.random.default_rng(_DROPOUT_SEED)
    if backend.backend() == "cupy":
        seed = int(rng.integers(0, 2**63 - 1, dtype=np.int64))
        return K.philox_dropout_mask(shape, _DROPOUT_RATE, seed, "float64")
    return (rng.random(size=shape) >= _DROPOUT_RATE) / (1.0 - _DROPOUT_RATE)


_add("nn-dropout", "dropout",
     lambda x: ops.dropout(x, _DROPOUT_RATE, np.random.default_rng(_DROPOUT_SEED)), [_rand((4, 5))],
     lambda x: x * _dropout_mask(x.shape))


# --- fused dense, every backend activation, with and without bias
def _dense_inputs(activation: str, params: tuple, x_shape: tuple[int, ...], seed: int,
                  has_bias: bool = True) -> list[np.ndarray]:
    """x, kernel (and bias) whose pre-activation stays >= 0.05 away from the activation's kinks."""
    kinks = KINKS.get(activation, ())
    if activation == "relu" and params:  # (negative_slope, max_value, threshold)
        kinks = (params[2],) + (() if params[1] is None else (params[1],))
    for s in range(seed, seed + 1000):
        rng = np.random.default_rng(s)
        x = rng.uniform(-2, 2, size=x_shape)
        kernel = rng.uniform(-1.5, 1.5, size=(x_shape[-1], 5))
        bias = rng.uniform(-1, 1, size=(5,))
        z = x @ kernel + (bias if has_bias else 0.0)
        if all(np.abs(z - k).min() >= 0.05 for k in kinks):
            return [x, kernel, bias] if has_bias else [x, kernel]
    raise RuntimeError(f"no kink-free dense inputs for {activation}")


_DENSE_VARIANTS: list[tuple[str, tuple]] = []
for _act in ACTIVATIONS:
    if _act in ("softmax", "log_softmax"):
        _DENSE_VARIANTS += [(_act, ()), (_act, (-1,)), (_act, (0,))]
    else:
        _DENSE_VARIANTS.append((_act, ()))
_DENSE_VARIANTS += [("leaky_relu", (0.1,)), ("elu", (0.5,)), ("relu", (0.1, 6.0, 0.5))]
for _i, (_act, _params) in enumerate(_DENSE_VARIANTS):
    _np_act = NP_ACTIVATIONS[_act]
    _pid = f"dense-{_act}" + (f"-params{_params}".replace(" ", "") if _params else "")
    _add(f"{_pid}-bias", "dense",
         lambda x, k, b, a=_act, p=_params: ops.dense(x, k, b, activation=a, params=p),
         _dense_inputs(_act, _params, (4, 3), seed=100 * _i),
         lambda x, k, b, f=_np_act, p=_params: f(x @ k + b, *p))
    _add(f"{_pid}-nobias", "dense",
         lambda x, k, a=_act, p=_params: ops.dense(x, k, None, activation=a, params=p),
         _dense_inputs(_act, _params, (4, 3), seed=100 * _i + 50, has_bias=False),
         lambda x, k, f=_np_act, p=_params: f(x @ k, *p))
_add("dense-relu-3d-input", "dense", lambda x, k, b: ops.dense(x, k, b, activation="relu"),
     _dense_inputs("relu", (), (2, 3, 3), seed=7), lambda x, k, b: np.maximum(x @ k + b, 0))
_add("dense-default-linear", "dense", ops.dense, _dense_inputs("linear", (), (2, 3, 3), seed=8),
     lambda x, k, b: x @ k + b)


# --- convolution, pooling, normalization (gpukeras/ops/convolution.py)
_add("conv-2d-same-stride2", "conv", lambda x, k: ops.conv(x, k, strides=2, padding="same"),
     [_rand((2, 5, 5, 2), seed=60), _rand((3, 3, 2, 3), seed=61)])
_add("conv-1d-dilated", "conv", lambda x, k: ops.conv(x, k, dilation_rate=2),
     [_rand((2, 7, 2), seed=62), _rand((2, 2, 3), seed=63)])
_add("conv-2d-channels-first-grouped", "conv", lambda x, k: ops.conv(x, k, data_format="channels_first"),
     [_rand((2, 4, 4, 3), seed=64), _rand((2, 2, 2, 4), seed=65)])
_add("conv_transpose-2d-same", "conv_transpose", lambda x, k: ops.conv_transpose(x, k, 2, "same"),
     [_rand((1, 3, 3, 2), seed=66), _rand((3, 3, 2, 2), seed=67)])
_add("depthwise_conv-2d-same-stride2", "depthwise_conv", lambda x, k: ops.depthwise_conv(x, k, 2, "same"),
     [_rand((2, 5, 4, 2), seed=90), _rand((3, 2, 2, 2), seed=91)])
_add("separable_conv-1d-channels-first", "separable_conv",
     lambda x, d, p: ops.separable_conv(x, d, p, data_format="channels_first", dilation_rate=2),
     [_rand((2, 2, 7), seed=92), _rand((2, 2, 2), seed=93), _rand((1, 4, 3), seed=94)])
_add("max_pool-2d-same", "max_pool", lambda x: ops.max_pool(x, 2, 1, "same"), [_distinct((2, 4, 5, 2), seed=68)],
     lambda x: np.maximum.reduce([np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)], constant_values=-np.inf)
                                  [:, i:i + 4, j:j + 5] for i in (0, 1) for j in (0, 1)]))
_add("average_pool-2d-valid", "average_pool", lambda x: ops.average_pool(x, 2), [_rand((2, 4, 6, 2), seed=69)],
     lambda x: x.reshape(2, 2, 2, 3, 2, 2).mean(axis=(2, 4)))
_add("moments-mean", "moments", lambda x: ops.moments(x, (0, 1))[0], [_rand((3, 4, 2), seed=70)],
     lambda x: x.mean(axis=(0, 1)))
_add("moments-variance-keepdims", "moments", lambda x: ops.moments(x, (1,), keepdims=True)[1],
     [_rand((3, 4, 2), seed=71)], lambda x: x.var(axis=1, keepdims=True))
_add("batch_normalization", "batch_normalization",
     lambda x, m, v, o, s: ops.batch_normalization(x, m, v, -1, offset=o, scale=s, epsilon=1e-3),
     [_rand((4, 3), seed=72), _rand((3,), seed=73), _pos((3,), seed=74), _rand((3,), seed=75), _rand((3,), seed=76)],
     lambda x, m, v, o, s: (x - m) / np.sqrt(v + 1e-3) * s + o)

# --- einsum and dot-product attention (gpukeras/ops/einsum.py, gpukeras/ops/attention.py)
for _eq, _sa, _sb in [("abc,cde->abde", (2, 3, 4), (4, 2, 3)), ("aecd,abcd->acbe", (2, 3, 2, 2), (2, 4, 2, 2)),
                      ("...b,bc->...c", (2, 2, 3), (3, 2))]:
    _add(f"einsum-{_eq}", "einsum", lambda a, b, e=_eq: ops.einsum(e, a, b), [_rand(_sa, seed=80), _rand(_sb, seed=81)],
         lambda a, b, e=_eq: np.einsum(e, a, b))
_ATTN_MASK = _rand((3, 4), seed=82) > -0.5


def _np_attention(q, k, v):
    """Grouped (2 query heads per key/value head), masked and causal softmax(q.k / sqrt(h)) . v."""
    k, v = np.repeat(k, 2, axis=2), np.repeat(v, 2, axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    logits = np.where(_ATTN_MASK & np.tri(3, 4, dtype=bool), logits, -0.7 * np.finfo(np.float32).max)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return np.einsum("bnts,bsnh->btnh", p / p.sum(-1, keepdims=True), v)


_add("dot_product_attention-grouped-mask-causal", "dot_product_attention",
     lambda q, k, v: ops.dot_product_attention(q, k, v, mask=_ATTN_MASK, is_causal=True),
     [_rand((2, 3, 4, 2), seed=83), _rand((2, 4, 2, 2), seed=84), _rand((2, 4, 2, 2), seed=85)], _np_attention)

# --- more of keras.ops (numpy-style, math, nn, linalg); forward values are checked against Keras 3 in
# tests/test_ops_coverage.py, so most rows here check the gradient only.
_MORE_UNARY = [
    ("tan", ops.tan, np.tan, _rand((3, 4), -1.2, 1.2)), ("sinh", ops.sinh, np.sinh, _rand((3, 4))),
    ("cosh", ops.cosh, np.cosh, _rand((3, 4))), ("arcsin", ops.arcsin, np.arcsin, _rand((3, 4), -0.9, 0.9)),
    ("arccos", ops.arccos, np.arccos, _rand((3, 4), -0.9, 0.9)), ("arctan", ops.arctan, np.arctan, _rand((3, 4))),
    ("arcsinh", ops.arcsinh, np.arcsinh, _rand((3, 4))), ("arccosh", ops.arccosh, np.arccosh, _pos((3, 4), 1.2, 3.0)),
    ("arctanh", ops.arctanh, np.arctanh, _rand((3, 4), -0.9, 0.9)), ("expm1", ops.expm1, np.expm1, _rand((3, 4))),
    ("exp2", ops.exp2, np.exp2, _rand((3, 4))), ("log2", ops.log2, np.log2, _pos((3, 4))),
    ("log10", ops.log10, np.log10, _pos((3, 4))),
    ("reciprocal", ops.reciprocal, np.reciprocal, _away((3, 4), margin=0.4)),
    ("erf", ops.erf, _erf, _rand((3, 4))), ("rsqrt", ops.rsqrt, lambda x: 1 / np.sqrt(x), _pos((3, 4))),
    ("erfinv", ops.erfinv, None, _rand((3, 4), -0.9, 0.9)),
]
for _name, _op, _ref, _x in _MORE_UNARY:
    _add(_name, _name, _op, [_x], _ref)
_MOD_A, _MOD_B = _rand((3, 4), 0.2, 0.8, seed=90) * np.sign(_rand((3, 4), seed=91)), _pos((4,), 1.0, 1.5, seed=92)
for _name, _op, _ref, _inputs in [
        ("arctan2", ops.arctan2, np.arctan2, [_rand((3, 4)), _away((4,), seed=93)]),
        ("hypot", ops.hypot, np.hypot, [_away((3, 4)), _away((3, 1), seed=94)]),
        ("logaddexp", ops.logaddexp, np.logaddexp, [_rand((3, 4)), _rand((4,), seed=95)]),
        ("mod", ops.mod, np.mod, [_MOD_A, _MOD_B]), ("fmod", ops.fmod, np.fmod, [_MOD_A, _MOD_B]),
        ("divide_no_nan", ops.divide_no_nan, np.divide, [_rand((3, 4)), _away((4,), margin=0.5, seed=96)])]:
    _add(_name, _name, _op, _inputs, _ref)
for _axis in (None, 0, -1):
    _add(f"cumsum-axis{_axis}", "cumsum", lambda x, a=_axis: ops.cumsum(x, axis=a), [_rand((3, 4))],
         lambda x, a=_axis: np.cumsum(x, axis=a))
    _add(f"cumprod-axis{_axis}", "cumprod", lambda x, a=_axis: ops.cumprod(x, axis=a), [_away((3, 4), margin=0.5)],
         lambda x, a=_axis: np.cumprod(x, axis=a))
for _axis, _kd in ((None, False), (1, True), ((0, 2), False)):
    _add(f"prod-axis{_axis}-kd{_kd}".replace(" ", ""), "prod",
         lambda x, a=_axis, k=_kd: ops.prod(x, axis=a, keepdims=k),
         [_away((2, 3, 4), margin=0.5)], lambda x, a=_axis, k=_kd: np.prod(x, axis=a, keepdims=k))
_X34 = _rand((3, 4), seed=97)
for _name, _fn, _ref in [
        ("ravel", ops.ravel, np.ravel), ("moveaxis", lambda x: ops.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1)),
        ("swapaxes", lambda x: ops.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2)),
        ("flip", lambda x: ops.flip(x, axis=(0, 2)), lambda x: np.flip(x, axis=(0, 2))),
        ("roll", lambda x: ops.roll(x, 2, axis=-1), lambda x: np.roll(x, 2, axis=-1)),
        ("tile", lambda x: ops.tile(x, (2, 1, 2)), lambda x: np.tile(x, (2, 1, 2))),
        ("repeat", lambda x: ops.repeat(x, np.array([2, 0, 1]), axis=1), lambda x: np.repeat(x, [2, 0, 1], axis=1)),
        ("copy", ops.copy, np.copy), ("trace", lambda x: ops.trace(x, axis1=1, axis2=2),
                                     lambda x: np.trace(x, axis1=1, axis2=2)),
        ("diagonal", lambda x: ops.diagonal(x, 1, 1, 2), lambda x: np.diagonal(x, 1, 1, 2)),
        ("unstack", lambda x: ops.stack(ops.unstack(x, axis=1)[::-1]), lambda x: np.stack(np.moveaxis(x, 1, 0)[::-1]))]:
    _add(_name, _name, _fn, [_X234], _ref)
for _mode in ("constant", "reflect", "symmetric", "edge", "wrap"):
    _add(f"pad-{_mode}", "pad", lambda x, m=_mode: ops.pad(x, ((1, 2), (2, 1)), mode=m), [_X34],
         lambda x, m=_mode: np.pad(x, ((1, 2), (2, 1)), mode=m))
_add("pad-constant-value", "pad", lambda x: ops.pad(x, 1, constant_values=0.5), [_X34],
     lambda x: np.pad(x, 1, constant_values=0.5))
_add("sort", "sort", lambda x: ops.sort(x, axis=0), [_distinct((3, 4))], lambda x: np.sort(x, axis=0))
_TAKE_IDX = np.array([[0, 3, 3], [1, 1, 0], [2, 0, 2]])
_add("take_along_axis", "take_along_axis", lambda x: ops.take_along_axis(x, _TAKE_IDX, axis=1), [_X34],
     lambda x: np.take_along_axis(x, _TAKE_IDX, axis=1))
_add("take_along_axis-broadcast", "take_along_axis", lambda x: ops.take_along_axis(x, np.array([[2, 0, 0, 1]]), 0),
     [_X34], lambda x: np.take_along_axis(x, np.array([[2, 0, 0, 1]]), 0))
_add("tril", "tril", lambda x: ops.tril(x, -1), [_X234], lambda x: np.tril(x, -1))
_add("triu", "triu", lambda x: ops.triu(x, 1), [_X34], lambda x: np.triu(x, 1))
_add("diag-vector", "diag", lambda x: ops.diag(x, 1), [_rand((3,))], lambda x: np.diag(x, 1))
_add("diag-matrix", "diag", lambda x: ops.diag(x, -1), [_X34], lambda x: np.diag(x, -1))
_add("tensordot", "tensordot", lambda a, b: ops.tensordot(a, b, axes=([1, 2], [2, 0])),
     [_X234, _rand((4, 2, 3), seed=98)], lambda a, b: np.tensordot(a, b, axes=([1, 2], [2, 0])))
_add("outer", "outer", ops.outer, [_rand((3,)), _rand((2, 2), seed=99)], np.outer)
_add("inner", "inner", ops.inner, [_X34, _rand((2, 4), seed=100)], np.inner)
_add("split", "split", lambda x: ops.concatenate([p * (i + 1.0) for i, p in enumerate(ops.split(x, [1, 3], 1))], 1),
     [_X34])
_add("array_split", "array_split",
     lambda x: ops.concatenate([p * (i + 1.0) for i, p in enumerate(ops.array_split(x, 3, axis=1))], axis=1), [_X34])
_add("hstack", "hstack", lambda a, b: ops.hstack([a, b]), [_X34, _rand((3, 2), seed=101)],
     lambda a, b: np.hstack([a, b]))
_add("vstack", "vstack", lambda a, b: ops.vstack([a, b]), [_rand((4,)), _X34], lambda a, b: np.vstack([a, b]))
_add("meshgrid", "meshgrid", lambda a, b: ops.multiply(*ops.meshgrid(a, b)), [_rand((3,)), _rand((2,), seed=102)],
     lambda a, b: np.multiply(*np.meshgrid(a, b)))
_add("nan_to_num", "nan_to_num", ops.nan_to_num, [_X34], np.nan_to_num)
_add("ptp", "ptp", lambda x: ops.ptp(x, axis=1), [_distinct((3, 4))], lambda x: np.ptp(x, axis=1))
_add("average", "average", lambda x, w: ops.average(x, axis=1, weights=w), [_X34, _pos((4,), seed=103)],
     lambda x, w: np.average(x, axis=1, weights=w))
_add("quantile", "quantile", lambda x: ops.quantile(x, np.array([0.3, 0.5]), axis=1), [_distinct((3, 4))],
     lambda x: np.quantile(x, [0.3, 0.5], axis=1))
_add("percentile", "percentile", lambda x: ops.percentile(x, 80.0), [_distinct((3, 4))],
     lambda x: np.percentile(x, 80.0))
_add("median", "median", lambda x: ops.median(x, axis=0, keepdims=True), [_distinct((4, 3))],
     lambda x: np.median(x, axis=0, keepdims=True))
_add("get_item", "get_item", lambda x: ops.get_item(x, (slice(None), 1)), [_X34], lambda x: x[:, 1])
_add("slice", "slice", lambda x: ops.slice(x, (0, 1, 1), (2, 2, 3)), [_X234], lambda x: x[0:2, 1:3, 1:4])
_add("slice_update", "slice_update", lambda x, u: ops.slice_update(x, (1, 2), u), [_X34, _rand((2, 2), seed=104)])
_SCATTER_IDX = np.array([[0, 1], [2, 3], [0, 1]])
_add("scatter", "scatter", lambda v: ops.scatter(_SCATTER_IDX, v, (3, 4)), [_rand((3,), seed=105)])
_add("scatter_update", "scatter_update", lambda x, u: ops.scatter_update(x, np.array([[0, 1], [2, 3]]), u),
     [_X34, _rand((2,), seed=106)])
_add("scatter_update-add", "scatter_update", lambda x, u: ops.scatter_update(x, _SCATTER_IDX, u, reduction="add"),
     [_X34, _rand((3,), seed=107)])
_add("logsumexp", "logsumexp", lambda x: ops.logsumexp(x, axis=1), [_X34], lambda x: np.log(np.exp(x).sum(1)))
_add("top_k", "top_k", lambda x: ops.top_k(x, 2)[0], [_distinct((3, 4))], lambda x: -np.sort(-x, axis=-1)[:, :2])
_SEG = np.array([0, 2, 0, 1])
_add("segment_sum", "segment_sum", lambda x: ops.segment_sum(x, _SEG, num_segments=3), [_rand((4, 2))])
_add("segment_max", "segment_max", lambda x: ops.segment_max(x, _SEG, num_segments=3), [_distinct((4, 2))])

_NN_MORE = [
    ("log_sigmoid", ops.log_sigmoid, lambda x: -_np_softplus(-x), _rand((3, 4)), ()),
    ("celu", lambda x: ops.celu(x, alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x / 0.7)),
     _away((3, 4)), ()),
    ("glu", ops.glu, None, _rand((3, 4)), ()),
    ("hard_tanh", ops.hard_tanh, lambda x: np.clip(x, -1, 1), _away((3, 4), (-1.0, 1.0), 0.1), ()),
    ("hard_shrink", ops.hard_shrink, lambda x: np.where(np.abs(x) > 0.5, x, 0.0), _away((3, 4), (-0.5, 0.5), 0.1), ()),
    ("soft_shrink", ops.soft_shrink, lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0),
     _away((3, 4), (-0.5, 0.5), 0.1), ()),
    ("tanh_shrink", ops.tanh_shrink, lambda x: x - np.tanh(x), _rand((3, 4)), ()),
    ("squareplus", ops.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2, _rand((3, 4)), ()),
    ("sparse_plus", ops.sparse_plus, None, _away((3, 4), (-1.0, 1.0), 0.1, -3.0, 3.0), ()),
    ("threshold", lambda x: ops.threshold(x, 0.3, -1.0), lambda x: np.where(x > 0.3, x, -1.0),
     _away((3, 4), (0.3,)), ()),
    ("sparsemax", ops.sparsemax, None, _distinct((3, 4)) * 0.4, ()),
    ("normalize", ops.normalize, lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True), _rand((3, 4)), ()),
    ("normalize-order1", lambda x: ops.normalize(x, axis=0, order=1), None, _away((3, 4)), ()),
]
for _name, _fn, _ref, _x, _ in _NN_MORE:
    _add(_name, _name.split("-")[0], _fn, [_x], _ref)
_add("layer_normalization", "layer_normalization", lambda x, g, b: ops.layer_normalization(x, g, b),
     [_rand((3, 4)), _rand((4,), seed=110), _rand((4,), seed=111)])
_add("rms_normalization", "rms_normalization", lambda x, s: ops.rms_normalization(x, s),
     [_rand((3, 4)), _rand((4,), seed=112)])
_add("psnr", "psnr", lambda a, b: ops.psnr(a, b, 2.0), [_rand((3, 4)), _rand((3, 4), seed=113)])
_ONEHOT = np.eye(4)[[1, 3, 0]]
_add("categorical_crossentropy", "categorical_crossentropy", lambda p: ops.categorical_crossentropy(_ONEHOT, p),
     [_pos((3, 4), 0.1, 1.0)])
_add("categorical_crossentropy-logits", "categorical_crossentropy",
     lambda z: ops.categorical_crossentropy(_ONEHOT * 0.8 + 0.05, z, from_logits=True), [_rand((3, 4))])
_add("sparse_categorical_crossentropy", "sparse_categorical_crossentropy",
     lambda p: ops.sparse_categorical_crossentropy(np.array([1, 3, 0]), p), [_pos((3, 4), 0.1, 1.0)])
_add("sparse_categorical_crossentropy-logits", "sparse_categorical_crossentropy",
     lambda z: ops.sparse_categorical_crossentropy(np.array([1, 3, 0]), z, from_logits=True), [_rand((3, 4))])
_BCE_T = (_rand((3, 4), seed=114) > 0).astype(np.float64)
_add("binary_crossentropy", "binary_crossentropy", lambda p: ops.binary_crossentropy(_BCE_T, p),
     [_pos((3, 4), 0.05, 0.95)])
_add("binary_crossentropy-logits", "binary_crossentropy",
     lambda z: ops.binary_crossentropy(_BCE_T, z, from_logits=True), [_away((3, 4))])

_SQ = _rand((3, 3), seed=115) + 3 * np.eye(3)
_SPD = _SQ @ _SQ.T
_add("inv", "inv", ops.inv, [_SQ], np.linalg.inv)
_add("det", "det", ops.det, [np.stack([_SQ, _SQ.T * 0.5])], np.linalg.det)
_add("slogdet", "slogdet", lambda x: ops.slogdet(x)[1], [_SQ], lambda x: np.linalg.slogdet(x)[1])
_add("logdet", "logdet", ops.logdet, [_SPD], lambda x: np.linalg.slogdet(x)[1])
_add("solve", "solve", ops.solve, [_SQ, _rand((3, 2), seed=116)], np.linalg.solve)
_add("solve-vector", "solve", ops.solve, [_SQ, _rand((3,), seed=117)], np.linalg.solve)
_add("solve_triangular", "solve_triangular", lambda a, b: ops.solve_triangular(a, b, lower=True),
     [_SQ, _rand((3, 2), seed=118)], lambda a, b: np.linalg.solve(np.tril(a), b))
for _ord, _axis in ((None, None), (None, 1), (1, 0), (np.inf, 1), (3, 1), ("fro", (0, 1)), (1, (0, 1)),
                    (np.inf, (0, 1))):
    _add(f"norm-ord{_ord}-axis{_axis}".replace(" ", ""), "norm", lambda x, o=_ord, a=_axis: ops.norm(x, ord=o, axis=a),
         [_distinct((3, 4), seed=119)], lambda x, o=_ord, a=_axis: np.linalg.norm(x, ord=o, axis=a))

def _weighted_join(parts: list[Any], axis: int) -> Any:
    """The pieces of a split joined again, piece i times i + 1 (so each piece's gradient is told apart)."""
    return ops.concatenate([p * (i + 1.0) for i, p in enumerate(parts)], axis)


# --- second batch: more elementwise, NaN-ignoring reductions (finite inputs here), rearranging, control flow
for _name, _fn, _ref, _inputs in [
        ("cbrt", ops.cbrt, np.cbrt, [_away((3, 4), margin=0.3)]),
        ("sinc", ops.sinc, np.sinc, [np.concatenate([_rand((11,), seed=120), [0.0]])]),
        ("deg2rad", ops.deg2rad, np.deg2rad, [_rand((3, 4))]), ("rad2deg", ops.rad2deg, np.rad2deg, [_rand((3, 4))]),
        ("fabs", ops.fabs, np.fabs, [_away((3, 4))]),
        ("fmax", ops.fmax, np.fmax, list(_pair_apart((3, 4), (4,)))),
        ("fmin", ops.fmin, np.fmin, list(_pair_apart((3, 4), (3, 1)))),
        ("logaddexp2", ops.logaddexp2, np.logaddexp2, [_rand((3, 4)), _rand((4,), seed=121)]),
        ("ldexp", lambda x: ops.ldexp(x, np.array([0, 1, -2, 3])), lambda x: np.ldexp(x, [0, 1, -2, 3]),
         [_rand((3, 4))]),
        ("select", lambda a, b: ops.select([_COND, ~_COND], [a, b], 0.5), None,
         [_rand((3, 4)), _rand((3, 4), seed=122)]),
        ("nansum", lambda x: ops.nansum(x, axis=1), lambda x: np.nansum(x, axis=1), [_X34]),
        ("nanprod", lambda x: ops.nanprod(x, axis=0), lambda x: np.nanprod(x, axis=0), [_away((3, 4), margin=0.5)]),
        ("nanmean", lambda x: ops.nanmean(x, axis=1), lambda x: np.nanmean(x, axis=1), [_X34]),
        ("nanvar", ops.nanvar, np.nanvar, [_X34]), ("nanstd", lambda x: ops.nanstd(x, axis=0), None, [_X34]),
        ("nanmax", lambda x: ops.nanmax(x, axis=1), None, [_distinct((3, 4))]),
        ("nanmin", ops.nanmin, None, [_distinct((3, 4))]),
        ("nancumsum", lambda x: ops.nancumsum(x, axis=1), None, [_X34]),
        ("nancumprod", ops.nancumprod, None, [_away((3, 4), margin=0.5)]),
        ("fliplr", ops.fliplr, np.fliplr, [_X34]), ("flipud", ops.flipud, np.flipud, [_X34]),
        ("rot90", lambda x: ops.rot90(x, 3, (1, 2)), lambda x: np.rot90(x, 3, (1, 2)), [_X234]),
        ("diff", lambda x: ops.diff(x, 2, 0), lambda x: np.diff(x, 2, 0), [_rand((4, 3))]),
        ("append", ops.append, np.append, [_X34, _rand((2,), seed=123)]),
        ("dstack", lambda a, b: ops.dstack([a, b]), lambda a, b: np.dstack([a, b]), [_X34, _rand((3, 4), seed=124)]),
        ("hsplit", lambda x: _weighted_join(ops.hsplit(x, 2), 1), None, [_X34]),
        ("vsplit", lambda x: _weighted_join(ops.vsplit(x, [1]), 0), None, [_X34]),
        ("dsplit", lambda x: _weighted_join(ops.dsplit(x, 2), 2), None, [_X234]),
        ("diagflat", lambda x: ops.diagflat(x, -1), lambda x: np.diagflat(x, -1), [_rand((2, 2))]),
        ("vdot", ops.vdot, np.vdot, [_X34, _rand((3, 4), seed=125)]),
        ("kron", ops.kron, np.kron, [_rand((2, 3)), _rand((2, 2), seed=126)]),
        ("cross", ops.cross, np.cross, [_rand((4, 3)), _rand((4, 3), seed=127)]),
        ("trapezoid", lambda y, x: ops.trapezoid(y, x), lambda y, x: np.trapezoid(y, x), [_X34, _distinct((4,))]),
        ("vander", lambda x: ops.vander(x, 4), lambda x: np.vander(x, 4), [_rand((3,))]),
        ("corrcoef", ops.corrcoef, np.corrcoef, [_rand((3, 5))]),
        ("correlate", lambda a, b: ops.correlate(a, b, "same"), lambda a, b: np.correlate(a, b, "same"),
         [_rand((5,)), _rand((3,), seed=128)]),
        ("segment_min", lambda x: ops.segment_min(x, _SEG, num_segments=3), None, [_distinct((4, 2))]),
        ("segment_prod", lambda x: ops.segment_prod(x, _SEG, num_segments=3), None, [_away((4, 2), margin=0.5)]),
        ("extract_sequences", lambda x: ops.extract_sequences(x, 3, 2), None, [_rand((2, 7))]),
        ("hard_swish", ops.hard_swish, NP_ACTIVATIONS["hard_silu"], [_away((3, 4), (-3.0, 3.0), 0.2, -5.0, 5.0)]),
        ("sparse_sigmoid", ops.sparse_sigmoid, lambda x: np.clip((x + 1) / 2, 0, 1), [_away((3, 4), (-1.0, 1.0), 0.1)]),
        ("depth_to_space", lambda x: ops.depth_to_space(x, 2), None, [_rand((1, 2, 1, 8))]),
        ("depth_to_space-channels_first", lambda x: ops.depth_to_space(x, 2, "channels_first"), None,
         [_rand((1, 8, 1, 2))]),
        ("space_to_depth", lambda x: ops.space_to_depth(x, 2), None, [_rand((1, 2, 4, 2))]),
        ("cond", lambda x: ops.cond(True, lambda: x * 2.0, lambda: x), None, [_X34]),
        ("switch", lambda x: ops.switch(1, [lambda v: v, lambda v: ops.sin(v)], x), None, [_X34]),
        ("fori_loop", lambda x: ops.fori_loop(0, 3, lambda i, v: v * v * 0.5 + i, x), None, [_rand((3, 2))]),
        ("while_loop", lambda x: ops.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, ops.sin(v)), (0, x))[1],
         None, [_rand((3, 2))]),
        ("scan", lambda x: ops.scan(lambda c, r: (c * r, c + r), ops.ones((2,), "float64"), x)[1], None,
         [_rand((3, 2))]),
        ("map", lambda x: ops.map(lambda r: ops.sum(r * r), x), None, [_rand((3, 2))]),
        ("vectorized_map", lambda x: ops.vectorized_map(lambda r: r[::-1] * r, x), None, [_rand((3, 2))]),
        ("associative_scan", lambda x: ops.associative_scan(lambda a, b: a * b, x, axis=1), None, [_rand((2, 4))])]:
    _add(_name, _name.split("-")[0], _fn, _inputs, _ref)

# --- third batch
@ops.custom_gradient
def _log1pexp(x: Any) -> Any:
    e = ops.exp(x)
    return ops.log(1.0 + e), lambda upstream: upstream * (1.0 - 1.0 / (1.0 + e))


_add("custom_gradient", "custom_gradient", _log1pexp, [_rand((3, 4))], lambda x: np.log1p(np.exp(x)))
_add("cdist", "cdist", ops.cdist, [_rand((3, 2)), _rand((4, 2), seed=130)],
     lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)))
_add("cholesky_inverse", "cholesky_inverse", ops.cholesky_inverse, [np.tril(_SQ)],
     lambda x: np.linalg.inv(x @ x.T))
_NAN_ROWS = _distinct((3, 5), seed=131)
_NAN_MASK = np.array([[False, True, False, False, False], [False] * 5, [True, False, False, True, False]])
_add("nanquantile", "nanquantile", lambda x: ops.nanquantile(ops.where(_NAN_MASK, float("nan"), x), 0.3, axis=1),
     [_NAN_ROWS], lambda x: np.nanquantile(np.where(_NAN_MASK, np.nan, x), 0.3, axis=1))
_add("nanpercentile", "nanpercentile", lambda x: ops.nanpercentile(x, [20.0, 70.0], axis=0), [_NAN_ROWS],
     lambda x: np.percentile(x, [20.0, 70.0], axis=0))
_add("nanmedian", "nanmedian", lambda x: ops.nanmedian(ops.where(_NAN_MASK, float("nan"), x)), [_NAN_ROWS],
     lambda x: np.nanmedian(np.where(_NAN_MASK, np.nan, x)))

_add("ctc_loss", "ctc_loss", lambda z: ops.ctc_loss(np.array([[1, 2, 2], [3, 0, 0]]), z, np.array([3, 1]),
                                                     np.array([6, 4])), [_rand((2, 6, 4), seed=132)])

_add("adaptive_average_pool", "adaptive_average_pool", lambda x: ops.adaptive_average_pool(x, (2, 3)),
     [_rand((1, 5, 7, 2), seed=133)])
_add("adaptive_max_pool", "adaptive_max_pool", lambda x: ops.adaptive_max_pool(x, 3, "channels_first"),
     [_distinct((1, 2, 7), seed=134)])
_add("vectorize", "vectorize", lambda x: ops.vectorize(lambda r: ops.sum(r * r), signature="(n)->()")(x), [_X34],
     lambda x: (x * x).sum(-1))

_add("unfold", "unfold", lambda x: ops.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
     [_rand((1, 2, 4, 5), seed=135)])
_add("fold", "fold", lambda x: ops.fold(x, (4, 5), 2, padding=1, stride=2), [_rand((1, 8, 9), seed=136)])

for _name in ("real", "conj", "conjugate"):
    _add(_name, _name, getattr(ops, _name), [_X34], lambda x: x)

_add("erfc", "erfc", ops.erfc, [_away((3, 4), (-0.5, 0.5), 0.05, -3.0, 3.0)], lambda x: 1.0 - _erf(x), fwd_tol=3e-5)

_IDS = [c.id for c in CASES]
assert len(set(_IDS)) == len(_IDS), "duplicate case ids"


# ---------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_gradient(case: Case) -> None:
    check_gradients(case.fn, case.inputs, atol=case.atol, rtol=case.rtol, eps=case.eps, name=case.id)


@pytest.mark.parametrize("case", [c for c in CASES if c.ref is not None],
                         ids=[c.id for c in CASES if c.ref is not None])
def test_forward(case: Case) -> None:
    x32 = [np.asarray(x, dtype=np.float32) for x in case.inputs]
    out = case.fn(*[ops.convert_to_tensor(x, dtype="float32") for x in x32])
    assert str(out.dtype) == case.out_dtype, f"{case.id}: float32 inputs gave {out.dtype}"
    expected = case.ref(*[x.astype(np.float64) for x in x32])
    got = ops.convert_to_numpy(out)
    assert got.shape == np.shape(expected), f"{case.id}: shape {got.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(got, expected, rtol=case.fwd_tol, atol=case.fwd_tol, err_msg=case.id)


# Exported names that are not differentiable (or not ops on tensors).
NOT_DIFFERENTIABLE = {
    "all", "any", "arange", "argmax", "argmin", "convert_to_numpy", "convert_to_tensor", "equal", "eye", "full",
    "greater", "greater_equal", "is_tensor", "isfinite", "isnan", "less", "less_equal", "logical_and",
    "logical_not", "logical_or", "logical_xor", "not_equal",
    "one_hot", "ones", "ones_like", "shape", "sign", "stop_gradient", "zeros", "zeros_like",
    # integer-valued, boolean, shape-valued or creation ops (gradient zero or undefined, as in Keras 3)
    "floor", "ceil", "trunc", "round", "isinf", "floor_divide", "argsort", "count_nonzero", "isclose", "allclose",
    "searchsorted", "digitize", "bincount", "nonzero", "unique", "isin", "unravel_index", "size", "ndim",
    "full_like", "empty", "empty_like", "identity", "tri", "linspace", "logspace", "in_top_k", "multi_hot",
    # linear algebra computed forward only (gpukeras/ops/linalg.py says so)
    "cholesky", "qr", "svd", "eig", "eigh", "lstsq", "pinv", "matrix_rank",
    "signbit", "isposinf", "isneginf", "heaviside", "gcd", "lcm", "saturate_cast", "nanargmax", "nanargmin",
    "geomspace", "argpartition", "histogram",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "left_shift",
    "right_shift", "bitwise_invert", "bitwise_not", "nextafter", "i0", "hanning", "hamming", "blackman", "bartlett",
    "kaiser", "dtype", "array", "ctc_decode", "imag", "angle", "isreal",
    # complex-valued and Fourier ops: forward only (gpukeras/ops/numpy.py says so)
    "fft", "fft2", "ifft2", "rfft", "irfft", "polar", "view_as_complex", "view_as_real",
}


def test_every_differentiable_op_is_covered() -> None:
    exported = {n for n in ops.__all__ if inspect.isfunction(getattr(ops, n))}
    covered = {c.op for c in CASES}
    missing = sorted(exported - NOT_DIFFERENTIABLE - covered)
    assert not missing, f"gpukeras.ops exports differentiable ops without a gradient test: {missing}"
    dense_acts = {a for a, _ in _DENSE_VARIANTS}
    assert dense_acts == set(ACTIVATIONS), sorted(set(ACTIVATIONS) - dense_acts)


def test_dropout_gradient_is_the_mask() -> None:
    x = gpukeras.Variable(_rand((4, 5)), dtype="float64")
    with gpukeras.GradientTape() as tape:
        y = ops.dropout(x, _DROPOUT_RATE, np.random.default_rng(_DROPOUT_SEED))
        loss = ops.sum(y)
    grad = ops.convert_to_numpy(tape.gradient(loss, x))
    mask = _dropout_mask((4, 5))
    np.testing.assert_allclose(grad, mask)
    assert 0 < np.count_nonzero(mask) < mask.size  # some dropped, some kept
    np.testing.assert_allclose(ops.convert_to_numpy(y), x.numpy() * mask)


def test_cast_gradient_has_the_input_dtype() -> None:
    x = gpukeras.Variable(_rand((3, 4)), dtype="float64")
    with gpukeras.GradientTape() as tape:
        loss = ops.sum(ops.cast(x, "float32") * 3.0)
    assert loss.dtype == "float32"
    grad = tape.gradient(loss, x)
    assert grad.dtype == "float64"
    np.testing.assert_allclose(ops.convert_to_numpy(grad), np.full((3, 4), 3.0))


# ---------------------------------------------------------------------------- GradientTape behaviour
def _var(shape=(3,), seed=0, **kwargs) -> gpukeras.Variable:
    return gpukeras.Variable(_rand(shape, seed=seed), dtype="float64", **kwargs)


def test_unconnected_variable_gets_none() -> None:
    x, unused = _var(), _var(seed=1)
    with gpukeras.GradientTape() as tape:
        loss = ops.sum(x * 2.0)
    gx, gu = tape.gradient(loss, [x, unused])
    np.testing.assert_allclose(ops.convert_to_numpy(gx), np.full(3, 2.0))
    assert gu is None


def test_non_trainable_variable_gets_none() -> None:
    x, frozen = _var(), _var(seed=1, trainable=False)
    with gpukeras.GradientTape() as tape:
        loss = ops.sum(x * frozen)
    gx, gf = tape.gradient(loss, [x, frozen])
    np.testing.assert_allclose(ops.convert_to_numpy(gx), frozen.numpy())
    assert gf is None


def test_watch_plain_tensor() -> None:
    t = ops.convert_to_tensor(np.array([0.5, -1.0, 2.0]), dtype="float64")
    with gpukeras.GradientTape() as tape:
        tape.watch(t)
        loss = ops.sum(ops.exp(t))
    np.testing.assert_allclose(ops.convert_to_numpy(tape.gradient(loss, t)), np.exp(t.numpy()))


def test_unwatched_plain_tensor_gets_none() -> None:
    t = ops.convert_to_tensor(np.array([0.5, -1.0]), dtype="float64")
    x = _var((2,))
    with gpukeras.GradientTape() as tape:
        loss = ops.sum(t * x)
    assert tape.gradient(loss, [t, x])[0] is None


def test_watch_rejects_non_tensor() -> None:
    with gpukeras.GradientTape() as tape, pytest.raises(TypeError):
        tape.watch(np.ones(3))


def test_non_persistent_tape_refuses_second_gradient() -> None:
    x = _var()
    with gpukeras.GradientTape() as tape:
        loss = ops.sum(x * x)
    tape.gradient(loss, x)
    with pytest.raises(RuntimeError):
        tape.gradient(loss, x)


def test_persistent_tape_allows_repeated_gradients() -> None:
    x = _var()
    with gpukeras.GradientTape(persistent=True) as tape:
        y = ops.sum(x * x)
        z = ops.sum(ops.sin(x))
    np.testing.assert_allclose(ops.convert_to_numpy(tape.gradient(y, x)), 2 * x.numpy())
    np.testing.assert_allclose(ops.convert_to_numpy(tape.gradient(z, x)), np.cos(x.numpy()))


def test_input_used_twice_accumulates() -> None:
    x = _var()
    with gpukeras.GradientTape() as tape:
        loss = ops.sum(x * x)
    np.testing.assert_allclose(ops.convert_to_numpy(tape.gradient(loss, x)), 2 * x.numpy())


def test_shared_intermediate_accumulates() -> None:
    """A tensor feeding two consumers gets both contributions, whatever the graph order."""
    x = _var()
    with gpukeras.GradientTape() as tape:
        e = ops.exp(x)
        loss = ops.sum(ops.add(e, ops.sin(e)) + ops.multiply(ops.sin(x), x) + x)
    xv = x.numpy()
    expected = np.exp(xv) * (1 + np.cos(np.exp(xv))) + np.cos(xv) * xv + np.sin(xv) + 1
    np.testing.assert_allclose(ops.convert_to_numpy(tape.gradient(loss, x)), expected)


def test_stop_gradient_blocks() -> None:
    x = _var()
    with gpukeras.GradientTape() as tape:
        loss = ops.sum(ops.stop_gradient(x * 3.0) * x)
    np.testing.assert_allclose(ops.convert_to_numpy(tape.gradient(loss, x)), 3.0 * x.numpy())


def test_output_gradients_seed() -> None:
    x = _var()
    seed = np.array([1.0, -2.0, 0.5])
    with gpukeras.GradientTape() as tape:
        y = x * 2.0
    grad = tape.gradient(y, x, output_gradients=ops.convert_to_tensor(seed, dtype="float64"))
    np.testing.assert_allclose(ops.convert_to_numpy(grad), 2.0 * seed)


def test_no_graph_outside_tape() -> None:
    x = _var()
    assert (x * 2.0).node is None
    with gpukeras.GradientTape():
        assert (x * 2.0).node is not None
        assert (ops.stop_gradient(x) * 2.0).node is None


def test_dense_kernel_gradient_without_watched_input() -> None:
    x = ops.convert_to_tensor(_rand((4, 3)), dtype="float64")
    kernel, bias = _var((3, 2), seed=1), _var((2,), seed=2)
    with gpukeras.GradientTape() as tape:
        loss = ops.sum(ops.dense(x, kernel, bias, activation="tanh"))
    gx, gk, gb = tape.gradient(loss, [x, kernel, bias])
    dz = 1.0 - np.tanh(x.numpy() @ kernel.numpy() + bias.numpy()) ** 2
    assert gx is None
    np.testing.assert_allclose(ops.convert_to_numpy(gk), x.numpy().T @ dz)
    np.testing.assert_allclose(ops.convert_to_numpy(gb), dz.sum(axis=0))


# ---------------------------------------------------------------------------- dtype preservation
@pytest.mark.parametrize("expr", [
    lambda a: a * 0.1, lambda a: 0.1 * a, lambda a: a + 1.5, lambda a: 1.5 - a, lambda a: a / 3.0,
    lambda a: 3.0 / a, lambda a: a ** 2.0, lambda a: 2.0 ** a, lambda a: ops.maximum(a, 0.5),
    lambda a: ops.where(a > 1.0, a, 0.0), lambda a: ops.clip(a, 0.0, 1.5), lambda a: ops.mean(a),
    lambda a: ops.sum(a, axis=0), lambda a: ops.std(a), lambda a: ops.softmax(a * 2.0),
], ids=["a*0.1", "0.1*a", "a+1.5", "1.5-a", "a/3.0", "3.0/a", "a**2.0", "2.0**a", "maximum", "where",
        "clip", "mean", "sum", "std", "softmax"])
def test_float32_with_python_float_stays_float32(expr) -> None:
    a = ops.convert_to_tensor(_pos((3, 4)).astype(np.float32))
    assert a.dtype == "float32"
    assert str(expr(a).dtype) == "float32"
