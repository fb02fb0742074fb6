"""Categorical encodings of integer indices on the host: Keras 3's one_hot / multi_hot / count (and tf_idf's counts).

Indices come as rows: a flat index array plus the row each index belongs to, which covers dense
(batch, k) inputs and the ragged token lists of TextVectorization alike. Indices outside
[0, depth) are dropped, as TensorFlow's bincount and one_hot drop them (the mask token's index
is the largest int64, so masked tokens vanish from the encodings).
"""

from __future__ import annotations

from typing import Any

import numpy as np

ENCODING_MODES = ("one_hot", "multi_hot", "count")


def rows_of(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """(flat indices, row ids, number of rows, whether the result drops the row axis) for dense indices.

    Rank 0 and rank 1 inputs are one sample (Keras encodes a 1-D input into one vector); rank 2
    inputs are one sample per row. Higher ranks are refused: Keras 3 gives them no consistent shape.
    """
    if indices.ndim > 2:
        raise ValueError(f"multi_hot, count and tf_idf encodings take inputs of rank 1 or 2, got shape "
                         f"{indices.shape}.")
    if indices.ndim <= 1:
        flat = indices.reshape(-1)
        return flat, np.zeros(flat.shape, dtype=np.int64), 1, True
    n, k = indices.shape
    return indices.reshape(-1), np.repeat(np.arange(n, dtype=np.int64), k), n, False


def bincount_rows(flat: np.ndarray, row_ids: np.ndarray, n_rows: int, depth: int, mode: str,
                  weights: np.ndarray | None = None, dtype: Any = "float32") -> np.ndarray:
    """(n_rows, depth): per row, 1 where an index occurs (multi_hot) or how often / how much (count)."""
    out = np.zeros((n_rows, depth), dtype=dtype)
    flat = np.asarray(flat, dtype=np.int64)
    valid = (flat >= 0) & (flat < depth)
    rows, cols = row_ids[valid], flat[valid]
    if mode == "multi_hot":
        out[rows, cols] = 1
    elif weights is None:
        np.add.at(out, (rows, cols), 1)
    else:
        np.add.at(out, (rows, cols), np.asarray(weights, dtype=dtype).reshape(-1)[valid])
    return out


def one_hot(indices: np.ndarray, depth: int, dtype: Any = "float32") -> np.ndarray:
    """Each index as a one-hot vector; a trailing axis of size 1 is replaced by the encoding (Keras's rule)."""
    if indices.ndim > 1 and indices.shape[-1] == 1:
        indices = indices.reshape(indices.shape[:-1])
    idx = np.asarray(indices, dtype=np.int64)
    out = np.zeros(idx.shape + (depth,), dtype=dtype)
    valid = (idx >= 0) & (idx < depth)
    np.put_along_axis(out, np.where(valid, idx, 0)[..., None], valid[..., None].astype(dtype), axis=-1)
    return out


def encode(indices: np.ndarray, mode: str, depth: int, weights: np.ndarray | None = None,
           dtype: Any = "float32") -> np.ndarray:
    """Dense integer indices encoded as Keras 3's `encode_categorical_inputs` does."""
    if mode == "one_hot":
        return one_hot(indices, depth, dtype)
    flat, row_ids, n_rows, single = rows_of(np.asarray(indices))
    out = bincount_rows(flat, row_ids, n_rows, depth, mode, weights, dtype)
    return out[0] if single else out


def squeeze_for_one_hot(values: np.ndarray, mode: str) -> np.ndarray:
    """A trailing axis of size 1 dropped before a one-hot encoding (a (batch, 1) column encodes to (batch, depth))."""
    if mode == "one_hot" and values.ndim > 0 and values.shape[-1] == 1:
        return values.reshape(values.shape[:-1])
    return values


def encoded_shape(input_shape: Any, mode: str, depth: int) -> tuple:
    """The output shape of `mode` ("int" or an encoding) over `depth` values for inputs of `input_shape`."""
    input_shape = tuple(input_shape)
    if mode == "int":
        return input_shape
    if mode == "one_hot":
        return (input_shape[:-1] if input_shape and input_shape[-1] == 1 else input_shape) + (depth,)
    return input_shape[:-1] + (depth,) if input_shape else (depth,)
