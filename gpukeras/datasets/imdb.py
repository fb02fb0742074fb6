"""IMDB movie reviews: 25,000 training and 25,000 test reviews as word-index sequences, labels 0/1."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from gpukeras.datasets import _sequences as seq
from gpukeras.datasets._safe_pickle import load_npz
from gpukeras.datasets.cache import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"  # Keras pins this file by MD5

Split = tuple[np.ndarray, np.ndarray]


def load_data(path: str = "imdb.npz", num_words: int | None = None, skip_top: int = 0, maxlen: int | None = None,
              seed: int = 113, start_char: int | None = 1, oov_char: int | None = 2, index_from: int = 3,
              **kwargs: Any) -> tuple[Split, Split]:
    """Load IMDB as Keras does.

    Train and test are each shuffled with one `RandomState(seed)`; word indices are shifted by `index_from`,
    each review starts with `start_char`; with `maxlen`, reviews of `maxlen` words or more are dropped; words
    ranked below `skip_top` or at/above `num_words` become `oov_char` (or are removed if it is None).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_*` 1-D object arrays of lists of ints, `y_*` int64 labels.
    """
    num_words = seq.legacy_kwargs(kwargs, num_words)
    path = get_file(path, origin=ORIGIN, file_hash=SHA256)
    f = load_npz(path)
    rng = np.random.RandomState(seed)
    x_train, labels_train = seq.shuffle(rng, f["x_train"], f["y_train"])
    x_test, labels_test = seq.shuffle(rng, f["x_test"], f["y_test"])
    x_train = seq.offset(x_train, start_char, index_from)
    x_test = seq.offset(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = seq.remove_long(maxlen, x_train, labels_train)
        x_test, labels_test = seq.remove_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             "Increase maxlen.")
    xs = seq.cap_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(labels_train), np.asarray(labels_test)])
    idx = len(x_train)
    return (seq.object_array(xs[:idx]), labels[:idx]), (seq.object_array(xs[idx:]), labels[idx:])


def get_word_index(path: str = "imdb_word_index.json") -> dict[str, int]:
    """The word -> index dictionary (indices before the `index_from` shift)."""
    path = get_file(path, origin=WORD_INDEX_ORIGIN, file_hash=WORD_INDEX_MD5)
    with open(path) as f:
        return json.load(f)
