"""StringLookup: strings to integer indices (or back with `invert=True`), Keras 3's arguments and defaults."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras.layers.preprocessing.host_layer import host_array
from gpukeras.layers.preprocessing.index_lookup import IndexLookup
from gpukeras.layers.preprocessing.text_ops import as_text_array


class StringLookup(IndexLookup):
    """Maps strings from a vocabulary to integer indices; OOV strings share `num_oov_indices` indices
    (several: by FarmHash Fingerprint64, or SipHash with `salt`, as Keras 3 buckets them)."""

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: str | None = None,
                 oov_token: str = "[UNK]", vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", pad_to_max_tokens: bool = False, sparse: bool = False,
                 encoding: str = "utf-8", name: str | None = None, salt: Any = None, **kwargs: Any):
        if kwargs.pop("vocabulary_dtype", "string") != "string":
            raise ValueError("StringLookup: the vocabulary of strings has vocabulary_dtype 'string'; use IntegerLookup "
                             "for integers.")
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)

    def _keys(self, x: Any) -> np.ndarray:
        arr = host_array(x)
        if arr.dtype.kind not in "USO":
            raise TypeError(f"StringLookup {self.name!r} takes strings, got an array of dtype {arr.dtype}. Use "
                            "IntegerLookup for integer inputs.")
        return as_text_array(arr, self.encoding)

    def _token(self, value: Any) -> str:
        if isinstance(value, bytes):
            return value.decode(self.encoding)
        if not isinstance(value, str):
            raise TypeError(f"StringLookup {self.name!r}: vocabulary entries must be strings, got {value!r}.")
        return value

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["vocabulary_dtype"]  # one valid value for strings: Keras 3 does not write it
        return {**config, "encoding": self.encoding}
