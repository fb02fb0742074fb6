"""Keras 3 activation functions, each one backend primitive (fused forward and backward) where possible.

`get` resolves names/configs/callables as keras.activations.get does; `fused_primitive` tells Dense
which backend primitive (and parameters) reproduce a built-in activation, so it can use the fused
`ops.nn.dense` kernel instead of a separate activation pass.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from gpukeras import ops
from gpukeras.ops.core import convert_to_tensor
from gpukeras.ops.nn import activation as _primitive
from gpukeras.saving.serialization import Catalogue, lookup, register_catalogue, serialize_object
from gpukeras.tensor import Tensor


def _t(x: Any) -> Any:
    """Tensors pass through; anything else becomes one (so NumPy inputs work like in Keras)."""
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


def relu(x: Any, negative_slope: float = 0.0, max_value: float | None = None,
         threshold: float = 0.0) -> Tensor:
    """Rectified linear unit with Keras's optional leak, cap and threshold."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _primitive("relu", _t(x))
    if negative_slope < 0:
        raise ValueError(f"relu: negative_slope must be >= 0, got {negative_slope}.")
    if max_value is not None and max_value < 0:
        raise ValueError(f"relu: max_value must be >= 0 or None, got {max_value}.")
    return _primitive("relu", _t(x), (float(negative_slope), max_value, float(threshold)))


def relu6(x: Any) -> Tensor:
    """min(max(x, 0), 6)."""
    return _primitive("relu6", _t(x))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    """x for x >= 0, negative_slope * x otherwise."""
    return _primitive("leaky_relu", _t(x), (float(negative_slope),))


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _primitive("elu", _t(x), (float(alpha),))


def selu(x: Any) -> Tensor:
    """Scaled ELU with the self-normalizing constants."""
    return _primitive("selu", _t(x))


def gelu(x: Any, approximate: bool = False) -> Tensor:
    """Gaussian error linear unit; exact erf form unless `approximate` (tanh form)."""
    return _primitive("gelu_tanh" if approximate else "gelu", _t(x))


def silu(x: Any) -> Tensor:
    """x * sigmoid(x) (a.k.a. swish)."""
    return _primitive("silu", _t(x))


swish = silu


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow."""
    return _primitive("sigmoid", _t(x))


def hard_sigmoid(x: Any) -> Tensor:
    """Piecewise-linear sigmoid: clip(x / 6 + 0.5, 0, 1)."""
    return _primitive("hard_sigmoid", _t(x))


def hard_silu(x: Any) -> Tensor:
    """x * hard_sigmoid(x) (a.k.a. hard_swish)."""
    return _primitive("hard_silu", _t(x))


hard_swish = hard_silu


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return _primitive("tanh", _t(x))


def softplus(x: Any) -> Tensor:
    """log(1 + exp(x)), computed stably."""
    return _primitive("softplus", _t(x))


def softsign(x: Any) -> Tensor:
    """x / (1 + |x|)."""
    return _primitive("softsign", _t(x))


def exponential(x: Any) -> Tensor:
    """exp(x)."""
    return _primitive("exponential", _t(x))


def mish(x: Any) -> Tensor:
    """x * tanh(softplus(x))."""
    return _primitive("mish", _t(x))


def linear(x: Any) -> Any:
    """Identity (the activation `None` resolves to)."""
    return x


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`."""
    return _primitive("softmax", _t(x), (axis,) if axis != -1 else ())


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis`."""
    return _primitive("log_softmax", _t(x), (axis,) if axis != -1 else ())


# ---------------------------------------------------------------- composites of differentiable ops
def log_sigmoid(x: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x)."""
    return ops.negative(softplus(ops.negative(_t(x))))


def hard_tanh(x: Any) -> Tensor:
    """clip(x, -1, 1)."""
    return ops.clip(_t(x), -1.0, 1.0)


def tanh_shrink(x: Any) -> Tensor:
    """x - tanh(x)."""
    x = _t(x)
    return ops.subtract(x, tanh(x))


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))."""
    x = _t(x)
    neg = ops.multiply(ops.subtract(ops.exp(ops.divide(ops.minimum(x, 0.0), alpha)), 1.0), alpha)
    return ops.add(ops.maximum(x, 0.0), ops.minimum(neg, 0.0))


def squareplus(x: Any, b: float = 4.0) -> Tensor:
    """(x + sqrt(x^2 + b)) / 2, a smooth ReLU."""
    x = _t(x)
    return ops.divide(ops.add(x, ops.sqrt(ops.add(ops.square(x), b))), 2.0)


def soft_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    """x - threshold above it, x + threshold below -threshold, 0 between."""
    x = _t(x)
    return ops.where(ops.greater(x, threshold), ops.subtract(x, threshold),
                     ops.where(ops.less(x, -threshold), ops.add(x, threshold), ops.multiply(x, 0.0)))


def hard_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    """x where |x| > threshold, else 0."""
    x = _t(x)
    return ops.where(ops.greater(ops.abs(x), threshold), x, ops.multiply(x, 0.0))


def glu(x: Any, axis: int = -1) -> Tensor:
    """Gated linear unit: a * sigmoid(b) for the two halves a, b of `x` along `axis`."""
    x = _t(x)
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got {n}.")
    half = n // 2
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, half)
    a = ops.getitem(x, tuple(index))
    index[axis] = slice(half, n)
    b = ops.getitem(x, tuple(index))
    return ops.multiply(a, sigmoid(b))


# ---------------------------------------------------------------- lookup and serialization
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    fn.__name__: fn for fn in (
        relu, relu6, leaky_relu, elu, selu, gelu, silu, sigmoid, hard_sigmoid, hard_silu, tanh,
        softplus, softsign, exponential, mish, linear, softmax, log_softmax, log_sigmoid, hard_tanh,
        tanh_shrink, celu, squareplus, soft_shrink, hard_shrink, glu,
    )
}
_ALIASES = {"swish": silu, "hard_swish": hard_silu}
ALL_ACTIVATIONS: dict[str, Callable[..., Any]] = {**_FUNCTIONS, **_ALIASES}

# Built-in functions whose default-argument form is exactly one backend primitive.
_PRIMITIVE_OF: dict[Callable[..., Any], str] = {
    relu: "relu", relu6: "relu6", leaky_relu: "leaky_relu", elu: "elu", selu: "selu", gelu: "gelu",
    silu: "silu", sigmoid: "sigmoid", hard_sigmoid: "hard_sigmoid", hard_silu: "hard_silu", tanh: "tanh",
    softplus: "softplus", softsign: "softsign", exponential: "exponential", mish: "mish", linear: "linear",
    softmax: "softmax", log_softmax: "log_softmax",
}


def get(identifier: Any) -> Callable[..., Any]:
    """An activation function from None (linear), a name, a serialized config or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return lookup("activation", identifier, ALL_ACTIVATIONS)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation identifier {identifier!r}: expected None, a name, "
                     f"a serialized config or a callable.")


def serialize(activation: Callable[..., Any]) -> Any:
    """The activation's name (Keras 3 stores activations as plain names in configs)."""
    if activation is None:
        return None
    for name, fn in _FUNCTIONS.items():
        if fn is activation:
            return name
    if hasattr(activation, "get_config") and not inspect.isfunction(activation):
        return serialize_object(activation, "keras.layers")
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize activation {activation!r}: it is neither a built-in nor a "
                         "named function.")
    return name


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Callable[..., Any]:
    """Inverse of `serialize`: a name, or Keras's `{"class_name": "function", "config": name}` dict."""
    if isinstance(config, str):
        return lookup("activation", config, ALL_ACTIVATIONS, custom_objects)
    if isinstance(config, dict):
        inner = config.get("config")
        if isinstance(inner, str):
            return lookup("activation", inner, ALL_ACTIVATIONS, custom_objects)
        name = config.get("class_name")
        if isinstance(name, str):
            return lookup("activation", name, ALL_ACTIVATIONS, custom_objects)
    raise ValueError(f"Could not deserialize activation {config!r}: expected a name or a config dict.")


def fused_primitive(fn: Any) -> tuple[str, tuple] | None:
    """(backend primitive, params) reproducing built-in `fn` with default arguments; None otherwise."""
    try:
        return (_PRIMITIVE_OF[fn], ())
    except (KeyError, TypeError):
        return None


register_catalogue(Catalogue("keras.activations", find_function=ALL_ACTIVATIONS.get,
                             deserialize=lambda config, custom_objects=None: get(
                                 config.get("config") or config["class_name"])))
