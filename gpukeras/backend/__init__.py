"""Backend selection: which registered backend computes every primitive op.

`GPUKERAS_BACKEND` chooses at import: any registered name (`numpy`, `cupy`, or one added with
`register_backend`) or `auto` (unset or empty too): CuPy when a usable GPU is there, else NumPy.
`set_backend` switches later (tests use it). Only this package imports CuPy.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from gpukeras.backend.base import Ops
from gpukeras.backend.graphs import GraphCaptureError
from gpukeras.backend.numpy_backend import NumpyOps  # registers "numpy" (first: listed first)

# isort: split
from gpukeras.backend.cupy_registration import cupy_problem  # registers "cupy"
from gpukeras.backend.registry import (
    BackendUnavailableError,
    create,
    create_auto,
    register_backend,
    registered_backends,
    unregister_backend,
)
from gpukeras.backend.registry import available_backends as _available

active: Ops = NumpyOps()


def set_backend(name: str | None) -> Ops:
    """Make the registered backend `name` (or 'auto'; None/'' = auto) the active one and return it.

    ValueError for an unknown name (the message lists the registered ones); BackendUnavailableError,
    saying why, for one that cannot run here.
    """
    global active
    key = (name or "auto").strip().lower()
    active = create_auto() if key == "auto" else create(name)
    return active


def backend() -> str:
    """Name of the active backend, e.g. 'numpy' or 'cupy'."""
    return active.name


def get() -> Ops:
    """The active backend's op set."""
    return active


def available_backends() -> list[str]:
    """Registered backends that can run on this machine, NumPy first."""
    return _available()


_clear_hooks: list[Callable[[], None]] = []


def on_clear_session(hook: Callable[[], None]) -> None:
    """Register a no-argument function that `clear_session` calls (name counters, caches)."""
    _clear_hooks.append(hook)


def clear_session() -> None:
    """Drop cached state: layer-name counters, backend caches, device memory pools."""
    for hook in _clear_hooks:
        hook()
    active.clear_caches()


# ---------------------------------------------------------------------- keras.backend's global settings
_settings = {"epsilon": 1e-7, "floatx": "float32", "image_data_format": "channels_last"}
_FLOATX = ("bfloat16", "float16", "float32", "float64")
_DATA_FORMATS = ("channels_first", "channels_last")


def epsilon() -> float:
    """The fuzz factor losses, metrics and constraints add to avoid dividing by zero (1e-7 unless set)."""
    return _settings["epsilon"]


def set_epsilon(value: float) -> None:
    _settings["epsilon"] = float(value)


def floatx() -> str:
    """The default float dtype of new layers' weights and computations ('float32' unless set)."""
    return _settings["floatx"]


def set_floatx(value: str) -> None:
    if value not in _FLOATX:
        raise ValueError(f"Unknown floatx type: {value!r}. Expected one of {_FLOATX}.")
    _settings["floatx"] = str(value)


def image_data_format() -> str:
    """The layout image layers use when their `data_format` is None ('channels_last' unless set)."""
    return _settings["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    key = data_format.lower() if isinstance(data_format, str) else data_format
    if key not in _DATA_FORMATS:
        raise ValueError(f"The `data_format` argument must be one of {_DATA_FORMATS}. Received: {data_format!r}")
    _settings["image_data_format"] = key


__all__ = ["BackendUnavailableError", "GraphCaptureError", "NumpyOps", "Ops", "active", "available_backends", "backend",
           "clear_session", "cupy_problem", "epsilon", "floatx", "get", "image_data_format", "on_clear_session",
           "register_backend", "registered_backends", "set_backend", "set_epsilon", "set_floatx",
           "set_image_data_format", "unregister_backend"]

set_backend(os.environ.get("GPUKERAS_BACKEND", ""))
