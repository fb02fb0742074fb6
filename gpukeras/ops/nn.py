"""Differentiable neural-network ops: activations, fused Dense, fused losses, dropout."""

from __future__ import annotations

from typing import Any

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops.core import data_of, promote_to
from gpukeras.tensor import Tensor


def activation(name: str, x: Any, params: tuple = ()) -> Tensor:
    """Apply the backend activation primitive `name` with its fused backward."""
    B = _backend.active
    a = data_of(x)
    out = B.activation(name, a, params)
    return attach(out, (x,), lambda g: (B.activation_backward(name, g, a, out, params),))


def relu(x: Any) -> Tensor:
    return activation("relu", x)


def relu6(x: Any) -> Tensor:
    return activation("relu6", x)


def sigmoid(x: Any) -> Tensor:
    return activation("sigmoid", x)


def tanh(x: Any) -> Tensor:
    return activation("tanh", x)


def softplus(x: Any) -> Tensor:
    return activation("softplus", x)


def softsign(x: Any) -> Tensor:
    return activation("softsign", x)


def silu(x: Any) -> Tensor:
    return activation("silu", x)


swish = silu


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return activation("elu", x, (alpha,))


def selu(x: Any) -> Tensor:
    return activation("selu", x)


def gelu(x: Any, approximate: bool = True) -> Tensor:
    """GELU; keras.ops.gelu defaults to the tanh approximation (the activation does not)."""
    return activation("gelu_tanh" if approximate else "gelu", x)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    return activation("leaky_relu", x, (negative_slope,))


def hard_sigmoid(x: Any) -> Tensor:
    return activation("hard_sigmoid", x)


def hard_silu(x: Any) -> Tensor:
    return activation("hard_silu", x)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return activation("softmax", x, (axis,))


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return activation("log_softmax", x, (axis,))


def dense(x: Any, kernel: Any, bias: Any = None, activation: str = "linear", params: tuple = ()) -> Tensor:
    """activation(x @ kernel + bias) as one fused primitive with one fused backward."""
    B = _backend.active
    w = data_of(kernel)
    a = promote_to(data_of(x), w.dtype)
    b = None if bias is None else data_of(bias)
    y, z = B.dense(a, w, b, activation, params)
    need_dx = isinstance(x, Tensor) and x.needs_grad

    def backward(g):
        dx, dw, db = B.dense_backward(g, a, w, z, y, activation, params, b is not None, need_dx)
        return (dx, dw) if b is None else (dx, dw, db)

    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return attach(y, inputs, backward)


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = "float32") -> Tensor:
    out = _backend.active.one_hot(data_of(x), num_classes, dtype=dtype)
    if axis != -1:
        out = _backend.active.xp.moveaxis(out, -1, axis)
    return Tensor(out)


def sparse_softmax_cross_entropy(labels: Any, logits: Any) -> Tensor:
    """Per-sample -log softmax(logits)[label], fused forward and fused backward."""
    B = _backend.active
    z = data_of(logits)
    idx = data_of(labels)
    loss, probs = B.sparse_softmax_cross_entropy(z, idx)
    return attach(loss, (labels, logits),
                  lambda g: (None, B.sparse_softmax_cross_entropy_backward(g, probs, idx)))


def sparse_crossentropy_from_probs(labels: Any, probs: Any, epsilon: float) -> Tensor:
    """Per-sample -log(clip(p / sum(p), eps, 1 - eps))[label], one fused call forward and one backward."""
    B = _backend.active
    loss, residuals = B.sparse_crossentropy_from_probs(data_of(probs), data_of(labels), epsilon)
    return attach(loss, (labels, probs), lambda g: (None, B.sparse_crossentropy_from_probs_backward(g, residuals)))


def dropout(x: Any, rate: float, rng: Any) -> Tensor:
    """Inverted dropout: zero a `rate` fraction and scale the rest by 1/(1-rate)."""
    B = _backend.active
    a = data_of(x)
    mask = B.dropout_mask(a.shape, rate, rng, dtype=a.dtype)
    return attach(B.multiply(a, mask), (x,), lambda g: (B.multiply(g, mask),))
