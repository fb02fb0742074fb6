"""A stand-in `cupy` package on NumPy, whose RawModules run our CUDA kernels on the CPU.

With it installed (`install()`), `gpukeras.backend.set_backend("cupy")` works without a GPU and
the CuPy backend's own code runs for real: its kernel launches (grids, argument types, the
optimizer tensor tables) execute the `.cu` sources through kernel_runner.py, and its generic
ops run on NumPy. Device arrays are a NumPy subclass that behaves like CuPy where bugs hide:
a host numpy.ndarray mixed into a device op raises TypeError (as an index it is allowed, as in
CuPy), reductions and scalar indexing return 0-d device arrays, `.get()` copies to the host,
`numpy.asarray(device)` raises (when called from Python code), names real CuPy lacks are refused.

Streams and CUDA graphs are modelled (graphs.py): `cupy.cuda.Stream`, `with stream:` / `use()`,
`get_current_stream()` (default `Stream.null`), `stream.begin_capture()` / `is_capturing()` /
`end_capture()` -> `cupy.cuda.graph.Graph` with `launch(stream=None)`. While a stream captures, device
work is recorded and not run (fresh results hold NaN or 0 until a launch; writes into existing memory
and kernel launches wait for the launch), and what CUDA refuses during capture raises and invalidates
it: cuBLAS (float matmul/dot/einsum/..., cupy.linalg) and cuRAND (NotImplementedError), host reads,
synchronisations, host->device copies and data-dependent shapes (CUDARuntimeError). Counters for tests:
`host_reads`, `eager_ops` (device work outside capture and replay: "kernel", "op", "h2d", "d2d"),
`graph_launches`; `reset_counters()`, `counters()`. `ndarray.set`, `cupy.copyto`, `cupy.cuda.MemoryPool`
and `using_allocator` exist (arrays do not come from the allocator).
Not modelled: asynchrony (work runs when issued, outside capture), several captures at once, event
dependencies between streams, NVRTC and device math, anything about speed.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import types
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from emulation import graphs, kernel_runner
from emulation.graphs import CUDARuntimeError, eager_ops

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
# eager_ops (device work outside capture and replay, by kind) comes from graphs.py; graph_launches (an int,
# the graph launches executed) is read from there at each access (module __getattr__).


def __getattr__(name: str) -> Any:
    if name == "graph_launches":
        return graphs.launch_count
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def reset_counters() -> None:
    """Zero host_reads, eager_ops and graph_launches."""
    host_reads.clear()
    eager_ops.clear()
    graphs.launch_count = 0


def counters() -> dict[str, Any]:
    """A snapshot: {"host_reads": {...}, "eager_ops": {...}, "graph_launches": n}."""
    return {"host_reads": dict(host_reads), "eager_ops": dict(eager_ops), "graph_launches": graphs.launch_count}


def stop_capture() -> None:
    """End any capture in progress without a graph (test cleanup after a failure mid-capture)."""
    graphs.stop_capture()


class ndarray(np.ndarray):  # noqa: N801 - the CuPy name
    """A device array: NumPy memory, CuPy's rules."""

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
        _host_read("get")
        host = np.array(self.view(np.ndarray), copy=True, order=order)
        if out is not None:
            out[...] = host
            return out
        return host

    def set(self, arr: Any, stream: Any = None) -> None:
        """Copy host data into this array (CuPy's checks: a NumPy array of the same dtype and shape)."""
        if graphs.active is not None:
            graphs.refuse_sync("a host to device copy (ndarray.set)")
        if not isinstance(arr, np.ndarray) or isinstance(arr, ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if self.dtype != arr.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if self.shape != arr.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if not self.flags.c_contiguous:
            raise RuntimeError("Cannot set to non-contiguous array")
        eager_ops["h2d"] += 1
        np.copyto(self.view(np.ndarray), arr)

    def __float__(self) -> float:
        _host_read("float")
        return float(self.view(np.ndarray))

    def __int__(self) -> int:
        _host_read("int")
        return int(self.view(np.ndarray))

    def __bool__(self) -> bool:
        _host_read("bool")
        return bool(self.view(np.ndarray))

    def item(self, *args: Any) -> Any:
        _host_read("item")
        return self.view(np.ndarray).item(*args)

    def tolist(self) -> Any:
        _host_read("tolist")
        return self.view(np.ndarray).tolist()

    @property
    def data(self) -> _Pointer:  # CuPy: a MemoryPointer with .ptr
        return _Pointer(self.view(np.ndarray).ctypes.data)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        _reject_host(inputs, f"cupy.{ufunc.__name__}")
        out = kwargs.get("out")
        if out is not None:
            _reject_host(out, f"cupy.{ufunc.__name__}(out=)")
        if graphs.active is not None:
            return _capture_ufunc(ufunc, method, inputs, kwargs)
        eager_ops["op"] += 1
        if out is not None:
            kwargs["out"] = _host_view(out)
        result = getattr(ufunc, method)(*_host_view(inputs), **kwargs)
        if method == "at":
            return None
        return _to_device(result)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        _reject_host(args, f"cupy.{func.__name__}")
        if func is np.copyto:
            return copyto(*args, **kwargs)
        if graphs.active is not None:
            return _capture_function(func, func.__name__, args, kwargs)
        result = func(*_host_view(args), **{k: _host_view(v) for k, v in kwargs.items()})
        _count_eager(result)
        return _to_device(result)

    # Indexing converts NumPy index arrays and values to device arrays, as CuPy does.
    def __getitem__(self, key: Any) -> Any:
        if graphs.active is not None:
            return _capture_getitem(self, key)
        return _to_device(super().__getitem__(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        if graphs.active is not None:
            return _capture_setitem(self, key, value)
        eager_ops["d2d" if isinstance(value, ndarray) else "h2d" if isinstance(value, np.ndarray) else "op"] += 1
        super().__setitem__(key, value)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        if graphs.active is not None:  # CuPy's repr copies to the host
            graphs.refuse_sync("a device to host read (repr)")
        return "device " + repr(self.view(np.ndarray))


def _device_method(name: str, kind: str) -> Any:
    """An ndarray method that does device work: counted when eager, captured while a stream captures."""
    plain = getattr(np.ndarray, name)

    def method(self: ndarray, *args: Any, **kwargs: Any) -> Any:
        if graphs.active is not None:
            return _capture_method(name, self, args, kwargs)
        eager_ops[kind] += 1
        return plain(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return method


# Methods that run device work without reaching __array_ufunc__ (NumPy runs them in C), by eager_ops kind.
_EAGER_METHODS = {"astype": "op", "copy": "d2d", "flatten": "d2d", "__copy__": "d2d", "__deepcopy__": "d2d",
                  "fill": "op", "sort": "op", "argsort": "op", "argmax": "op", "argmin": "op", "take": "op",
                  "repeat": "op", "put": "op", "nonzero": "op", "compress": "op", "dot": "op", "choose": "op",
                  "searchsorted": "op", "partition": "op", "argpartition": "op"}
for _name, _kind in _EAGER_METHODS.items():
    setattr(ndarray, _name, _device_method(_name, _kind))

# Methods wrapped only while a stream captures (no cost on the eager path): views, or reductions that
# NumPy would route through __array_ufunc__ anyway, and host reads that must refuse.
_CAPTURE_METHODS = ("all", "any", "clip", "conj", "conjugate", "cumprod", "cumsum", "diagonal", "max", "mean",
                    "min", "prod", "ravel", "reshape", "round", "squeeze", "std", "sum", "swapaxes", "trace",
                    "transpose", "var", "tobytes", "tofile", "dump", "dumps", "__index__", "__complex__",
                    "__reduce__", "__reduce_ex__", "__str__", "__format__")
_HOST_READ_METHODS = frozenset({"tobytes", "tofile", "dump", "dumps", "__index__", "__complex__", "__reduce__",
                                "__reduce_ex__", "__str__", "__format__"})
_WRITE_METHODS = frozenset({"fill", "sort", "put", "partition"})
# Data-dependent output shapes: CuPy reads a count back to the host (a synchronisation).
_SYNC_FUNCTIONS = frozenset({"nonzero", "argwhere", "flatnonzero", "unique", "extract", "compress"})
_CUBLAS_FUNCTIONS = frozenset({"dot", "vdot", "inner", "tensordot", "einsum", "matmul"})
# Functions that write into their first argument (and return None).
_WRITE_FUNCTIONS = frozenset({"put", "place", "putmask", "fill_diagonal", "put_along_axis"})


def _install_capture_methods() -> Any:
    """Wrap _CAPTURE_METHODS on the device array class for one capture; returns the undo."""
    for name in _CAPTURE_METHODS:
        setattr(ndarray, name, _captured_method(name))

    def undo() -> None:
        for name in _CAPTURE_METHODS:
            delattr(ndarray, name)

    return undo


def _captured_method(name: str) -> Any:
    def method(self: ndarray, *args: Any, **kwargs: Any) -> Any:
        return _capture_method(name, self, args, kwargs)

    method.__name__ = name
    return method


graphs.install_hooks = _install_capture_methods


# ------------------------------------------------------------------------- capture of device work
def _host_read(kind: str) -> None:
    if graphs.active is not None:
        graphs.refuse_sync(f"a device to host read ({kind})")
    host_reads[kind] += 1


def _count_eager(result: Any) -> None:
    """One eager "op" for a result that is new device memory (a view is no device work)."""
    if isinstance(result, np.ndarray):
        if result.base is None:
            eager_ops["op"] += 1
    elif result is None or isinstance(result, np.generic) or (
            isinstance(result, (list, tuple)) and any(isinstance(r, np.ndarray) and r.base is None for r in result)):
        eager_ops["op"] += 1


def _uses_cublas(value: Any) -> bool:
    """CuPy runs float and complex matrix products on cuBLAS (integer ones on its own kernels)."""
    return any(a.dtype.kind in "fc" for a in graphs.arrays_in(value))


def _host_kwargs(kwargs: dict) -> dict:
    return {k: _host_view(v) for k, v in kwargs.items()}


def _capture_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    graphs.check_capture()
    if ufunc is np.matmul and _uses_cublas(inputs):
        graphs.refuse_cublas()
    run, args, host_kwargs = getattr(ufunc, method), _host_view(inputs), _host_kwargs(kwargs)
    if method == "at":
        graphs.write(run, *args, **host_kwargs)
        return None
    out = kwargs.get("out")
    if out is not None:
        graphs.write(run, *args, **host_kwargs)
        return out[0] if len(out) == 1 else out
    return _to_device(graphs.fresh_result(run, args, host_kwargs))


def _capture_function(func: Any, name: str, args: tuple, kwargs: dict, refusal: Any = None) -> Any:
    graphs.check_capture()
    if refusal is not None:
        refusal()
    short = name.rsplit(".", 1)[-1]
    linalg = getattr(func, "__module__", None) == "numpy.linalg"
    if linalg or short in _CUBLAS_FUNCTIONS and _uses_cublas((args, kwargs)):
        graphs.refuse_cublas()
    if short in _SYNC_FUNCTIONS or short == "where" and len(args) + len(kwargs) == 1:
        graphs.refuse_sync(f"cupy.{short} reads a count back to the host")
    host_args, host_kwargs = _host_view(args), _host_kwargs(kwargs)
    if short in ("empty", "empty_like"):
        return _to_device(graphs.allocation(func, host_args, host_kwargs))
    if short in _WRITE_FUNCTIONS or kwargs.get("out") is not None:
        graphs.write(func, *host_args, **host_kwargs)
        return kwargs.get("out")
    return _to_device(graphs.fresh_result(func, host_args, host_kwargs))


def _capture_method(name: str, self: ndarray, args: tuple, kwargs: dict) -> Any:
    graphs.check_capture()
    if name in _HOST_READ_METHODS:
        graphs.refuse_sync(f"a device to host read (ndarray.{name})")
    if name == "dot" and _uses_cublas((self, args)):
        graphs.refuse_cublas()
    if name in _SYNC_FUNCTIONS:
        graphs.refuse_sync(f"ndarray.{name} reads a count back to the host")
    plain, host, host_args, host_kwargs = getattr(np.ndarray, name), _host_view(self), _host_view(args), \
        _host_kwargs(kwargs)
    if name in _WRITE_METHODS or kwargs.get("out") is not None:
        graphs.write(plain, host, *host_args, **host_kwargs)
        return kwargs.get("out")
    return _to_device(graphs.fresh_result(plain, (host, *host_args), host_kwargs))


def _check_capturable_index(key: Any, setting: bool) -> None:
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, ndarray):
            if k.dtype == np.bool_ and not setting:
                graphs.refuse_sync("boolean mask indexing reads the count of True values back to the host")
        elif isinstance(k, (np.ndarray, list)):
            graphs.refuse_sync("a host index array is copied to the device")


def _capture_getitem(self: ndarray, key: Any) -> Any:
    graphs.check_capture()
    _check_capturable_index(key, setting=False)
    return _to_device(graphs.fresh_result(np.ndarray.__getitem__, (_host_view(self), _host_view(key)), {}))


def _capture_setitem(self: ndarray, key: Any, value: Any) -> None:
    graphs.check_capture()
    _check_capturable_index(key, setting=True)
    if isinstance(value, (list, tuple)) or isinstance(value, np.ndarray) and not isinstance(value, ndarray):
        graphs.refuse_sync("a host to device copy (setting host data)")
    graphs.write(np.ndarray.__setitem__, _host_view(self), _host_view(key), _host_view(value))


# ------------------------------------------------------------------------- module functions
def _device_leaves(a: Any) -> bool:
    """Whether a (nested) list holds device arrays only (CuPy then builds the array on the device)."""
    if isinstance(a, (list, tuple)):
        return len(a) > 0 and all(_device_leaves(v) for v in a)
    return isinstance(a, ndarray)


def _from_host(a: Any, dtype: Any, order: Any) -> ndarray:
    """A host -> device copy (refused while capturing: CuPy's upload synchronises)."""
    if graphs.active is not None:
        graphs.refuse_sync("a host to device copy (cupy.asarray/cupy.array of host data)")
    eager_ops["h2d"] += 1
    return np.array(a, dtype=dtype, order=order or "K", copy=True).view(ndarray)


def _on_device_copy(a: Any, dtype: Any, order: Any) -> ndarray:
    """A new device array from device data (one device-to-device copy)."""
    if graphs.active is not None:
        return _to_device(graphs.fresh_result(np.array, (_host_view(a),), {"dtype": dtype, "order": order or "K"}))
    eager_ops["d2d"] += 1
    return np.array(_host_view(a), dtype=dtype, order=order or "K", copy=True).view(ndarray)


def asarray(a: Any, dtype: Any = None, order: Any = None, **_: Any) -> ndarray:
    """Host data is copied to the device; a device array of the right dtype is returned as is."""
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    if isinstance(a, (list, tuple)):
        _reject_host(a, "cupy.asarray of a list")
        if _device_leaves(a):
            return _on_device_copy(a, dtype, order)
    return _from_host(a, dtype, order)


def array(a: Any, dtype: Any = None, copy: bool = True, order: str = "K", **_: Any) -> ndarray:
    if isinstance(a, ndarray):
        return _on_device_copy(a, dtype, order) if copy else asarray(a, dtype)
    if _device_leaves(a):
        return _on_device_copy(a, dtype, order)
    return _from_host(_host_view(a), dtype, order)


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
    return a.get(order=order, out=out) if isinstance(a, ndarray) else np.asarray(a, order=order)


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    _reject_host([a], "cupy.ascontiguousarray")
    if graphs.active is not None:
        return _to_device(graphs.fresh_result(np.ascontiguousarray, (_host_view(a),), {"dtype": dtype}))
    result = np.ascontiguousarray(_host_view(a), dtype=dtype)
    _count_eager(result)
    return _to_device(result)


def copyto(dst: ndarray, src: Any, casting: str = "same_kind", where: Any = None) -> None:
    """cupy.copyto: device or scalar sources (a NumPy array only of size 1, taken as a scalar, as CuPy does)."""
    if isinstance(src, np.ndarray) and not isinstance(src, ndarray):
        if src.size != 1:
            raise ValueError("non-scalar numpy.ndarray cannot be used for copyto")
        src = src.item()
    _reject_host([dst, where], "cupy.copyto")
    kwargs = {"casting": casting} if where is None else {"casting": casting, "where": _host_view(where)}
    if graphs.active is not None:
        graphs.write(np.copyto, _host_view(dst), _host_view(src), **kwargs)
        return
    eager_ops["d2d" if isinstance(src, ndarray) else "op"] += 1
    np.copyto(_host_view(dst), _host_view(src), **kwargs)


def is_available() -> bool:
    return True


def _wrap_function(fn: Any, name: str, refusal: Any = None) -> Any:
    """cupy.<name>: `fn` on device arrays; `refusal` raises while capturing (cuBLAS or cuRAND)."""
    def device_fn(*args: Any, **kwargs: Any) -> Any:
        _reject_host(args, f"cupy.{name}")
        _reject_host(kwargs.values(), f"cupy.{name}")
        if graphs.active is not None:
            return _capture_function(fn, name, args, kwargs, refusal)
        result = fn(*_host_view(args), **_host_kwargs(kwargs))
        _count_eager(result)
        return _to_device(result)

    device_fn.__name__ = name
    return device_fn


class _Ufunc:
    """cupy.<ufunc>: refuses host arrays; .at / .reduce keep working (through __array_ufunc__)."""

    def __init__(self, ufunc: np.ufunc) -> None:
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _reject_host(args, f"cupy.{self.__name__}")
        return _to_device(self._ufunc(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._ufunc, name)
        if not callable(method):
            return method
        where = f"cupy.{self.__name__}.{name}"

        def device_method(*args: Any, **kwargs: Any) -> Any:
            _reject_host(args, where)
            return _to_device(method(*args, **kwargs))

        return device_method


def _real_cupy_names() -> frozenset[str]:
    lines = (Path(__file__).with_name("cupy_names.txt")).read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


class _Namespace(types.ModuleType):
    """A module whose unknown attributes come from a NumPy namespace, wrapped for the device.

    `allowed` (for the top-level `cupy`): the names real CuPy has; others raise AttributeError.
    `refusal`: raises while a stream captures (cupy.random: cuRAND; cupy.linalg: cuBLAS and cuSOLVER).
    """

    def __init__(self, name: str, source: Any, allowed: frozenset[str] | None = None, refusal: Any = None) -> None:
        super().__init__(name)
        self._source = source
        self._allowed = allowed
        self._refusal = refusal

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._allowed is not None and name not in self._allowed:
            raise AttributeError(f"module 'cupy' has no attribute {name!r} (real CuPy lacks it too)")
        value = getattr(self._source, name)
        if isinstance(value, np.ufunc):
            value = _Ufunc(value)
        elif isinstance(value, types.ModuleType):
            value = _Namespace(f"{self.__name__}.{name}", value,
                               refusal=graphs.refuse_cublas if name == "linalg" else self._refusal)
        elif callable(value) and not isinstance(value, type):
            value = _wrap_function(value, name, self._refusal)
        setattr(self, name, value)
        return value


# ------------------------------------------------------------------------- cupy.cuda
# Only what gpukeras, its tests and benchmarks call. Kernels run synchronously here, so streams have
# nothing to wait for and an event is a host timestamp; streams can capture graphs (graphs.py).
class _Event:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.time = time.perf_counter()

    def record(self, stream: Any = None) -> None:
        self.time = time.perf_counter()

    def synchronize(self) -> None:
        if graphs.active is not None:
            graphs.refuse_sync("event synchronize")


class _Device:
    attributes = {"MultiProcessorCount": 2}  # few SMs: small grids keep the CPU emulation quick

    def __init__(self, device: int = 0) -> None:
        self.id = device

    def synchronize(self) -> None:
        if graphs.active is not None:
            graphs.refuse_sync("device synchronize")

    def use(self) -> None:
        if self.id != 0:
            raise RuntimeError(f"the emulator has one device, not device {self.id}")


class _Allocation:
    """cupy.cuda.MemoryPointer from a pool's malloc: `ptr` and `size` over host bytes."""

    def __init__(self, size: int) -> None:
        self.mem = np.empty(max(size, 1), np.uint8)
        self.ptr, self.size = self.mem.ctypes.data, size


class MemoryPool:
    """cupy.cuda.MemoryPool: counts bytes handed out and cached (device arrays themselves live in NumPy)."""

    def __init__(self, allocator: Any = None) -> None:
        self._used = self._free = 0

    def malloc(self, size: int) -> _Allocation:
        size = -(-int(size) // 512) * 512
        self._used += size
        block = _Allocation(size)
        weakref.finalize(block, self._release, size)
        return block

    def _release(self, size: int) -> None:
        self._used -= size
        self._free += size

    def free_all_blocks(self, stream: Any = None) -> None:
        self._free = 0

    def used_bytes(self) -> int:
        return self._used

    def free_bytes(self) -> int:
        return self._free

    def total_bytes(self) -> int:
        return self._used + self._free


_memory_pool, _pinned_pool = MemoryPool(), MemoryPool()
_allocator: list[Any] = [_memory_pool.malloc]


def _set_allocator(allocator: Any = None) -> None:
    _allocator[0] = allocator if allocator is not None else _memory_pool.malloc


@contextlib.contextmanager
def _using_allocator(allocator: Any = None) -> Iterator[None]:
    """cupy.cuda.using_allocator: the allocator in force inside the block (restored after)."""
    previous = _allocator[0]
    _set_allocator(allocator)
    try:
        yield
    finally:
        _allocator[0] = previous


def _device_synchronize() -> None:
    if graphs.active is not None:
        graphs.refuse_sync("device synchronize")


graph = types.ModuleType("cupy.cuda.graph")
graph.Graph = graphs.Graph
stream = types.ModuleType("cupy.cuda.stream")
stream.Stream = graphs.Stream
stream.get_current_stream = graphs.get_current_stream

cuda = types.ModuleType("cupy.cuda")
cuda.Device = _Device
cuda.Event = _Event
cuda.Stream = graphs.Stream
cuda.get_current_stream = graphs.get_current_stream
cuda.graph, cuda.stream = graph, stream
cuda.MemoryPool, cuda.PinnedMemoryPool = MemoryPool, MemoryPool
cuda.using_allocator, cuda.set_allocator, cuda.get_allocator = _using_allocator, _set_allocator, lambda: _allocator[0]
cuda.get_elapsed_time = lambda start, stop: (stop.time - start.time) * 1e3
cuda.runtime = types.SimpleNamespace(getDevice=lambda: 0, getDeviceCount=lambda: 1, runtimeGetVersion=lambda: 13000,
                                     driverGetVersion=lambda: 13000, deviceSynchronize=_device_synchronize,
                                     CUDARuntimeError=CUDARuntimeError,
                                     streamCaptureModeGlobal=graphs.STREAM_CAPTURE_GLOBAL,
                                     streamCaptureModeThreadLocal=graphs.STREAM_CAPTURE_THREAD_LOCAL,
                                     streamCaptureModeRelaxed=graphs.STREAM_CAPTURE_RELAXED)
cuda.is_available = is_available
cuda.get_cuda_path = lambda: str(kernel_runner.cuda_include_dir().parent)


class _Kernel(kernel_runner.Function):
    """A RawModule kernel: counted when launched eagerly, recorded (arguments checked now) while capturing."""

    def __call__(self, grid: tuple, block: tuple, args: tuple, shared_mem: int = 0) -> None:
        if graphs.active is None:
            eager_ops["kernel"] += 1
            return super().__call__(grid, block, args, shared_mem)
        graphs.check_capture()
        args = tuple(args)
        try:  # a launch over an empty grid checks the arguments and runs nothing
            super().__call__((0,), block, args, shared_mem)
        except RuntimeError as error:
            if "bad launch shape" not in str(error):
                raise
        graphs.write(super().__call__, tuple(grid), tuple(block), args, shared_mem)
        return None


class RawModule(kernel_runner.Module):
    def __init__(self, code: str | None = None, *, path: str | None = None, options: tuple = (), **_: Any) -> None:
        if code is None:
            raise NotImplementedError("the emulator builds from source text only")
        super().__init__(code, tuple(options), ndarray)

    def get_function(self, name: str) -> _Kernel:
        fn = super().get_function(name)
        fn.__class__ = _Kernel
        return fn


# ------------------------------------------------------------------------- cupyx
def _host_erf(host: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[host.dtype])(host) if host.size else host.copy()


def _erf(x: Any) -> Any:
    _reject_host([x], "cupyx.scipy.special.erf")
    if graphs.active is not None:
        return _to_device(graphs.fresh_result(_host_erf, (_host_view(x),), {}))
    eager_ops["op"] += 1
    return _to_device(_host_erf(_host_view(x)))


def _scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    _reject_host([a, value], "cupyx.scatter_add")  # index arrays may be host arrays, as in indexing
    if graphs.active is not None:
        graphs.write(np.add.at, _host_view(a), _host_view(slices), _host_view(value))
        return
    eager_ops["op"] += 1
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
        return _wrap_function(getattr(self._rng, name), f"random.Generator.{name}", graphs.refuse_curand)


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
    cupy.copyto = copyto
    cupy.random = _Namespace("cupy.random", np.random, refusal=graphs.refuse_curand)
    cupy.random.default_rng = _Generator
    special = types.ModuleType("cupyx.scipy.special")
    special.erf = _erf
    scipy = types.ModuleType("cupyx.scipy")
    scipy.special = special
    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = _scatter_add
    cupyx.scipy = scipy
    return {"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.nccl": nccl, "cupy.cuda.graph": graph,
            "cupy.cuda.stream": stream, "cupyx": cupyx, "cupyx.scipy": scipy,
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
