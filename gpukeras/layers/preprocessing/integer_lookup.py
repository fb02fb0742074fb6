"""IntegerLookup: integers to contiguous indices (or back with `invert=True`), Keras 3's arguments and defaults."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras.layers.preprocessing.host_layer import host_array
from gpukeras.layers.preprocessing.index_lookup import IndexLookup


class IntegerLookup(IndexLookup):
    """Maps integers from a vocabulary to indices; several OOV indices take `value % num_oov_indices`
    (`oov_method="floormod"`, the default) or a FarmHash of the value's decimal text ("farmhash")."""

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: int | None = None,
                 oov_token: int = -1, vocabulary: Any = None, vocabulary_dtype: str = "int64", idf_weights: Any = None,
                 invert: bool = False, output_mode: str = "int", sparse: bool = False, pad_to_max_tokens: bool = False,
                 oov_method: str = "floormod", salt: Any = None, name: str | None = None, **kwargs: Any):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: only vocabulary_dtype='int64' is supported, got {vocabulary_dtype!r}.")
        for arg, value in (("mask_token", mask_token), ("oov_token", oov_token)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ValueError(f"IntegerLookup: `{arg}` must be an integer or None, got {value!r}.")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=None if mask_token is None else int(mask_token),
                         oov_token=None if oov_token is None else int(oov_token), vocabulary=vocabulary,
                         vocabulary_dtype=vocabulary_dtype, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse, pad_to_max_tokens=pad_to_max_tokens,
                         oov_method=oov_method, salt=salt, name=name, **kwargs)

    def _keys(self, x: Any) -> np.ndarray:
        arr = host_array(x)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"IntegerLookup {self.name!r} takes integers, got an array of dtype {arr.dtype}. Use "
                            "StringLookup for strings.")
        return arr.astype(np.int64)

    def _token(self, value: Any) -> int:
        if isinstance(value, str):
            value = value.strip()
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"IntegerLookup {self.name!r}: vocabulary entries must be integers, got {value!r}.") \
                from None
