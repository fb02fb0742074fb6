"""What every kernel launcher shares: the device facts, dtype dispatch, argument checks, the launch.

A launcher is one object per CUDA kernel of kernels/*.cu (all its dtype builds). It decides
whether its kernel covers a call (dtypes, shapes, layouts), picks the _f32/_f16/_bf16 build,
computes the grid, checks every argument against the kernel's declaration in the file (kinds
parsed by `kernels.catalogue()`) and launches. It returns its outputs, or None (False) when
it does not cover the case or the kernel cannot be built here; the caller then runs the
generic code.
"""

from __future__ import annotations

from typing import Any

import cupy
import numpy as np

import gpukeras.backend.kernels as K

BLOCK = 256  # threads per block of the grid-stride kernels
_NULL = np.uint64(0)
_SCALARS = {"f32": np.float32, "i32": np.int32, "i64": np.int64, "u32": np.uint32}
_POINTER_DTYPES = {"f32*": "float32", "i64*": "int64"}


def is_number(v: Any) -> bool:
    """A plain host number (what a kernel's scalar argument may be)."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


class Device:
    """The GPU facts launches need (SM count), and the switch that turns every kernel off."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._sm_count: int | None = None
        self.capture: Any = None  # the step graph being captured (cuda_graphs.Capture), else None

    def sm_count(self) -> int:
        if self._sm_count is None:
            self._sm_count = int(cupy.cuda.Device().attributes["MultiProcessorCount"])
        return self._sm_count

    def grid(self, n: int, block: int = BLOCK) -> int:
        """Blocks for a grid-stride loop over n items: enough to fill the GPU, no more."""
        return max(1, min((n + block - 1) // block, self.sm_count() * 32))

    def rows_grid(self, rows: int, cols: int, bx: int, rows_per_block: int = 1, per_sm: int = 16) -> tuple[int, int]:
        """(column blocks, row blocks) for the row-strided kernels: about `per_sm` blocks per SM."""
        gx = (cols + bx - 1) // bx
        gy = min((rows + rows_per_block - 1) // rows_per_block, max(1, self.sm_count() * per_sm // gx), 65535)
        return gx, max(1, gy)

    @staticmethod
    def row_block(cols: int) -> int:
        """Threads for one row: whole warps, at most one block of BLOCK threads."""
        return min(BLOCK, (cols + 31) // 32 * 32)


class Launcher:
    """One CUDA kernel: subclasses name it (`kernel`, as `kernels.catalogue()` keys it) and define __call__."""

    kernel: str = ""

    def __init__(self, device: Device, kernel: str | None = None) -> None:
        self.device = device
        self.kernel = kernel or type(self).kernel
        self.spec = K.catalogue()[self.kernel]  # KeyError: a launcher for a kernel the files do not declare

    def suffix(self, *arrays: Any) -> str | None:
        """The dtype build to run: every array (None skipped) on the device, one dtype this kernel is built for."""
        if not self.device.enabled:
            return None
        first = arrays[0]
        if not isinstance(first, cupy.ndarray):
            return None
        for a in arrays[1:]:
            if a is not None and (not isinstance(a, cupy.ndarray) or a.dtype != first.dtype):
                return None
        suffix = K.DTYPE_SUFFIX.get(first.dtype.name)
        return suffix if suffix in self.spec.dtypes else None

    def launch(self, suffix: str, grid: tuple, block: tuple, *args: Any, variant: str | None = None) -> bool:
        """Check and convert `args` against the kernel's parameters and launch; False when it cannot be built."""
        name = self.spec.full_name(suffix, variant)
        try:
            fn = K.function(self.spec.file, name)
        except K.KernelUnavailableError:  # warned once by the loader
            return False
        fn(grid, block, self._arguments(name, suffix, args))
        K.launch_counts[name] += 1
        return True

    def _arguments(self, name: str, suffix: str, args: tuple) -> tuple:
        """The launch tuple: scalars in the declared C types, arrays checked (dtype, C-contiguous), None as null."""
        kinds = self.spec.params
        if len(args) != len(kinds):
            raise TypeError(f"{name} takes {len(kinds)} arguments, {len(args)} given")
        storage = next(k for k, v in K.DTYPE_SUFFIX.items() if v == suffix)
        out = []
        for i, (kind, value) in enumerate(zip(kinds, args)):
            if kind in _SCALARS:
                out.append(_SCALARS[kind](value))
            elif value is None:
                out.append(_NULL)
            else:
                want = storage if kind == "T*" else _POINTER_DTYPES[kind]
                if not isinstance(value, cupy.ndarray) or value.dtype.name != want or not value.flags.c_contiguous:
                    got = f"{type(value).__name__} {getattr(value, 'dtype', '')}"
                    raise TypeError(f"{name} argument {i} must be a C-contiguous {want} device array, got {got}")
                out.append(value)
        return tuple(out)
