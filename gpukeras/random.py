"""The global seed: one host NumPy generator feeds initializers, dropout and shuffling."""

from __future__ import annotations

import random as _py_random

import numpy as np

_generator = np.random.default_rng()


def set_seed(seed: int) -> None:
    """Reseed gpukeras's generator, Python's `random` and NumPy's legacy global state."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"The random seed must be an int, got {seed!r}.")
    _generator = np.random.default_rng(int(seed))
    _py_random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))


def generator(seed: int | None = None) -> np.random.Generator:
    """A generator for one use: seeded from `seed` when given, else the global stream."""
    return _generator if seed is None else np.random.default_rng(seed)


class SeedGenerator:
    """A stateful stream of random draws owned by one layer (Keras's SeedGenerator)."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self.rng = np.random.default_rng(seed if seed is not None else _generator.integers(2**31))
