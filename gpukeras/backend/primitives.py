"""The required primitives: the op set every backend provides, each backward rule beside its op.

`Primitives` is written once against an array module `xp` with NumPy's API; a backend whose
`xp` has that API inherits all of it and overrides what it can do better. A backend over an
array library without NumPy's API implements each public method here (and in
`ActivationRules`). `required_primitives()` lists them; tests/test_backend_conformance.py checks
every registered backend against independent float64 math. Backward rules take the upstream
gradient `dy` plus what the forward kept and return the input gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras.backend.activations import ActivationRules

Array = Any  # an ndarray of the backend's array module
Shape = tuple[int, ...]
Pads = tuple[tuple[int, int], ...]


class Primitives(ActivationRules):
    """The required op set over one array module; subclasses set `name` and `xp`."""

    name = "base"
    xp: Any = None

    # ------------------------------------------------------------------ creation/transfer
    def asarray(self, x: Any, dtype: Any = None) -> Array:
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x: Array) -> np.ndarray:
        return np.asarray(x)

    def is_array(self, x: Any) -> bool:
        return isinstance(x, self.xp.ndarray)

    def zeros(self, shape: Shape, dtype: Any = "float32") -> Array:
        return self.xp.zeros(shape, dtype=dtype)

    def ones(self, shape: Shape, dtype: Any = "float32") -> Array:
        return self.xp.ones(shape, dtype=dtype)

    def full(self, shape: Shape, value: float, dtype: Any = "float32") -> Array:
        return self.xp.full(shape, value, dtype=dtype)

    def arange(self, start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Array:
        return self.xp.arange(start, stop, step, dtype=dtype)

    def eye(self, n: int, m: int | None = None, dtype: Any = "float32") -> Array:
        return self.xp.eye(n, m, dtype=dtype)

    def copy(self, x: Array) -> Array:
        return x.copy()

    def cast(self, x: Array, dtype: Any) -> Array:
        return x.astype(dtype, copy=False)

    def assign(self, target: Array, value: Array) -> None:
        """Write `value` into `target` in place (keeps views into flat buffers valid)."""
        target[...] = value

    # ------------------------------------------------------------------ random
    # Random numbers are drawn on the host from one seeded NumPy generator and moved to
    # the device, so the same seed gives the same weights on every backend.
    def random_normal(self, shape: Shape, mean: float, stddev: float, rng: np.random.Generator,
                      dtype: Any = "float32") -> Array:
        return self.asarray(_drawn_in_chunks(lambda n: rng.normal(mean, stddev, size=n), shape, dtype))

    def random_uniform(self, shape: Shape, minval: float, maxval: float, rng: np.random.Generator,
                       dtype: Any = "float32") -> Array:
        return self.asarray(_drawn_in_chunks(lambda n: rng.uniform(minval, maxval, size=n), shape, dtype))

    def truncated_normal(self, shape: Shape, mean: float, stddev: float, rng: np.random.Generator,
                         dtype: Any = "float32") -> Array:
        """Normal draws redrawn until they lie within two standard deviations (Keras's rule)."""
        values = rng.normal(0.0, 1.0, size=shape)
        bad = np.abs(values) > 2.0
        while bad.any():
            values[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
            bad = np.abs(values) > 2.0
        return self.asarray((mean + stddev * values).astype(dtype))

    def dropout_mask(self, shape: Shape, rate: float, rng: np.random.Generator,
                     dtype: Any = "float32") -> Array:
        """Mask with 1/(1-rate) where kept and 0 where dropped (inverted dropout)."""
        keep = rng.random(size=shape) >= rate
        return self.asarray(keep.astype(dtype) * np.asarray(1.0 / (1.0 - rate), dtype=dtype))

    # keras.random's draws are made by the backend's own generator where its arrays live (NumPy:
    # PCG64 on the host; CuPy: XORWOW on the device), seeded per draw with non-negative ints (an int
    # or a sequence, read as NumPy's SeedSequence entropy by both): the same `seed` gives the same
    # numbers on one backend (other backends give other numbers, as Keras's backends do).
    def seeded_uniform(self, shape: Shape, seed: Any, dtype: Any = "float32") -> Array:
        """Floats in [0, 1) from a generator seeded with `seed`."""
        wide = np.dtype(dtype) == np.float64
        draws = self.xp.random.default_rng(seed).random(tuple(shape), dtype=np.float64 if wide else np.float32)
        return draws if wide else self.cast(draws, dtype)

    def seeded_normal(self, shape: Shape, seed: Any, dtype: Any = "float32") -> Array:
        """Standard normal floats from a generator seeded with `seed`."""
        wide = np.dtype(dtype) == np.float64
        draws = self.xp.random.default_rng(seed).standard_normal(tuple(shape),
                                                                 dtype=np.float64 if wide else np.float32)
        return draws if wide else self.cast(draws, dtype)

    def seeded_integers(self, shape: Shape, low: int, high: int, seed: Any, dtype: Any = "int32") -> Array:
        """Integers uniform in [low, high) from a generator seeded with `seed`."""
        return self.xp.random.default_rng(seed).integers(low, high, size=tuple(shape), dtype=np.dtype(dtype))

    def seeded_permutations(self, shape: Shape, axis: int, seed: Any) -> Array:
        """Independent uniformly random permutations of range(shape[axis]) along `axis`, one per other
        index (int64, `shape`): the order of float64 uniform keys."""
        return self.xp.argsort(self.seeded_uniform(tuple(shape), seed, "float64"), axis=axis)

    # ------------------------------------------------------------------ elementwise
    def add(self, a: Array, b: Array) -> Array:
        return self.xp.add(a, b)

    def subtract(self, a: Array, b: Array) -> Array:
        return self.xp.subtract(a, b)

    def multiply(self, a: Array, b: Array) -> Array:
        return self.xp.multiply(a, b)

    def divide(self, a: Array, b: Array) -> Array:
        return self.xp.true_divide(a, b)

    def power(self, a: Array, b: Array) -> Array:
        return self.xp.power(a, b)

    def negative(self, x: Array) -> Array:
        return self.xp.negative(x)

    def maximum(self, a: Array, b: Array) -> Array:
        return self.xp.maximum(a, b)

    def minimum(self, a: Array, b: Array) -> Array:
        return self.xp.minimum(a, b)

    def exp(self, x: Array) -> Array:
        return self.xp.exp(x)

    def log(self, x: Array) -> Array:
        return self.xp.log(x)

    def log1p(self, x: Array) -> Array:
        return self.xp.log1p(x)

    def sqrt(self, x: Array) -> Array:
        return self.xp.sqrt(x)

    def square(self, x: Array) -> Array:
        return self.xp.square(x)

    def abs(self, x: Array) -> Array:
        return self.xp.abs(x)

    def sign(self, x: Array) -> Array:
        return self.xp.sign(x)

    def sin(self, x: Array) -> Array:
        return self.xp.sin(x)

    def cos(self, x: Array) -> Array:
        return self.xp.cos(x)

    def where(self, cond: Array, a: Array, b: Array) -> Array:
        return self.xp.where(cond, a, b)

    def clip(self, x: Array, lo: float, hi: float) -> Array:
        return self.xp.clip(x, lo, hi)

    def compare(self, op: str, a: Array, b: Array) -> Array:
        """Elementwise comparison `op` in {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}."""
        return getattr(self.xp, op)(a, b)

    def logical(self, op: str, a: Array, b: Array | None = None) -> Array:
        fn = getattr(self.xp, "logical_" + op)
        return fn(a) if b is None else fn(a, b)

    def isnan(self, x: Array) -> Array:
        return self.xp.isnan(x)

    def isfinite(self, x: Array) -> Array:
        return self.xp.isfinite(x)

    # ------------------------------------------------------------------ reductions
    def sum(self, x: Array, axis: Any = None, keepdims: bool = False) -> Array:
        return self.xp.sum(x, axis=axis, keepdims=keepdims)

    def mean(self, x: Array, axis: Any = None, keepdims: bool = False) -> Array:
        return self.xp.mean(x, axis=axis, keepdims=keepdims)

    def max(self, x: Array, axis: Any = None, keepdims: bool = False) -> Array:
        return self.xp.max(x, axis=axis, keepdims=keepdims)

    def min(self, x: Array, axis: Any = None, keepdims: bool = False) -> Array:
        return self.xp.min(x, axis=axis, keepdims=keepdims)

    def prod(self, x: Array, axis: Any = None, keepdims: bool = False) -> Array:
        return self.xp.prod(x, axis=axis, keepdims=keepdims)

    def argmax(self, x: Array, axis: int = -1) -> Array:
        return self.xp.argmax(x, axis=axis)

    def argmin(self, x: Array, axis: int = -1) -> Array:
        return self.xp.argmin(x, axis=axis)

    def any(self, x: Array) -> bool:
        return bool(self.xp.any(x))

    def sum_to_shape(self, g: Array, shape: Shape) -> Array:
        """Backward of broadcasting: sum `g` over the axes broadcast from `shape`."""
        if g.shape == tuple(shape):
            return g
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
        )
        out = self.xp.sum(g, axis=axes, keepdims=True) if axes else g
        if lead:
            out = out.reshape(out.shape[lead:])
        return out.reshape(shape)

    def reduce_backward(self, dy: Array, x_shape: Shape, axis: Any, keepdims: bool) -> Array:
        """Broadcast the gradient of a sum back over the reduced axes."""
        if axis is not None and not keepdims:
            dy = self.xp.expand_dims(dy, normalize_axes(axis, len(x_shape)))
        return self.xp.broadcast_to(dy, x_shape)

    def extremum_backward(self, dy: Array, x: Array, y: Array, axis: Any, keepdims: bool) -> Array:
        """Gradient of max/min: split evenly among the elements that attain it."""
        if axis is not None and not keepdims:
            axes = normalize_axes(axis, x.ndim)
            y = self.xp.expand_dims(y, axes)
            dy = self.xp.expand_dims(dy, axes)
        hit = (x == y).astype(x.dtype)
        count = self.xp.sum(hit, axis=axis, keepdims=True)
        return hit * (dy / count)

    # ------------------------------------------------------------------ shapes
    def reshape(self, x: Array, shape: Shape) -> Array:
        return x.reshape(shape)

    def transpose(self, x: Array, axes: Sequence[int] | None = None) -> Array:
        return self.xp.transpose(x, axes)

    def broadcast_to(self, x: Array, shape: Shape) -> Array:
        return self.xp.broadcast_to(x, shape)

    def expand_dims(self, x: Array, axis: int | tuple[int, ...]) -> Array:
        return self.xp.expand_dims(x, axis)

    def squeeze(self, x: Array, axis: Any = None) -> Array:
        return self.xp.squeeze(x, axis=axis)

    def concatenate(self, xs: Sequence[Array], axis: int = 0) -> Array:
        return self.xp.concatenate(xs, axis=axis)

    def stack(self, xs: Sequence[Array], axis: int = 0) -> Array:
        return self.xp.stack(xs, axis=axis)

    def split_sizes(self, g: Array, sizes: Sequence[int], axis: int) -> list[Array]:
        """Backward of concatenate: cut `g` back into pieces of the given sizes along `axis`."""
        bounds = np.cumsum(sizes)[:-1].tolist()
        return self.xp.split(g, bounds, axis=axis)

    def take(self, x: Array, indices: Array, axis: int | None = None) -> Array:
        return self.xp.take(x, indices, axis=axis)

    def take_backward(self, dy: Array, x_shape: Shape, indices: Array, axis: int | None) -> Array:
        """Scatter-add `dy` into zeros of `x_shape` at `indices` (repeated indices add up)."""
        out = self.xp.zeros(x_shape if axis is not None else (int(np.prod(x_shape)),), dtype=dy.dtype)
        idx = self.xp.asarray(indices).astype("int64")  # also a Python-int index
        if axis is None:
            self.scatter_add(out, idx.ravel(), dy.reshape(-1))
            return out.reshape(x_shape)
        axis = axis % len(x_shape)
        moved = self.xp.moveaxis(out, axis, 0)
        dy_moved = dy.reshape(dy.shape[:axis] + (idx.size,) + dy.shape[axis + idx.ndim:])
        dy_moved = self.xp.moveaxis(dy_moved, axis, 0)
        self.scatter_add(moved, idx.ravel(), dy_moved)
        return out

    def scatter_add(self, out: Array, idx: Any, values: Array) -> None:
        """out[idx] += values in place, repeated indices adding up (take's and getitem's backward)."""
        self.xp.add.at(out, idx, values)

    def getitem(self, x: Array, key: Any) -> Array:
        return x[key]

    def getitem_backward(self, dy: Array, x_shape: Shape, key: Any) -> Array:
        out = self.xp.zeros(x_shape, dtype=dy.dtype)
        self.scatter_add(out, key, dy)
        return out

    def one_hot(self, labels: Array, num_classes: int, dtype: Any = "float32") -> Array:
        labels = labels.astype("int64")
        out = self.xp.zeros(labels.shape + (num_classes,), dtype=dtype)
        valid = (labels >= 0) & (labels < num_classes)
        self.xp.put_along_axis(out, self.xp.where(valid, labels, 0)[..., None],
                               valid[..., None].astype(dtype), axis=-1)
        return out

    # ------------------------------------------------------------------ linear algebra
    def matmul(self, a: Array, b: Array) -> Array:
        return self.xp.matmul(a, b)

    def matmul_backward(self, dy: Array, a: Array, b: Array) -> tuple[Array, Array]:
        """Gradients of a @ b for 1-D/2-D/batched operands (batch axes broadcast)."""
        xp = self.xp
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        dy2 = xp.asarray(dy)
        # b's axis first: for 1-D @ 1-D, dy is 0-d and must become (1, 1).
        if b.ndim == 1:
            dy2 = xp.expand_dims(dy2, -1)
        if a.ndim == 1:
            dy2 = xp.expand_dims(dy2, -2)
        da = xp.matmul(dy2, xp.swapaxes(b2, -1, -2))
        if b2.ndim == 2 and a2.ndim > 2:
            # (..., k) @ (k, n): b's gradient is one GEMM over all leading rows, not one per batch then a sum.
            k, n = b2.shape
            db = xp.matmul(a2.reshape(-1, k).T, dy2.reshape(-1, n)).reshape(b.shape)
            return self.sum_to_shape(da, a2.shape).reshape(a.shape), db
        db = xp.matmul(xp.swapaxes(a2, -1, -2), dy2)
        da = self.sum_to_shape(da, a2.shape).reshape(a.shape)
        db = self.sum_to_shape(db, b2.shape).reshape(b.shape)
        return da, db


    # ------------------------------------------------------------------ misc
    def global_norm(self, arrays: Sequence[Array]) -> Array:
        return self.xp.sqrt(sum(self.xp.sum(a * a) for a in arrays))

    def item(self, x: Array) -> float:
        return float(x)

    def synchronize(self) -> None:
        """Wait for queued device work; nothing to wait for on the host."""

    def use_device(self, index: int) -> None:
        """Compute on this machine's device `index` (a data-parallel rank's own GPU); one CPU on the host."""

    def set_tf32(self, enabled: bool) -> bool:
        """Let float32 matmuls use TF32 tensor cores (10-bit mantissa inputs); True where that took effect.
        CPUs have no TF32: float32 stays float32."""
        return False

    def clear_caches(self) -> None:
        """Forget cached buffers and compiled kernels; nothing is cached on the host."""

    def divide_no_nan(self, a: Array, b: Array) -> Array:
        """a / b, and 0 where b == 0, without warnings (metric results over empty counts)."""
        xp = self.xp
        zero = b == 0
        return xp.where(zero, 0, a / xp.where(zero, 1, b)).astype(xp.result_type(a, b), copy=False)

    def add_inplace(self, target: Array, value: Any) -> None:
        """target += value in place (metric and gradient accumulators)."""
        target += value

    def qr(self, a: Array) -> tuple[Array, Array]:
        """Reduced QR decomposition (Orthogonal initializer)."""
        return self.xp.linalg.qr(a)

    def diagonal(self, x: Array) -> Array:
        """Main diagonal of a matrix."""
        return self.xp.diagonal(x)

    def top_k_mask(self, x: Array, k: int) -> Array:
        """Boolean mask of the k largest entries along the last axis (ties go to lower indices)."""
        xp = self.xp
        stable = {"kind": "stable"} if xp.__name__ == "numpy" else {}  # CuPy's sort is always stable
        ranks = xp.argsort(xp.argsort(-x, axis=-1, **stable), axis=-1)
        return ranks < k


    # ------------------------------------------------------------------ more of NumPy's functions (keras.ops)
    def unary(self, op: str, x: Array) -> Array:
        """Elementwise `op`, one of UNARY_FUNCTIONS (NumPy's function of that name; `erf`, `erfinv` computed here)."""
        if op not in UNARY_FUNCTIONS:
            raise ValueError(f"unary: unknown function {op!r}")
        if op == "erf":
            return self._erf(x)
        if op == "erfinv":
            return self._erfinv(x)
        return getattr(self.xp, op)(x)

    def _erfinv(self, x: Array) -> Array:
        """Inverse error function: Giles' single-precision approximation, then two Newton steps on erf."""
        xp = self.xp
        w = -xp.log((1.0 - x) * (1.0 + x))
        small = w < 5.0
        ws = xp.where(small, w - 2.5, xp.sqrt(xp.where(small, 5.0, w)) - 3.0)
        p = xp.where(small, 2.81022636e-08, -0.000200214257)
        for a, b in ((3.43273939e-07, 0.000100950558), (-3.5233877e-06, 0.00134934322),
                     (-4.39150654e-06, -0.00367342844), (0.00021858087, 0.00573950773),
                     (-0.00125372503, -0.0076224613), (-0.00417768164, 0.00943887047),
                     (0.246640727, 1.00167406), (1.50140941, 2.83297682)):
            p = xp.where(small, a, b) + p * ws
        y = p * x
        for _ in range(2):
            err = self._erf(y) - x
            y = y - err / (2.0 / np.sqrt(np.pi) * xp.exp(-y * y))
        return xp.where(xp.abs(x) == 1, x * np.inf, y).astype(x.dtype, copy=False)

    def binary(self, op: str, a: Array, b: Array) -> Array:
        """Elementwise `op(a, b)`, one of BINARY_FUNCTIONS (NumPy's function of that name)."""
        if op not in BINARY_FUNCTIONS:
            raise ValueError(f"binary: unknown function {op!r}")
        return getattr(self.xp, op)(a, b)

    def cumulative(self, op: str, x: Array, axis: int | None = None) -> Array:
        """Running `op` ("sum" or "prod") along `axis` (the flattened array when None)."""
        if op not in ("sum", "prod"):
            raise ValueError(f"cumulative: unknown reduction {op!r}")
        return getattr(self.xp, "cum" + op)(x, axis=axis)

    def argsort(self, x: Array, axis: int = -1) -> Array:
        """Indices that sort `x` along `axis`, ties in index order (a stable sort; CuPy's sorts are all stable
        and accept kind="stable")."""
        return self.xp.argsort(x, axis=axis, kind="stable")

    def take_along_axis(self, x: Array, indices: Array, axis: int) -> Array:
        return self.xp.take_along_axis(x, indices, axis=axis)

    def take_along_axis_backward(self, dy: Array, x_shape: Shape, indices: Array, axis: int) -> Array:
        """Scatter-add `dy` into zeros of `x_shape` where take_along_axis read (repeated indices add up)."""
        xp = self.xp
        axis = axis % len(x_shape)
        shape = tuple(np.broadcast_shapes(tuple(dy.shape), tuple(indices.shape)))
        grids = list(xp.meshgrid(*[xp.arange(n) for n in shape], indexing="ij", sparse=True))
        grids[axis] = xp.broadcast_to(indices.astype("int64") % x_shape[axis], shape)
        out = xp.zeros(x_shape, dtype=dy.dtype)
        self.scatter_add(out, tuple(xp.broadcast_to(g, shape) for g in grids), xp.broadcast_to(dy, shape))
        return out

    def searchsorted(self, sorted_sequence: Array, values: Array, side: str = "left") -> Array:
        """Insertion points of `values` into the 1-D ascending `sorted_sequence`."""
        return self.xp.searchsorted(sorted_sequence, values, side=side)

    def nonzero(self, x: Array) -> tuple[Array, ...]:
        """Indices of the non-zero entries, one array per axis (the number of entries is data-dependent)."""
        return tuple(self.xp.nonzero(x))

    def fft(self, op: str, x: Array, n: int | None = None) -> Array:
        """Discrete Fourier transform `op` ("fft", "fft2", "ifft2", "rfft", "irfft") over the last axis (the
        last two for fft2/ifft2); `n`: rfft's input or irfft's output length."""
        if op not in ("fft", "fft2", "ifft2", "rfft", "irfft"):
            raise ValueError(f"fft: unknown transform {op!r}")
        fn = getattr(self.xp.fft, op)
        return fn(x) if op in ("fft", "fft2", "ifft2") else fn(x, n=n)

    def setitem(self, x: Array, key: Any, values: Any) -> Array:
        """A copy of `x` with `x[key] = values` (a repeated index keeps one of its values)."""
        out = x.copy()
        out[key] = values
        return out

    def linalg(self, op: str, *arrays: Array, **options: Any) -> Any:
        """`op` of LINALG_FUNCTIONS over the trailing two axes (NumPy's linalg function of that name)."""
        if op not in LINALG_FUNCTIONS:
            raise ValueError(f"linalg: unknown function {op!r}")
        return getattr(self.xp.linalg, op)(*arrays, **options)

    # ------------------------------------------------------------------ spatial padding (conv, pooling)
    # ------------------------------------------------------------------ helpers
    def pad_spatial(self, x: Array, pads: Pads, value: float = 0.0) -> Array:
        """x with each spatial axis padded by `pads` (no copy when there is no padding)."""
        if not any(lo or hi for lo, hi in pads):
            return x
        shape = (x.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], pads)) + (x.shape[-1],)
        out = self.xp.full(shape, value, dtype=x.dtype) if value else self.xp.zeros(shape, dtype=x.dtype)
        out[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[1:-1], pads))] = x
        return out

    def crop_spatial(self, x: Array, pads: Pads) -> Array:
        """Inverse of `pad_spatial`: a view without the padding."""
        if not any(lo or hi for lo, hi in pads):
            return x
        return x[(slice(None),) + tuple(slice(lo, n - hi) for n, (lo, hi) in zip(x.shape[1:-1], pads))]


UNARY_FUNCTIONS = frozenset({
    "floor", "ceil", "trunc", "rint", "tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh",
    "arctanh", "expm1", "log2", "log10", "exp2", "reciprocal", "isinf", "erf", "erfinv", "signbit", "cbrt", "sinc",
    "i0", "invert", "real", "imag", "conj", "angle", "isreal"})
BINARY_FUNCTIONS = frozenset({"arctan2", "floor_divide", "remainder", "fmod", "hypot", "logaddexp", "gcd", "lcm",
                              "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift", "nextafter"})
LINALG_FUNCTIONS = frozenset({"inv", "det", "solve", "cholesky", "qr", "svd", "eigh", "slogdet", "pinv"})


_DRAW_CHUNK = 1 << 20


def _drawn_in_chunks(draw: Any, shape: Shape, dtype: Any) -> np.ndarray:
    """draw(n) (float64 host values) for the whole shape, cast to `dtype` a million at a time: the values
    of one big draw (a generator's stream does not depend on how it is cut) without its float64
    temporary, which for VGG16's first Dense kernel was 800 MB and most of the time spent on it."""
    size = int(np.prod(shape, dtype=np.int64))
    if size <= _DRAW_CHUNK:
        return draw(size).astype(dtype).reshape(shape)
    out = np.empty(size, dtype=dtype)
    for start in range(0, size, _DRAW_CHUNK):
        stop = min(start + _DRAW_CHUNK, size)
        out[start:stop] = draw(stop - start)
    return out.reshape(shape)


def required_primitives() -> tuple[str, ...]:
    """Names of the public methods every backend must provide (those of `Primitives`)."""
    return tuple(sorted(n for n in dir(Primitives) if not n.startswith("_") and callable(getattr(Primitives, n))))


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Axis or axes as a sorted tuple of non-negative ints."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


