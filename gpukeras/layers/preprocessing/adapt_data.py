"""What `adapt()` reads: in-memory data (one batch) or batches from a generator, iterator or PyDataset."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from gpukeras.tensor import Tensor


def check_steps(steps: Any) -> None:
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0):
        raise ValueError(f"adapt: `steps` must be a positive integer or None, got {steps!r}.")


def is_in_memory(data: Any) -> bool:
    """Arrays, lists, tuples and tensors are one dataset; anything else iterable yields batches."""
    if isinstance(data, (str, bytes)):
        raise TypeError("adapt: pass a list or array of strings (or batches of them), not a single string.")
    return isinstance(data, (list, tuple, np.ndarray, Tensor)) or (hasattr(data, "__array__")
                                                                  and not hasattr(data, "__next__"))


def batches(data: Any, steps: int | None) -> Iterator[Any]:
    """The batches of a generator, iterator or PyDataset (indexed 0..len-1), at most `steps` of them."""
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        found: Iterator[Any] = (data[i] for i in range(len(data)))
    elif hasattr(data, "__iter__"):
        found = iter(data)
    else:
        raise TypeError(f"adapt: expected an array, a list, a generator or a PyDataset, got {type(data).__name__}.")
    for batch in (found if steps is None else itertools.islice(found, steps)):
        if isinstance(batch, tuple) and batch and all(hasattr(b, "__len__") and not isinstance(b, (str, bytes))
                                                      for b in batch):
            raise ValueError("adapt: each batch must hold inputs only, got a tuple of arrays (inputs and "
                             "labels?). Give adapt the inputs alone, e.g. a generator of x batches.")
        yield batch
