"""Step graphs on CuPy: one compiled step captured into a CUDA graph, then one graph launch per step.

`capture(ops, fn, arrays)` runs `fn` (a plan's replay function) on fixed input buffers while a private
stream is captured: nothing executes, every launch is recorded. What makes the captured work valid at
every later launch:

- memory: everything allocated while capturing comes from a private memory pool that only this graph
  uses, so no other array ever takes an address the graph writes (the pool lives as long as the graph);
- inputs: each launch first copies the batch into the buffers the graph reads;
- host values per step: a kernel argument is frozen at capture, so launchers that need this step's
  numbers (dropout's seed, the optimizer's learning rate and bias corrections) read them from a small
  device buffer (`Capture.feed`) that is written, with one host-to-device copy, before each launch;
  `Capture.effect` keeps host work of the step (the optimizer's host step counter) at every launch;
- constants made while capturing (an optimizer's tensor table) are uploaded once after capture, since a
  host-to-device copy cannot be captured;
- matrix products go through our GEMM kernel (`CapturableXp`): CuPy's cuBLAS calls refuse capture; a
  step with a product above `max_graph_gemm()` stays off graphs (cuBLAS there is worth more than launches).

Anything else that cannot be captured (a host read, an upload, cuRAND, a launcher with no device-fed
variant) raises while capturing; `capture` turns that into `GraphCaptureError`, and the compiled step keeps
replaying its plan call by call.
"""

from __future__ import annotations

import math
import os
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import cupy
import numpy as np

from gpukeras.backend.graphs import CapturedStep, GraphCaptureError

FEED_BYTES = 8192  # per-step host values of one graph (8-byte aligned entries)
# Steps with a larger matrix product stay off graphs: launches are a small part of such a step, and our GEMM
# is not cuBLAS. A guess until a GPU run compares the gpukeras and gpukeras-nographs rows (W2 at batch 4096:
# 4.3e9 per product, off; at batch 256: 2.7e8, on).
MAX_GRAPH_GEMM = 1 << 30


def max_graph_gemm() -> int:
    """The largest matrix product (multiply-adds) a step graph captures; GPUKERAS_GRAPH_MAX_GEMM overrides."""
    value = os.environ.get("GPUKERAS_GRAPH_MAX_GEMM", "").strip()
    return int(float(value)) if value else MAX_GRAPH_GEMM


class Capture:
    """One capture in progress, seen by the launchers as `Device.capture`: feeds, host effects, constants."""

    def __init__(self) -> None:
        self.device_feeds = cupy.empty(FEED_BYTES, dtype=np.uint8)
        self.host_feeds = np.zeros(FEED_BYTES, dtype=np.uint8)
        self.used = 0
        self.actions: list[Callable[[], None]] = []  # host work before each launch, in capture order
        self.constants: list[tuple[Any, np.ndarray]] = []

    def feed(self, make: Callable[[], Sequence[Any]], dtype: Any, count: int) -> Any:
        """A device array of `count` values that `make()` computes on the host before every launch."""
        dtype = np.dtype(dtype)
        start = -(-self.used // 8) * 8
        stop = start + dtype.itemsize * count
        if stop > FEED_BYTES:
            raise GraphCaptureError(f"the step needs more than {FEED_BYTES} bytes of per-step host values")
        self.used = stop
        host = self.host_feeds[start:stop].view(dtype)

        def write() -> None:
            host[...] = make()

        self.actions.append(write)
        return self.device_feeds[start:stop].view(dtype)

    def effect(self, fn: Callable[[], None]) -> None:
        """Host work that belongs to every launch of the step (in capture order with the feeds)."""
        self.actions.append(fn)

    def constant(self, host: np.ndarray) -> Any:
        """A device copy of `host`, filled after the capture ends (uploads cannot be captured)."""
        host = np.ascontiguousarray(host)
        device = cupy.empty(host.shape, dtype=host.dtype)
        self.constants.append((device, host))
        return device

    def prepare(self) -> None:
        """Before a launch: the host effects and feeds in capture order, then the feeds to the device."""
        for action in self.actions:
            action()
        if self.used:
            self.device_feeds[:self.used].set(self.host_feeds[:self.used])


class CapturableXp:
    """CuPy's namespace for generic code running under capture, except that matrix products use our GEMM."""

    def __init__(self, gemm: Callable[..., Any]) -> None:
        self._gemm = gemm

    def __getattr__(self, name: str) -> Any:
        return getattr(cupy, name)

    def matmul(self, a: Any, b: Any, out: Any = None) -> Any:
        work = math.prod(a.shape[:-1]) * a.shape[-1] * b.shape[-1] if a.ndim >= 2 and b.ndim >= 2 else 0
        if work > max_graph_gemm():
            raise GraphCaptureError(f"a matrix product of {work:.3g} multiply-adds runs faster through cuBLAS "
                                    "than a graph saves in launches (GPUKERAS_GRAPH_MAX_GEMM)")
        y = self._gemm(a, b, out=out)
        if y is None:
            raise GraphCaptureError(f"no capturable matrix product for {a.dtype} {a.shape} @ {b.dtype} {b.shape} "
                                    "(CuPy's cuBLAS calls cannot be captured)")
        return y


class CudaStepGraph(CapturedStep):
    """A captured step: `launch(arrays)` copies the batch in, runs the host work, launches, copies outputs out."""

    def __init__(self, graph: Any, inputs: list[Any], outputs: Sequence[Any], capture: Capture, pool: Any,
                 stream: Any) -> None:
        self.graph = graph
        self.inputs = inputs
        self.outputs = tuple(outputs)
        self.capture = capture
        self._pool, self._stream = pool, stream  # alive as long as the graph: its memory and its capture stream
        self.launches = 0

    def launch(self, arrays: Sequence[Any]) -> tuple:
        for buffer, a in zip(self.inputs, arrays):
            cupy.copyto(buffer, a)
        self.capture.prepare()
        self.graph.launch(cupy.cuda.get_current_stream())
        self.launches += 1
        return tuple(o.copy() if isinstance(o, cupy.ndarray) else o for o in self.outputs)


def capture(ops: Any, fn: Callable[..., Sequence[Any]], arrays: Sequence[Any]) -> CudaStepGraph:
    """Capture `fn(*inputs)` (inputs: fixed buffers shaped like `arrays`) as a CUDA graph on `ops`
    (a CupyOps); raises GraphCaptureError, leaving nothing changed, when some of its work cannot be captured."""
    device = ops.kernels.device
    if device.capture is not None:
        raise GraphCaptureError("a step is already being captured")
    pool = cupy.cuda.MemoryPool()
    stream = cupy.cuda.Stream(non_blocking=True)
    _load_gemm(ops)
    with cupy.cuda.using_allocator(pool.malloc):
        inputs = [cupy.empty(a.shape, dtype=a.dtype) for a in arrays]
        for buffer, a in zip(inputs, arrays):  # a real batch in them from the start (each launch copies its own)
            cupy.copyto(buffer, a)
        state = Capture()
        with stream:
            stream.begin_capture()
            device.capture, ops.xp = state, CapturableXp(ops.kernels.gemm)
            try:
                outputs = fn(*inputs)
            except Exception as error:
                _abandon(stream)
                if isinstance(error, GraphCaptureError):
                    raise
                raise GraphCaptureError(f"{type(error).__name__}: {error} ({_where(error)})") from error
            except BaseException:
                _abandon(stream)
                raise
            finally:
                device.capture = None
                del ops.xp  # back to the class's cupy
            graph = stream.end_capture()
    for buffer, host in state.constants:
        buffer.set(host)
    return CudaStepGraph(graph, inputs, outputs, state, pool, stream)


def _load_gemm(ops: Any) -> None:
    """Run the GEMM kernel once before capturing: its module loads now (loading code cannot be captured)."""
    one = cupy.ones((1, 1), dtype=np.float32)
    ops.kernels.gemm(one, one)


def _where(error: BaseException) -> str:
    """The innermost gpukeras line an error passed through (what a graph refusal points at)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    place = "the step"
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith(package):
            place = f"{os.path.relpath(frame.filename, os.path.dirname(package))}:{frame.lineno} in {frame.name}"
    return place


def _abandon(stream: Any) -> None:
    """End a failed capture (CUDA has usually invalidated it already) so the stream works again."""
    try:
        stream.end_capture()
    except Exception:  # noqa: BLE001 - the capture's own error is the one worth raising
        pass


__all__ = ["Capture", "CapturableXp", "CudaStepGraph", "FEED_BYTES", "capture"]
