"""Reuters newswire topics: 11,228 newswires as word-index sequences, 46 topics."""

from __future__ import annotations

import json

import numpy as np

from gpukeras.datasets import _sequences as seq
from gpukeras.datasets._safe_pickle import load_npz
from gpukeras.datasets.cache import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters_word_index.json"
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"  # Keras pins this file by MD5

_LABELS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
    "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog",
    "lead",
)

Split = tuple[np.ndarray, np.ndarray]


def load_data(path: str = "reuters.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, test_split: float = 0.2, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3) -> tuple[Split, Split]:
    """Load Reuters as Keras does: shuffle with `RandomState(seed)`, preprocess as imdb, split off the last
    `test_split` fraction as the test set.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_*` 1-D object arrays of lists of ints, `y_*` int64 topics.
    """
    path = get_file(path, origin=ORIGIN, file_hash=SHA256)
    f = load_npz(path)
    xs, labels = seq.shuffle(np.random.RandomState(seed), f["x"], f["y"])
    if start_char is not None or index_from:
        xs = seq.offset(xs, start_char, index_from)
    else:
        xs = [[int(w) for w in x] for x in xs]
    if maxlen:
        xs, labels = seq.remove_long(maxlen, xs, labels)
    xs = seq.cap_vocabulary(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    return ((seq.object_array(xs[:idx]), np.array(labels[:idx])),
            (seq.object_array(xs[idx:]), np.array(labels[idx:])))


def get_word_index(path: str = "reuters_word_index.json") -> dict[str, int]:
    """The word -> index dictionary (indices before the `index_from` shift)."""
    path = get_file(path, origin=WORD_INDEX_ORIGIN, file_hash=WORD_INDEX_MD5)
    with open(path) as f:
        return json.load(f)


def get_label_names() -> tuple[str, ...]:
    """The 46 topic names, indexed by label."""
    return _LABELS
