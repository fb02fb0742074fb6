"""Regularization layers: noise and dropout variants active only in training, and ActivityRegularization.

The random layers draw through `gpukeras.random` with their own SeedGenerator: the same `seed`
gives the same sequence of masks, and each training call draws new ones. At inference (or with a
zero rate) they return their inputs unchanged. All of them pass masks on.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from gpukeras import ops, regularizers
from gpukeras import random as _random
from gpukeras.layers.dropout import Dropout
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import normalize_data_format

# SELU's constants: AlphaDropout sets dropped values to SELU's negative saturation value.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _rate(value: Any, layer: str, name: str = "rate") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{layer}: invalid value received for argument `{name}`. Expected a float value between "
                         f"0 and 1. Received: {name}={value!r}")
    return float(value)


def _seed(value: Any, layer: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        raise ValueError(f"{layer}: `seed` must be an integer or None, got seed={value!r}.")
    return None if value is None else int(value)


class GaussianNoise(Layer):
    """Adds N(0, stddev) noise in training: a regularizer and a form of data augmentation."""

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any):
        stddev = _rate(stddev, "GaussianNoise", "stddev")
        seed = _seed(seed, "GaussianNoise")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.stddev, self.seed = stddev, seed
        self.seed_generator = _random.SeedGenerator(seed) if stddev > 0 else None
        self.built = True

    def call(self, inputs: Any, training: bool | None = False) -> Any:
        if not training or self.stddev == 0:
            return inputs
        noise = _random.normal(inputs.shape, mean=0.0, stddev=self.stddev, dtype=inputs.dtype,
                               seed=self.seed_generator)
        return ops.add(inputs, noise)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies by N(1, sqrt(rate / (1 - rate))) noise in training (dropout's mean and variance)."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any):
        rate = _rate(rate, "GaussianDropout")
        seed = _seed(seed, "GaussianDropout")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.rate, self.seed = rate, seed
        self.seed_generator = _random.SeedGenerator(seed) if rate > 0 else None
        self.built = True

    def call(self, inputs: Any, training: bool | None = False) -> Any:
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            raise ValueError(f"GaussianDropout {self.name!r}: rate=1 gives noise of infinite standard deviation "
                             "(sqrt(rate / (1 - rate))); use a rate below 1 for training.")
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = _random.normal(inputs.shape, mean=1.0, stddev=stddev, dtype=inputs.dtype, seed=self.seed_generator)
        return ops.multiply(inputs, noise)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(Layer):
    """Dropout for SELU networks: dropped values become SELU's saturation value, then an affine map
    keeps the inputs' mean and variance (training only)."""

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any):
        rate = _rate(rate, "AlphaDropout")
        seed = _seed(seed, "AlphaDropout")
        if noise_shape is not None and not (isinstance(noise_shape, (list, tuple)) and all(
                d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in noise_shape)):
            raise ValueError(f"AlphaDropout: `noise_shape` must be a list of positive integers or None entries, "
                             f"got noise_shape={noise_shape!r}.")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.rate, self.seed = rate, seed
        self.noise_shape = list(noise_shape) if noise_shape is not None else None
        self.seed_generator = _random.SeedGenerator(seed) if rate > 0 else None
        self.built = True

    def call(self, inputs: Any, training: bool | None = False) -> Any:
        if not training or self.rate == 0:
            return inputs
        noise_shape = _random.concrete_noise_shape(tuple(inputs.shape), self.noise_shape)
        draws = _random.uniform(noise_shape, dtype=inputs.dtype, seed=self.seed_generator)
        kept = ops.cast(ops.greater_equal(draws, self.rate), inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        x = ops.add(ops.multiply(inputs, kept), ops.multiply(ops.subtract(1.0, kept), alpha_p))
        return ops.add(ops.multiply(x, a), b)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one draw per sample and channel, shared over the other axes."""

    _rank = 0

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None, dtype: Any = None,
                 data_format: str | None = None, **kwargs: Any):
        rate = _rate(rate, type(self).__name__)
        seed = _seed(seed, type(self).__name__)
        self.data_format = normalize_data_format(data_format)
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)

    def build(self, input_shape: Any) -> None:
        if len(input_shape) != self._rank:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of rank {self._rank}, got shape "
                             f"{tuple(input_shape)}.")
        self.built = True

    def call(self, inputs: Any, training: bool | None = False) -> Any:
        if not training or self.rate == 0:
            return inputs
        return _random.dropout(inputs, self.rate, noise_shape=self._noise_shape(tuple(inputs.shape)),
                               seed=self.seed_generator)

    def _noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        spatial = (1,) * (len(shape) - 2)
        if self.data_format == "channels_first":
            return (shape[0], shape[1]) + spatial
        return (shape[0],) + spatial + (shape[-1],)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole 1-D feature maps of (batch, steps, channels) inputs."""

    _rank = 3

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None, dtype: Any = None,
                 **kwargs: Any):
        if "data_format" in kwargs:
            raise TypeError("SpatialDropout1D takes no `data_format`: its inputs are (batch, steps, channels).")
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole 2-D feature maps (channels last by default, or channels first)."""

    _rank = 4

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout3D(_SpatialDropout):
    """Drops whole 3-D feature maps (channels last by default, or channels first)."""

    _rank = 5

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class ActivityRegularization(Layer):
    """Returns its inputs unchanged and adds l1 * sum|x| + l2 * sum x^2 (over the batch size) to the loss."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any):
        for name, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
                raise ValueError(f"ActivityRegularization: `{name}` must be a number >= 0, got {name}={value!r}.")
        if "activity_regularizer" in kwargs:
            raise ValueError("ActivityRegularization: pass `l1` and `l2`, not `activity_regularizer`.")
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.supports_masking = True
        self.l1, self.l2 = l1, l2
        self.built = True

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
