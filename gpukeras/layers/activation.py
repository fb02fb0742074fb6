"""Activation: apply a named or callable activation as its own layer."""

from __future__ import annotations

from typing import Any

from gpukeras import activations
from gpukeras.layers.layer import Layer


class Activation(Layer):
    """Applies `activation` element-wise (any name `gpukeras.activations.get` knows)."""

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.activation = activations.get(activation)

    def call(self, inputs: Any) -> Any:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
