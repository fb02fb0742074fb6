"""Compile gpukeras's CUDA sources with the host C++ compiler and launch kernels on the CPU.

Stands in for `cupy.RawModule` in emulated-CuPy test runs (see cupy_on_numpy.py). The source
is preprocessed with cuda_host.h force-included, the `extern "C"` kernels are found in the
expanded text, and a launcher plus a parameter signature is generated for each one. Launch
arguments are checked against the kernel's parameter kinds and sizes (stricter than CUDA, which
reads whatever bytes it is given) and passed as cuLaunchKernel would: one pointer per parameter.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from emulation import stand_ins

HERE = Path(__file__).resolve().parent
_KERNEL = re.compile(r'extern\s+"C"\s+__gk_kernel__\s+void\s+(\w+)\s*\(')
_lock = threading.Lock()  # one launch at a time: the fiber scheduler has global state per module


class EmulationUnavailable(RuntimeError):
    """No host compiler or CUDA headers: the emulator cannot build kernels here."""


def cuda_include_dir() -> Path:
    """The CUDA toolkit's include directory (for vector types and the half-precision headers)."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parent.parent))
    candidates.append("/usr/local/cuda")
    for root in candidates:
        if root and (Path(root) / "include" / "vector_types.h").is_file():
            return Path(root) / "include"
    raise EmulationUnavailable("CUDA headers not found (set CUDA_HOME, or put nvcc on PATH)")


def compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise EmulationUnavailable("no C++ compiler (g++) on PATH")
    return cxx


def cache_root() -> Path:
    root = os.environ.get("GPUKERAS_EMULATOR_CACHE") or os.path.join(tempfile.gettempdir(),
                                                                      f"gpukeras-emulator-{os.getuid()}")
    Path(root).mkdir(parents=True, exist_ok=True)
    return Path(root)


def _defines(options: tuple[str, ...]) -> list[str]:
    """The -D options of an NVRTC option list (the others do not apply to the host compiler)."""
    return [o for o in options if o.startswith("-D")]


def build(code: str, options: tuple[str, ...] = ()) -> tuple[Path, list[str]]:
    """Compile `code` for the CPU; returns the shared library and the kernel names in it (cached)."""
    cxx = compiler()
    include = cuda_include_dir()
    runtime = (HERE / "cuda_host.h").read_text()
    key = hashlib.sha256("\0".join([code, runtime, cxx, *options]).encode()).hexdigest()[:24]
    lib = cache_root() / f"{key}.so"
    names_file = lib.with_suffix(".kernels")
    if lib.is_file() and names_file.is_file():
        return lib, names_file.read_text().split()
    with tempfile.TemporaryDirectory(dir=cache_root()) as tmp:
        src = Path(tmp) / "module.cu"
        src.write_text(code)
        flags = ["-std=c++17", f"-I{HERE}", f"-I{include}", *_defines(options)]
        expanded = subprocess.run([cxx, "-E", "-P", "-x", "c++", "-include", "cuda_host.h", *flags, str(src)],
                                  capture_output=True, text=True)
        if expanded.returncode:
            raise RuntimeError(f"preprocessing failed:\n{expanded.stderr[-4000:]}")
        names = _KERNEL.findall(expanded.stdout)
        glue = ['extern "C" {']
        for n in names:
            glue.append(f"int gk_emu_launch__{n}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,"
                        f" unsigned bz, void** args) {{ return gk_emu::launch(&{n}, gx, gy, gz, bx, by, bz, args); }}")
            glue.append(f"const char* gk_emu_signature__{n}() {{ return gk_emu::signature(&{n}); }}")
        glue.append("}")
        cpp = Path(tmp) / "module.cpp"
        cpp.write_text("#define __gk_kernel__\n" + expanded.stdout + "\n" + "\n".join(glue) + "\n")
        out = Path(tmp) / "module.so"
        built = subprocess.run([cxx, "-std=c++17", "-O2", "-fPIC", "-shared", "-ffp-contract=off",
                                "-fno-fast-math", "-U_FORTIFY_SOURCE", "-Wall", "-Wno-unused-function",
                                "-Wno-unused-variable", "-o", str(out), str(cpp)], capture_output=True, text=True)
        if built.returncode:
            raise RuntimeError(f"compiling for the CPU failed:\n{built.stderr[-4000:]}")
        os.replace(out, lib)
        names_file.write_text("\n".join(names))
    return lib, names


def _arg_bytes(value: Any, device_array: type) -> tuple[Any, str, int]:
    """(buffer, kind, size) of one launch argument, by CuPy's rules for RawKernel arguments."""
    if isinstance(value, device_array):
        return ctypes.c_void_p(value.data.ptr), "p", 8
    if isinstance(value, np.ndarray):
        raise TypeError(f"a host numpy.ndarray was passed to a kernel (shape {value.shape}); copy it to the device")
    if isinstance(value, np.generic):
        buf = ctypes.create_string_buffer(value.tobytes(), value.dtype.itemsize)
        return buf, {"f": "f", "i": "i", "u": "u", "b": "b"}.get(value.dtype.kind, "?"), value.dtype.itemsize
    if isinstance(value, bool):
        return ctypes.c_bool(value), "b", 1
    if isinstance(value, int):  # CuPy passes Python ints as 64-bit integers
        return ctypes.c_int64(value), "i", 8
    if isinstance(value, float):  # ... and Python floats as double
        return ctypes.c_double(value), "f", 8
    raise TypeError(f"unsupported kernel argument type {type(value).__name__}")


class Function:
    """One kernel; called like `cupy.RawKernel`: fn(grid, block, args, shared_mem=0)."""

    def __init__(self, lib: ctypes.CDLL, name: str, device_array: type) -> None:
        self.name = name
        self._launch = getattr(lib, f"gk_emu_launch__{name}")
        self._launch.restype = ctypes.c_int
        self._launch.argtypes = [ctypes.c_uint] * 6 + [ctypes.POINTER(ctypes.c_void_p)]
        sig = getattr(lib, f"gk_emu_signature__{name}")
        sig.restype = ctypes.c_char_p
        self.params = [(p[0], int(p[1:])) for p in sig().decode().split()]
        self._device_array = device_array

    def __call__(self, grid: tuple, block: tuple, args: tuple, shared_mem: int = 0) -> None:
        grid3 = tuple(int(g) for g in grid) + (1,) * (3 - len(grid))
        block3 = tuple(int(b) for b in block) + (1,) * (3 - len(block))
        if len(args) != len(self.params):
            raise TypeError(f"{self.name} takes {len(self.params)} arguments, {len(args)} given")
        buffers = []
        for i, (value, (kind, size)) in enumerate(zip(args, self.params)):
            buf, got_kind, got_size = _arg_bytes(value, self._device_array)
            null_pointer = kind == "p" and got_kind in "iu" and got_size == 8
            if not null_pointer and (got_kind, got_size) != (kind, size):
                raise TypeError(f"{self.name} argument {i}: the kernel takes {kind}{size}, "
                                f"got {got_kind}{got_size} ({type(value).__name__})")
            buffers.append(buf)
        stand_in = stand_ins.find(self.name, args)
        if stand_in is not None and all(g > 0 for g in grid3):
            with _lock:
                stand_in(args)
            return
        pointers = (ctypes.c_void_p * max(1, len(buffers)))(*[ctypes.addressof(b) for b in buffers])
        with _lock:
            rc = self._launch(*grid3, *block3, pointers)
        if rc:
            why = {1: "bad launch shape", 2: "out of memory for fiber stacks", 3: "deadlock at a barrier",
                   4: "threads of one block wait at different __syncthreads (undefined behaviour on a GPU)"}
            raise RuntimeError(f"{self.name} grid={grid3} block={block3}: {why.get(rc, rc)}")


class Module:
    """Stand-in for `cupy.RawModule(code=..., options=...)`, built on the CPU."""

    def __init__(self, code: str, options: tuple[str, ...] = (), device_array: type = np.ndarray) -> None:
        self.code = code
        self.options = tuple(options)
        self._device_array = device_array
        self._lib: ctypes.CDLL | None = None
        self.names: list[str] = []

    def compile(self) -> None:
        if self._lib is None:
            path, self.names = build(self.code, self.options)
            self._lib = ctypes.CDLL(str(path))

    def get_function(self, name: str) -> Function:
        self.compile()
        if name not in self.names:
            raise AttributeError(f"kernel {name!r} is not in this module")
        return Function(self._lib, name, self._device_array)
