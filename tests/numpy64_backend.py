"""A test backend registered from outside the package: NumPy computing every float in float64.

It subclasses the generic `Ops` and overrides only how floating arrays are made (always float64),
so it is the required primitive set inherited over `xp = numpy`, plus nothing. The conformance
test registers it as "numpy64" and holds it to float64 accuracy, which proves the seam: a backend
plugs in with `register_backend` alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from gpukeras import backend
from gpukeras.backend.base import Ops

NAME = "numpy64"


def _wide(dtype: Any) -> Any:
    """float64 in place of any floating dtype; other dtypes unchanged."""
    if dtype is None:
        return None
    return np.float64 if np.dtype(dtype).kind == "f" else dtype


class Numpy64Ops(Ops):
    """NumPy ops whose floating arrays are float64 whatever float dtype is asked for."""

    name = NAME
    xp = np

    def asarray(self, x: Any, dtype: Any = None) -> np.ndarray:
        a = np.asarray(x, dtype=_wide(dtype))
        return a.astype(np.float64) if a.dtype.kind == "f" and a.dtype != np.float64 else a

    def zeros(self, shape: Any, dtype: Any = "float32") -> np.ndarray:
        return np.zeros(shape, dtype=_wide(dtype))

    def ones(self, shape: Any, dtype: Any = "float32") -> np.ndarray:
        return np.ones(shape, dtype=_wide(dtype))

    def full(self, shape: Any, value: float, dtype: Any = "float32") -> np.ndarray:
        return np.full(shape, value, dtype=_wide(dtype))

    def eye(self, n: int, m: int | None = None, dtype: Any = "float32") -> np.ndarray:
        return np.eye(n, m, dtype=_wide(dtype))

    def arange(self, start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> np.ndarray:
        return np.arange(start, stop, step, dtype=_wide(dtype))

    def cast(self, x: np.ndarray, dtype: Any) -> np.ndarray:
        return x.astype(_wide(dtype), copy=False)

    def random_normal(self, shape: Any, mean: float, stddev: float, rng: np.random.Generator,
                      dtype: Any = "float32") -> np.ndarray:
        return rng.normal(mean, stddev, size=shape).astype(_wide(dtype))

    def random_uniform(self, shape: Any, minval: float, maxval: float, rng: np.random.Generator,
                       dtype: Any = "float32") -> np.ndarray:
        return rng.uniform(minval, maxval, size=shape).astype(_wide(dtype))

    def truncated_normal(self, shape: Any, mean: float, stddev: float, rng: np.random.Generator,
                         dtype: Any = "float32") -> np.ndarray:
        return super().truncated_normal(shape, mean, stddev, rng, _wide(dtype))

    def dropout_mask(self, shape: Any, rate: float, rng: np.random.Generator, dtype: Any = "float32") -> np.ndarray:
        return super().dropout_mask(shape, rate, rng, _wide(dtype))


@contextlib.contextmanager
def registered() -> Iterator[str]:
    """Register "numpy64" for the duration of the block; yields its name."""
    backend.register_backend(NAME, Numpy64Ops)
    try:
        yield NAME
    finally:
        backend.unregister_backend(NAME)
