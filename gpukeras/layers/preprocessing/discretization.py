"""Discretization: numeric features to bucket indices (or their one-hot, multi-hot or count encodings).

Bucket i holds the values in [bin_boundaries[i-1], bin_boundaries[i]) (a value equal to a boundary goes
up), so n boundaries make n + 1 buckets, as keras.layers.Discretization. `adapt` learns `num_bins - 1`
boundaries at the data's quantiles; Keras 3 uses an approximate quantile summary (within `epsilon` of
the ranks) and needs TensorFlow for it, gpukeras computes the exact quantiles on the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras.layers.preprocessing import adapt_data, encoding
from gpukeras.layers.preprocessing.host_layer import HostPreprocessingLayer, host_array, host_tensor

_MODES = ("int", "one_hot", "multi_hot", "count")


class Discretization(HostPreprocessingLayer):
    """Buckets numeric values by `bin_boundaries`, or by `num_bins` quantile buckets learned with `adapt`."""

    def __init__(self, bin_boundaries: Any = None, num_bins: int | None = None, epsilon: float = 0.01,
                 output_mode: str = "int", sparse: bool = False, **kwargs: Any):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int32" if output_mode == "int" else "float32"  # Keras 3's bucket indices are int32
        if output_mode not in _MODES:
            raise ValueError(f"Discretization: invalid `output_mode` {output_mode!r}; expected one of {list(_MODES)}.")
        if sparse:
            raise ValueError("Discretization: `sparse=True` is not supported (gpukeras has no sparse tensors).")
        if bin_boundaries is not None and num_bins is not None:
            raise ValueError("Discretization: pass `bin_boundaries` or `num_bins` (then call adapt()), not both.")
        if bin_boundaries is None and num_bins is None:
            raise ValueError("Discretization: one of `bin_boundaries` or `num_bins` must be set.")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1):
            raise ValueError(f"Discretization: `num_bins` must be a positive integer, got {num_bins!r}.")
        super().__init__(**kwargs)
        self.bin_boundaries = None if bin_boundaries is None else _boundaries(bin_boundaries)
        self.num_bins = num_bins
        self.epsilon = float(epsilon)
        self.output_mode = output_mode
        self.sparse = False

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn `num_bins - 1` boundaries at the quantiles of `data` (an array, or batches of arrays)."""
        if self.num_bins is None:
            raise ValueError("Discretization: adapt() learns boundaries for `num_bins`; this layer was given "
                             "`bin_boundaries`.")
        adapt_data.check_steps(steps)
        parts = [host_array(data)] if adapt_data.is_in_memory(data) else \
            [host_array(b) for b in adapt_data.batches(data, steps)]
        values = np.concatenate([p.reshape(-1) for p in parts]).astype(np.float64)
        if values.size == 0:
            raise ValueError("Discretization: adapt() got no data.")
        quantiles = np.linspace(0.0, 1.0, self.num_bins + 1)[1:-1]
        self.bin_boundaries = _boundaries(np.quantile(values, quantiles))

    def call(self, inputs: np.ndarray) -> Any:
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization {self.name!r} has no bin boundaries yet: call adapt() first.")
        if inputs.dtype.kind not in "biuf":
            raise TypeError(f"Discretization {self.name!r} takes numbers, got dtype {inputs.dtype}.")
        inputs = encoding.squeeze_for_one_hot(inputs, self.output_mode)
        buckets = np.digitize(inputs.astype(np.float64), np.asarray(self.bin_boundaries, dtype=np.float64))
        if self.output_mode == "int":
            return host_tensor(buckets.astype(self.dtype))
        return host_tensor(encoding.encode(buckets, self.output_mode, self._depth(), dtype=self.dtype))

    def _depth(self) -> int:
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else int(self.num_bins)

    def output_dtype(self) -> str:
        return self.dtype

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return encoding.encoded_shape(input_shape, self.output_mode, self._depth())

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": self.sparse}


def _boundaries(values: Any) -> list[float]:
    """Sorted float boundaries, refused when they are not increasing (Keras 3 requires sorted ones)."""
    out = [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
    if any(b < a for a, b in zip(out, out[1:])):
        raise ValueError(f"Discretization: `bin_boundaries` must be sorted in increasing order, got {out}.")
    return out
