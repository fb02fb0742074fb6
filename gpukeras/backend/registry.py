"""The backend registry: each backend registers a name, a factory and a check of whether it can run.

NumPy (numpy_backend.py) and CuPy (cupy_registration.py) register themselves when
`gpukeras.backend` loads; anything else, a test backend included, calls `register_backend`.
Selection by name, and `auto`, go through here, so no list of backends is kept anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class Registration:
    """One backend: how to make its op set, why it cannot run here (None: it can), its auto rank."""

    name: str
    factory: Callable[[], Any]
    problem: Callable[[], str | None]
    auto_priority: int | None  # `auto` tries the highest first; None: only when asked for by name


def _no_problem() -> str | None:
    return None


_registry: dict[str, Registration] = {}


def register_backend(name: str, factory: Callable[[], Any], *, problem: Callable[[], str | None] | None = None,
                     auto_priority: int | None = None) -> None:
    """Make `name` selectable: `factory()` builds its `Ops`; `problem()` says why it cannot run (None: it can).

    With `auto_priority`, `auto` considers it (highest first). Registering a name again replaces it.
    """
    key = name.strip().lower()
    if not key or key == "auto":
        raise ValueError(f"{name!r} cannot name a backend.")
    _registry[key] = Registration(key, factory, problem or _no_problem, auto_priority)


def unregister_backend(name: str) -> None:
    """Forget a registered backend (tests that register their own)."""
    _registry.pop(name.strip().lower(), None)


def registered_backends() -> list[str]:
    """Every registered name, in registration order (NumPy first)."""
    return list(_registry)


def problem(name: str) -> str | None:
    """Why the registered backend `name` cannot run here, or None when it can."""
    return _lookup(name).problem()


def available_backends() -> list[str]:
    """Registered backends that can run on this machine, in registration order."""
    return [r.name for r in _registry.values() if r.problem() is None]


def create(name: str) -> Any:
    """A fresh op set of the backend `name`; ValueError when unknown, BackendUnavailableError when it cannot run."""
    registration = _lookup(name)
    why = registration.problem()
    if why is not None:
        raise BackendUnavailableError(f"The {registration.name!r} backend cannot be used: {why}.")
    try:
        return registration.factory()
    except Exception as exc:  # an import or device error while building it: say so, never crash
        raise BackendUnavailableError(
            f"The {registration.name!r} backend could not be started: {type(exc).__name__}: {exc}") from exc


def create_auto() -> Any:
    """The op set of the highest-priority backend that can run here (`auto`)."""
    candidates = sorted((r for r in _registry.values() if r.auto_priority is not None),
                        key=lambda r: -r.auto_priority)
    reasons = []
    for registration in candidates:
        try:
            return create(registration.name)
        except BackendUnavailableError as exc:
            reasons.append(str(exc))
    raise BackendUnavailableError("No backend can run here: " + " ".join(reasons))


def _lookup(name: str) -> Registration:
    key = (name or "").strip().lower()
    if key not in _registry:
        raise ValueError(f"Unknown backend {name!r} (from GPUKERAS_BACKEND or set_backend); "
                         f"expected one of {', '.join([*_registry, 'auto'])}.")
    return _registry[key]
