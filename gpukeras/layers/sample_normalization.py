"""Normalization over each sample's own values (no batch statistics): GroupNormalization, UnitNormalization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras import constraints, initializers, ops, regularizers
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import normalize_train


def l2_normalize(x: Any, axis: int | Sequence[int], epsilon: float) -> Any:
    """x scaled to unit L2 norm along `axis`, as Keras's ops.normalize: x * min(1 / ||x||, 1 / epsilon)."""
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    inv = ops.divide(1.0, ops.sqrt(ops.sum(ops.square(x), axis=axes, keepdims=True)))
    return ops.multiply(x, ops.minimum(inv, 1.0 / epsilon))


class GroupNormalization(Layer):
    """Normalizes each group of `groups` channels (along `axis`) of each sample over the group's channels
    and every non-batch axis, then scales by `gamma` and shifts by `beta` per channel.

    groups=1 is close to LayerNormalization; groups=-1 (one channel per group) is instance normalization.
    Computes in float32 at least (float16 inputs are upcast), as Keras 3 does.
    """

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any):
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(f"Received an invalid value for argument `groups`, expected a positive integer (or `-1` "
                             f"for instance normalization). Received: groups={groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"GroupNormalization: `axis` must be an integer, got axis={axis!r}.")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ValueError(f"GroupNormalization: `epsilon` must be a positive number, got epsilon={epsilon!r}.")
        parts = [initializers.get(beta_initializer), initializers.get(gamma_initializer),
                 regularizers.get(beta_regularizer), regularizers.get(gamma_regularizer),
                 constraints.get(beta_constraint), constraints.get(gamma_constraint)]
        super().__init__(**kwargs)
        self.supports_masking = True
        self.autocast = False
        self.groups, self.axis, self.epsilon = groups, axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        (self.beta_initializer, self.gamma_initializer, self.beta_regularizer, self.gamma_regularizer,
         self.beta_constraint, self.gamma_constraint) = parts
        self.gamma = self.beta = None

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"GroupNormalization {self.name!r}: invalid `axis` {self.axis} for inputs of shape "
                             f"{tuple(input_shape)} (the batch axis cannot be normalized over).")
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension but the layer "
                             f"received an input with shape {tuple(input_shape)}.")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the number of channels ({dim}).")
        if dim % self.groups != 0:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the number of channels ({dim}).")
        if self.scale:
            self.gamma = self.add_weight((dim,), self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight((dim,), self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.built = True

    def call(self, inputs: Any) -> Any:
        shape = tuple(inputs.shape)
        axis = self.axis % len(shape)
        per_group = shape[axis] // self.groups
        grouped_shape = shape[:axis] + (self.groups, per_group) + shape[axis + 1:]
        param_shape = tuple(self.groups if i == axis else per_group if i == axis + 1 else 1
                            for i in range(len(grouped_shape)))
        reduce_axes = tuple(i for i in range(1, len(grouped_shape)) if i != axis)
        compute_dtype = np.result_type(inputs.dtype, np.float32).name
        x = ops.reshape(ops.cast(inputs, compute_dtype), grouped_shape)
        gamma = None if self.gamma is None else ops.cast(self.gamma, compute_dtype)
        beta = None if self.beta is None else ops.cast(self.beta, compute_dtype)
        y, _, _ = normalize_train(x, gamma, beta, reduce_axes, param_shape, self.epsilon)
        return ops.cast(ops.reshape(y, shape), self.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm across `axis` (an int or a list of axes)."""

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any):
        if isinstance(axis, (list, tuple)):
            if not all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
                raise TypeError(f"Invalid value for `axis` argument: expected an int or a list/tuple of ints. "
                                f"Received: axis={axis!r}")
            axis = list(axis)
        elif isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Invalid value for `axis` argument: expected an int or a list/tuple of ints. "
                            f"Received: axis={axis!r}")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.axis = axis
        self.built = True

    def call(self, inputs: Any) -> Any:
        self._check_axes(inputs.shape)
        return l2_normalize(inputs, self.axis, epsilon=1e-12)

    def _check_axes(self, shape: Sequence[Any]) -> None:
        for axis in self.axis if isinstance(self.axis, list) else [self.axis]:
            if not -len(shape) <= axis < len(shape):
                raise ValueError(f"Axis {self.axis} is out of bounds for input shape {tuple(shape)}.")

    def compute_output_shape(self, input_shape: Any) -> Any:
        self._check_axes(input_shape)
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
