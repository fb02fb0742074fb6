"""Dropout: randomly zero inputs during training only (inverted scaling)."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.layer import Layer
from gpukeras.random import SeedGenerator


class Dropout(Layer):
    """Zeroes a `rate` fraction of inputs when training and scales the rest by 1/(1-rate)."""

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Dropout: `rate` must be a number in [0, 1], got {rate!r}.")
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported yet.")
        self.rate = float(rate)
        self.seed = seed
        self.noise_shape = noise_shape
        self.seed_generator = SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return ops.multiply(inputs, 0.0)
        return ops.dropout(inputs, self.rate, self.seed_generator.rng)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}
