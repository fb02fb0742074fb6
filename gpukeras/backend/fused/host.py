"""The C loops of `_cpu_kernels` that generic fused paths call on the host (windows, batch normalization).

A fused path written over `self.xp` asks `host_kernel` for its C loop: it gets one only when xp is NumPy,
the extension is built and has that function (a build from older sources simply lacks it) and every array
is float32; otherwise None, and the generic code runs (same bits: tests/test_cpu_windows.py).
"""

from __future__ import annotations

from typing import Any

try:
    from gpukeras.backend import _cpu_kernels as host_kernels
except ImportError:  # not compiled (no C compiler at install)
    host_kernels = None


def host_kernel(name: str, xp: Any, *arrays: Any) -> Any:
    """_cpu_kernels.<name> when xp is NumPy and every array is float32, else None."""
    if host_kernels is None or getattr(xp, "__name__", "") != "numpy":
        return None
    for a in arrays:
        if a is not None and a.dtype != xp.float32:
            return None
    return getattr(host_kernels, name, None)
