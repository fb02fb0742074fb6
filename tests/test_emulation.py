"""The CPU emulation of CUDA kernels (tests/emulation) is itself right: barriers, shuffles,
argument checks, and the PYTHONPATH hook that gives whole programs the emulated CuPy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from emulation import kernel_runner

try:
    kernel_runner.cuda_include_dir()
    kernel_runner.compiler()
    from emulation.cupy_on_numpy import ndarray as DeviceArray
except kernel_runner.EmulationUnavailable as exc:
    pytest.skip(f"CUDA emulation unavailable: {exc}", allow_module_level=True)

pytestmark = pytest.mark.any_backend

SOURCE = r"""
__device__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}
// One block: out[0] = sum of x via shared memory and warp shuffles; out[1 + t] = x[t] * 2.
extern "C" __global__ void block_sum(const float* x, float* out, int n) {
  __shared__ float part[32];
  float v = threadIdx.x < n ? x[threadIdx.x] : 0.0f;
  if (threadIdx.x < n) out[1 + threadIdx.x] = v * 2.0f;
  v = warp_sum(v);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.0f;
    v = warp_sum(v);
    if (threadIdx.x == 0) out[0] = v;
  }
}
// Every block writes its index into its slot, over a 2-D grid.
extern "C" __global__ void grid_ids(long long* out) {
  if (threadIdx.x == 0) out[blockIdx.y * gridDim.x + blockIdx.x] = blockIdx.y * 1000 + blockIdx.x;
}
// Two halves of a block wait at different barriers: undefined on a GPU, reported here.
extern "C" __global__ void divergent(float* x) {
  if (threadIdx.x < 16) {
    x[threadIdx.x] = 1.0f;
    __syncthreads();
  } else {
    __syncthreads();
    x[threadIdx.x] = 2.0f;
  }
}
// Threads that return early count as arrived, as on the hardware.
extern "C" __global__ void early_exit(float* x) {
  if (threadIdx.x >= 16) return;
  __syncthreads();
  x[threadIdx.x] = 1.0f;
}
"""


@pytest.fixture(scope="module")
def module():
    m = kernel_runner.Module(SOURCE, (), DeviceArray)
    m.compile()
    return m


def _dev(a: np.ndarray) -> DeviceArray:
    return np.ascontiguousarray(a).view(DeviceArray)


@pytest.mark.parametrize("n,block", [(256, 256), (70, 96), (1, 32)])
def test_block_reduction_with_shuffles_and_shared_memory(module, n, block):
    x = np.random.default_rng(n).normal(size=n).astype(np.float32)
    out = _dev(np.zeros(1 + n, np.float32))
    module.get_function("block_sum")((1,), (block,), (_dev(x), out, np.int32(n)))
    assert out[0] == pytest.approx(float(x.astype(np.float64).sum()), rel=1e-5, abs=1e-5)
    np.testing.assert_array_equal(out[1:].get(), x * 2)


def test_grid_coordinates(module):
    out = _dev(np.full(12, -1, np.int64))
    module.get_function("grid_ids")((4, 3), (64,), (out,))
    np.testing.assert_array_equal(out.get(), [y * 1000 + x for y in range(3) for x in range(4)])


def test_argument_types_are_checked_against_the_kernel(module):
    fn = module.get_function("block_sum")
    x, out = _dev(np.zeros(4, np.float32)), _dev(np.zeros(5, np.float32))
    with pytest.raises(TypeError, match="argument 2: the kernel takes i4, got i8"):
        fn((1,), (32,), (x, out, np.int64(4)))
    with pytest.raises(TypeError, match="argument 2: the kernel takes i4, got f8"):
        fn((1,), (32,), (x, out, 4.0))
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        fn((1,), (32,), (np.zeros(4, np.float32), out, np.int32(4)))
    with pytest.raises(TypeError, match="takes 3 arguments, 2 given"):
        fn((1,), (32,), (x, out))


def test_divergent_barrier_is_reported(module):
    with pytest.raises(RuntimeError, match="different __syncthreads"):
        module.get_function("divergent")((1,), (32,), (_dev(np.zeros(32, np.float32)),))


def test_exited_threads_do_not_block_a_barrier(module):
    x = _dev(np.zeros(32, np.float32))
    module.get_function("early_exit")((1,), (32,), (x,))
    np.testing.assert_array_equal(x.get(), [1.0] * 16 + [0.0] * 16)


def test_pythonpath_hook_gives_a_whole_program_the_emulated_cupy():
    site = Path(__file__).resolve().parent / "emulation" / "site"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(Path(__file__).resolve().parents[1])]),
               GPUKERAS_BACKEND="cupy")
    code = ("import numpy as np, gpukeras as keras; from gpukeras import backend; "
            "from gpukeras.backend import kernels as K; "
            "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation='relu')]); "
            "m.compile('adam', 'mse'); m.fit(np.ones((8, 4), 'float32'), np.ones((8, 3), 'float32'), verbose=0); "
            "print(backend.backend(), K.launch_counts['gk_adam_multi_f32'] > 0, "
            "K.launch_counts['gk_dense_fwd_relu_f32'] > 0)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["cupy", "True", "True"]
