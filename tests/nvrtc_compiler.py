"""NVRTC, the compiler CuPy's RawModule uses, called directly through ctypes.

NVRTC compiles CUDA C++ to PTX without a GPU or a driver (CuPy itself wants a device to pick
the architecture). Found in the `nvidia-cuda-nvrtc` wheel (the `test` extra) or the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys


def _candidates() -> list[str]:
    found = []
    for entry in sys.path:
        for pattern in ("nvidia/cu13/lib/libnvrtc.so.*", "nvidia/cuda_nvrtc/lib/libnvrtc.so.*"):
            found += sorted(p for p in glob.glob(os.path.join(entry or ".", pattern)) if "builtins" not in p)
    for root in (os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root:
            found += sorted(glob.glob(os.path.join(root, "lib64", "libnvrtc.so*")))
    system = ctypes.util.find_library("nvrtc")
    if system:
        found.append(system)
    return found


def load() -> ctypes.CDLL | None:
    """The NVRTC library, or None when none is installed."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        return lib
    return None


def version(lib: ctypes.CDLL) -> tuple[int, int]:
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def compile_source(lib: ctypes.CDLL, source: str, name: str, options: list[str]) -> tuple[bool, str]:
    """(compiled?, NVRTC's log) for `source` under `options`."""
    program = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), name.encode(), 0, None, None)
    if rc:
        return False, f"nvrtcCreateProgram: {lib.nvrtcGetErrorString(rc).decode()}"
    try:
        argv = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        rc = lib.nvrtcCompileProgram(program, len(options), argv)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(max(1, size.value))
        lib.nvrtcGetProgramLog(program, log)
        return rc == 0, log.value.decode(errors="replace").strip()
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))
