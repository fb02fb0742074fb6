"""Our CUDA kernels: where the `.cu` sources live, and loading them with `cupy.RawModule`.

Nothing here imports CuPy at import time. A module is compiled (by NVRTC, through CuPy) the
first time one of its kernels is asked for, once per (file, dtype, device), and kept; CuPy's
on-disk cache makes later processes skip the compile. The cache lives under the user's cache
directory (`$XDG_CACHE_HOME` or `~/.cache`, then `gpukeras/cupy`) unless `CUPY_CACHE_DIR` is set.

Each `.cu` is compiled per storage dtype with one of `-DGK_F32/-DGK_F16/-DGK_BF16`, so the
float32 module needs no CUDA half headers. Local `#include "x.cuh"` lines are inlined here, so
CuPy's cache key (the source text) changes whenever a header does.

Also here: NumPy twins of kernels whose primitive is not (yet) in `base.Ops`: the Philox
dropout stream and fused sigmoid + binary cross-entropy (generic over `xp`).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

# Kernel files and the activation ids used in act_functions.cuh.
KERNEL_FILES = ("activations.cu", "dense.cu", "softmax.cu", "softmax_xent.cu", "optimizers.cu", "dropout.cu",
                "pooling.cu", "col2im.cu", "normalization.cu")
ACT_IDS = {
    "linear": 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "elu": 4, "selu": 5, "gelu": 6, "gelu_tanh": 7,
    "silu": 8, "sigmoid": 9, "hard_sigmoid": 10, "hard_silu": 11, "tanh": 12, "softplus": 13, "softsign": 14,
    "exponential": 15, "mish": 16,
}
# Storage dtype name -> kernel name suffix / compile define.
DTYPE_SUFFIX = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)
_PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\s*$", re.MULTILINE)
_lock = threading.Lock()
_modules: dict[tuple[str, str, int], Any] = {}  # (file, suffix, device) -> RawModule or the exception
_sources: dict[str, str] = {}
# Kernel name -> launches in this process: lets tests tell a kernel run from a silent fallback.
launch_counts: Counter[str] = Counter()


def act_params(name: str, params: tuple) -> tuple[float, float, float] | None:
    """(p0, p1, p2) for act_functions.cuh, or None when the kernel does not take these params."""

    def number(v: Any) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

    if name not in ACT_IDS:
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


class KernelUnavailableError(RuntimeError):
    """A kernel module could not be compiled or loaded; callers fall back to generic code."""


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


def module(filename: str, suffix: str) -> Any:
    """The compiled `cupy.RawModule` for (file, dtype suffix) on the current device, built once."""
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
            _modules[key] = found
    if isinstance(found, Exception):
        raise found
    return found


def function(filename: str, name: str) -> Any:
    """Kernel `name` (ending in _f32/_f16/_bf16) from `filename`."""
    suffix = name.rsplit("_", 1)[1]
    try:
        return module(filename, suffix).get_function(name)
    except KernelUnavailableError:
        raise
    except Exception as exc:
        raise KernelUnavailableError(f"kernel {name} unavailable: {exc}") from exc


def clear() -> None:
    """Forget loaded modules (they are rebuilt, from CuPy's disk cache, on next use)."""
    with _lock:
        _modules.clear()
        _sources.clear()


# ---------------------------------------------------------------------------------------------
# NumPy twins of kernels without a base.Ops primitive (generic over the array module xp).

_PHILOX_M0, _PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85


def philox4x32_10(counters: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 of uint32 counters shaped (n, 4) under a 2-word key; returns (n, 4) uint32."""
    c = [counters[:, j].astype(np.uint64) for j in range(4)]
    k0, k1 = np.uint64(key[0] & 0xFFFFFFFF), np.uint64(key[1] & 0xFFFFFFFF)
    mask = np.uint64(0xFFFFFFFF)
    m0, m1 = np.uint64(_PHILOX_M0), np.uint64(_PHILOX_M1)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(_PHILOX_W0)) & mask
            k1 = (k1 + np.uint64(_PHILOX_W1)) & mask
        p0 = m0 * c[0]
        p1 = m1 * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ k0), p1 & mask, ((p0 >> np.uint64(32)) ^ c[3] ^ k1), p0 & mask]
    return np.stack(c, axis=1).astype(np.uint32)


def philox_dropout_mask(shape: tuple[int, ...], rate: float, seed: int, dtype: Any = "float32") -> np.ndarray:
    """NumPy twin of dropout.cu: scale where Philox's uniform >= rate, 0 elsewhere."""
    n = int(np.prod(shape, dtype=np.int64))
    quads = np.arange((n + 3) // 4, dtype=np.uint64)
    counters = np.zeros((quads.size, 4), dtype=np.uint32)
    counters[:, 0] = (quads & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    counters[:, 1] = (quads >> np.uint64(32)).astype(np.uint32)
    words = philox4x32_10(counters, (seed & 0xFFFFFFFF, seed >> 32)).reshape(-1)[:n]
    uniform = (words >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)
    keep = uniform >= np.float32(rate)
    scale = np.asarray(1.0 / (1.0 - rate), dtype=np.float32)
    return np.where(keep, scale, np.float32(0.0)).astype(dtype).reshape(shape)


def sigmoid_bce(xp: Any, logits: Any, targets: Any) -> tuple[Any, Any]:
    """Twin of gk_sbce_fwd: elementwise t*softplus(-z) + (1-t)*softplus(z), and sigmoid(z)."""
    def softplus(v: Any) -> Any:
        return xp.maximum(v, 0) + xp.log1p(xp.exp(-xp.abs(v)))

    e = xp.exp(-xp.abs(logits))
    probs = xp.where(logits >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(logits.dtype, copy=False)
    loss = targets * softplus(-logits) + (1.0 - targets) * softplus(logits)
    return loss.astype(logits.dtype, copy=False), probs


def sigmoid_bce_backward(dloss: Any, probs: Any, targets: Any) -> Any:
    """Twin of gk_sbce_bwd: (sigmoid(z) - t) * dloss."""
    return ((probs - targets) * dloss).astype(probs.dtype, copy=False)
