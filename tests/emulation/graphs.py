"""Streams and CUDA-graph capture for the emulated CuPy (cupy_on_numpy.py), with CUDA's semantics.

While a stream captures, device work is recorded, not run: an op with a fresh result computes it
now only for its shape and dtype, fills it with garbage (NaN, or 0 for integers and booleans) and
records "recompute into this buffer"; a write into existing memory (out=, in-place operators,
__setitem__, copyto, kernel launches) is recorded and not run. `Graph.launch()` replays the
records in order against the same buffers. Work CUDA refuses during capture (cuBLAS, cuRAND, host
reads and synchronisations, host->device copies) raises and invalidates the capture, as on a GPU.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

# Device work run outside capture and outside graph replay, by kind: "kernel" (RawModule launches),
# "op" (array ops with a fresh result or an in-place write), "h2d" and "d2d" (copies). Tests reset it.
eager_ops: Counter[str] = Counter()
# Graph launches executed (read as cupy_on_numpy.graph_launches); Graph.launches counts one graph's.
launch_count = 0

CUBLAS_MESSAGE = "calling cuBLAS API during stream capture is currently unsupported"
CURAND_MESSAGE = "calling cuRAND API during stream capture is currently unsupported"
STREAM_CAPTURE_GLOBAL, STREAM_CAPTURE_THREAD_LOCAL, STREAM_CAPTURE_RELAXED = 0, 1, 2


class CUDARuntimeError(RuntimeError):
    """cupy_backends.cuda.api.runtime.CUDARuntimeError: a CUDA runtime call failed."""

    def __init__(self, status: str, detail: str) -> None:
        self.status = status
        super().__init__(f"{status}: {detail}")


class Capture:
    """One capture in progress: its stream, its records, and whether an error invalidated it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.records: list[Callable[[], Any]] = []
        self.allocations: list[Any] = []  # memory a launch may reach through a pointer table: kept, as a pool would
        self.invalidated: str | None = None

    def record(self, work: Callable[[], Any]) -> None:
        self.records.append(work)


active: Capture | None = None  # the capture in progress; every device hook checks this one name
_uninstall: list[Callable[[], None]] = []  # undoes what begin_capture installed on the device array class
install_hooks: Callable[[], Callable[[], None]] | None = None  # set by cupy_on_numpy: capture-only method hooks


def check_capture() -> Capture:
    """The active capture, refusing work once an earlier error invalidated it (as CUDA does)."""
    if active.invalidated:
        raise CUDARuntimeError("cudaErrorStreamCaptureInvalidated",
                               f"the capture was invalidated by an earlier error ({active.invalidated})")
    return active


def refuse(error: Exception) -> None:
    """Raise `error` for work CUDA refuses during capture, invalidating the capture first."""
    if active is not None and not active.invalidated:
        active.invalidated = f"{type(error).__name__}: {error}"
    raise error


def refuse_sync(what: str) -> None:
    refuse(CUDARuntimeError("cudaErrorStreamCaptureUnsupported",
                            f"operation not permitted when stream is capturing ({what})"))


def refuse_cublas() -> None:
    refuse(NotImplementedError(CUBLAS_MESSAGE))


def refuse_curand() -> None:
    refuse(NotImplementedError(CURAND_MESSAGE))


# ------------------------------------------------------------------------- recording work
def arrays_in(value: Any) -> Iterator[np.ndarray]:
    """Every ndarray in a (nested) structure of arguments or results, in order."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from arrays_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from arrays_in(v)


def as_buffers(value: Any) -> Any:
    """NumPy scalars become 0-d arrays, so that a captured reduction has a buffer to refill."""
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        return np.array(value)
    if isinstance(value, (list, tuple)):
        return type(value)(as_buffers(v) for v in value)
    return value


def poison(buffers: list[np.ndarray]) -> None:
    """Fill captured results with what a GPU holds before launch: nothing meaningful."""
    for b in buffers:
        b.fill(np.nan if b.dtype.kind in "fc" else 0)


def _refill(targets: list[tuple[int, np.ndarray]], fn: Callable, args: tuple, kwargs: dict) -> None:
    fresh = list(arrays_in(as_buffers(fn(*args, **kwargs))))
    for i, buffer in targets:
        np.copyto(buffer, fresh[i], casting="unsafe")


def fresh_result(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """Run host `fn` now for its result's shape; record recomputing its fresh buffers at each launch.

    Results that share memory with an argument are views (nothing to do); a read-only fresh result is
    a broadcast constant of host scalars (nothing to recompute).
    """
    capture = check_capture()
    with np.errstate(all="ignore"):
        result = as_buffers(fn(*args, **kwargs))
    inputs = list(arrays_in((args, kwargs)))
    targets = [(i, r) for i, r in enumerate(arrays_in(result))
               if r.flags.writeable and not any(np.may_share_memory(r, a) for a in inputs)]
    if targets:
        poison([r for _, r in targets])
        capture.record(lambda: _refill(targets, fn, args, kwargs))
    return result


def allocation(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """An allocation with no device work (cupy.empty): garbage now, nothing recorded."""
    capture = check_capture()
    result = fn(*args, **kwargs)
    poison(list(arrays_in(result)))
    capture.allocations.append(result)
    return result


def write(fn: Callable, *args: Any, **kwargs: Any) -> None:
    """Record a write into existing device memory; it runs at each launch, not now."""
    check_capture().record(lambda: fn(*args, **kwargs))


# ------------------------------------------------------------------------- streams and graphs
class Graph:
    """cupy.cuda.graph.Graph: captured work, replayed by launch()."""

    def __init__(self, records: list[Callable[[], Any]], allocations: list[Any]) -> None:
        self._records = tuple(records)
        self._allocations = allocations
        self.launches = 0

    def __len__(self) -> int:
        """How many recorded operations (graph nodes) a launch replays."""
        return len(self._records)

    def replay(self) -> None:
        for work in self._records:
            work()

    def launch(self, stream: Any = None) -> None:
        """Replay the captured work (recorded as a child graph when a capture is in progress)."""
        global launch_count
        if active is not None:
            check_capture().record(self.replay)
            return
        self.replay()
        self.launches += 1
        launch_count += 1

    def upload(self, stream: Any = None) -> None:
        pass


_ids = itertools.count(0x7E000)
_local = threading.local()


class Stream:
    """cupy.cuda.Stream: `with stream:` or `use()` makes it current; it can capture a graph."""

    null: Stream  # the legacy default stream (ptr 0)

    def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False,
                 priority: int | None = None) -> None:
        self.ptr = 0 if null else next(_ids) * 256
        self.non_blocking = non_blocking
        self._previous: list[Stream] = []

    def __repr__(self) -> str:
        return f"<Stream {self.ptr:#x} (emulated)>"

    def __enter__(self) -> Stream:
        self._previous.append(get_current_stream())
        _local.current = self
        return self

    def __exit__(self, *exc: Any) -> None:
        _local.current = self._previous.pop()

    def use(self) -> Stream:
        _local.current = self
        return self

    def synchronize(self) -> None:
        if active is not None:
            refuse_sync("stream synchronize")

    def wait_event(self, event: Any) -> None:
        pass

    def begin_capture(self, mode: int | None = None) -> None:
        """Start recording device work (one capture at a time; never on the legacy default stream)."""
        global active
        if self.ptr == 0:
            raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported",
                                   "the legacy default stream (cupy.cuda.Stream.null) cannot capture")
        if active is not None:
            raise CUDARuntimeError("cudaErrorIllegalState", "a stream is already capturing (the emulator "
                                   "models one capture at a time; CUDA refuses a second on the same stream)")
        active = Capture(self)
        _uninstall.append(install_hooks() if install_hooks else (lambda: None))

    def is_capturing(self) -> bool:
        if active is None or active.stream is not self:
            return False
        if active.invalidated:
            raise CUDARuntimeError("cudaErrorStreamCaptureInvalidated",
                                   "the capture sequence on this stream has been invalidated by a previous error")
        return True

    def end_capture(self) -> Graph:
        """Stop capturing; the Graph of the recorded work (raises if an error invalidated the capture)."""
        if active is None or active.stream is not self:
            raise CUDARuntimeError("cudaErrorIllegalState", "end_capture on a stream that is not capturing")
        capture = stop_capture()
        if capture.invalidated:
            raise CUDARuntimeError("cudaErrorStreamCaptureInvalidated",
                                   f"the capture was invalidated by an earlier error ({capture.invalidated})")
        return Graph(capture.records, capture.allocations)


Stream.null = Stream(null=True)


def stop_capture() -> Capture | None:
    """End the capture in progress, if any, without making a graph (for end_capture and test cleanup)."""
    global active
    capture, active = active, None
    while _uninstall:
        _uninstall.pop()()
    return capture


def get_current_stream(device_id: int = -1) -> Stream:
    return getattr(_local, "current", Stream.null)
