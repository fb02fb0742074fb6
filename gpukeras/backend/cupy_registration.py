"""The 'cupy' backend's registration, and whether CuPy can run here (CuPy is imported only to check).

Kept apart from cupy_backend.py, which imports CuPy at load: registering must work without it.
"""

from __future__ import annotations

from typing import Any

from gpukeras.backend.registry import register_backend


def cupy_problem() -> str | None:
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


def create_cupy_ops() -> Any:
    """The CuPy backend's op set (imports CuPy)."""
    from gpukeras.backend.cupy_backend import CupyOps

    return CupyOps()


register_backend("cupy", create_cupy_ops, problem=cupy_problem, auto_priority=10)
