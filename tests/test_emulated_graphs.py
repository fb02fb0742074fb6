"""CUDA-graph capture in the emulated CuPy (tests/emulation/graphs.py) has CUDA's semantics, so that a wrong
graph path fails here: captured work runs only at launch (results hold garbage until then), in-place work
replays once per launch against the same buffers, and what CUDA refuses during capture (cuBLAS, cuRAND,
host reads, synchronisations, uploads) raises and invalidates the capture."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from emulation import cupy_on_numpy as emu
from emulation import graphs, kernel_runner

pytestmark = pytest.mark.any_backend


def _kernels_build() -> bool:
    """Whether RawModules can be built here (g++ and the CUDA headers); the rest needs neither."""
    try:
        kernel_runner.cuda_include_dir()
        kernel_runner.compiler()
    except kernel_runner.EmulationUnavailable:
        return False
    return True


needs_kernels = pytest.mark.skipif(not _kernels_build(), reason="no host compiler or CUDA headers")

_modules = emu.build_modules()
cp, cupyx = _modules["cupy"], _modules["cupyx"]
CUDARuntimeError = cp.cuda.runtime.CUDARuntimeError
RNG = np.random.default_rng(7)
X = RNG.normal(size=(6, 5)).astype(np.float32)
W = RNG.normal(size=(5,)).astype(np.float32)
AT, PAIR = cp.asarray(np.array([0, 0, 4])), cp.asarray(np.array([1, 1]))  # device indices (uploads refuse capture)


@pytest.fixture(autouse=True)
def fresh_counters():
    emu.reset_counters()
    yield
    if graphs.active is not None:  # a failed test must not leave the next ones capturing
        emu.stop_capture()
        pytest.fail("the test left a capture in progress")


def capture(work):
    """(graph, what work() returned) for work() captured on a new stream made current."""
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        assert stream.is_capturing()
        result = work()
        graph = stream.end_capture()
    assert not stream.is_capturing()
    return graph, result


def host(a) -> np.ndarray:
    return cp.asnumpy(a)


# ------------------------------------------------------------------------- replay reproduces eager work
FRESH = {
    "ufunc chain": lambda x: cp.tanh(x * 2.0 + 1.0) ** 2 - cp.exp(-x),
    "reductions": lambda x: x.sum(axis=0) + cp.max(x, axis=0) + x.mean(axis=0) + cp.float32(1),
    "0-d reduction": lambda x: (x * x).sum(),
    "astype and copy": lambda x: (x.astype(np.float64) + x.copy()).astype(np.float32),
    "argmax and take": lambda x: cp.take(x, x.argmax(axis=1)),
    "reshape of a transpose copies": lambda x: x.T.reshape(-1) * 1.0 + x.T.ravel(),
    "flatten, repeat, cumsum": lambda x: x.flatten().repeat(2).cumsum(),
    "fancy indexing and cupy.sort": lambda x: cp.sort(x[cp.arange(3) * 2], axis=1),
    "concatenate and where": lambda x: cp.concatenate([cp.where(x > 0, x, 0.0), cp.zeros((1, 5), np.float32)]),
    "integer matmul (no cuBLAS)": lambda x: (x > 0).astype(np.int64) @ cp.arange(5 * 3).reshape(5, 3),
    "erf": lambda x: _modules["cupyx.scipy.special"].erf(x),
}


@pytest.mark.parametrize("name", FRESH)
def test_fresh_results_are_garbage_until_launch_then_match_eager(name):
    x = cp.asarray(X)
    expected = host(FRESH[name](x))
    graph, y = capture(lambda: FRESH[name](x))
    garbage = host(y)  # a host read after end_capture is allowed
    assert np.all(np.isnan(garbage)) if garbage.dtype.kind == "f" else np.all(garbage == 0)
    graph.launch()
    np.testing.assert_array_equal(host(y), expected)


def test_views_are_not_recorded_and_see_their_base_at_launch():
    x = cp.asarray(X)
    graph, (view, squared) = capture(lambda: (x[1:, ::2].T, x * x))
    np.testing.assert_array_equal(host(view), X[1:, ::2].T)  # a view of existing memory, not garbage
    assert len(graph) == 1  # the product only
    x.set(X + 1)
    graph.launch()
    np.testing.assert_array_equal(host(squared), (X + 1) * (X + 1))


INPLACE = {
    "operator +=": (lambda a, b: a.__iadd__(b), lambda a, b: a + b),
    "ufunc out=": (lambda a, b: cp.multiply(a, b, out=a), lambda a, b: a * b),
    "__setitem__ of a device array": (lambda a, b: a.__setitem__(slice(1, 3), b[1:3] + a[0]),
                                      lambda a, b: np.concatenate([a[:1], b[1:3] + a[0], a[3:]])),
    "copyto": (lambda a, b: cp.copyto(a, b + a), lambda a, b: b + a),
    "ufunc.at": (lambda a, b: cp.add.at(a, AT, b[:3]),
                 lambda a, b: a + np.array([b[0] + b[1], 0, 0, 0, b[2]], np.float32)),
    "cupyx.scatter_add": (lambda a, b: cupyx.scatter_add(a, PAIR, b[:2]),
                          lambda a, b: a + np.array([0, b[0] + b[1], 0, 0, 0], np.float32)),
    "fill then in-place sort": (lambda a, b: (a[3:].fill(-7.0), a.sort()),
                                lambda a, b: np.sort(np.concatenate([a[:3], [-7.0, -7.0]]).astype(np.float32))),
}


@pytest.mark.parametrize("name", INPLACE)
def test_in_place_work_runs_once_per_launch_and_not_at_capture(name):
    write, twin = INPLACE[name]
    a0, b0 = np.arange(5, dtype=np.float32) + 1, RNG.normal(size=5).astype(np.float32)
    a, b = cp.asarray(a0), cp.asarray(b0)
    graph, _ = capture(lambda: write(a, b))
    np.testing.assert_array_equal(host(a), a0)  # captured, not run
    expected = a0
    for _ in range(2):
        graph.launch()
        expected = twin(expected, b0)
        np.testing.assert_allclose(host(a), expected, rtol=1e-6)
    assert emu.graph_launches == 2 and graph.launches == 2


def test_end_to_end_dense_relu_with_new_inputs_per_launch():
    """y = relu(x * w + b) captured once; each launch after copying a new batch into the captured input."""
    w, b = cp.asarray(W), cp.asarray(np.float32(0.25) * W)
    x = cp.empty((6, 5), dtype=np.float32)
    graph, y = capture(lambda: cp.maximum(x * w + b, 0.0))
    staged = cp.empty((6, 5), dtype=np.float32)
    for step in range(3):
        batch = RNG.normal(size=(6, 5)).astype(np.float32)
        emu.reset_counters()
        if step == 1:  # a device-side batch: copied in with copyto
            staged.set(batch)
            emu.reset_counters()
            cp.copyto(x, staged)
        else:
            x.set(batch)
        graph.launch()
        assert emu.counters() == {"host_reads": {}, "graph_launches": 1,
                                  "eager_ops": {"d2d" if step == 1 else "h2d": 1}}
        np.testing.assert_array_equal(host(y), np.maximum(batch * W + np.float32(0.25) * W, 0.0))


@needs_kernels
def test_a_raw_module_kernel_is_recorded_and_replayed():
    """The relu kernel of kernels/activations.cu, through gpukeras's CuPy launcher, inside a graph."""
    if not getattr(sys.modules.get("cupy"), "__version__", "").endswith("+cpu-emulated"):
        pytest.skip("needs the emulated CuPy installed as `cupy`")
    from gpukeras import backend
    from gpukeras.backend import kernels as K

    backend.set_backend("cupy")  # the fixture restores the test's backend
    ops = backend.active
    x = cp.asarray(X)
    np.testing.assert_array_equal(host(ops.kernels.act_fwd("relu", x, ())), np.maximum(X, 0))  # loads the module
    launches, emu.eager_ops["kernel"] = K.launch_counts["gk_act_relu_fwd_f32"], 0
    graph, y = capture(lambda: ops.kernels.act_fwd("relu", x, ()))
    assert np.all(np.isnan(host(y))) and emu.eager_ops["kernel"] == 0
    x.set(-X)
    graph.launch()
    np.testing.assert_array_equal(host(y), np.maximum(-X, 0))
    assert emu.eager_ops["kernel"] == 0 and K.launch_counts["gk_act_relu_fwd_f32"] == launches + 1


@needs_kernels
def test_kernel_arguments_are_checked_at_capture():
    src = 'extern "C" __global__ void twice(float* x, int n) { int i = threadIdx.x; if (i < n) x[i] *= 2.0f; }'
    fn = cp.RawModule(code=src).get_function("twice")
    x = cp.asarray(np.arange(4, dtype=np.float32))
    stream = cp.cuda.Stream()
    stream.begin_capture()
    fn((1,), (32,), (x, np.int32(4)))
    with pytest.raises(TypeError, match="argument 1: the kernel takes i4, got i8"):
        fn((1,), (32,), (x, 4))
    graph = stream.end_capture()  # an argument error is raised at the launch call, as cuLaunchKernel does
    graph.launch()
    graph.launch()
    np.testing.assert_array_equal(host(x), np.arange(4) * 4)


# ------------------------------------------------------------------------- refusals
CUBLAS = {
    "@": lambda x, w: x @ w,
    "cupy.matmul": lambda x, w: cp.matmul(x, w),
    "cupy.dot": lambda x, w: cp.dot(x, w),
    "ndarray.dot": lambda x, w: x.dot(w),
    "cupy.vdot": lambda x, w: cp.vdot(w, w),
    "cupy.inner": lambda x, w: cp.inner(x, w),
    "cupy.tensordot": lambda x, w: cp.tensordot(x, w, axes=1),
    "cupy.einsum": lambda x, w: cp.einsum("ij,j->i", x, w),
    "cupy.linalg.norm": lambda x, w: cp.linalg.norm(w),
}
SYNC = {
    "get": lambda x, w: x.get(),
    "float": lambda x, w: float(x[0, 0]),
    "int": lambda x, w: int(x[0, 0]),
    "bool": lambda x, w: bool(x[0, 0] > 0),
    "if on a device value": lambda x, w: 1 if x.sum() > 0 else 0,
    "item": lambda x, w: x[0, 0].item(),
    "tolist": lambda x, w: x.tolist(),
    "repr": lambda x, w: repr(x),
    "str": lambda x, w: str(x),
    "format": lambda x, w: f"{x[0, 0]:.3f}",
    "cupy.asnumpy": lambda x, w: cp.asnumpy(x),
    "stream synchronize": lambda x, w: cp.cuda.get_current_stream().synchronize(),
    "device synchronize": lambda x, w: cp.cuda.Device().synchronize(),
    "event synchronize": lambda x, w: cp.cuda.Event().synchronize(),
    "cupy.asarray of a NumPy array": lambda x, w: cp.asarray(X),
    "cupy.asarray of a Python scalar": lambda x, w: cp.asarray(2.0),
    "cupy.array of a list": lambda x, w: cp.array([1.0, 2.0]),
    "ndarray.set": lambda x, w: x.set(X),
    "setitem of host data": lambda x, w: x.__setitem__(0, W),
    "boolean mask (a count read back)": lambda x, w: x[x > 0],
    "cupy.nonzero": lambda x, w: cp.nonzero(x),
}
CURAND = {
    "cupy.random.normal": lambda x, w: cp.random.normal(size=3),
    "default_rng": lambda x, w: cp.random.default_rng(0).standard_normal(3),
}
REFUSALS = {**{k: (v, NotImplementedError, "calling cuBLAS API during stream capture") for k, v in CUBLAS.items()},
            **{k: (v, CUDARuntimeError, "cudaErrorStreamCaptureUnsupported") for k, v in SYNC.items()},
            **{k: (v, NotImplementedError, "cuRAND") for k, v in CURAND.items()}}


@pytest.mark.parametrize("name", REFUSALS)
def test_refused_work_raises_and_invalidates_the_capture(name):
    work, error, message = REFUSALS[name]
    x, w = cp.asarray(X), cp.asarray(W)
    stream = cp.cuda.Stream(non_blocking=True)
    stream.begin_capture()
    y = x + 1.0
    with pytest.raises(error, match=message):
        work(x, w)
    with pytest.raises(CUDARuntimeError, match="cudaErrorStreamCaptureInvalidated"):
        y * 2.0  # later work fails too, as CUDA fails every call of an invalidated capture
    with pytest.raises(CUDARuntimeError, match="cudaErrorStreamCaptureInvalidated"):
        stream.end_capture()
    assert not stream.is_capturing() and graphs.active is None
    np.testing.assert_array_equal(host(x @ w + 1.0), X @ W + 1.0)  # eager work as usual afterwards


def test_capture_rules_of_streams():
    assert cp.cuda.get_current_stream() is cp.cuda.Stream.null
    with pytest.raises(CUDARuntimeError, match="cudaErrorStreamCaptureUnsupported"):
        cp.cuda.Stream.null.begin_capture()
    a, b = cp.cuda.Stream(), cp.cuda.Stream(non_blocking=True)
    with a:
        assert cp.cuda.get_current_stream() is a
        with b:
            assert cp.cuda.get_current_stream() is b
        assert cp.cuda.get_current_stream() is a
    assert cp.cuda.get_current_stream() is cp.cuda.Stream.null
    with pytest.raises(CUDARuntimeError, match="not capturing"):
        a.end_capture()
    a.begin_capture()
    with pytest.raises(CUDARuntimeError, match="already capturing"):
        b.begin_capture()
    assert a.is_capturing() and not b.is_capturing()
    assert isinstance(a.end_capture(), cp.cuda.graph.Graph)
    assert a.ptr != b.ptr and cp.cuda.Stream.null.ptr == 0


def test_eager_counters_by_kind():
    x = cp.asarray(X)  # h2d
    y = x + 1.0  # op
    z = y.copy()  # d2d
    cp.copyto(z, y)  # d2d
    _ = x.T, x[1:], x.reshape(30)  # views: no device work
    _ = y.astype(np.float64), y.sum()  # op, op
    y[0] = 3.0  # op (a fill)
    assert dict(emu.eager_ops) == {"h2d": 1, "op": 4, "d2d": 2}
    graph, _ = capture(lambda: x * 2.0)
    graph.launch()
    assert dict(emu.eager_ops) == {"h2d": 1, "op": 4, "d2d": 2}  # capture and replay are not eager work
    assert emu.counters()["graph_launches"] == 1 and not emu.host_reads
    emu.reset_counters()
    assert emu.counters() == {"host_reads": {}, "eager_ops": {}, "graph_launches": 0}


def test_set_copyto_and_memory_pool_outside_capture():
    x = cp.empty((2, 3), np.float32)
    x.set(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="Shape mismatch"):
        x.set(np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="cannot be set"):
        x.set(np.ones((2, 3), np.float64))
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        cp.copyto(x, np.ones((2, 3), np.float32))
    cp.copyto(x, np.float32(2.0))
    np.testing.assert_array_equal(host(x), np.full((2, 3), 2.0))
    pool = cp.cuda.MemoryPool()
    with cp.cuda.using_allocator(pool.malloc):
        assert cp.cuda.get_allocator() == pool.malloc
        block = pool.malloc(1000)
        assert block.ptr and pool.used_bytes() == 1024
    del block
    assert pool.used_bytes() == 0 and pool.total_bytes() == 1024
    pool.free_all_blocks()
    assert pool.total_bytes() == 0
