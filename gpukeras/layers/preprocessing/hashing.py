"""Hashing: values to `num_bins` bins with Keras 3's hashes (FarmHash Fingerprint64; SipHash-2-4 with a salt).

Values are hashed as TensorFlow does: strings by their UTF-8 bytes (bytes as they are), integers by
their decimal text, floats first truncated to int64, booleans as "true"/"false". With `mask_value`
bin 0 is reserved for it and the others hash into bins 1..num_bins-1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras.layers.preprocessing import encoding
from gpukeras.layers.preprocessing.fingerprint import fingerprint64, siphash24
from gpukeras.layers.preprocessing.host_layer import HostPreprocessingLayer, host_tensor

_MODES = ("int", "one_hot", "multi_hot", "count")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(int(value)).encode("ascii")


def hash_to_bins(values: np.ndarray, num_bins: int, salt: list[int] | None = None) -> np.ndarray:
    """The bin (int64, same shape) of each value: fingerprint (or keyed SipHash) modulo `num_bins`."""
    if values.dtype.kind == "f":
        values = values.astype(np.int64)
    flat = values.reshape(-1)
    if flat.size == 0:
        return np.zeros(values.shape, dtype=np.int64)
    uniques, inverse = np.unique(flat, return_inverse=True)
    hashed = [siphash24(salt, _as_bytes(u)) if salt is not None else fingerprint64(_as_bytes(u))
              for u in uniques.tolist()]
    bins = np.array([h % num_bins for h in hashed], dtype=np.int64)
    return bins[inverse.reshape(-1)].reshape(values.shape)


class Hashing(HostPreprocessingLayer):
    """Hashes and bins categorical features (strings or numbers), as keras.layers.Hashing."""

    def __init__(self, num_bins: int, mask_value: Any = None, salt: Any = None, output_mode: str = "int",
                 sparse: bool = False, **kwargs: Any):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else "float32"
        if num_bins is None or isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins <= 0:
            raise ValueError(f"Hashing: `num_bins` must be a positive integer, got {num_bins!r}.")
        if output_mode not in _MODES:
            raise ValueError(f"Hashing: invalid `output_mode` {output_mode!r}; expected one of {list(_MODES)}.")
        if output_mode == "int" and str(kwargs["dtype"]) not in ("int32", "int64"):
            raise ValueError(f"Hashing: with output_mode='int', `dtype` must be 'int32' or 'int64', got "
                             f"{kwargs['dtype']!r}.")
        if output_mode != "int" and str(kwargs["dtype"]) not in ("float16", "bfloat16", "float32", "float64",
                                                                 "int32", "int64"):
            raise ValueError(f"Hashing: unsupported `dtype` {kwargs['dtype']!r}.")
        if sparse:
            raise ValueError("Hashing: `sparse=True` is not supported (gpukeras has no sparse tensors).")
        if salt is not None:
            if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(isinstance(s, int) for s in salt):
                salt = list(salt)
            elif isinstance(salt, int) and not isinstance(salt, bool):
                salt = [salt, salt]
            else:
                raise ValueError(f"Hashing: `salt` must be an integer or a tuple of 2 integers, got {salt!r}.")
        super().__init__(**kwargs)
        self.num_bins = num_bins
        self.mask_value = mask_value
        self.strong_hash = salt is not None
        self.salt = salt
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs: np.ndarray) -> Any:
        if inputs.dtype.kind not in "USObiuf":
            raise TypeError(f"Hashing {self.name!r} takes strings or numbers, got dtype {inputs.dtype}.")
        bins = self._bins(encoding.squeeze_for_one_hot(inputs, self.output_mode))
        if self.output_mode == "int":
            return host_tensor(bins.astype(self.dtype))
        return host_tensor(encoding.encode(bins, self.output_mode, self.num_bins, dtype=self.dtype))

    def _bins(self, values: np.ndarray) -> np.ndarray:
        if self.mask_value is None or self.num_bins <= 1:
            return hash_to_bins(values, self.num_bins, self.salt)
        masked = values == self.mask_value
        bins = hash_to_bins(values, self.num_bins - 1, self.salt) + 1
        return np.where(masked, 0, bins)

    def output_dtype(self) -> str:
        return self.dtype

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return encoding.encoded_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                "output_mode": self.output_mode, "sparse": self.sparse}
