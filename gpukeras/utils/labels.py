"""Host-side label and feature helpers on NumPy arrays (data preparation, not tensor math)."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """Integer class labels as one-hot float32 rows (a trailing axis of size 1 is dropped)."""
    labels = np.asarray(x)
    if labels.dtype.kind not in "iub" and not np.all(np.mod(labels, 1) == 0):
        raise ValueError("to_categorical expects integer class labels.")
    labels = labels.astype("int64")
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical: labels must be non-negative, got {labels.min()}.")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(f"to_categorical: label {labels.max()} is out of range for num_classes={num_classes}.")
    out = np.zeros(labels.shape + (num_classes,), dtype="float32")
    np.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale `x` to unit `order`-norm along `axis` (zero vectors stay zero)."""
    arr = np.asarray(x, dtype="float32")
    norm = np.linalg.norm(arr, ord=order, axis=axis, keepdims=True)
    return arr / np.where(norm == 0, 1, norm)
