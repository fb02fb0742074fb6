"""Dropout: randomly zero inputs during training only (inverted scaling)."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras import random as _random
from gpukeras.layers.layer import Layer
from gpukeras.random import SeedGenerator


class Dropout(Layer):
    """Zeroes a `rate` fraction of inputs when training and scales the rest by 1/(1-rate); with `noise_shape`
    (None entries: the input's size) one draw is shared along the axes where it is 1 (EfficientNet's
    per-sample "drop connect" is `noise_shape=(None, 1, 1, 1)`)."""

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Dropout: `rate` must be a number in [0, 1], got {rate!r}.")
        if noise_shape is not None and not (isinstance(noise_shape, (list, tuple)) and all(
                d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in noise_shape)):
            raise ValueError("Dropout: `noise_shape` must be a list or tuple of positive integers or None entries, "
                             f"got noise_shape={noise_shape!r}.")
        self.rate = float(rate)
        self.seed = seed
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        self.seed_generator = SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return ops.multiply(inputs, 0.0)
        if self.noise_shape is not None:
            return _random.dropout(inputs, self.rate, noise_shape=self.noise_shape, seed=self.seed_generator)
        return ops.dropout(inputs, self.rate, self.seed_generator.rng)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}
