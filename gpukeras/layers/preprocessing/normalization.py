"""Normalization: (x - mean) / sqrt(variance) per feature, with the statistics given or learned by
`adapt` (Keras 3's arguments, weights and numbers), for images and for tabular features alike.

Adapted statistics are the layer's non-trainable weights `mean`, `variance` and `count` (int32,
kept for Keras 3's file layout; Keras never updates it), so a Keras 3 `.keras` file loads.
`adapt` follows Keras 3: an array or tensor is reduced in one pass (in its own float precision,
integers in float64 as NumPy does); batches from a generator, an iterable or a PyDataset are
merged one by one in float32 with the pooled-variance formula. It all runs on the backend.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gpukeras import ops
from gpukeras.layers.layer import Layer
from gpukeras.tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()


def _first(batch: Any) -> Any:
    """The inputs of a batch: `x` of an `(x, y[, sample_weight])` tuple."""
    return batch[0] if isinstance(batch, tuple) else batch


def _normalize_axis(axis: Any) -> tuple[int, ...]:
    if axis is None:
        return ()
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return (int(axis),)
    if isinstance(axis, Sequence) and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
        return tuple(int(a) for a in axis)
    raise ValueError(f"Normalization: `axis` must be an int, a tuple of ints or None, got {axis!r}.")


class Normalization(Layer):
    """Standardizes inputs with a mean and variance per index of the kept `axis` (default -1: per
    feature / channel; None: one scalar); `invert=True` maps standardized values back."""

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None, invert: bool = False, **kwargs: Any):
        axis = _normalize_axis(axis)
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("When setting values directly, `mean` and `variance` must have the same shape. "
                                 f"Received: mean shape {np.shape(mean)} and variance shape {np.shape(variance)}")
            if len(np.shape(mean)) > len(axis):
                raise ValueError("The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(axis)}). Received: mean shape {np.shape(mean)} for axis {axis}")
        super().__init__(**kwargs)
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True
        self.mean: Tensor | None = None
        self.variance: Tensor | None = None

    # ------------------------------------------------------------------ building
    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. Received axis={self.axis}, "
                                 f"inputs.shape={tuple(input_shape)}, with unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(int(input_shape[d]) if d in self._keep_axis else 1 for d in range(ndim))
        self._mean_and_var_shape = tuple(int(input_shape[d]) for d in self._keep_axis)
        self._build_input_shape = tuple(input_shape)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(self._mean_and_var_shape, "zeros", name="mean", trainable=False)
            self.adapt_variance = self.add_weight(self._mean_and_var_shape, "ones", name="variance", trainable=False)
            self.count = self.add_weight((), "zeros", dtype="int32", name="count", trainable=False)
            self.built = True
            self.finalize_state()
        else:
            self.mean = self._given(self.input_mean)
            self.variance = self._given(self.input_variance)
            self.built = True

    def _given(self, value: Any) -> Tensor:
        """A given statistic broadcast to the input's rank: its dimensions align with the kept axes
        from the right (a scalar applies everywhere)."""
        ndim = len(self._broadcast_shape)
        tensor = ops.convert_to_tensor(np.asarray(value))
        expanded = [1] * ndim
        for i in range(1, tensor.ndim + 1):
            expanded[self._keep_axis[-i]] = tensor.shape[-i]
        tensor = ops.broadcast_to(ops.reshape(tensor, expanded), self._broadcast_shape)
        return ops.cast(tensor, self.dtype)

    def finalize_state(self) -> None:
        """`mean` and `variance` as tensors of the input's rank, from the adapted weights."""
        if self.input_mean is not None or not self.built:
            return
        self.mean = ops.cast(ops.reshape(self.adapt_mean, self._broadcast_shape), self.dtype)
        self.variance = ops.cast(ops.reshape(self.adapt_variance, self._broadcast_shape), self.dtype)

    # ------------------------------------------------------------------ adapt
    def adapt(self, data: Any) -> None:
        """Learn the mean and variance over the reduced axes of `data`: an array or tensor (one
        pass), or batches (a PyDataset, a generator, any iterable of arrays; `(x, y)` tuples use x)."""
        if isinstance(data, (np.ndarray, Tensor)):
            self._prepare_adapt(tuple(data.shape))
            mean, variance = self._moments(data)
        else:
            batches, first_shape = self._batches(data)
            self._prepare_adapt(first_shape)
            mean, variance = self._merged_moments(batches)
        self.adapt_mean.assign(mean)
        self.adapt_variance.assign(variance)
        self.finalize_state()

    def _batches(self, data: Any) -> tuple[Any, tuple[int, ...]]:
        """(iterator of batches, shape of the first) for a PyDataset (indexed 0..len-1) or an iterable."""
        indexed = hasattr(data, "__getitem__") and hasattr(data, "__len__")
        if indexed and not isinstance(data, (list, tuple, str, bytes)):
            if len(data) == 0:
                raise ValueError("adapt() received an empty PyDataset (no batches).")
            return (_first(data[i]) for i in range(len(data))), tuple(_first(data[0]).shape)
        if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
            raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray`, backend tensors, "
                            "`keras.utils.PyDataset`, and iterables of batches (e.g. list, generator).")
        found = iter(data)
        first = next(found, None)
        if first is None:
            raise ValueError("adapt() received an empty iterable (no batches). Expected at least one batch. Pass "
                             "a non-empty iterable of arrays or tensors, e.g. layer.adapt([x]).")
        first = _first(first)
        if getattr(first, "shape", None) is None:
            raise TypeError("adapt() expects an iterable that yields arrays or tensors with a `.shape` attribute "
                            f"(e.g. numpy arrays or backend tensors). Got an element of type {type(first).__name__}.")
        return itertools.chain([first], (_first(b) for b in found)), tuple(first.shape)

    def _prepare_adapt(self, input_shape: tuple[int, ...]) -> None:
        """Build for the data's shape, or check the kept axes against the shape built for."""
        if self.input_mean is not None:
            raise ValueError("Normalization: adapt() learns the mean and variance; this layer was given them "
                             "(`mean`/`variance`) and has nothing to learn.")
        if not self.built:
            self._build_for(input_shape)
            return
        if len(input_shape) != len(self._build_input_shape) or any(
                input_shape[d] != self._build_input_shape[d] for d in self._keep_axis):
            raise ValueError(f"The layer was built with input_shape={self._build_input_shape}, but adapt() is "
                             f"being called with data with an incompatible shape, data.shape={input_shape}")

    def _moments(self, data: Any) -> tuple[Tensor, Tensor]:
        """Mean and variance over the reduced axes in the data's float type (integers: float64)."""
        x = data if isinstance(data, Tensor) else ops.convert_to_tensor(data)
        if x.dtype[0] in "biu":
            x = ops.cast(x, "float64")
        return ops.mean(x, axis=self._reduce_axis), ops.var(x, axis=self._reduce_axis)

    def _merged_moments(self, batches: Any) -> tuple[Tensor, Tensor]:
        """Batch statistics merged in float32: weighted means, and variances plus squared shifts of
        the means (the lack-of-fit sum of squares), as Keras 3 does."""
        total_mean = ops.zeros(self._mean_and_var_shape)
        total_var = ops.zeros(self._mean_and_var_shape)
        total_count = 0
        for batch in batches:
            x = ops.convert_to_tensor(batch, dtype=self.dtype) if not isinstance(batch, Tensor) else \
                ops.cast(batch, self.dtype)
            for d in self._keep_axis:
                if x.shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"adapt() yielded a batch with incompatible shape. Expected "
                                     f"{self._build_input_shape}, got {x.shape}.")
            batch_mean = ops.mean(x, axis=self._reduce_axis)
            batch_var = ops.var(x, axis=self._reduce_axis)
            batch_count = math.prod(x.shape[d] for d in self._reduce_axis) if self._reduce_axis else 1
            total_count += batch_count
            batch_weight = float(batch_count) / total_count
            existing_weight = 1.0 - batch_weight
            new_mean = ops.add(ops.multiply(total_mean, existing_weight), ops.multiply(batch_mean, batch_weight))
            total_var = ops.add(
                ops.multiply(ops.add(total_var, ops.square(ops.subtract(total_mean, new_mean))), existing_weight),
                ops.multiply(ops.add(batch_var, ops.square(ops.subtract(batch_mean, new_mean))), batch_weight))
            total_mean = new_mean
        return total_mean, total_var

    # ------------------------------------------------------------------ calling
    def call(self, inputs: Any) -> Any:
        if self.mean is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        x = ops.cast(inputs, self.dtype)
        if self.input_mean is None:  # read the weights: set_weights/load changes them without finalize_state
            self.finalize_state()
        scale = ops.maximum(ops.sqrt(self.variance), EPSILON)
        if self.invert:
            return ops.add(self.mean, ops.multiply(x, scale))
        return ops.divide(ops.subtract(x, self.mean), scale)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    # ------------------------------------------------------------------ config and saving
    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(), "variance": np.array(self.input_variance).tolist()}

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        super().load_own_variables(store)
        self.finalize_state()
