"""Host-side sequence preparation: `pad_sequences` (Keras's keras.utils.pad_sequences)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def pad_sequences(sequences: Sequence[Any], maxlen: int | None = None, dtype: Any = "int32", padding: str = "pre",
                  truncating: str = "pre", value: Any = 0.0) -> np.ndarray:
    """Sequences of different lengths as one (n, maxlen, ...) array: longer ones cut (at the start for
    truncating="pre", the end for "post"), shorter ones filled with `value` (before for padding="pre")."""
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding must be "pre" or "post", got {padding!r}.')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating must be "pre" or "post", got {truncating!r}.')
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError(f"pad_sequences: `sequences` must be a list of sequences, got {type(sequences).__name__}.")
    lengths, sample_shape = [], None
    for i, seq in enumerate(sequences):
        if not hasattr(seq, "__len__") or isinstance(seq, (str, bytes)):
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables; entry {i} is {seq!r}.")
        lengths.append(len(seq))
        if sample_shape is None and len(seq):
            sample_shape = np.asarray(seq).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"pad_sequences: `maxlen` must be a non-negative integer or None, got {maxlen!r}.")
    is_text = np.dtype(dtype).kind in "US"
    if isinstance(value, str) and np.dtype(dtype) != object and not is_text:
        raise ValueError(f"pad_sequences: value {value!r} is a string but dtype {dtype} is not; pass "
                         "dtype=object or a string dtype.")
    out = np.full((len(lengths), int(maxlen)) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: sequence {i} has entries of shape {kept.shape[1:]}, the first "
                             f"non-empty one has {tuple(sample_shape)}.")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, -len(kept):] = kept
    return out
