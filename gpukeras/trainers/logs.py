"""Logs handed to callbacks: values stay on the device until someone reads them.

A training step's metrics live in backend arrays; reading one synchronises a GPU. These mappings
read (and flatten, and convert to Python floats) only when a key is looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from gpukeras import backend as _backend


def host_logs(logs: Mapping[str, Any]) -> dict[str, float]:
    """Logs as Python floats, nested dicts (Keras's compile_metrics result) flattened into the top level."""
    out: dict[str, float] = {}
    for key, value in logs.items():
        if isinstance(value, Mapping):
            out.update(host_logs(value))
        else:
            out[key] = float(value)
    return out


class LazyLogs(Mapping):
    """Logs computed by `read()` (a host read of the device values) the first time a key is looked up."""

    def __init__(self, read: Callable[[], Mapping[str, Any]]):
        self._read = read
        self._values: dict[str, float] | None = None

    def _get(self) -> dict[str, float]:
        if self._values is None:
            self._values = host_logs(self._read())
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


class PredictBatchLogs(Mapping):
    """`{"outputs": [host arrays]}` for one predict batch, copied from the device only when read."""

    def __init__(self, outputs: list[Any]):
        self._outputs = outputs
        self._host: list[np.ndarray] | None = None

    def __getitem__(self, key: str) -> list[np.ndarray]:
        if key != "outputs":
            raise KeyError(key)
        if self._host is None:
            self._host = [_backend.active.to_numpy(o) for o in self._outputs]
        return self._host

    def __iter__(self) -> Iterator[str]:
        return iter(("outputs",))

    def __len__(self) -> int:
        return 1
