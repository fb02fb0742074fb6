"""Backend selection: which array library computes every primitive op.

`GPUKERAS_BACKEND=numpy|cupy|auto` (unset or empty = auto) chooses at import;
`set_backend` switches later (tests use it). Only this package imports CuPy.
"""

from __future__ import annotations

import os

from gpukeras.backend.base import Ops
from gpukeras.backend.numpy_backend import NumpyOps

KNOWN_BACKENDS = ("numpy", "cupy", "auto")

active: Ops = NumpyOps()


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run on this machine; the message says why."""


def _cupy_problem() -> str | None:
    """Why CuPy cannot run here, or None when it can (checked with a tiny op)."""
    from gpukeras.backend.kernels import cache_dir

    cache_dir()  # before CuPy's first import, which fixes where it caches compiled kernels
    try:
        import cupy
    except ImportError as exc:
        return f"CuPy is not installed ({exc}); install gpukeras[cuda12] or gpukeras[cuda13]"
    try:
        if not cupy.is_available():
            return "no usable NVIDIA GPU was found (cupy.is_available() is False)"
        if int((cupy.arange(3) * 2).sum()) != 6:
            return "a smoke-test op on the GPU returned a wrong result"
    except Exception as exc:  # CUDA runtime errors come in many types
        return f"a smoke-test op on the GPU failed: {exc}"
    return None


def _make(name: str) -> Ops:
    if name == "numpy":
        return NumpyOps()
    problem = _cupy_problem()
    if name == "auto":
        if problem is not None:
            return NumpyOps()
        name = "cupy"
    elif problem is not None:
        raise BackendUnavailableError(f"The 'cupy' backend cannot be used: {problem}.")
    from gpukeras.backend.cupy_backend import CupyOps

    return CupyOps()


def set_backend(name: str | None) -> Ops:
    """Make `name` ('numpy', 'cupy', 'auto'; None/'' = auto) the active backend and return it."""
    global active
    key = (name or "auto").strip().lower()
    if key not in KNOWN_BACKENDS:
        raise ValueError(
            f"Unknown backend {name!r} (from GPUKERAS_BACKEND or set_backend); "
            f"expected one of {', '.join(KNOWN_BACKENDS)}."
        )
    active = _make(key)
    return active


def backend() -> str:
    """Name of the active backend: 'numpy' or 'cupy'."""
    return active.name


def get() -> Ops:
    """The active backend's op set."""
    return active


def available_backends() -> list[str]:
    """Backends that can run on this machine, NumPy first."""
    return ["numpy"] + (["cupy"] if _cupy_problem() is None else [])


_clear_hooks: list = []


def on_clear_session(hook) -> None:
    """Register a no-argument function that `clear_session` calls (name counters, caches)."""
    _clear_hooks.append(hook)


def clear_session() -> None:
    """Drop cached state: layer-name counters, backend caches, device memory pools."""
    for hook in _clear_hooks:
        hook()
    active.clear_caches()


set_backend(os.environ.get("GPUKERAS_BACKEND", ""))
