"""Our CUDA kernels: where the `.cu` sources live, which kernels they declare, and loading them.

Nothing here imports CuPy at import time. The kernel list is read from the files: every
`extern "C" __global__` declaration in kernels/*.cu, with its parameter kinds (`catalogue()`);
a name built by a macro (`gk_act_##NAME##_fwd_##S`) is one kernel over a variant and the dtypes.
A module is compiled (by NVRTC, through CuPy) the first time one of its kernels is asked for, once
per (file, dtype, device), and kept; CuPy's on-disk cache makes later processes skip the compile.
The cache lives under the user's cache directory (`$XDG_CACHE_HOME` or `~/.cache`, then
`gpukeras/cupy`) unless `CUPY_CACHE_DIR` is set. A module that fails to build warns once
(`KernelBuildWarning`, naming the kernel, file and reason) and its ops run the generic code.

Each `.cu` is compiled per storage dtype with one of `-DGK_F32/-DGK_F16/-DGK_BF16`, so the
float32 module needs no CUDA half headers. Local `#include "x.cuh"` lines are inlined here, so
CuPy's cache key (the source text) changes whenever a header does.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import threading
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gpukeras.backend.philox import philox_dropout_mask as philox_dropout_mask  # re-exported: tests use it

# Storage dtype name -> kernel name suffix / compile define.
DTYPE_SUFFIX = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)
_PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\s*$", re.MULTILINE)
_BOUNDS = r"(?:__launch_bounds__\s*\([^)]*\)\s*)?"
_DECLARATION = re.compile(r'extern\s+"C"\s+__global__\s+' + _BOUNDS + r"void\s+" + _BOUNDS + r"([\w#]+)\s*\(([^)]*)\)")
_ACT_DEFINE = re.compile(r"^#define\s+GK_([A-Z0-9_]+)\s+(\d+)\s*$", re.MULTILINE)
_ACT_LIST_ENTRY = re.compile(r"M\(T,\s*S,\s*(\w+),\s*GK_(\w+)\)")
_lock = threading.Lock()
_modules: dict[tuple[str, str, int], Any] = {}  # (file, suffix, device) -> RawModule or the exception
_sources: dict[str, str] = {}
_catalogue: dict[str, KernelSpec] = {}
_act_ids: dict[str, int] = {}
# Kernel name -> launches in this process: lets tests tell a kernel run from a silent fallback.
launch_counts: Counter[str] = Counter()


class KernelUnavailableError(RuntimeError):
    """A kernel module could not be compiled or loaded; callers fall back to generic code."""


class KernelBuildWarning(RuntimeWarning):
    """A kernel could not be built or loaded here; its op runs the generic (slower) code instead."""


# ---------------------------------------------------------------------------------------------- files
def kernel_dir() -> Path:
    """Directory holding the `.cu` files: $GPUKERAS_KERNEL_DIR, the installed package, or the checkout."""
    env = os.environ.get("GPUKERAS_KERNEL_DIR")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates.append(here.parent.parent / "kernels")  # installed wheel: gpukeras/kernels
    candidates.append(here.parents[2] / "kernels")  # source checkout: <repo>/kernels
    for path in candidates:
        if (path / "activations.cu").is_file():
            return path
    raise FileNotFoundError(
        "gpukeras CUDA kernel sources not found; looked in " + ", ".join(str(p) for p in candidates)
    )


def kernel_files() -> list[Path]:
    """Every `.cu` file shipped with gpukeras."""
    return sorted(kernel_dir().glob("*.cu"))


def kernel_file_names() -> list[str]:
    """Names of every `.cu` file, sorted (the modules the loader can build)."""
    return [p.name for p in kernel_files()]


def source(filename: str) -> str:
    """Text of `filename` with local `#include "..."` headers inlined (each once)."""
    if filename not in _sources:
        base = kernel_dir()
        seen: set[str] = set()

        def expand(name: str) -> str:
            if name in seen:
                return ""
            seen.add(name)
            text = _PRAGMA_ONCE.sub("", (base / name).read_text(encoding="utf-8"))
            return _INCLUDE.sub(lambda m: expand(m.group(1)) if (base / m.group(1)).is_file() else m.group(0), text)

        _sources[filename] = expand(filename)
    return _sources[filename]


# ---------------------------------------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class KernelSpec:
    """One kernel as declared in a `.cu` file.

    `name` has "{}" where a macro pastes a variant (an activation name); the launched name is
    `name.format(variant) + "_" + suffix`. `params` are the parameter kinds, in order: "T*" (the
    storage dtype), "f32*", "i64*" (pointers), "f32", "i32", "i64", "u32" (scalars).
    """

    name: str
    file: str
    dtypes: tuple[str, ...]
    params: tuple[str, ...]

    def full_name(self, suffix: str, variant: str | None = None) -> str:
        """The `extern "C"` name of the build for `suffix` (and `variant`, for a macro-built name)."""
        return (self.name.format(variant) if "{}" in self.name else self.name) + "_" + suffix


_POINTER_KINDS = {"T": "T*", "float": "f32*", "long long": "i64*"}
_SCALAR_KINDS = {"float": "f32", "int": "i32", "gk_index": "i64", "long long": "i64", "unsigned int": "u32"}


def _param_kind(declaration: str) -> str:
    """The kind of one C parameter declaration, e.g. "const T* __restrict__ x" -> "T*"."""
    words = declaration.replace("*", " * ").replace("__restrict__", " ").replace("const", " ").split()
    if "*" in words:
        return _POINTER_KINDS[" ".join(words[:words.index("*")])]
    return _SCALAR_KINDS[" ".join(words[:-1])]


def _spec(raw_name: str, params: str, filename: str) -> KernelSpec:
    """KernelSpec of one declaration: a `##`-pasted name ends in the dtype; other pasted parts are variants."""
    kinds = tuple(_param_kind(p) for p in params.split(",") if p.strip())
    parts = raw_name.split("##")
    if len(parts) > 1:
        stem = "".join("{}" if p.isidentifier() and p.isupper() else p for p in parts[:-1])
        return KernelSpec(stem.rstrip("_"), filename, tuple(DTYPE_SUFFIX.values()), kinds)
    base, _, suffix = raw_name.rpartition("_")
    if suffix not in DTYPE_SUFFIX.values():
        raise ValueError(f"{filename}: kernel {raw_name} does not end in a dtype suffix (_f32, _f16, _bf16)")
    return KernelSpec(base, filename, (suffix,), kinds)


def catalogue() -> dict[str, KernelSpec]:
    """Every kernel declared in kernels/*.cu, by name (dtype suffix dropped, "{}" for a macro variant)."""
    with _lock:
        if not _catalogue:
            for path in kernel_files():
                text = path.read_text(encoding="utf-8").replace("\\\n", " ")  # join macro continuation lines
                for raw, params in _DECLARATION.findall(text):
                    spec = _spec(raw, params, path.name)
                    if spec.name in _catalogue:
                        raise ValueError(f"kernel {spec.name} is declared twice ({_catalogue[spec.name].file}, "
                                         f"{path.name})")
                    _catalogue[spec.name] = spec
        return dict(_catalogue)


def act_ids() -> dict[str, int]:
    """Activation name -> id in act_functions.cuh, for the activations with elementwise kernels (not linear)."""
    with _lock:
        if not _act_ids:
            text = (kernel_dir() / "act_functions.cuh").read_text(encoding="utf-8")
            ids = {macro: int(value) for macro, value in _ACT_DEFINE.findall(text)}
            _act_ids.update({name: ids[macro] for name, macro in _ACT_LIST_ENTRY.findall(text)})
        return dict(_act_ids)


def act_params(name: str, params: tuple) -> tuple[float, float, float] | None:
    """(p0, p1, p2) for act_functions.cuh, or None when the kernel does not take these params."""

    def number(v: Any) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

    if name not in act_ids():
        return None
    if name == "relu":
        if len(params) > 3:
            return None
        slope, max_value, threshold = list(params) + [0.0, None, 0.0][len(params):]
        if not (number(slope) and number(threshold) and (max_value is None or number(max_value))):
            return None
        return float(slope), math.inf if max_value is None else float(max_value), float(threshold)
    if name in ("leaky_relu", "elu"):
        if len(params) > 1 or (params and not number(params[0])):
            return None
        return (float(params[0]) if params else (0.2 if name == "leaky_relu" else 1.0)), 0.0, 0.0
    return (0.0, 0.0, 0.0) if not params else None


# ---------------------------------------------------------------------------------------------- building
def cache_dir() -> str:
    """Set (once) and return CuPy's kernel cache directory; an explicit CUPY_CACHE_DIR wins.

    CuPy 14 reads CUPY_CACHE_DIR when `cupy.cuda.compiler` is imported; if CuPy was imported
    before we set it, its (private) cache backend is re-pointed when that hook exists.
    """
    if not os.environ.get("CUPY_CACHE_DIR"):
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(root, "gpukeras", "cupy")
        os.environ["CUPY_CACHE_DIR"] = path
        compiler = sys.modules.get("cupy.cuda.compiler")
        setter = getattr(compiler, "_set_kernel_cache_backend", None)
        backend_cls = getattr(sys.modules.get("cupy.cuda._compiler_cache"), "DiskKernelCacheBackend", None)
        if setter is not None and backend_cls is not None:
            try:
                setter(backend_cls(path))
            except Exception:  # a private API: keep CuPy's default location if it changed
                pass
    return os.environ["CUPY_CACHE_DIR"]


def _cupy_cuda_path() -> str | None:
    cupy = sys.modules.get("cupy")
    try:
        return cupy.cuda.get_cuda_path() if cupy is not None else None
    except Exception:  # no CUDA root known to CuPy, or an older CuPy
        return None


def half_header_dir() -> str | None:
    """The directory holding cuda_fp16.h / cuda_bf16.h, which NVRTC does not find by itself.

    Looked for first where CuPy finds its NVRTC (`cupy.cuda.get_cuda_path()`, so headers and
    compiler come from one toolkit), then $CUDA_PATH / $CUDA_HOME, beside `nvcc`, /usr/local/cuda
    and the NVIDIA CUDA wheels (nvidia/cu13, nvidia/cuda_runtime).
    """
    roots = [_cupy_cuda_path(), os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME")]
    nvcc = shutil.which("nvcc")
    if nvcc:
        roots.append(str(Path(nvcc).resolve().parent.parent))
    roots.append("/usr/local/cuda")
    candidates = [Path(r) / "include" for r in roots if r]
    for entry in sys.path:
        for sub in ("nvidia/cu13/include", "nvidia/cu12/include", "nvidia/cuda_runtime/include"):
            candidates.append(Path(entry or ".") / sub)
    return next((str(path) for path in candidates if (path / "cuda_fp16.h").is_file()), None)


def compile_options(suffix: str) -> tuple[str, ...]:
    """NVRTC options for the module of one storage dtype (half types get the CUDA header path)."""
    options = ("-std=c++17", f"-DGK_{suffix.upper()}=1")
    include = half_header_dir() if suffix != "f32" else None
    return options + ((f"-I{include}",) if include else ())


def module(filename: str, suffix: str, for_kernel: str | None = None) -> Any:
    """The compiled `cupy.RawModule` for (file, dtype suffix) on the current device, built once.

    A failure raises KernelUnavailableError each time and warns once (naming `for_kernel`, the
    kernel that needed the module first).
    """
    import cupy

    key = (filename, suffix, cupy.cuda.runtime.getDevice())
    with _lock:
        found = _modules.get(key)
        if found is None:
            cache_dir()
            try:
                found = cupy.RawModule(code=source(filename), options=compile_options(suffix))
                found.compile()
            except Exception as exc:  # CompileException, missing headers, driver errors
                found = KernelUnavailableError(f"cannot build {filename} for {suffix}: {exc}")
                _warn_unavailable(for_kernel or f"every kernel of {filename}", filename, suffix, exc)
            _modules[key] = found
    if isinstance(found, Exception):
        raise found
    return found


def function(filename: str, name: str) -> Any:
    """Kernel `name` (ending in _f32/_f16/_bf16) from `filename`; KernelUnavailableError (warned once) if absent."""
    suffix = name.rsplit("_", 1)[1]
    mod = module(filename, suffix, name)
    try:
        return mod.get_function(name)
    except Exception as exc:
        with _lock:
            if (filename, name) not in _missing:
                _missing.add((filename, name))
                _warn_unavailable(name, filename, suffix, exc)
        raise KernelUnavailableError(f"kernel {name} unavailable: {exc}") from exc


_missing: set[tuple[str, str]] = set()


def _warn_unavailable(kernel: str, filename: str, suffix: str, exc: BaseException) -> None:
    reason = " ".join(str(exc).split())
    if len(reason) > 600:
        reason = reason[:600] + " ..."
    warnings.warn(f"gpukeras: CUDA kernel {kernel} ({filename}, {suffix}) could not be built or loaded, so its op "
                  f"runs the generic CuPy code (slower): {type(exc).__name__}: {reason}", KernelBuildWarning,
                  stacklevel=4)


def clear() -> None:
    """Forget loaded modules and the kernel list (rebuilt, from CuPy's disk cache, on next use)."""
    with _lock:
        _modules.clear()
        _sources.clear()
        _catalogue.clear()
        _act_ids.clear()
        _missing.clear()
