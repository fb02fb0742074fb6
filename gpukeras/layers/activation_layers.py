"""Activation functions as layers with their own arguments: ReLU, LeakyReLU, PReLU (learned slope), ELU, Softmax.

Each passes masks on; Softmax also uses one: masked positions get no probability.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

from gpukeras import activations, constraints, initializers, ops, regularizers
from gpukeras.layers.layer import Layer


def _number(value: Any, layer: str, name: str, allow_none: bool = False) -> float | None:
    """`value` as a float >= 0 (None allowed when `allow_none`), else a ValueError naming the argument."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{layer}: `{name}` must be a number >= 0{' or None' if allow_none else ''}, "
                         f"got {name}={value!r}.")
    return float(value)


class ReLU(Layer):
    """max(x, 0) with Keras's options: values below `threshold` are 0 (or leak with `negative_slope`),
    values above `max_value` are capped."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs: Any):
        max_value = _number(max_value, "ReLU", "max_value", allow_none=True)
        negative_slope = _number(negative_slope, "ReLU", "negative_slope")
        threshold = _number(threshold, "ReLU", "threshold")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold
        self.built = True

    def call(self, inputs: Any) -> Any:
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """x for x >= 0, negative_slope * x otherwise. Keras 3 still takes the old name `alpha` (with a warning)."""

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        negative_slope = _number(negative_slope, "LeakyReLU", "negative_slope")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.negative_slope = negative_slope
        self.built = True

    def call(self, inputs: Any) -> Any:
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """x for x >= 0, alpha * x otherwise, with `alpha` learned: one value per input value (batch axis
    excluded), shared along `shared_axes` (e.g. [1, 2] for one slope per channel of an image)."""

    def __init__(self, alpha_initializer: Any = "Zeros", alpha_regularizer: Any = None, alpha_constraint: Any = None,
                 shared_axes: int | Sequence[int] | None = None, **kwargs: Any):
        if shared_axes is not None:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ValueError(f"PReLU: `shared_axes` must be positive axis indices (the batch axis is 0), "
                                 f"got shared_axes={shared_axes!r}.")
            shared_axes = axes
        alpha_initializer = initializers.get(alpha_initializer)
        alpha_regularizer = regularizers.get(alpha_regularizer)
        alpha_constraint = constraints.get(alpha_constraint)
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = alpha_initializer
        self.alpha_regularizer = alpha_regularizer
        self.alpha_constraint = alpha_constraint
        self.shared_axes = shared_axes
        self.alpha = None

    def build(self, input_shape: Any) -> None:
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if axis >= len(input_shape):
                raise ValueError(f"PReLU {self.name!r}: shared axis {axis} is out of range for inputs of shape "
                                 f"{tuple(input_shape)}.")
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(f"PReLU {self.name!r}: every non-shared axis must have a known size, got input shape "
                             f"{tuple(input_shape)}; share the unknown axes with `shared_axes`.")
        self.alpha = self.add_weight(param_shape, self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self.built = True

    def call(self, inputs: Any) -> Any:
        negative = ops.multiply(ops.negative(self.alpha), ops.relu(ops.negative(inputs)))
        return ops.add(ops.relu(inputs), negative)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, **kwargs: Any):
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise ValueError(f"ELU: `alpha` must be a number, got alpha={alpha!r}.")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha = float(alpha)
        self.built = True

    def call(self, inputs: Any) -> Any:
        return activations.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        # Keras 3.15 leaves `alpha` out of ELU's config (so it reloads as 1.0); written here so it round-trips.
        return {**super().get_config(), "alpha": self.alpha}


def _large_negative(dtype: str) -> float:
    """What masked logits become before the softmax (Keras: -3e4 in float16, -1e9 otherwise)."""
    return -3e4 if dtype == "float16" else -1e9


class Softmax(Layer):
    """Softmax over `axis` (an int or a list of axes). With a mask (broadcastable to the inputs; True or
    > 0.5 keeps), masked positions get probability 0, even when a whole row is masked."""

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any):
        if isinstance(axis, (list, tuple)):
            if not axis or not all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
                raise ValueError(f"Softmax: `axis` must be an integer or a non-empty list of integers, got {axis!r}.")
            axis = list(axis)
        elif isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Softmax: `axis` must be an integer or a list of integers, got axis={axis!r}.")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.axis = axis
        self.built = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is not None:
            mask = self._checked_mask(inputs, mask)
            inputs = ops.where(mask, inputs, _large_negative(inputs.dtype))
        outputs = self._softmax(inputs)
        if mask is not None:
            outputs = ops.where(mask, outputs, 0.0)
        return outputs

    def _softmax(self, x: Any) -> Any:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if len(axes) == 1:
            return ops.softmax(x, axis=axes[0])
        top = ops.stop_gradient(ops.max(x, axis=tuple(axes), keepdims=True))
        shifted = ops.exp(ops.subtract(x, top))
        return ops.divide(shifted, ops.sum(shifted, axis=tuple(axes), keepdims=True))

    def _checked_mask(self, inputs: Any, mask: Any) -> Any:
        """The mask as booleans, after checking that it broadcasts to the inputs (Keras's rules)."""
        mask = mask if hasattr(mask, "ndim") else ops.convert_to_tensor(mask)
        if mask.ndim > inputs.ndim or any(m not in (1, i) for m, i in zip(mask.shape[::-1], inputs.shape[::-1])):
            raise ValueError(f"The `mask` must be broadcastable to `inputs`: each mask dimension must be 1 or match "
                             f"the corresponding input dimension. Received: inputs.shape={tuple(inputs.shape)}, "
                             f"mask.shape={tuple(mask.shape)}")
        return mask if str(mask.dtype) == "bool" else ops.greater(mask, 0.5)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
