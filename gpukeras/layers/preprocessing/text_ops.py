"""Host-side string work of TextVectorization: standardize, split and n-grams, as Keras 3 (TensorFlow) does them.

Keras 3 runs these through TensorFlow string ops; their exact behaviour is kept here:
- lowercasing is ASCII-only (`tf.strings.lower` without an encoding leaves "É" as it is);
- punctuation stripping removes the 32 ASCII punctuation characters and nothing else;
- whitespace splitting splits on ASCII whitespace (space, \\t, \\n, \\v, \\f, \\r) only, so a no-break
  space stays inside a token, and drops empty pieces;
- n-grams are listed width by width, in the order the widths are given, joined by one space.

A batch of token lists is a Python list of lists of str (one list per row).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

_ASCII_LOWER = {ord(c): ord(c.lower()) for c in string.ascii_uppercase}
_ASCII_PUNCTUATION = {ord(c): None for c in string.punctuation}
_ASCII_WHITESPACE = re.compile("[ \t\n\x0b\x0c\r]+")


def as_text_array(x: Any, encoding: str = "utf-8") -> np.ndarray:
    """A host array of Python str: str arrays as they are, bytes decoded with `encoding`."""
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if arr.dtype.kind == "U":
        return arr
    if arr.dtype.kind == "S":
        return np.char.decode(arr, encoding)
    if arr.dtype.kind == "O":
        flat = [v.decode(encoding) if isinstance(v, bytes) else v for v in arr.reshape(-1)]
        bad = next((v for v in flat if not isinstance(v, str)), None)
        if bad is not None:
            raise TypeError(f"Expected strings, got an element of type {type(bad).__name__}: {bad!r}.")
        return np.array(flat, dtype=str).reshape(arr.shape) if flat else np.zeros(arr.shape, dtype=str)
    raise TypeError(f"Expected strings, got an array of dtype {arr.dtype}.")


def lower_ascii(texts: np.ndarray) -> np.ndarray:
    """ASCII letters lowercased; every other character unchanged."""
    return _map_strings(texts, lambda s: s.translate(_ASCII_LOWER))


def strip_ascii_punctuation(texts: np.ndarray) -> np.ndarray:
    """The ASCII punctuation characters removed (Keras's regex class `[!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~']`)."""
    return _map_strings(texts, lambda s: s.translate(_ASCII_PUNCTUATION))


def _map_strings(texts: np.ndarray, fn: Any) -> np.ndarray:
    flat = [fn(s) for s in texts.reshape(-1).tolist()]
    return np.array(flat, dtype=str).reshape(texts.shape) if flat else texts


def split_whitespace(texts: Sequence[str]) -> list[list[str]]:
    """Each string split on runs of ASCII whitespace, empty pieces dropped."""
    return [[t for t in _ASCII_WHITESPACE.split(s) if t] for s in texts]


def split_characters(texts: Sequence[str]) -> list[list[str]]:
    """Each string as its Unicode code points."""
    return [list(s) for s in texts]


def ngrams(rows: Sequence[Sequence[str]], widths: Sequence[int]) -> list[list[str]]:
    """For each row, its n-grams of each width in turn (width-major), joined by a space."""
    return [[" ".join(row[i:i + w]) for w in widths for i in range(len(row) - w + 1)] for row in rows]
