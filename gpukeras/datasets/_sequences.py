"""Keras's word-index preprocessing shared by IMDB and Reuters."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def shuffle(rng: np.random.RandomState, *arrays: np.ndarray) -> list[np.ndarray]:
    """Apply one `rng.shuffle` permutation to arrays of equal length."""
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [a[indices] for a in arrays]


def offset(xs: Any, start_char: int | None, index_from: int) -> list[list[int]]:
    """Shift every word index by `index_from` and prepend `start_char` (when not None)."""
    if start_char is not None:
        return [[start_char] + [int(w) + index_from for w in x] for x in xs]
    return [[int(w) + index_from for w in x] for x in xs]


def remove_long(maxlen: int, xs: list[list[int]], labels: Any) -> tuple[list[list[int]], list[Any]]:
    """Keep the sequences strictly shorter than `maxlen` (Keras's rule), with their labels."""
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def cap_vocabulary(xs: list[list[int]], num_words: int | None, skip_top: int,
                   oov_char: int | None) -> list[list[int]]:
    """Words outside `[skip_top, num_words)` become `oov_char`, or are dropped when `oov_char` is None."""
    if not num_words:
        num_words = max(max(x) for x in xs if x)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def object_array(xs: list[list[int]]) -> np.ndarray:
    """A 1-D object array of Python lists (what Keras returns), even when all lengths are equal."""
    out = np.empty(len(xs), dtype=object)
    out[:] = xs
    return out


def legacy_kwargs(kwargs: dict[str, Any], num_words: int | None) -> int | None:
    """Accept tf.keras 1's `nb_words`; warn about and ignore anything else (Keras 3 ignores it)."""
    if "nb_words" in kwargs:
        warnings.warn("The `nb_words` argument in `load_data` has been renamed `num_words`.", stacklevel=3)
        num_words = kwargs.pop("nb_words")
    if kwargs:
        warnings.warn(f"load_data ignores unrecognized keyword arguments: {sorted(kwargs)}.", stacklevel=3)
    return num_words
