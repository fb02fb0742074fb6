"""The backend interface: every primitive op gpukeras computes with, each with its backward.

`Ops` is written once against an array module `xp` (NumPy or CuPy, which share an API);
a backend subclass picks `xp` and overrides the ops it can do better (in-place NumPy
ufuncs, our CUDA kernels). Layers, models, losses and optimizers call only these methods.
Backward rules take the upstream gradient `dy` plus what the forward kept and return the
input gradients.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras.backend.convolution import ConvolutionOps

Array = Any  # an ndarray of the backend's array module
Shape = tuple[int, ...]

# Activations the backend computes in one primitive (forward and backward).
# Parameters (negative_slope, alpha, ...) travel in a tuple so results can be cached by key.
ACTIVATIONS = (
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu",
    "sigmoid", "hard_sigmoid", "hard_silu", "tanh", "softplus", "softsign", "exponential",
    "mish", "softmax", "log_softmax",
)

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_np_erf = np.frompyfunc(math.erf, 1, 1)


class Ops(ConvolutionOps):
    """Primitive tensor ops over one array module; subclasses set `name` and `xp`."""

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
        return self.asarray(rng.normal(mean, stddev, size=shape).astype(dtype))

    def random_uniform(self, shape: Shape, minval: float, maxval: float, rng: np.random.Generator,
                       dtype: Any = "float32") -> Array:
        return self.asarray(rng.uniform(minval, maxval, size=shape).astype(dtype))

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
            self._add_at(out, idx.ravel(), dy.reshape(-1))
            return out.reshape(x_shape)
        axis = axis % len(x_shape)
        moved = self.xp.moveaxis(out, axis, 0)
        dy_moved = dy.reshape(dy.shape[:axis] + (idx.size,) + dy.shape[axis + idx.ndim:])
        dy_moved = self.xp.moveaxis(dy_moved, axis, 0)
        self._add_at(moved, idx.ravel(), dy_moved)
        return out

    def _add_at(self, out: Array, idx: Array, values: Array) -> None:
        self.xp.add.at(out, idx, values)

    def getitem(self, x: Array, key: Any) -> Array:
        return x[key]

    def getitem_backward(self, dy: Array, x_shape: Shape, key: Any) -> Array:
        out = self.xp.zeros(x_shape, dtype=dy.dtype)
        self._add_at(out, key, dy)
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
        db = xp.matmul(xp.swapaxes(a2, -1, -2), dy2)
        da = self.sum_to_shape(da, a2.shape).reshape(a.shape)
        db = self.sum_to_shape(db, b2.shape).reshape(b.shape)
        return da, db

    # ------------------------------------------------------------------ activations
    def activation(self, name: str, x: Array, params: tuple = ()) -> Array:
        """Forward of the activation `name` (one of ACTIVATIONS)."""
        return getattr(self, "_act_" + name)(x, *params)

    def activation_backward(self, name: str, dy: Array, x: Array, y: Array, params: tuple = ()) -> Array:
        """dL/dx of the activation `name` given dL/dy, its input x and output y."""
        return getattr(self, "_dact_" + name)(dy, x, y, *params)

    def _act_linear(self, x):
        return x

    def _dact_linear(self, dy, x, y):
        return dy

    def _act_relu(self, x, negative_slope=0.0, max_value=None, threshold=0.0):
        xp = self.xp
        if negative_slope == 0.0 and max_value is None and threshold == 0.0:
            return xp.maximum(x, 0).astype(x.dtype, copy=False)
        y = xp.where(x < threshold, negative_slope * (x - threshold) if negative_slope else 0, x)  # NaN stays
        if max_value is not None:
            y = xp.minimum(y, max_value)
        return y.astype(x.dtype, copy=False)

    def _dact_relu(self, dy, x, y, negative_slope=0.0, max_value=None, threshold=0.0):
        xp = self.xp
        if negative_slope == 0.0 and max_value is None and threshold == 0.0:
            return dy * (x > 0)
        slope = xp.where(x > threshold, 1.0, negative_slope)
        if max_value is not None:
            slope = xp.where(x >= max_value, 0.0, slope)
        return (dy * slope).astype(dy.dtype, copy=False)

    def _act_relu6(self, x):
        return self.xp.clip(x, 0, 6).astype(x.dtype, copy=False)

    def _dact_relu6(self, dy, x, y):
        return dy * ((x > 0) & (x < 6))

    def _act_leaky_relu(self, x, negative_slope=0.2):
        return self.xp.where(x >= 0, x, x * negative_slope).astype(x.dtype, copy=False)

    def _dact_leaky_relu(self, dy, x, y, negative_slope=0.2):
        return self.xp.where(x > 0, dy, dy * negative_slope).astype(dy.dtype, copy=False)

    def _act_elu(self, x, alpha=1.0):
        xp = self.xp
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    def _dact_elu(self, dy, x, y, alpha=1.0):
        xp = self.xp
        return xp.where(x > 0, dy, dy * alpha * xp.exp(xp.minimum(x, 0))).astype(dy.dtype, copy=False)

    def _act_selu(self, x):
        xp = self.xp
        y = xp.where(x > 0, x, _SELU_ALPHA * xp.expm1(xp.minimum(x, 0)))
        return (_SELU_SCALE * y).astype(x.dtype, copy=False)

    def _dact_selu(self, dy, x, y):
        xp = self.xp
        d = xp.where(x > 0, _SELU_SCALE, _SELU_SCALE * _SELU_ALPHA * xp.exp(xp.minimum(x, 0)))
        return (dy * d).astype(dy.dtype, copy=False)

    def _act_gelu(self, x):
        return (0.5 * x * (1.0 + self._erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)

    def _dact_gelu(self, dy, x, y):
        xp = self.xp
        cdf = 0.5 * (1.0 + self._erf(x / math.sqrt(2.0)))
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return (dy * (cdf + x * pdf)).astype(dy.dtype, copy=False)

    def _act_gelu_tanh(self, x):
        xp = self.xp
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
        return (0.5 * x * (1.0 + xp.tanh(inner))).astype(x.dtype, copy=False)

    def _dact_gelu_tanh(self, dy, x, y):
        xp = self.xp
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
        t = xp.tanh(inner)
        d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
        return (dy * d).astype(dy.dtype, copy=False)

    def _erf(self, x):
        """Error function: CuPy has `special.erf`; NumPy has none, so fall back to math.erf."""
        xp = self.xp
        if hasattr(xp, "special"):
            return xp.special.erf(x)
        return _np_erf(x).astype(x.dtype)

    def _act_silu(self, x):
        return (x * self._sigmoid(x)).astype(x.dtype, copy=False)

    def _dact_silu(self, dy, x, y):
        s = self._sigmoid(x)
        return (dy * (s * (1.0 + x * (1.0 - s)))).astype(dy.dtype, copy=False)

    def _sigmoid(self, x):
        xp = self.xp
        # exp of a non-positive number only: no overflow for large |x|.
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)

    def _act_sigmoid(self, x):
        return self._sigmoid(x)

    def _dact_sigmoid(self, dy, x, y):
        return dy * (y * (1.0 - y))

    def _act_hard_sigmoid(self, x):
        return self.xp.clip(x / 6.0 + 0.5, 0.0, 1.0).astype(x.dtype, copy=False)

    def _dact_hard_sigmoid(self, dy, x, y):
        return (dy * ((x > -3.0) & (x < 3.0)) / 6.0).astype(dy.dtype, copy=False)

    def _act_hard_silu(self, x):
        return (x * self._act_hard_sigmoid(x)).astype(x.dtype, copy=False)

    def _dact_hard_silu(self, dy, x, y):
        xp = self.xp
        d = xp.where(x <= -3.0, 0.0, xp.where(x >= 3.0, 1.0, x / 3.0 + 0.5))
        return (dy * d).astype(dy.dtype, copy=False)

    def _act_tanh(self, x):
        return self.xp.tanh(x)

    def _dact_tanh(self, dy, x, y):
        return dy * (1.0 - y * y)

    def _act_softplus(self, x):
        xp = self.xp
        return (xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))).astype(x.dtype, copy=False)

    def _dact_softplus(self, dy, x, y):
        return dy * self._sigmoid(x)

    def _act_softsign(self, x):
        return x / (1.0 + self.xp.abs(x))

    def _dact_softsign(self, dy, x, y):
        d = 1.0 + self.xp.abs(x)
        return dy / (d * d)

    def _act_exponential(self, x):
        return self.xp.exp(x)

    def _dact_exponential(self, dy, x, y):
        return dy * y

    def _act_mish(self, x):
        return (x * self.xp.tanh(self._act_softplus(x))).astype(x.dtype, copy=False)

    def _dact_mish(self, dy, x, y):
        t = self.xp.tanh(self._act_softplus(x))
        return (dy * (t + x * (1.0 - t * t) * self._sigmoid(x))).astype(dy.dtype, copy=False)

    def _act_softmax(self, x, axis=-1):
        xp = self.xp
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return e / xp.sum(e, axis=axis, keepdims=True)

    def _dact_softmax(self, dy, x, y, axis=-1):
        return y * (dy - self.xp.sum(dy * y, axis=axis, keepdims=True))

    def _act_log_softmax(self, x, axis=-1):
        xp = self.xp
        shifted = x - xp.max(x, axis=axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def _dact_log_softmax(self, dy, x, y, axis=-1):
        return dy - self.xp.exp(y) * self.xp.sum(dy, axis=axis, keepdims=True)

    # ------------------------------------------------------------------ fused Dense
    def bias_activation(self, z: Array, bias: Array | None, activation: str,
                        params: tuple = ()) -> tuple[Array, Array]:
        """The epilogue of Dense and Conv: z += bias (in place, last axis), y = activation(z); (y, z).

        Backends fuse it into one pass over z (C on the host, CUDA on the GPU).
        """
        if bias is not None:
            z += bias
        if activation == "linear":
            return z, z
        return self.activation(activation, z, params), z

    def bias_activation_backward(self, dy: Array, z: Array, y: Array, activation: str, params: tuple = (),
                                 has_bias: bool = True) -> tuple[Array, Array | None]:
        """(dz, dbias) of `bias_activation`: the activation gradient and its sum over all but the last axis."""
        dz = dy if activation == "linear" else self.activation_backward(activation, dy, z, y, params)
        dbias = self.xp.sum(dz.reshape(-1, dz.shape[-1]), axis=0) if has_bias else None
        return dz, dbias

    def dense(self, x: Array, kernel: Array, bias: Array | None, activation: str,
              params: tuple = ()) -> tuple[Array, Array]:
        """y = activation(x @ kernel + bias); returns (y, z) where z is the pre-activation."""
        return self.bias_activation(self.xp.matmul(x, kernel), bias, activation, params)

    def dense_backward(self, dy: Array, x: Array, kernel: Array, z: Array, y: Array,
                       activation: str, params: tuple = (), has_bias: bool = True,
                       need_dx: bool = True) -> tuple[Array | None, Array, Array | None]:
        """(dx, dkernel, dbias) of `dense` from the upstream gradient dy."""
        dz, dbias = self.bias_activation_backward(dy, z, y, activation, params, has_bias)
        x2 = x.reshape(-1, x.shape[-1])
        dkernel = self.xp.matmul(x2.T, dz.reshape(-1, dz.shape[-1]))
        dx = self.xp.matmul(dz, kernel.T) if need_dx else None
        return dx, dkernel, dbias

    # ------------------------------------------------------------------ fused losses
    def sparse_softmax_cross_entropy(self, logits: Array, labels: Array) -> tuple[Array, Array]:
        """Per-sample -log softmax(logits)[label]; returns (loss, softmax) for the backward."""
        xp = self.xp
        shifted = logits - xp.max(logits, axis=-1, keepdims=True)
        e = xp.exp(shifted)
        total = xp.sum(e, axis=-1, keepdims=True)
        probs = e / total
        picked = shifted.reshape(-1)[self._flat_label_index(labels, logits.shape[-1])].reshape(labels.shape)
        return xp.log(total[..., 0]) - picked, probs

    def sparse_softmax_cross_entropy_backward(self, dloss: Array, probs: Array, labels: Array) -> Array:
        """(softmax - onehot) * dloss, in one pass over the probabilities."""
        grad = probs * dloss[..., None]
        flat = grad.reshape(-1)
        flat[self._flat_label_index(labels, probs.shape[-1])] -= dloss.reshape(-1)
        return grad

    def _flat_label_index(self, labels: Array, num_classes: int) -> Array:
        """Positions of each row's label in the flattened (rows, classes) array."""
        rows = labels.size
        return self.xp.arange(0, rows * num_classes, num_classes) + labels.reshape(-1).astype("int64")

    # ------------------------------------------------------------------ optimizer updates
    def sgd_update(self, params: Sequence[Array], grads: Sequence[Array], moments: Sequence[Array] | None,
                   lr: float, momentum: float, nesterov: bool) -> None:
        """Keras SGD in place: m = momentum*m - lr*g; w += m (or momentum*m - lr*g if nesterov)."""
        for i, (w, g) in enumerate(zip(params, grads)):
            if not momentum:
                w -= lr * g
                continue
            m = moments[i]
            m *= momentum
            m -= lr * g
            if nesterov:
                w += momentum * m - lr * g
            else:
                w += m

    def adam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                    vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                    step: int, vhats: Sequence[Array] | None = None) -> None:
        """Keras Adam in place: bias correction folded into the step size alpha."""
        alphas: dict[Any, Any] = {}
        for i, (w, g) in enumerate(zip(params, grads)):
            alpha = alphas.get(w.dtype)
            if alpha is None:
                alpha = alphas[w.dtype] = adam_step_size(lr, beta_1, beta_2, step, w.dtype)
            m, v = ms[i], vs[i]
            m += (g - m) * (1.0 - beta_1)
            v += (g * g - v) * (1.0 - beta_2)
            denom_v = v
            if vhats is not None:
                self.xp.maximum(vhats[i], v, out=vhats[i])
                denom_v = vhats[i]
            w -= (m * alpha) / (self.xp.sqrt(denom_v) + epsilon)

    # ------------------------------------------------------------------ misc
    def global_norm(self, arrays: Sequence[Array]) -> Array:
        return self.xp.sqrt(sum(self.xp.sum(a * a) for a in arrays))

    def item(self, x: Array) -> float:
        return float(x)

    def synchronize(self) -> None:
        """Wait for queued device work; nothing to wait for on the host."""

    def clear_caches(self) -> None:
        """Forget cached buffers and compiled kernels; nothing is cached on the host."""

    # ------------------------------------------------------------------ metrics, initializers
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

    # ------------------------------------------------------------------ more optimizer updates
    # Each applies Keras 3's update rule to every weight in place, in one call per step; the
    # arithmetic follows Keras's operation order so float32 results round the same way.
    def rmsprop_update(self, params: Sequence[Array], grads: Sequence[Array], velocities: Sequence[Array],
                       momentums: Sequence[Array] | None, average_grads: Sequence[Array] | None, lr: float,
                       rho: float, momentum: float, epsilon: float) -> None:
        """v = rho v + (1-rho) g^2; step = lr g / sqrt(v [- avg_g^2] + eps); optional momentum on the step."""
        xp = self.xp
        for i, (w, g) in enumerate(zip(params, grads)):
            v = velocities[i]
            v[...] = rho * v + (1 - rho) * xp.square(g)
            if average_grads is not None:
                a = average_grads[i]
                a[...] = rho * a + (1 - rho) * g
                denominator = v - xp.square(a) + epsilon
            else:
                denominator = v + epsilon
            increment = (lr * g) / xp.sqrt(denominator)
            if momentums is not None:
                m = momentums[i]
                m[...] = momentum * m + increment
                w -= m
            else:
                w -= increment

    def adagrad_update(self, params: Sequence[Array], grads: Sequence[Array], accumulators: Sequence[Array],
                       lr: float, epsilon: float) -> None:
        """acc += g^2; w -= lr g / sqrt(acc + eps)."""
        xp = self.xp
        for w, g, acc in zip(params, grads, accumulators):
            acc += xp.square(g)
            w -= (lr * g) / xp.sqrt(acc + epsilon)

    def adadelta_update(self, params: Sequence[Array], grads: Sequence[Array],
                        accumulated_grads: Sequence[Array], accumulated_deltas: Sequence[Array], lr: float,
                        rho: float, epsilon: float) -> None:
        """Adadelta: delta = -sqrt(acc_delta + eps) g / sqrt(acc_g + eps); w += lr delta."""
        xp = self.xp
        for w, g, acc_g, acc_d in zip(params, grads, accumulated_grads, accumulated_deltas):
            acc_g[...] = rho * acc_g + (1 - rho) * xp.square(g)
            delta = -((xp.sqrt(acc_d + epsilon) * g) / xp.sqrt(acc_g + epsilon))
            acc_d[...] = rho * acc_d + (1 - rho) * xp.square(delta)
            w += lr * delta

    def adamax_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                      us: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                      step: int) -> None:
        """m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps))."""
        xp = self.xp
        for w, g, m, u in zip(params, grads, ms, us):
            correction = 1 - xp.power(xp.asarray(beta_1, dtype=w.dtype), xp.asarray(step, dtype=w.dtype))
            m += (g - m) * (1 - beta_1)
            xp.maximum(beta_2 * u, xp.abs(g), out=u)
            w -= (lr * m) / (correction * (u + epsilon))

    def nadam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                     vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                     u_t: float, u_t_1: float, u_product_t: float, beta_2_power: float) -> None:
        """Nadam with the momentum-schedule scalars (u_t, u_{t+1}, their running product) from the caller."""
        xp = self.xp
        u_product_t_1 = u_product_t * u_t_1
        for w, g, m, v in zip(params, grads, ms, vs):
            m += (g - m) * (1 - beta_1)
            v += (xp.square(g) - v) * (1 - beta_2)
            m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g) / (1 - u_product_t)
            v_hat = v / (1 - beta_2_power)
            w -= (m_hat * lr) / (xp.sqrt(v_hat) + epsilon)

    def lion_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array], lr: float,
                    beta_1: float, beta_2: float) -> None:
        """w -= lr sign(b1 m + (1-b1) g); m = b2 m + (1-b2) g."""
        xp = self.xp
        for w, g, m in zip(params, grads, ms):
            w -= lr * xp.sign(m * beta_1 + g * (1.0 - beta_1))
            m[...] = m * beta_2 + g * (1.0 - beta_2)

    def ftrl_update(self, params: Sequence[Array], grads: Sequence[Array], accumulators: Sequence[Array],
                    linears: Sequence[Array], lr: float, lr_power: float, l1: float, l2: float,
                    l2_shrinkage: float, beta: float) -> None:
        """Follow-the-regularized-leader (Keras 3's Ftrl)."""
        xp = self.xp
        l2_total = l2 + beta / (2.0 * lr)
        for w, g, accum, linear in zip(params, grads, accumulators, linears):
            grad_to_use = g + 2 * l2_shrinkage * w
            new_accum = accum + xp.square(g)
            linear += grad_to_use - ((xp.power(new_accum, -lr_power) - xp.power(accum, -lr_power)) / lr) * w
            quadratic = xp.power(new_accum, -lr_power) / lr + 2 * l2_total
            w[...] = (xp.clip(linear, -l1, l1) - linear) / quadratic
            accum[...] = new_accum


def adam_step_size(lr: float, beta_1: float, beta_2: float, step: int, dtype: Any) -> Any:
    """alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), rounded in `dtype` op by op as Keras 3 does."""
    f = np.dtype(dtype).type
    one, t = f(1), f(step)
    return f(lr) * np.sqrt(one - np.power(f(beta_2), t)) / (one - np.power(f(beta_1), t))


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Axis or axes as a sorted tuple of non-negative ints."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))

