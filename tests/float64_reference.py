"""Float64 reference math written independently of gpukeras (activations and their derivatives).

Shared by the kernel-twin tests and the backend conformance test: never the backend's own code.
"""

from __future__ import annotations

import math

import numpy as np

SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805
C = math.sqrt(2.0 / math.pi)
ERF = np.vectorize(math.erf)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """float64 logistic sigmoid."""
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x: np.ndarray) -> np.ndarray:
    """float64 log(1 + e^x), without overflow."""
    return np.logaddexp(0.0, x)


def ref_act(name: str, x: np.ndarray, params: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
    """float64 (y, dy/dx) written independently of the backend."""
    x = x.astype(np.float64)
    if name == "relu":
        ns, mv, th = (list(params) + [0.0, None, 0.0][len(params):])
        y = np.where(x >= th, x, ns * (x - th))
        d = np.where(x > th, 1.0, ns)
        if mv is not None:
            y = np.minimum(y, mv)
            d = np.where(x >= mv, 0.0, d)
        return y, d
    if name == "relu6":
        return np.clip(x, 0, 6), ((x > 0) & (x < 6)).astype(float)
    if name == "leaky_relu":
        a = params[0] if params else 0.2
        return np.where(x >= 0, x, a * x), np.where(x > 0, 1.0, a)
    if name in ("elu", "selu"):
        a = (params[0] if params else 1.0) if name == "elu" else SELU_A
        s = 1.0 if name == "elu" else SELU_S
        return s * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))), s * np.where(x > 0, 1.0, a * np.exp(x))
    if name == "gelu":
        cdf = 0.5 * (1 + ERF(x / math.sqrt(2)).astype(float))
        return x * cdf, cdf + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    if name == "gelu_tanh":
        t = np.tanh(C * (x + 0.044715 * x ** 3))
        return 0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * 0.044715 * x * x)
    if name == "silu":
        s = sigmoid(x)
        return x * s, s * (1 + x * (1 - s))
    if name == "sigmoid":
        s = sigmoid(x)
        return s, s * (1 - s)
    if name == "hard_sigmoid":
        return np.clip(x / 6 + 0.5, 0, 1), ((x > -3) & (x < 3)) / 6.0
    if name == "hard_silu":
        return x * np.clip(x / 6 + 0.5, 0, 1), np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, x / 3 + 0.5))
    if name == "tanh":
        return np.tanh(x), 1 - np.tanh(x) ** 2
    if name == "softplus":
        return softplus(x), sigmoid(x)
    if name == "softsign":
        return x / (1 + abs(x)), 1 / (1 + abs(x)) ** 2
    if name == "exponential":
        return np.exp(x), np.exp(x)
    if name == "mish":
        t = np.tanh(softplus(x))
        return x * t, t + x * (1 - t * t) * sigmoid(x)
    raise KeyError(name)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """float64 softmax along `axis`."""
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
