"""Layers that only rearrange values: Flatten, Reshape."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras import ops
from gpukeras.layers.layer import Layer

_DATA_FORMATS = (None, "channels_last", "channels_first")


class Flatten(Layer):
    """Collapse every axis but the batch axis (channels_first inputs are moved to channels_last first)."""

    def __init__(self, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if data_format not in _DATA_FORMATS:
            raise ValueError(f"Flatten: data_format must be one of {_DATA_FORMATS}, got {data_format!r}.")
        self.data_format = data_format or _backend.image_data_format()

    def call(self, inputs: Any) -> Any:
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = ops.transpose(inputs, [0] + list(range(2, inputs.ndim)) + [1])
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshape each sample to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"Reshape: at most one -1 in target_shape, got {self.target_shape}.")

    def call(self, inputs: Any) -> Any:
        return ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = list(self.target_shape)
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            total = math.prod(input_shape[1:]) if None not in input_shape[1:] else None
            shape[shape.index(-1)] = None if total is None else total // known
        return (input_shape[0],) + tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}
