"""Accuracy metrics (Keras 3 semantics): per-sample match rates averaged by MeanMetricWrapper."""

from __future__ import annotations

from typing import Any

from gpukeras import backend as _backend
from gpukeras.metrics.base import MeanMetricWrapper, array_of, match_rank
from gpukeras.tensor import Tensor


def _float(matches: Any) -> Tensor:
    return Tensor(_backend.active.cast(matches, "float32"))


def accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """1 where an entry equals its label, else 0, elementwise (Keras 3: Mean averages over all entries)."""
    B = _backend.active
    p = array_of(y_pred)
    t, p = match_rank(array_of(y_true, p.dtype), p)
    return _float(B.compare("equal", t, p))


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Tensor:
    """1 where (y_pred > threshold) equals the 0/1 label, else 0, elementwise (as Keras 3)."""
    B = _backend.active
    t, p = match_rank(array_of(y_true), array_of(y_pred))
    predicted = B.cast(B.compare("greater", p, threshold), t.dtype)
    return _float(B.compare("equal", t, predicted))


def categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """1 where argmax(y_pred) == argmax(y_true) (one-hot labels), else 0."""
    B = _backend.active
    p = array_of(y_pred)
    t = B.argmax(array_of(y_true), axis=-1)
    shape = t.shape
    squeezed = t.ndim == p.ndim
    if squeezed:
        t = B.squeeze(t, -1)
    matches = B.compare("equal", t, B.argmax(p, axis=-1))
    return _float(B.reshape(matches, shape) if squeezed else matches)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """1 where argmax(y_pred) equals the integer label, else 0 (labels (n,) or (n, 1))."""
    B = _backend.active
    p = array_of(y_pred)
    t = array_of(y_true)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = B.squeeze(t, -1)
    matches = B.compare("equal", t, B.cast(B.argmax(p, axis=-1), t.dtype))
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = B.squeeze(matches, -1)
    return _float(matches)


def _in_top_k(labels: Any, scores: Any, k: int) -> Any:
    """Whether each row's label is among its k largest scores (ties counted as in, like TF's in_top_k)."""
    B = _backend.active
    labels = B.cast(labels, "int64")
    n = scores.shape[-1]
    valid = B.logical("and", B.compare("greater_equal", labels, 0), B.compare("less", labels, n))
    safe = B.where(valid, labels, 0)
    target = B.sum(B.multiply(B.one_hot(safe, n, dtype=scores.dtype), scores), axis=-1, keepdims=True)
    above = B.sum(B.cast(B.compare("greater", scores, target), "int64"), axis=-1)
    return B.logical("and", valid, B.compare("less", above, k))


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Tensor:
    """1 where the one-hot label's class is among the k highest predictions."""
    B = _backend.active
    p = array_of(y_pred)
    t = B.argmax(array_of(y_true), axis=-1)
    shape = t.shape
    hits = _in_top_k(B.reshape(t, (-1,)), B.reshape(p, (-1, p.shape[-1])), k)
    return _float(B.reshape(hits, shape))


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Tensor:
    """1 where the integer label is among the k highest predictions."""
    B = _backend.active
    p = array_of(y_pred)
    t = array_of(y_true)
    shape = t.shape
    hits = _in_top_k(B.reshape(t, (-1,)), B.reshape(p, (-1, p.shape[-1])), k)
    return _float(B.reshape(hits, shape))


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name: str = "accuracy", dtype: Any = None):
        super().__init__(accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    """How often thresholded predictions match 0/1 labels."""

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5):
        if threshold is not None and not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy: threshold must lie in (0, 1), got {threshold}.")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches one-hot labels."""

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches integer labels."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is among the top k predictions."""

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the top k predictions."""

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "k": self.k}
