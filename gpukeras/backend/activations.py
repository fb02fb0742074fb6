"""Activation functions and their gradients: part of the required primitives, over `self.xp`.

`activation(name, x, params)` dispatches to `_act_<name>`, `activation_backward` to
`_dact_<name>`; parameters (negative_slope, alpha, ...) travel in a tuple so results can be
cached by key. The CUDA kernels (kernels/act_functions.cuh) are twins of these formulas.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = Any

# Activations the backend computes in one primitive (forward and backward).
ACTIVATIONS = (
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu",
    "sigmoid", "hard_sigmoid", "hard_silu", "tanh", "softplus", "softsign", "exponential",
    "mish", "softmax", "log_softmax",
)

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_np_erf = np.frompyfunc(math.erf, 1, 1)


class ActivationRules:
    """Forward and backward of every name in ACTIVATIONS, written against `self.xp`."""

    xp: Any = None

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
        if negative_slope == 0.0 and threshold == 0.0:  # ReLU(max_value=6.0), MobileNet's: one clip
            return xp.clip(x, 0, max_value).astype(x.dtype, copy=False)
        y = xp.where(x < threshold, negative_slope * (x - threshold) if negative_slope else 0, x)  # NaN stays
        if max_value is not None:
            y = xp.minimum(y, max_value)
        return y.astype(x.dtype, copy=False)

    def _dact_relu(self, dy, x, y, negative_slope=0.0, max_value=None, threshold=0.0):
        xp = self.xp
        if negative_slope == 0.0 and max_value is None and threshold == 0.0:
            return dy * (x > 0)
        if negative_slope == 0.0 and threshold == 0.0:  # a mask, no float64 slope array
            return dy * ((x > 0) & (x < max_value))
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

