"""Every registered backend against the required primitive set, forward values and backward rules.

References are float64 NumPy math written here (and in float64_reference.py), never the backend's
own code. A float64 result is held to 1e-12, a float32 one to float32 rounding. "numpy64"
(tests/numpy64_backend.py: generic `Ops` over NumPy, floats in float64) is registered from this
test file and must pass too: a backend needs nothing but `register_backend`. Every name in
`required_primitives()` has a case here (checked), and the cases catch a broken primitive (checked
on deliberately broken copies of numpy64). A backend the suite runs under (numpy, cupy) is checked
in its own run (so `GPUKERAS_TEST_BACKENDS=cupy` on a GPU checks CuPy); the others in the first run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from conftest import BACKENDS as SUITE_BACKENDS
from conftest import EMULATED
from float64_reference import ref_act, softmax
from numpy64_backend import Numpy64Ops, registered

from gpukeras import backend
from gpukeras.backend import registry
from gpukeras.backend.activations import ACTIVATIONS
from gpukeras.backend.base import Ops, fused_fast_paths, required_primitives

with registered():
    BACKENDS = backend.available_backends()

CASES: dict[str, Callable[[Ops], None]] = {}
RNG = np.random.default_rng(2024)


def case(*names: str) -> Callable:
    """Register the decorated check as the conformance case of these primitives."""
    def decorate(fn: Callable[[Ops], None]) -> Callable[[Ops], None]:
        for name in names:
            assert name not in CASES, name
            CASES[name] = fn
        return fn
    return decorate


def f32(*shape: int, scale: float = 1.0, positive: bool = False) -> np.ndarray:
    x = RNG.normal(size=shape) * scale
    return (np.abs(x) + 0.1 if positive else x).astype(np.float32)


def check(ops: Ops, got, want, what: str = "", relative: bool = False) -> None:
    """got (a backend array) equals the float64/int/bool reference `want` to the precision of its dtype.

    `relative`: no absolute slack, for values near zero whose relative accuracy matters (log1p of 1e-20).
    """
    host = ops.to_numpy(got)
    want = np.asarray(want)
    assert isinstance(host, np.ndarray), what
    assert host.shape == want.shape, f"{what}: shape {host.shape}, expected {want.shape}"
    if want.dtype.kind == "b":
        assert host.dtype.kind == "b", f"{what}: dtype {host.dtype}"
        np.testing.assert_array_equal(host, want, err_msg=what)
    elif want.dtype.kind in "iu":
        assert host.dtype.kind in "iu", f"{what}: dtype {host.dtype}"
        np.testing.assert_array_equal(host, want, err_msg=what)
    else:
        assert host.dtype.kind == "f", f"{what}: dtype {host.dtype}"
        tol = dict(rtol=1e-12, atol=1e-12) if host.dtype == np.float64 else dict(rtol=1e-5, atol=3e-6)
        if relative:
            tol["atol"] = 0.0
        np.testing.assert_allclose(host.astype(np.float64), want, err_msg=what, **tol)


def d64(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64)


# ------------------------------------------------------------------------------ creation, transfer
@case("asarray", "to_numpy", "is_array")
def _transfer(ops: Ops) -> None:
    x = f32(3, 4)
    a = ops.asarray(x)
    assert ops.is_array(a) and not ops.is_array([1.0, 2.0])
    assert isinstance(ops.to_numpy(a), np.ndarray)
    check(ops, a, d64(x))
    check(ops, ops.asarray([[1, 2], [3, 4]], dtype="int32"), np.array([[1, 2], [3, 4]]))
    check(ops, ops.asarray(2.5), np.float64(2.5))


@case("zeros", "ones", "full", "eye", "arange")
def _creation(ops: Ops) -> None:
    check(ops, ops.zeros((2, 3)), np.zeros((2, 3)))
    check(ops, ops.ones((4,)), np.ones(4))
    check(ops, ops.full((2, 2), -1.5), np.full((2, 2), -1.5))
    check(ops, ops.eye(3, 4), np.eye(3, 4))
    check(ops, ops.arange(2, 11, 3), np.arange(2, 11, 3))
    check(ops, ops.arange(0.0, 1.0, 0.25, dtype="float32"), np.arange(0.0, 1.0, 0.25))
    check(ops, ops.zeros((2,), dtype="int64"), np.zeros(2, dtype=np.int64))


@case("copy", "assign")
def _copy_assign(ops: Ops) -> None:
    x = f32(2, 3)
    a = ops.asarray(x)
    c = ops.copy(a)
    ops.assign(c, ops.zeros((2, 3)))
    check(ops, a, d64(x), "copy must not share memory")
    check(ops, c, np.zeros((2, 3)))
    row = ops.getitem(c, 1)  # assign writes through a view (weights are views of flat buffers)
    ops.assign(row, ops.asarray(np.float32([1, 2, 3])))
    check(ops, c, np.array([[0, 0, 0], [1, 2, 3]], dtype=np.float64))


@case("cast")
def _cast(ops: Ops) -> None:
    x = np.float32([[-1.7, 0.2], [2.9, 3.0]])
    check(ops, ops.cast(ops.asarray(x), "int32"), np.array([[-1, 0], [2, 3]]))
    check(ops, ops.cast(ops.asarray(np.array([1, 2])), "float32"), np.array([1.0, 2.0]))
    check(ops, ops.cast(ops.compare("greater", ops.asarray(x), 0.5), "float32"), np.array([[0.0, 0.0], [1.0, 1.0]]))


# ------------------------------------------------------------------------------ random
@case("random_normal", "random_uniform")
def _random(ops: Ops) -> None:
    """Drawn on the host from the given generator: the same seed gives NumPy's numbers on every backend."""
    got = ops.random_normal((3, 5), 0.5, 2.0, np.random.default_rng(7))
    check(ops, got, np.random.default_rng(7).normal(0.5, 2.0, size=(3, 5)).astype(ops.to_numpy(got).dtype))
    got = ops.random_uniform((4,), -1.0, 3.0, np.random.default_rng(8))
    check(ops, got, np.random.default_rng(8).uniform(-1.0, 3.0, size=4).astype(ops.to_numpy(got).dtype))


@case("truncated_normal")
def _truncated(ops: Ops) -> None:
    """Keras's rule: standard normal draws redrawn while beyond two standard deviations."""
    rng = np.random.default_rng(9)
    v = rng.normal(0.0, 1.0, size=(50, 40))
    while (bad := np.abs(v) > 2.0).any():
        v[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
    got = ops.truncated_normal((50, 40), 1.0, 0.5, np.random.default_rng(9))
    check(ops, got, (1.0 + 0.5 * v).astype(ops.to_numpy(got).dtype))


@case("dropout_mask")
def _dropout_mask(ops: Ops) -> None:
    """Inverted dropout: 1/(1-rate) where kept, 0 where dropped, about 1-rate of them kept."""
    rate = 0.3
    mask = ops.to_numpy(ops.dropout_mask((200, 150), rate, np.random.default_rng(10)))
    assert mask.shape == (200, 150) and mask.dtype.kind == "f"
    kept = mask != 0
    np.testing.assert_allclose(mask[kept], 1 / (1 - rate), rtol=1e-6)
    assert abs(kept.mean() - (1 - rate)) < 5 * math.sqrt(rate * (1 - rate) / kept.size)


@case("seeded_uniform", "seeded_normal", "seeded_integers", "seeded_permutations")
def _seeded_draws(ops: Ops) -> None:
    """keras.random's draws, made by the backend's own generator: the same seed repeats, another seed
    differs, shapes and dtypes as asked, and the statistics of each distribution."""
    n = 20000
    for dtype in ("float32", "float64"):
        u = ops.to_numpy(ops.seeded_uniform((n,), [5, 0, 0], dtype))
        assert u.shape == (n,) and u.dtype.kind == "f"
        assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
        np.testing.assert_array_equal(u, ops.to_numpy(ops.seeded_uniform((n,), [5, 0, 0], dtype)))
        assert not np.array_equal(u, ops.to_numpy(ops.seeded_uniform((n,), [5, 1, 0], dtype)))
        z = ops.to_numpy(ops.seeded_normal((200, 100), [6, 0, 0], dtype))
        assert z.shape == (200, 100) and z.dtype.kind == "f"
        assert abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03 and abs(np.mean(z**3)) < 0.1
        np.testing.assert_array_equal(z, ops.to_numpy(ops.seeded_normal((200, 100), [6, 0, 0], dtype)))
        assert not np.array_equal(z, ops.to_numpy(ops.seeded_normal((200, 100), [7, 0, 0], dtype)))
    k = ops.to_numpy(ops.seeded_integers((n,), -3, 4, [8, 0, 0], "int32"))
    assert k.dtype == np.int32 and set(np.unique(k)) == set(range(-3, 4))
    assert np.abs(np.bincount(k + 3) / n - 1 / 7).max() < 0.015
    np.testing.assert_array_equal(k, ops.to_numpy(ops.seeded_integers((n,), -3, 4, [8, 0, 0], "int32")))
    p = ops.to_numpy(ops.seeded_permutations((6, 50), 1, [9, 0, 0]))
    assert p.shape == (6, 50) and p.dtype.kind in "iu"
    assert all(sorted(row) == list(range(50)) for row in p) and len({tuple(row) for row in p}) == 6
    p0 = ops.to_numpy(ops.seeded_permutations((40, 3), 0, [9, 0, 0]))
    assert all(sorted(col) == list(range(40)) for col in p0.T)
    np.testing.assert_array_equal(p0, ops.to_numpy(ops.seeded_permutations((40, 3), 0, [9, 0, 0])))


# ------------------------------------------------------------------------------ elementwise
BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
          "maximum": np.maximum, "minimum": np.minimum}


@case(*BINARY)
def _binary(ops: Ops) -> None:
    a, b = f32(3, 4), f32(4, positive=True)  # b broadcasts over a's rows
    for name, ref in BINARY.items():
        check(ops, getattr(ops, name)(ops.asarray(a), ops.asarray(b)), ref(d64(a), d64(b)), name)
        check(ops, getattr(ops, name)(ops.asarray(a), 2.0), ref(d64(a), 2.0), f"{name} with a scalar")


@case("power")
def _power(ops: Ops) -> None:
    a, b = f32(3, 4, positive=True), f32(3, 4)
    check(ops, ops.power(ops.asarray(a), ops.asarray(b)), d64(a) ** d64(b))
    check(ops, ops.power(ops.asarray(a), 3.0), d64(a) ** 3)


UNARY = {"negative": np.negative, "exp": np.exp, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt,
         "square": np.square, "abs": np.abs, "sign": np.sign, "sin": np.sin, "cos": np.cos}


@case(*UNARY)
def _unary(ops: Ops) -> None:
    x = f32(5, 6)
    x[0, :3] = (0.0, -0.0, 1e-30)
    positive = np.abs(x) + np.float32(0.05)
    for name, ref in UNARY.items():
        src = positive if name in ("log", "log1p", "sqrt") else x
        check(ops, getattr(ops, name)(ops.asarray(src)), ref(d64(src)), name)
    tiny = np.float32([1e-20, -3e-12, 2.5e-7])  # where log(1 + x) or a cancellation would lose everything
    for name in ("log1p", "sin", "negative", "square"):
        check(ops, getattr(ops, name)(ops.asarray(tiny)), UNARY[name](d64(tiny)), f"{name} near 0", relative=True)


@case("where", "clip")
def _where_clip(ops: Ops) -> None:
    a, b = f32(4, 3), f32(4, 3)
    cond = ops.compare("greater", ops.asarray(a), ops.asarray(b))
    check(ops, ops.where(cond, ops.asarray(a), ops.asarray(b)), np.maximum(d64(a), d64(b)))
    check(ops, ops.clip(ops.asarray(a), -0.5, 0.25), np.clip(d64(a), -0.5, 0.25))


@case("compare")
def _compare(ops: Ops) -> None:
    a, b = np.float32([1, 2, 3, np.nan]), np.float32([2, 2, 2, 2])
    for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
        check(ops, ops.compare(name, ops.asarray(a), ops.asarray(b)), getattr(np, name)(a, b), name)


@case("logical", "isnan", "isfinite")
def _logical(ops: Ops) -> None:
    p, q = np.array([True, True, False, False]), np.array([True, False, True, False])
    for name in ("and", "or", "xor"):
        check(ops, ops.logical(name, ops.asarray(p), ops.asarray(q)), getattr(np, f"logical_{name}")(p, q), name)
    check(ops, ops.logical("not", ops.asarray(p)), ~p)
    x = np.float32([0.0, np.nan, np.inf, -np.inf, -2.0])
    check(ops, ops.isnan(ops.asarray(x)), np.isnan(x))
    check(ops, ops.isfinite(ops.asarray(x)), np.isfinite(x))


# ------------------------------------------------------------------------------ reductions
@case("sum", "mean", "max", "min", "prod")
def _reductions(ops: Ops) -> None:
    x = f32(3, 4, 5, positive=True)
    for name in ("sum", "mean", "max", "min", "prod"):
        ref = getattr(np, name)
        for axis, keep in ((None, False), (1, False), ((0, 2), True), (-1, True)):
            got = getattr(ops, name)(ops.asarray(x), axis=axis, keepdims=keep)
            check(ops, got, ref(d64(x), axis=axis, keepdims=keep), f"{name} axis={axis} keepdims={keep}")


@case("argmax", "argmin", "any")
def _arg_reductions(ops: Ops) -> None:
    x = np.float32([[1, 5, 5, 0], [3, -1, 2, -1]])  # ties: the first index wins
    check(ops, ops.argmax(ops.asarray(x)), np.array([1, 0]))
    check(ops, ops.argmin(ops.asarray(x), axis=0), np.array([0, 1, 1, 1]))
    assert ops.any(ops.asarray(np.array([False, True]))) is True
    assert ops.any(ops.asarray(np.array([False, False]))) is False


@case("sum_to_shape")
def _sum_to_shape(ops: Ops) -> None:
    """Backward of broadcasting: the gradient summed over every axis that was broadcast."""
    g = f32(2, 3, 4)
    check(ops, ops.sum_to_shape(ops.asarray(g), (3, 1)), d64(g).sum(axis=(0, 2))[:, None])
    check(ops, ops.sum_to_shape(ops.asarray(g), (4,)), d64(g).sum(axis=(0, 1)))
    check(ops, ops.sum_to_shape(ops.asarray(g), (2, 3, 4)), d64(g))
    check(ops, ops.sum_to_shape(ops.asarray(g), ()), d64(g).sum())


@case("reduce_backward")
def _reduce_backward(ops: Ops) -> None:
    """d(sum x)/dx = 1 everywhere: the upstream gradient repeated over the reduced axes."""
    shape = (2, 3, 4)
    dy = f32(2, 4)
    want = np.repeat(d64(dy)[:, None, :], 3, axis=1)
    check(ops, ops.reduce_backward(ops.asarray(dy), shape, 1, False), want)
    dy = f32(1, 3, 1)
    check(ops, ops.reduce_backward(ops.asarray(dy), shape, (0, 2), True), np.tile(d64(dy), (2, 1, 4)))
    check(ops, ops.reduce_backward(ops.asarray(np.float32(2.0)), shape, None, False), np.full(shape, 2.0))


@case("extremum_backward")
def _extremum_backward(ops: Ops) -> None:
    """d max/dx: the gradient split evenly among the entries that attain the maximum."""
    x = np.float32([[1, 7, 7], [4, 2, 3]])
    dy = np.float32([6.0, 5.0])
    y = ops.max(ops.asarray(x), axis=1)
    want = np.array([[0.0, 3.0, 3.0], [5.0, 0.0, 0.0]])
    check(ops, ops.extremum_backward(ops.asarray(dy), ops.asarray(x), y, 1, False), want)
    y = ops.min(ops.asarray(x), axis=None)
    want = np.zeros((2, 3))
    want[0, 0] = 6.0
    check(ops, ops.extremum_backward(ops.asarray(np.float32(6.0)), ops.asarray(x), y, None, False), want)


# ------------------------------------------------------------------------------ shapes
@case("reshape", "transpose", "broadcast_to", "expand_dims", "squeeze")
def _shapes(ops: Ops) -> None:
    x = f32(2, 1, 3)
    a = ops.asarray(x)
    check(ops, ops.reshape(a, (3, 2)), d64(x).reshape(3, 2))
    check(ops, ops.transpose(a, (2, 0, 1)), d64(x).transpose(2, 0, 1))
    check(ops, ops.transpose(a), d64(x).T)
    check(ops, ops.broadcast_to(a, (4, 2, 5, 3)), np.broadcast_to(d64(x), (4, 2, 5, 3)))
    check(ops, ops.expand_dims(a, (0, 3)), np.expand_dims(d64(x), (0, 3)))
    check(ops, ops.squeeze(a), d64(x).squeeze())
    check(ops, ops.squeeze(a, 1), d64(x).squeeze(1))


@case("concatenate", "stack", "split_sizes")
def _join_split(ops: Ops) -> None:
    parts = [f32(2, n) for n in (1, 3, 2)]
    check(ops, ops.concatenate([ops.asarray(p) for p in parts], axis=1), np.concatenate([d64(p) for p in parts], 1))
    same = [f32(2, 3) for _ in range(3)]
    check(ops, ops.stack([ops.asarray(p) for p in same], axis=1), np.stack([d64(p) for p in same], 1))
    g = f32(2, 6)
    pieces = ops.split_sizes(ops.asarray(g), [1, 3, 2], axis=1)
    assert len(pieces) == 3
    for got, want in zip(pieces, np.split(d64(g), [1, 4], axis=1)):
        check(ops, got, want)


@case("take", "take_backward")
def _take(ops: Ops) -> None:
    x = f32(4, 5)
    idx = np.array([3, 0, 3])
    check(ops, ops.take(ops.asarray(x), ops.asarray(idx), axis=1), d64(x)[:, idx])
    flat_idx = np.array([[0, 19]])
    check(ops, ops.take(ops.asarray(x), ops.asarray(flat_idx)), d64(x).ravel()[flat_idx])
    dy = f32(4, 3)  # repeated indices: their gradients add up
    want = np.zeros((4, 5))
    for j, i in enumerate(idx):
        want[:, i] += d64(dy)[:, j]
    check(ops, ops.take_backward(ops.asarray(dy), (4, 5), ops.asarray(idx), 1), want)
    dy = f32(2)
    want = np.zeros(20)
    want[5] = d64(dy).sum()
    got = ops.take_backward(ops.asarray(dy), (4, 5), ops.asarray(np.array([5, 5])), None)
    check(ops, got, want.reshape(4, 5))


@case("getitem", "getitem_backward", "scatter_add")
def _getitem(ops: Ops) -> None:
    x = f32(4, 5)
    check(ops, ops.getitem(ops.asarray(x), (slice(1, None), 2)), d64(x)[1:, 2])
    idx = np.array([2, 0, 2])
    check(ops, ops.getitem(ops.asarray(x), ops.asarray(idx)), d64(x)[idx])
    dy = f32(3, 5)
    want = np.zeros((4, 5))
    np.add.at(want, idx, d64(dy))
    check(ops, ops.getitem_backward(ops.asarray(dy), (4, 5), ops.asarray(idx)), want)
    out = ops.zeros((4,))
    ops.scatter_add(out, ops.asarray(np.array([1, 3, 1])), ops.asarray(np.float32([1.0, 2.0, 4.0])))
    check(ops, out, np.array([0.0, 5.0, 0.0, 2.0]))


@case("one_hot")
def _one_hot(ops: Ops) -> None:
    labels = np.array([[0, 2], [3, 5]])  # 5 is out of range: an all-zero row
    want = np.zeros((2, 2, 4))
    for (i, j), v in np.ndenumerate(labels):
        if v < 4:
            want[i, j, v] = 1.0
    check(ops, ops.one_hot(ops.asarray(labels), 4), want)


@case("pad_spatial", "crop_spatial")
def _pad_crop(ops: Ops) -> None:
    x = f32(2, 3, 4, 2)
    pads = ((1, 2), (0, 1))
    want = np.pad(d64(x), ((0, 0), (1, 2), (0, 1), (0, 0)), constant_values=-7.0)
    padded = ops.pad_spatial(ops.asarray(x), pads, -7.0)
    check(ops, padded, want)
    check(ops, ops.crop_spatial(padded, pads), d64(x))


# ------------------------------------------------------------------------------ linear algebra
@case("matmul", "matmul_backward")
def _matmul(ops: Ops) -> None:
    """(a @ b) and its gradients, for 2-D, batched (broadcast) and 1-D operands, against einsum."""
    shapes = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
              ((2, 1, 3, 4), (5, 4, 2))]
    for sa, sb in shapes:
        a, b = f32(*sa), f32(*sb)
        y64 = np.matmul(d64(a), d64(b))
        check(ops, ops.matmul(ops.asarray(a), ops.asarray(b)), y64, f"{sa} @ {sb}")
        dy = RNG.normal(size=y64.shape).astype(np.float32)
        da, db = _matmul_grads(d64(a), d64(b), d64(dy))
        got = ops.matmul_backward(ops.asarray(dy), ops.asarray(a), ops.asarray(b))
        check(ops, got[0], da, f"d/da of {sa} @ {sb}")
        check(ops, got[1], db, f"d/db of {sa} @ {sb}")


def _matmul_grads(a: np.ndarray, b: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients by the definition: dL/da[i] = sum_out dy[out] * d out / d a[i], over every element."""
    y = np.matmul(a, b)
    da, db = np.zeros_like(a), np.zeros_like(b)
    for grads, src in ((da, a), (db, b)):
        for i in np.ndindex(src.shape):
            bumped = src.copy()
            bumped[i] += 1.0  # matmul is linear in each operand: the difference is exact
            other = np.matmul(bumped, b) if src is a else np.matmul(a, bumped)
            grads[i] = np.sum(dy * (other - y))
    return da, db


# ------------------------------------------------------------------------------ activations
def _grid() -> np.ndarray:
    x = np.linspace(-6.0, 6.0, 97).astype(np.float32)
    return np.unique(np.concatenate([x, np.float32([0.0, -3.0, 3.0, 6.0, 0.5, 1e-3])]))


ELEMENTWISE = [(n, ()) for n in ACTIVATIONS if n not in ("linear", "softmax", "log_softmax")] + [
    ("relu", (0.1, 4.0, 0.5)), ("leaky_relu", (0.3,)), ("elu", (0.5,))]


@case("activation", "activation_backward")
def _activations(ops: Ops) -> None:
    x = _grid()
    dy = (0.5 + 0.25 * (np.arange(x.size) % 5)).astype(np.float32)
    for name, params in ELEMENTWISE + [("linear", ())]:
        y64, dydx = (d64(x), np.ones(x.size)) if name == "linear" else ref_act(name, x, params)
        y = ops.activation(name, ops.asarray(x), params)
        check(ops, y, y64, f"{name}{params}")
        dx = ops.activation_backward(name, ops.asarray(dy), ops.asarray(x), y, params)
        check(ops, dx, d64(dy) * dydx, f"d {name}{params}")
    _row_activations(ops)


def _row_activations(ops: Ops) -> None:
    """softmax / log_softmax over an axis; the backward as the Jacobian (built entry by entry) times dy."""
    x, dy = f32(3, 5, scale=3.0), f32(3, 5)
    for axis in (-1, 0):
        s = softmax(d64(x), axis)
        xs = np.moveaxis(d64(x), axis, -1)
        ss, dys = np.moveaxis(s, axis, -1), np.moveaxis(d64(dy), axis, -1)
        for name in ("softmax", "log_softmax"):
            want_y = s if name == "softmax" else np.log(s)
            y = ops.activation(name, ops.asarray(x), (axis,))
            check(ops, y, want_y, f"{name} axis {axis}")
            dx = np.empty_like(xs)
            for r in range(xs.shape[0]):
                n = xs.shape[1]
                jac = np.array([[(ss[r, i] * ((i == j) - ss[r, j])) if name == "softmax" else ((i == j) - ss[r, j])
                                 for j in range(n)] for i in range(n)])  # jac[i, j] = d y_i / d x_j
                dx[r] = jac.T @ dys[r]
            got = ops.activation_backward(name, ops.asarray(dy), ops.asarray(x), y, (axis,))
            check(ops, got, np.moveaxis(dx, -1, axis), f"d {name} axis {axis}")


# ------------------------------------------------------------------------------ misc
@case("global_norm", "item")
def _norm_item(ops: Ops) -> None:
    arrays = [f32(3, 4), f32(5)]
    norm = ops.global_norm([ops.asarray(a) for a in arrays])
    want = math.sqrt(sum(float(np.sum(d64(a) ** 2)) for a in arrays))
    check(ops, norm, np.float64(want))
    value = ops.item(norm)
    assert isinstance(value, float) and value == pytest.approx(want, rel=1e-6)


@case("synchronize", "clear_caches")
def _housekeeping(ops: Ops) -> None:
    a = ops.add(ops.asarray(np.float32([1.0])), 1.0)
    assert ops.synchronize() is None
    assert ops.clear_caches() is None
    check(ops, a, np.array([2.0]), "arrays stay valid after clear_caches")


@case("use_device", "set_tf32")
def _device_settings(ops: Ops) -> None:
    """Device 0 is always there (the host's one CPU, a data-parallel rank's GPU); TF32 never applies on a
    CPU and leaves float32 products float32 when turned off again."""
    assert ops.use_device(0) is None
    assert isinstance(ops.set_tf32(False), bool)
    a = ops.asarray(np.float32([[1.0, 2.0]]))
    check(ops, ops.matmul(a, ops.transpose(a)), np.array([[5.0]]))
    if ops.name == "numpy":
        assert ops.set_tf32(True) is False and ops.set_tf32(False) is False


@case("divide_no_nan", "add_inplace")
def _metric_helpers(ops: Ops) -> None:
    a, b = np.float32([1.0, 2.0, 0.0, -3.0]), np.float32([2.0, 0.0, 0.0, 4.0])
    check(ops, ops.divide_no_nan(ops.asarray(a), ops.asarray(b)), np.array([0.5, 0.0, 0.0, -0.75]))
    t = ops.asarray(np.float32([1.0, 2.0]))
    ops.add_inplace(t, ops.asarray(np.float32([0.5, -1.0])))
    ops.add_inplace(t, 1.0)
    check(ops, t, np.array([2.5, 2.0]))


@case("qr", "diagonal")
def _qr(ops: Ops) -> None:
    a = f32(5, 3)
    q, r = ops.qr(ops.asarray(a))
    qh, rh = d64(ops.to_numpy(q)), d64(ops.to_numpy(r))
    assert qh.shape == (5, 3) and rh.shape == (3, 3)
    check(ops, q, qh)  # dtype and shape
    np.testing.assert_allclose(qh @ rh, d64(a), atol=1e-5)
    np.testing.assert_allclose(qh.T @ qh, np.eye(3), atol=1e-5)
    np.testing.assert_allclose(np.tril(rh, -1), 0.0, atol=1e-6)
    check(ops, ops.diagonal(r), np.diagonal(rh))


@case("top_k_mask")
def _top_k(ops: Ops) -> None:
    x = np.float32([[3, 1, 3, 2], [0, 5, 5, 5]])  # ties go to the lower index
    want = np.array([[True, False, True, False], [False, True, True, False]])
    check(ops, ops.top_k_mask(ops.asarray(x), 2), want)


# ------------------------------------------------------------------------------ the tests
@pytest.fixture(scope="module", autouse=True)
def numpy64_registered():
    with registered():
        yield


@pytest.mark.any_backend
def test_every_required_primitive_has_a_case() -> None:
    assert sorted(CASES) == sorted(required_primitives())


@pytest.mark.any_backend
def test_required_and_fused_sets_are_disjoint_and_all_of_ops() -> None:
    public = {n for n in dir(Ops) if not n.startswith("_") and callable(getattr(Ops, n))}
    required, fused = set(required_primitives()), set(fused_fast_paths())
    assert not required & fused
    assert required | fused <= public
    assert {"bias_activation", "dense", "sparse_softmax_cross_entropy", "sigmoid_binary_cross_entropy", "pool",
            "col2im_add", "normalize", "dropout"} <= fused



# ------------------------------------------------------------------------------ more of NumPy's functions
_MORE_UNARY = {"floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint, "tan": np.tan,
               "sinh": np.sinh, "cosh": np.cosh, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
               "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "expm1": np.expm1,
               "log2": np.log2, "log10": np.log10, "exp2": np.exp2, "reciprocal": np.reciprocal,
               "erf": np.vectorize(math.erf, otypes=[np.float64]), "signbit": np.signbit,
               "cbrt": lambda v: np.sign(v) * np.abs(v) ** (1.0 / 3.0),
               "sinc": lambda v: np.where(v == 0, 1.0, np.sin(np.pi * v) / np.where(v == 0, 1.0, np.pi * v)),
               "i0": lambda v: sum((v / 2.0) ** (2 * k) / math.factorial(k) ** 2 for k in range(30))}


@case("unary")
def _more_unary(ops: Ops) -> None:
    x = np.float32([[-2.5, -1.5, -0.5, 0.5], [1.5, 2.5, 0.3, -0.7], [1.9, -1.2, 0.05, 2.0]])
    unit, above_one = np.clip(x, -0.9, 0.9) * np.float32(0.99), np.abs(x) + np.float32(1.1)
    for name, ref in _MORE_UNARY.items():
        src = unit if name in ("arcsin", "arccos", "arctanh") else above_one if name == "arccosh" else \
            np.abs(x) + np.float32(0.05) if name in ("log2", "log10") else x
        check(ops, ops.unary(name, ops.asarray(src)), ref(d64(src)), name)
    infs = np.float32([1.0, np.inf, -np.inf, np.nan])
    check(ops, ops.unary("isinf", ops.asarray(infs)), np.isinf(infs), "isinf")
    y = np.float32([-0.999, -0.7, -0.1, 0.0, 0.2, 0.5, 0.9, 0.9999])
    inverted = ops.to_numpy(ops.unary("erfinv", ops.asarray(y)))
    round_trip = np.vectorize(math.erf)(inverted.astype(np.float64)).astype(inverted.dtype)  # in erfinv's precision
    check(ops, ops.asarray(round_trip), d64(ops.to_numpy(ops.asarray(y))), "erf(erfinv(y)) == y")
    z = np.complex64([1 + 2j, -1 - 1j, 3])
    for name in ("real", "imag", "angle"):
        check(ops, ops.unary(name, ops.asarray(z)), getattr(np, name)(z.astype(np.complex128)), name)
    check(ops, ops.unary("isreal", ops.asarray(z)), np.array([False, False, True]), "isreal")
    conj = ops.to_numpy(ops.unary("conj", ops.asarray(z)))
    np.testing.assert_array_equal(conj, np.complex64([1 - 2j, -1 + 1j, 3]))
    with pytest.raises(ValueError):
        ops.unary("exit", ops.asarray(x))


@case("binary")
def _more_binary(ops: Ops) -> None:
    a, b = f32(3, 4), f32(4, positive=True) * np.float32([1, -1, 1, -1])
    for name in ("arctan2", "floor_divide", "remainder", "fmod", "hypot", "logaddexp"):
        check(ops, ops.binary(name, ops.asarray(a), ops.asarray(b)), getattr(np, name)(d64(a), d64(b)), name)
    ia, ib = np.array([7, -7, 5, -5]), np.array([3, 3, -2, -2])
    check(ops, ops.binary("remainder", ops.asarray(ia), ops.asarray(ib)), np.array([1, 2, -1, -1]))
    check(ops, ops.binary("fmod", ops.asarray(ia), ops.asarray(ib)), np.array([1, -1, 1, -1]))
    check(ops, ops.binary("gcd", ops.asarray(np.array([12, -18, 7, 0])), ops.asarray(np.array([8, 12, 5, 4]))),
          np.array([4, 6, 1, 4]))
    check(ops, ops.binary("lcm", ops.asarray(np.array([4, -6, 7])), ops.asarray(np.array([6, 4, 5]))),
          np.array([12, 12, 35]))
    p, q = np.array([12, 5, -8], dtype=np.int32), np.array([10, 3, 1], dtype=np.int32)
    for name, want in (("bitwise_and", [8, 1, 0]), ("bitwise_or", [14, 7, -7]), ("bitwise_xor", [6, 6, -7]),
                       ("left_shift", [12288, 40, -16]), ("right_shift", [0, 0, -4])):
        check(ops, ops.binary(name, ops.asarray(p), ops.asarray(q)), np.array(want), name)
    check(ops, ops.unary("invert", ops.asarray(p)), np.array([-13, -6, 7]), "invert")
    one = np.float32([1.0])
    check(ops, ops.binary("nextafter", ops.asarray(one), ops.asarray(np.float32([2.0]))),
          np.array([1.0 + np.finfo(ops.to_numpy(ops.asarray(one)).dtype).eps]), "nextafter")


@case("cumulative")
def _cumulative(ops: Ops) -> None:
    x = f32(3, 4, positive=True)
    for axis in (0, 1, None):
        want_sum = np.array([[d64(x).ravel()[:i + 1].sum() for i in range(12)]]).ravel() if axis is None else \
            np.apply_along_axis(lambda v: np.array([v[:i + 1].sum() for i in range(len(v))]), axis, d64(x))
        check(ops, ops.cumulative("sum", ops.asarray(x), axis), want_sum, f"cumsum axis={axis}")
    want_prod = np.apply_along_axis(lambda v: np.array([np.prod(v[:i + 1]) for i in range(len(v))]), 1, d64(x))
    check(ops, ops.cumulative("prod", ops.asarray(x), 1), want_prod, "cumprod")


@case("argsort", "take_along_axis", "take_along_axis_backward")
def _argsort_take_along(ops: Ops) -> None:
    x = np.float32([[3.0, 1.0, 3.0, -2.0], [0.0, 0.0, 5.0, 0.0]])  # ties keep index order
    check(ops, ops.argsort(ops.asarray(x), 1), np.array([[3, 1, 0, 2], [0, 1, 3, 2]]))
    check(ops, ops.argsort(ops.asarray(x), 0), np.array([[1, 1, 0, 0], [0, 0, 1, 1]]))
    idx = np.array([[2, 2, 0], [3, 1, 1]])
    check(ops, ops.take_along_axis(ops.asarray(x), ops.asarray(idx), 1),
          np.array([[3.0, 3.0, 3.0], [0.0, 0.0, 0.0]]))
    dy = f32(2, 3)
    want = np.zeros((2, 4))
    for (i, j), k in np.ndenumerate(idx):
        want[i, k] += d64(dy)[i, j]  # repeated indices add up
    check(ops, ops.take_along_axis_backward(ops.asarray(dy), (2, 4), ops.asarray(idx), 1), want)
    check(ops, ops.take_along_axis_backward(ops.asarray(dy), (2, 4), ops.asarray(idx), -1), want, "axis=-1")


@case("searchsorted", "nonzero")
def _search(ops: Ops) -> None:
    seq = np.float32([-1.0, 0.0, 0.0, 2.0])
    v = np.float32([-5.0, 0.0, 1.0, 9.0])
    check(ops, ops.searchsorted(ops.asarray(seq), ops.asarray(v)), np.array([0, 1, 3, 4]))
    check(ops, ops.searchsorted(ops.asarray(seq), ops.asarray(v), side="right"), np.array([0, 3, 3, 4]))
    rows, cols = ops.nonzero(ops.asarray(np.array([[0, 3], [2, 0]])))
    check(ops, rows, np.array([0, 1]))
    check(ops, cols, np.array([1, 0]))


@case("fft")
def _fft(ops: Ops) -> None:
    """Against the DFT written out: X[k] = sum_n x[n] exp(-2 pi i k n / N)."""
    x = f32(2, 6)
    n = np.arange(6)
    dft = np.exp(-2j * np.pi * np.outer(n, n) / 6)
    want = d64(x) @ dft.T
    got = ops.to_numpy(ops.fft("fft", ops.asarray(x.astype(np.complex64))))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ops.to_numpy(ops.fft("rfft", ops.asarray(x))), want[:, :4], rtol=1e-5, atol=1e-5)
    back = ops.to_numpy(ops.fft("irfft", ops.fft("rfft", ops.asarray(x)), 6))
    np.testing.assert_allclose(back, d64(x), rtol=1e-5, atol=1e-5)
    img = x.reshape(1, 2, 6).astype(np.complex64)
    two_d = np.einsum("ab,xbc,dc->xad", np.exp(-2j * np.pi * np.outer(np.arange(2), np.arange(2)) / 2), d64(img), dft)
    np.testing.assert_allclose(ops.to_numpy(ops.fft("fft2", ops.asarray(img))), two_d, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ops.to_numpy(ops.fft("ifft2", ops.fft("fft2", ops.asarray(img)))), d64(img),
                               rtol=1e-5, atol=1e-5)


@case("setitem")
def _setitem(ops: Ops) -> None:
    x = f32(3, 4)
    src = ops.asarray(x)
    out = ops.setitem(src, (slice(1, 3), slice(0, 2)), ops.asarray(np.float32([[1, 2], [3, 4]])))
    want = d64(x).copy()
    want[1:3, 0:2] = [[1, 2], [3, 4]]
    check(ops, out, want)
    check(ops, src, d64(x), "the input is left as it was")
    key = (ops.asarray(np.array([0, 2])), ops.asarray(np.array([3, 1])))
    want = d64(x).copy()
    want[[0, 2], [3, 1]] = 0.0
    check(ops, ops.setitem(src, key, 0.0), want, "fancy key")


@case("linalg")
def _linalg(ops: Ops) -> None:
    a = (f32(2, 3, 3) + 3 * np.eye(3, dtype=np.float32))
    b = f32(2, 3, 2)
    a64 = d64(a)
    rel = dict(relative=False)
    check(ops, ops.matmul(ops.linalg("inv", ops.asarray(a)), ops.asarray(a)), np.broadcast_to(np.eye(3), (2, 3, 3)),
          "inv(a) @ a", **rel)
    det = [a64[k, 0, 0] * (a64[k, 1, 1] * a64[k, 2, 2] - a64[k, 1, 2] * a64[k, 2, 1])
           - a64[k, 0, 1] * (a64[k, 1, 0] * a64[k, 2, 2] - a64[k, 1, 2] * a64[k, 2, 0])
           + a64[k, 0, 2] * (a64[k, 1, 0] * a64[k, 2, 1] - a64[k, 1, 1] * a64[k, 2, 0]) for k in range(2)]
    check(ops, ops.linalg("det", ops.asarray(a)), np.array(det), "det (cofactors)")
    sign, logabs = ops.linalg("slogdet", ops.asarray(a))
    check(ops, sign, np.sign(det), "slogdet sign")
    check(ops, logabs, np.log(np.abs(det)), "slogdet log|det|")
    x = ops.linalg("solve", ops.asarray(a), ops.asarray(b))
    check(ops, ops.matmul(ops.asarray(a), x), d64(b), "a @ solve(a, b) == b")
    spd = np.einsum("kij,klj->kil", a64, a64).astype(np.float32)
    low = ops.linalg("cholesky", ops.asarray(spd))
    check(ops, ops.matmul(low, ops.transpose(low, (0, 2, 1))), d64(spd), "L @ L^T")
    check(ops, ops.getitem(low, (slice(None), 0, slice(1, None))), np.zeros((2, 2)), "cholesky is lower")
    q, r = ops.linalg("qr", ops.asarray(a[0]))
    check(ops, ops.matmul(q, r), a64[0], "q @ r")
    s = ops.linalg("svd", ops.asarray(a[0]), compute_uv=False)
    w = ops.linalg("eigh", ops.asarray(spd[0]))[0]
    check(ops, s, np.sqrt(np.sort(np.real(np.roots(np.poly(a64[0] @ a64[0].T))))[::-1]), "singular values")
    check(ops, w, np.sort(np.real(np.roots(np.poly(d64(spd[0]))))), "eigh eigenvalues")
    p = ops.linalg("pinv", ops.asarray(a[0]))
    check(ops, ops.matmul(p, ops.asarray(a[0])), np.eye(3), "pinv of an invertible matrix")
    with pytest.raises(ValueError):
        ops.linalg("lstsq", ops.asarray(a[0]), ops.asarray(b[0]))


CHECKS = sorted(set(CASES.values()), key=lambda fn: fn.__name__)


def _checked_in_this_run(name: str, suite_backend: str) -> bool:
    """A backend the suite runs under is checked in its own run; any other one in the first run."""
    own = {"cupy" if b == EMULATED else b for b in SUITE_BACKENDS}
    return name == ("cupy" if suite_backend == EMULATED else suite_backend) if name in own else (
        suite_backend == SUITE_BACKENDS[0])


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("check_fn", CHECKS, ids=[fn.__name__.strip("_") for fn in CHECKS])
def test_backend_conforms(name: str, check_fn: Callable[[Ops], None], backend_name: str) -> None:
    if not _checked_in_this_run(name, backend_name):
        pytest.skip(f"{name} is checked in its own run")
    check_fn(registry.create(name))


@pytest.mark.any_backend
def test_numpy64_is_registered_from_this_file_and_computes_in_float64() -> None:
    assert "numpy64" in backend.available_backends()
    ops = registry.create("numpy64")
    assert isinstance(ops, Numpy64Ops) and ops.asarray(np.float32([1.5])).dtype == np.float64
    assert ops.activation("gelu", ops.asarray(np.float32([0.3]))).dtype == np.float64


class _Broken(Numpy64Ops):
    """numpy64 with one primitive wrong (set per test)."""


BREAKAGES = {
    "exp": lambda self, x: np.exp(x) * (1 + 1e-9),
    "sum_to_shape": lambda self, g, shape: Numpy64Ops.sum_to_shape(self, g, shape) * 0.5,
    "extremum_backward": lambda self, dy, x, y, axis, keepdims: _unsplit_extremum_backward(dy, x, y, axis, keepdims),
    "take_backward": lambda self, dy, shape, indices, axis: _assigning_take_backward(dy, shape, indices, axis),
    "activation_backward": lambda self, name, dy, x, y, params=(): (
        dy * (1.0 - y) if name == "tanh" else Numpy64Ops.activation_backward(self, name, dy, x, y, params)),
    "matmul_backward": lambda self, dy, a, b: tuple(g * (1.0 + 1e-6) for g in Numpy64Ops.matmul_backward(
        self, dy, a, b)),
    "seeded_normal": lambda self, shape, seed, dtype="float32": Numpy64Ops.seeded_normal(self, shape, seed,
                                                                                         dtype) * 1.1,
}


def _unsplit_extremum_backward(dy, x, y, axis, keepdims):
    """The classic bug: every tied maximum gets the whole gradient instead of a share."""
    if axis is not None and not keepdims:
        y, dy = np.expand_dims(y, axis), np.expand_dims(dy, axis)
    return (x == y) * dy


def _assigning_take_backward(dy, shape, indices, axis):
    """The classic bug: scatter by assignment, so repeated indices keep one gradient instead of their sum."""
    out = np.zeros(shape if axis is not None else (int(np.prod(shape)),), dtype=dy.dtype)
    idx = np.asarray(indices)
    if axis is None:
        out[idx.ravel()] = dy.reshape(-1)
        return out.reshape(shape)
    moved = np.moveaxis(out, axis, 0)
    moved[idx.ravel()] = np.moveaxis(dy, axis, 0)
    return out


@pytest.mark.any_backend
@pytest.mark.parametrize("primitive", sorted(BREAKAGES))
def test_the_cases_catch_a_broken_primitive(primitive: str, monkeypatch) -> None:
    monkeypatch.setattr(_Broken, primitive, BREAKAGES[primitive], raising=False)
    with pytest.raises(AssertionError):
        CASES[primitive](_Broken())
    CASES[primitive](Numpy64Ops())  # the same case passes on the intact backend
