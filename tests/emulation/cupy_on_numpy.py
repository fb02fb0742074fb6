"""A stand-in `cupy` package on NumPy, whose RawModules run our CUDA kernels on the CPU.

With it installed (`install()`), `gpukeras.backend.set_backend("cupy")` works without a GPU and
the CuPy backend's own code runs for real: its kernel launches (grids, argument types, the
optimizer tensor tables) execute the `.cu` sources through kernel_runner.py, and its generic
ops run on NumPy. Device arrays are a NumPy subclass that behaves like CuPy where bugs hide:
a host numpy.ndarray mixed into a device op raises TypeError (as an index it is allowed, as in
CuPy), reductions and scalar indexing return 0-d device arrays, `.get()` copies to the host,
`numpy.asarray(device)` raises (when called from Python code), names real CuPy lacks are refused.
Not modelled: streams and asynchrony, NVRTC and device math, anything about speed.
"""

from __future__ import annotations

import math
import sys
import time
import types
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from emulation import kernel_runner

VERSION = "14.2.0+cpu-emulated"


class _Pointer:
    __slots__ = ("ptr",)

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr


def _reject_host(values: Any, where: str) -> None:
    """CuPy refuses host arrays in device operations; so do we."""
    for v in values:
        if isinstance(v, (list, tuple)):
            _reject_host(v, where)
        elif isinstance(v, np.ndarray) and not isinstance(v, ndarray):
            raise TypeError(f"Unsupported type <class 'numpy.ndarray'> in {where} (a host array in a device op)")


def _to_device(value: Any) -> Any:
    """Wrap NumPy results as device arrays; scalars from reductions become 0-d device arrays."""
    if isinstance(value, ndarray):
        return value
    if isinstance(value, np.ndarray):
        return value.view(ndarray)
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        return np.asarray(value).view(ndarray)
    if isinstance(value, tuple):
        return tuple(_to_device(v) for v in value)
    if isinstance(value, list):
        return [_to_device(v) for v in value]
    return value


def _host_view(value: Any) -> Any:
    if isinstance(value, ndarray):
        return value.view(np.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_host_view(v) for v in value)
    return value


# Device -> host reads (each a synchronisation on a real GPU), by kind; tests reset and inspect it.
host_reads: Counter[str] = Counter()


class ndarray(np.ndarray):  # noqa: N801 - the CuPy name
    """A device array: NumPy memory, CuPy's rules."""

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
        host_reads["get"] += 1
        host = np.array(self.view(np.ndarray), copy=True, order=order)
        if out is not None:
            out[...] = host
            return out
        return host

    def __float__(self) -> float:
        host_reads["float"] += 1
        return float(self.view(np.ndarray))

    def __int__(self) -> int:
        host_reads["int"] += 1
        return int(self.view(np.ndarray))

    def __bool__(self) -> bool:
        host_reads["bool"] += 1
        return bool(self.view(np.ndarray))

    def item(self, *args: Any) -> Any:
        host_reads["item"] += 1
        return self.view(np.ndarray).item(*args)

    def tolist(self) -> Any:
        host_reads["tolist"] += 1
        return self.view(np.ndarray).tolist()

    @property
    def data(self) -> _Pointer:  # CuPy: a MemoryPointer with .ptr
        return _Pointer(self.view(np.ndarray).ctypes.data)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        _reject_host(inputs, f"cupy.{ufunc.__name__}")
        _reject_host(kwargs.get("out", ()), f"cupy.{ufunc.__name__}(out=)")
        if "out" in kwargs:
            kwargs["out"] = _host_view(kwargs["out"])
        result = getattr(ufunc, method)(*_host_view(inputs), **kwargs)
        if method == "at":
            return None
        return _to_device(result)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        _reject_host(args, f"cupy.{func.__name__}")
        return _to_device(func(*_host_view(args), **{k: _host_view(v) for k, v in kwargs.items()}))

    # Indexing converts NumPy index arrays and values to device arrays, as CuPy does.
    def __getitem__(self, key: Any) -> Any:
        return _to_device(super().__getitem__(key))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return "device " + repr(self.view(np.ndarray))


# ------------------------------------------------------------------------- module functions
def asarray(a: Any, dtype: Any = None, order: Any = None, **_: Any) -> ndarray:
    """Host data is copied to the device; a device array of the right dtype is returned as is."""
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    if isinstance(a, (list, tuple)):
        _reject_host(a, "cupy.asarray of a list")
    return np.array(a, dtype=dtype, order=order or "K", copy=True).view(ndarray)


def array(a: Any, dtype: Any = None, copy: bool = True, order: str = "K", **_: Any) -> ndarray:
    if isinstance(a, ndarray) and not copy:
        return asarray(a, dtype)
    return np.array(_host_view(a), dtype=dtype, order=order, copy=True).view(ndarray)


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
    return a.get(order=order, out=out) if isinstance(a, ndarray) else np.asarray(a, order=order)


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    _reject_host([a], "cupy.ascontiguousarray")
    return _to_device(np.ascontiguousarray(_host_view(a), dtype=dtype))


def is_available() -> bool:
    return True


def _wrap_function(fn: Any, name: str) -> Any:
    def device_fn(*args: Any, **kwargs: Any) -> Any:
        _reject_host(args, f"cupy.{name}")
        _reject_host(kwargs.values(), f"cupy.{name}")
        return _to_device(fn(*_host_view(args), **{k: _host_view(v) for k, v in kwargs.items()}))

    device_fn.__name__ = name
    return device_fn


class _Ufunc:
    """cupy.<ufunc>: refuses host arrays; .at / .reduce keep working."""

    def __init__(self, ufunc: np.ufunc) -> None:
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _reject_host(args, f"cupy.{self.__name__}")
        return _to_device(self._ufunc(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return _wrap_function(getattr(self._ufunc, name), f"{self.__name__}.{name}")


def _real_cupy_names() -> frozenset[str]:
    lines = (Path(__file__).with_name("cupy_names.txt")).read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


class _Namespace(types.ModuleType):
    """A module whose unknown attributes come from a NumPy namespace, wrapped for the device.

    `allowed` (for the top-level `cupy`): the names real CuPy has; others raise AttributeError.
    """

    def __init__(self, name: str, source: Any, allowed: frozenset[str] | None = None) -> None:
        super().__init__(name)
        self._source = source
        self._allowed = allowed

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._allowed is not None and name not in self._allowed:
            raise AttributeError(f"module 'cupy' has no attribute {name!r} (real CuPy lacks it too)")
        value = getattr(self._source, name)
        if isinstance(value, np.ufunc):
            value = _Ufunc(value)
        elif isinstance(value, types.ModuleType):
            value = _Namespace(f"{self.__name__}.{name}", value)
        elif callable(value) and not isinstance(value, type):
            value = _wrap_function(value, name)
        setattr(self, name, value)
        return value


# ------------------------------------------------------------------------- cupy.cuda
# Only what gpukeras, its tests and benchmarks call. Kernels run synchronously here, so streams
# have nothing to wait for and an event is a host timestamp.
class _Stream:
    def __init__(self, non_blocking: bool = False) -> None:
        self.ptr = 0

    def synchronize(self) -> None:
        pass

    def wait_event(self, event: Any) -> None:
        pass


class _Event:
    def __init__(self) -> None:
        self.time = time.perf_counter()

    def record(self, stream: Any = None) -> None:
        self.time = time.perf_counter()

    def synchronize(self) -> None:
        pass


class _Device:
    attributes = {"MultiProcessorCount": 2}  # few SMs: small grids keep the CPU emulation quick

    def __init__(self, device: int = 0) -> None:
        self.id = device

    def synchronize(self) -> None:
        pass

    def use(self) -> None:
        if self.id != 0:
            raise RuntimeError(f"the emulator has one device, not device {self.id}")


class _Pool:
    def free_all_blocks(self, stream: Any = None) -> None:
        pass

    def total_bytes(self) -> int:
        return 0


_memory_pool, _pinned_pool = _Pool(), _Pool()

cuda = types.ModuleType("cupy.cuda")
cuda.Device = _Device
cuda.Event = _Event
cuda.get_current_stream = lambda device_id=-1: _Stream()
cuda.get_elapsed_time = lambda start, stop: (stop.time - start.time) * 1e3
cuda.runtime = types.SimpleNamespace(getDevice=lambda: 0, getDeviceCount=lambda: 1, runtimeGetVersion=lambda: 13000,
                                     driverGetVersion=lambda: 13000)
cuda.is_available = is_available
cuda.get_cuda_path = lambda: str(kernel_runner.cuda_include_dir().parent)


class RawModule(kernel_runner.Module):
    def __init__(self, code: str | None = None, *, path: str | None = None, options: tuple = (), **_: Any) -> None:
        if code is None:
            raise NotImplementedError("the emulator builds from source text only")
        super().__init__(code, tuple(options), ndarray)


# ------------------------------------------------------------------------- cupyx
def _erf(x: Any) -> Any:
    _reject_host([x], "cupyx.scipy.special.erf")
    host = _host_view(x)
    return _to_device(np.vectorize(math.erf, otypes=[host.dtype])(host) if host.size else host.copy())


def _scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    _reject_host([a, value], "cupyx.scatter_add")  # index arrays may be host arrays, as in indexing
    np.add.at(_host_view(a), _host_view(slices), _host_view(value))


# ------------------------------------------------------------------------- cupy.random.default_rng
# The methods cupy.random.Generator (cupy/random/_generator_api.pyx) shares with NumPy's; draws come
# back as device arrays, as CuPy's do (its bit stream differs from NumPy's: only shapes, dtypes and
# seeding behaviour are modelled).
_GENERATOR_METHODS = frozenset({"random", "uniform", "integers", "standard_normal", "standard_exponential",
                                "standard_gamma", "gamma", "beta", "binomial", "exponential", "poisson"})


class _Generator:
    """cupy.random.Generator: a seeded generator whose draws are device arrays."""

    def __init__(self, seed: Any = None) -> None:
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        if name not in _GENERATOR_METHODS:
            raise AttributeError(f"'cupy.random.Generator' has no attribute {name!r} (real CuPy lacks it too)")
        return _wrap_function(getattr(self._rng, name), f"random.Generator.{name}")


class _NcclCommunicator:
    """CuPy's NCCL communicator for a job of one process: a sum or broadcast over one rank leaves the buffer
    as it is, so the transport's calls (pointers, counts, dtypes, streams) run without a GPU."""

    def __init__(self, nranks: int, uid: Any, rank: int) -> None:
        if nranks != 1 or rank != 0 or not isinstance(uid, bytes):
            raise RuntimeError("the emulated NCCL joins one-process jobs only (no GPUs to talk to)")

    def allReduce(self, send: int, recv: int, count: int, kind: int, op: int, stream: int) -> None:  # noqa: N802
        if send != recv or count < 0 or kind not in _NCCL_KINDS or op != 0:
            raise ValueError("emulated NCCL: in-place sums of a known dtype only")

    def bcast(self, ptr: int, count: int, kind: int, root: int, stream: int) -> None:
        if root != 0 or kind not in _NCCL_KINDS:
            raise ValueError("emulated NCCL: broadcast from rank 0 of a known dtype only")


_NCCL_KINDS = (0, 1, 2, 3)
nccl = types.ModuleType("cupy.cuda.nccl")
nccl.available = True
nccl.NCCL_SUM = 0
nccl.NCCL_FLOAT32, nccl.NCCL_FLOAT64, nccl.NCCL_INT64, nccl.NCCL_INT32 = _NCCL_KINDS
nccl.get_unique_id = lambda: b"emulated-nccl-id"
nccl.NcclCommunicator = _NcclCommunicator
cuda.Stream = _Stream
cuda.nccl = nccl


def build_modules() -> dict[str, types.ModuleType]:
    """The `cupy`, `cupy.cuda`, `cupyx`, ... entries for sys.modules."""
    cupy = _Namespace("cupy", np, _real_cupy_names())
    for name in ("ndarray", "asarray", "array", "asnumpy", "ascontiguousarray", "is_available", "RawModule", "cuda"):
        setattr(cupy, name, globals()[name])
    cupy.__version__ = VERSION
    cupy.get_default_memory_pool = lambda: _memory_pool
    cupy.get_default_pinned_memory_pool = lambda: _pinned_pool
    cupy.__file__ = __file__
    cupy.random = _Namespace("cupy.random", np.random)
    cupy.random.default_rng = _Generator
    special = types.ModuleType("cupyx.scipy.special")
    special.erf = _erf
    scipy = types.ModuleType("cupyx.scipy")
    scipy.special = special
    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = _scatter_add
    cupyx.scipy = scipy
    return {"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.nccl": nccl, "cupyx": cupyx, "cupyx.scipy": scipy,
            "cupyx.scipy.special": special}


def _refuse_device_arrays(convert: Any) -> Any:
    """numpy.asarray & co. as CuPy users meet them: a device array raises TypeError (use .get())."""
    if getattr(convert, "_refuses_device_arrays", False):
        return convert

    def guarded(a: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(a, ndarray):
            raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
                            "construct a NumPy array explicitly.")
        return convert(a, *args, **kwargs)

    guarded._refuses_device_arrays = True
    guarded.__name__ = convert.__name__
    guarded.__doc__ = convert.__doc__
    return guarded


def install() -> None:
    """Put the emulated CuPy in sys.modules (before gpukeras first imports the real one).

    Also makes `numpy.asarray`, `numpy.array`, `numpy.asanyarray` and `numpy.ascontiguousarray`
    (as called from Python) refuse device arrays, which NumPy itself would convert silently.
    """
    kernel_runner.cuda_include_dir()  # fail early, with the reason, when the emulator cannot work
    kernel_runner.compiler()
    sys.modules.update(build_modules())
    for name in ("asarray", "array", "asanyarray", "ascontiguousarray"):
        setattr(np, name, _refuse_device_arrays(getattr(np, name)))
