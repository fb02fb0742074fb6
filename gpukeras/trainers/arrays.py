"""Host-side handling of in-memory training data: validation, splitting, batching, class weights.

Data stays as host NumPy arrays (flattened to a list, one per model input/output) and each
batch is moved to the backend once. Everything here runs before any weight changes, so bad
input is refused with the model untouched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.tensor import Tensor

TEXT_DTYPE = "string"  # an Input's dtype for text: its data stays a host array of strings


def to_host(x: Any, what: str, text: bool = False) -> np.ndarray:
    """One array-like as a host NumPy array; float64 becomes float32 (Keras's floatx).

    Strings are refused unless `text` (the data feeds an `Input(dtype="string")`, whose first layers
    turn text into numbers on the host).
    """
    if isinstance(x, Tensor):
        x = x.numpy()
    elif _backend.active.is_array(x) and not isinstance(x, np.ndarray):
        x = _backend.active.to_numpy(x)
    if isinstance(x, (str, bytes)) or x is None or not hasattr(x, "__len__") and not isinstance(x, np.ndarray):
        raise TypeError(f"`{what}` must be an array (NumPy array, list, Tensor), got {type(x).__name__}.")
    arr = np.asarray(x)
    if text:
        return _text_array(arr, what)
    if arr.dtype == object:
        raise TypeError(f"`{what}` could not be converted to a numeric array (dtype object: ragged or non-numeric "
                        "data).")
    if arr.dtype.kind not in "biuf":
        kind = {"U": "strings", "S": "bytes", "M": "datetimes", "m": "timedeltas", "c": "complex numbers"}.get(
            arr.dtype.kind, "non-numeric values")
        hint = (" (or declare the input as keras.Input(..., dtype=\"string\") and encode it in the model with "
                "TextVectorization or StringLookup)") if arr.dtype.kind in "US" else ""
        raise TypeError(f"`{what}` has dtype {arr.dtype} ({kind}); models take numeric arrays (integers or "
                        f"floats). Encode such data as numbers first{hint}.")
    if arr.ndim == 0:
        raise ValueError(f"`{what}` must have a batch dimension, got a scalar.")
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return arr


def flatten_data(data: Any, names: Sequence[str] | None, what: str,
                 dtypes: Sequence[str] | None = None) -> list[np.ndarray] | None:
    """x / y / sample_weight as a list of host arrays in the model's input/output order; `dtypes` are the
    inputs' declared dtypes (those declared "string" take text)."""
    if data is None:
        return None

    def text(i: int) -> bool:
        return dtypes is not None and i < len(dtypes) and dtypes[i] == TEXT_DTYPE

    if isinstance(data, dict):
        if names is None:
            raise ValueError(f"`{what}` is a dict but the model's {what} names are not known.")
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"`{what}` is missing entries for {missing}; expected keys {list(names)}.")
        return [to_host(data[n], f"{what}[{n!r}]", text(i)) for i, n in enumerate(names)]
    if isinstance(data, (list, tuple)) and data:
        if names is not None and len(names) == 1:
            # [array] is the one input; a plain nested list is one array.
            if len(data) == 1 and _is_array(data[0]):
                return [to_host(data[0], what, text(0))]
            return [to_host(data, what, text(0))]
        if names is not None or all(_is_array(d) for d in data):
            return [to_host(d, f"{what}[{i}]", text(i)) for i, d in enumerate(data)]
    return [to_host(data, what, text(0))]


def _text_array(arr: np.ndarray, what: str) -> np.ndarray:
    """Data for a string input: an array of str or bytes (an object array must hold only those)."""
    if arr.dtype == object and not all(isinstance(v, (str, bytes)) for v in arr.reshape(-1).tolist()):
        raise TypeError(f"`{what}` feeds an input declared with dtype \"string\" but holds non-string values.")
    if arr.dtype.kind not in "USO":
        raise TypeError(f"`{what}` feeds an input declared with dtype \"string\", but has dtype {arr.dtype}; pass "
                        "an array of strings.")
    if arr.ndim == 0:
        raise ValueError(f"`{what}` must have a batch dimension, got a scalar.")
    return arr


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def num_samples(arrays: Sequence[np.ndarray], names: Sequence[str]) -> int:
    """The common first dimension of all arrays; a mismatch is a ValueError naming them."""
    sizes = {name: len(a) for name, a in zip(names, arrays)}
    if len(set(sizes.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(f"Data cardinality is ambiguous: all arrays must have the same number of samples "
                         f"({detail}).")
    return next(iter(sizes.values()))


def split_validation(arrays: list[list[np.ndarray] | None], split: float, n: int) -> tuple[list, list]:
    """Keras's rule: the last `split` fraction (before shuffling) becomes validation data."""
    cut = int(math.floor(n * (1.0 - split)))
    if cut <= 0 or cut >= n:
        raise ValueError(f"validation_split={split} leaves {'no training' if cut <= 0 else 'no validation'} "
                         f"samples out of {n}; use a split that keeps both non-empty.")
    train = [None if a is None else [x[:cut] for x in a] for a in arrays]
    val = [None if a is None else [x[cut:] for x in a] for a in arrays]
    return train, val


def class_weights_to_sample_weights(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """One weight per sample, looked up by its class (argmax of one-hot labels); classes the dict
    does not name weigh 1.0, as in Keras 3."""
    if y.ndim > 1 and y.shape[-1] > 1:
        classes = np.argmax(y, axis=-1)
    else:
        classes = np.round(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
    weights = np.ones(len(classes), dtype=np.float32)
    for k, w in class_weight.items():
        weights[classes == int(k)] = w
    return weights


class ArrayBatcher:
    """Yields index batches over n samples; shuffles at the start of each pass when asked.

    A `steps_per_epoch` shorter than the data continues from where the last epoch stopped,
    as Keras does, instead of restarting at sample 0.
    """

    def __init__(self, n: int, batch_size: int, shuffle: Any, rng: np.random.Generator):
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = rng
        self.batches_per_pass = max(1, math.ceil(n / batch_size))
        self._order: list[np.ndarray | slice] = []

    def _new_pass(self) -> list:
        bs = self.batch_size
        if not self.shuffle:
            return [slice(i, min(i + bs, self.n)) for i in range(0, self.n, bs)]
        if self.shuffle == "batch":
            starts = self.rng.permutation(self.batches_per_pass) * bs
            return [self.rng.permutation(np.arange(s, min(s + bs, self.n))) for s in starts]
        perm = self.rng.permutation(self.n)
        return [perm[i:i + bs] for i in range(0, self.n, bs)]

    def epoch(self, steps: int | None) -> Iterator:
        """Index batches for one epoch: a full pass, or `steps` batches when given."""
        if steps is None:
            yield from self._new_pass()
            self._order = []
            return
        for _ in range(steps):
            if not self._order:
                self._order = self._new_pass()
            yield self._order.pop(0)


def take(arrays: list[np.ndarray] | None, index: Any) -> list[np.ndarray] | None:
    return None if arrays is None else [a[index] for a in arrays]
