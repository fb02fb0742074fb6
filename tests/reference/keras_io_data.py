"""Local stand-ins for the datasets of keras.io's text and sequence programs: same shapes, made with
np.random.RandomState (stable across NumPy versions), so gpukeras's tests and the Keras 3 recorder
(tests/reference/record_keras3_programs.py) train on identical data.
"""

from __future__ import annotations

import numpy as np


def sentiment(n: int, length: int, vocab: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """IMDB-shaped reviews: (n, length) int64 token ids, pre-padded with 0, and 0/1 labels.

    Each review has some "positive" words (ids 1-9) or "negative" ones (10-19) among random others
    (300+), so a model must find them anywhere in the sequence: learnable from a few hundred reviews.
    """
    rs = np.random.RandomState(seed)
    labels = rs.randint(0, 2, size=n)
    x = np.zeros((n, length), dtype="int64")
    for i, label in enumerate(labels):
        size = rs.randint(length // 4, length + 1)
        tokens = rs.randint(300, vocab, size=size)
        count = rs.randint(20, 40)
        where = rs.choice(size, count, replace=False)
        tokens[where] = rs.randint(1, 10, size=count) if label else rs.randint(10, 20, size=count)
        x[i, -size:] = tokens
    return x, labels.astype("float32")


def weather(steps: int, features: int = 7, seed: int = 0) -> np.ndarray:
    """A jena_climate-shaped multivariate series (steps, features): daily and yearly cycles plus noise,
    already normalized as keras.io's program does."""
    rs = np.random.RandomState(seed)
    t = np.arange(steps, dtype="float64")
    phases = rs.uniform(0, 2 * np.pi, size=features)
    series = np.stack([np.sin(2 * np.pi * t / 144 + p) + 0.5 * np.sin(2 * np.pi * t / 1000 + 2 * p)
                       for p in phases], axis=1)
    series += 0.1 * rs.normal(size=series.shape)
    return ((series - series.mean(0)) / series.std(0)).astype("float32")
