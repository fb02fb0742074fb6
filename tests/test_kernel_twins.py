"""Each CUDA kernel has a NumPy twin; twins match float64 formulas here, kernels match twins on a GPU.

CPU (always): the NumPy backend primitives (and the Philox twin in gpukeras.backend.philox) against
independent float64 formulas; the kernels' own formula code (act_functions.cuh, Philox in
dropout.cu) compiled for the host by nvcc and run on the CPU against the twins.
GPU (marked `gpu`, skipped without the CuPy backend): CupyOps against NumpyOps, float32 and
float16, forward and backward; the one-launch optimizers against the per-weight NumPy loop.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess

import numpy as np
import pytest
from float64_reference import ref_act
from float64_reference import sigmoid as _sig

from gpukeras import backend, layers, ops
from gpukeras.backend import kernels as K
from gpukeras.backend import philox
from gpukeras.backend.base import Ops
from gpukeras.backend.fused.multi_tensor import MultiTensorApply
from gpukeras.backend.numpy_backend import NumpyOps
from gpukeras.optimizers.adadelta import ADADELTA_RULE
from gpukeras.optimizers.adagrad import ADAGRAD_RULE
from gpukeras.optimizers.adam import ADAM_RULE
from gpukeras.optimizers.adamax import ADAMAX_RULE
from gpukeras.optimizers.lion import LION_RULE
from gpukeras.optimizers.nadam import NADAM_RULE
from gpukeras.optimizers.rmsprop import RMSPROP_RULE
from gpukeras.optimizers.sgd import SGD_RULE

NP = NumpyOps()


class _GenericNumpy(Ops):
    """The generic code over NumPy, none of NumpyOps's C fast paths."""

    name, xp = "generic-numpy", np


GENERIC = _GenericNumpy()
NVCC = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if os.path.exists("/usr/local/bin/nvcc") else None)
# (name, params) variants exercised everywhere
VARIANTS = [("relu", ()), ("relu", (0.1, 4.0, 0.5)), ("relu6", ()), ("leaky_relu", ()), ("leaky_relu", (0.3,)),
            ("elu", ()), ("elu", (0.5,)), ("selu", ()), ("gelu", ()), ("gelu_tanh", ()), ("silu", ()),
            ("sigmoid", ()), ("hard_sigmoid", ()), ("hard_silu", ()), ("tanh", ()), ("softplus", ()),
            ("softsign", ()), ("exponential", ()), ("mish", ())]


# float32 tolerance: rtol 1e-5, plus an absolute floor for the float32 cancellation in base.py's
# own formulas (1 + tanh(.) of gelu_tanh near x = -5 loses ~1.5e-6 absolute in float32).
F32 = dict(rtol=1e-5, atol=3e-6)


def _grid32() -> np.ndarray:
    """float32 inputs: a dense grid plus the kinks (0, ±3, 6, thresholds)."""
    x = np.linspace(-7.0, 7.0, 281).astype(np.float32)
    return np.unique(np.concatenate([x, np.float32([0.0, -3.0, 3.0, 6.0, 0.5, 4.0, -0.25, 1e-3])]))


def _dy_for(x: np.ndarray) -> np.ndarray:
    return (0.5 + 0.25 * (np.arange(x.size) % 5)).astype(x.dtype)


# ---------------------------------------------------------------------------------- CPU twins
@pytest.mark.parametrize("name,params", VARIANTS, ids=[f"{n}{p}" for n, p in VARIANTS])
def test_numpy_activation_twin_matches_float64(name, params):
    x = _grid32()
    dy = _dy_for(x)
    y = NP.activation(name, x, params)
    dx = NP.activation_backward(name, dy, x, y, params)
    y64, d64 = ref_act(name, x, params)
    assert y.dtype == np.float32 and dx.dtype == np.float32
    np.testing.assert_allclose(y, y64, **F32)
    np.testing.assert_allclose(dx, dy * d64, **F32)


@pytest.mark.parametrize("activation", ["linear", "relu", "gelu", "sigmoid"])
@pytest.mark.parametrize("ops", [NP, Ops()], ids=["numpy", "generic"])
def test_dense_twin_matches_float64(activation, ops):
    if isinstance(ops, Ops) and type(ops) is Ops:
        ops.xp = np
    rng = np.random.default_rng(0)
    x, w, b = (rng.normal(size=s).astype(np.float32) for s in ((16, 12), (12, 9), (9,)))
    dy = rng.normal(size=(16, 9)).astype(np.float32)
    y, z = ops.dense(x, w, b, activation)
    z64 = x.astype(np.float64) @ w + b
    y64, d64 = (z64, np.ones_like(z64)) if activation == "linear" else ref_act(activation, z64)
    np.testing.assert_allclose(z, z64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y, y64, rtol=1e-5, atol=1e-5)
    dx, dw, db = ops.dense_backward(dy, x, w, z, y, activation)
    dz64 = dy * d64
    np.testing.assert_allclose(db, dz64.sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dw, x.T.astype(np.float64) @ dz64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, dz64 @ w.T.astype(np.float64), rtol=1e-5, atol=1e-5)


def test_sparse_softmax_xent_twin_matches_float64():
    rng = np.random.default_rng(1)
    logits = (rng.normal(size=(32, 10)) * 4).astype(np.float32)
    labels = rng.integers(0, 10, size=32)
    loss, probs = NP.sparse_softmax_cross_entropy(logits, labels)
    l64 = logits.astype(np.float64)
    p64 = np.exp(l64 - l64.max(1, keepdims=True))
    p64 /= p64.sum(1, keepdims=True)
    np.testing.assert_allclose(probs, p64, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(loss, -np.log(p64[np.arange(32), labels]), rtol=1e-5, atol=1e-6)
    dloss = rng.uniform(0.5, 2, size=32).astype(np.float32)
    grad = NP.sparse_softmax_cross_entropy_backward(dloss, probs, labels)
    onehot = np.eye(10)[labels]
    np.testing.assert_allclose(grad, (p64 - onehot) * dloss[:, None], rtol=1e-5, atol=1e-6)


def test_sigmoid_bce_twin_matches_float64():
    rng = np.random.default_rng(2)
    z = (rng.normal(size=(64, 3)) * 6).astype(np.float32)
    t = rng.uniform(size=(64, 3)).astype(np.float32)
    loss, probs = NP.sigmoid_binary_cross_entropy(z, t)
    z64, t64 = z.astype(np.float64), t.astype(np.float64)
    ref = -(t64 * np.log(_sig(z64)) + (1 - t64) * np.log(1 - _sig(z64)))
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, _sig(z64), rtol=1e-6)
    dloss = rng.uniform(size=(64, 3)).astype(np.float32)
    grad = NP.sigmoid_binary_cross_entropy_backward(dloss, probs, t)
    np.testing.assert_allclose(grad, (_sig(z64) - t64) * dloss, rtol=1e-5, atol=1e-7)


def _weights(rng, shapes, dtype=np.float32):
    return [rng.normal(size=s).astype(dtype) for s in shapes]


SHAPES = [(7, 5), (5,), (300,), (3, 4, 2)]


def _apply(ops, rule, lists, decay_mask=None, **scalars):
    """One multi_tensor_apply step of `rule` (weight decay off unless given)."""
    ops.multi_tensor_apply(rule, lists, {"weight_decay": 0.0, **scalars}, decay_mask)


def _sgd(ops, w, g, m, lr, momentum, nesterov):
    _apply(ops, SGD_RULE, [w, g, m if momentum else None], lr=lr, momentum=momentum, nesterov=nesterov)


def _adam(ops, w, g, m, v, vhat, lr, beta_1, beta_2, epsilon, step, **extra):
    _apply(ops, ADAM_RULE, [w, g, m, v, vhat], lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
           amsgrad=vhat is not None, step=step, **extra)


def _rmsprop(ops, w, g, v, mo, avg, lr, rho, momentum, epsilon):
    _apply(ops, RMSPROP_RULE, [w, g, v, avg, mo], lr=lr, rho=rho, momentum=momentum, epsilon=epsilon,
           centered=avg is not None)


def _sgd64(w, g, m, lr, mom, nesterov):
    for i in range(len(w)):
        if not mom:
            w[i] = w[i] - lr * g[i]
            continue
        m[i] = mom * m[i] - lr * g[i]
        w[i] = w[i] + (mom * m[i] - lr * g[i] if nesterov else m[i])


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_twin_matches_float64(momentum, nesterov):
    rng = np.random.default_rng(3)
    w, g, m = _weights(rng, SHAPES), _weights(rng, SHAPES), _weights(rng, SHAPES)
    w64, m64 = [a.astype(np.float64) for a in w], [a.astype(np.float64) for a in m]
    for _ in range(3):
        _sgd(NP, w, g, m, 0.01, momentum, nesterov)
        _sgd64(w64, g, m64, 0.01, momentum, nesterov)
    for a, b in zip(w + m, w64 + m64):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_twin_matches_float64(amsgrad):
    rng = np.random.default_rng(4)
    w, g = _weights(rng, SHAPES), _weights(rng, SHAPES)
    ms, vs = [np.zeros_like(a) for a in w], [np.zeros_like(a) for a in w]
    vh = [np.zeros_like(a) for a in w] if amsgrad else None
    w64 = [a.astype(np.float64) for a in w]
    m64, v64, h64 = ([np.zeros_like(a) for a in w64] for _ in range(3))
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    for step in range(1, 4):
        gs = [a * step for a in g]
        _adam(NP, w, gs, ms, vs, vh, lr, b1, b2, eps, step)
        alpha = lr * math.sqrt(1 - b2 ** step) / (1 - b1 ** step)
        for i in range(len(w)):
            m64[i] += (gs[i] - m64[i]) * (1 - b1)
            v64[i] += (gs[i].astype(np.float64) ** 2 - v64[i]) * (1 - b2)
            h64[i] = np.maximum(h64[i], v64[i])
            w64[i] -= alpha * m64[i] / (np.sqrt(h64[i] if amsgrad else v64[i]) + eps)
    for a, b in zip(w, w64):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.0), (False, 0.9), (True, 0.5)])
def test_rmsprop_twin_matches_float64(centered, momentum):
    rng = np.random.default_rng(5)
    w, g = _weights(rng, SHAPES), _weights(rng, SHAPES)
    v, a, mo = ([np.zeros_like(x) for x in w] for _ in range(3))
    w64 = [x.astype(np.float64) for x in w]
    v64, a64, mo64 = ([np.zeros_like(x) for x in w64] for _ in range(3))
    lr, rho, eps = 1e-3, 0.9, 1e-7
    for _ in range(3):
        _rmsprop(NP, w, g, v, mo if momentum > 0 else None, a if centered else None, lr, rho, momentum, eps)
        for i in range(len(w)):
            v64[i] = rho * v64[i] + (1 - rho) * g[i].astype(np.float64) ** 2
            a64[i] = rho * a64[i] + (1 - rho) * g[i]
            inc = lr * g[i] / np.sqrt(v64[i] - (a64[i] ** 2 if centered else 0) + eps)
            mo64[i] = momentum * mo64[i] + inc
            w64[i] -= mo64[i] if momentum > 0 else inc
    for x, y in zip(w, w64):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


# Random123 known-answer vectors for Philox4x32-10.
PHILOX_KAT = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
              ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
              ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
               (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]


def test_philox_twin_known_answers():
    for ctr, key, want in PHILOX_KAT:
        got = philox.philox4x32_10(np.array([ctr], dtype=np.uint32), key)[0]
        assert tuple(int(v) for v in got) == want


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_twin_statistics(rate):
    mask = philox.philox_dropout_mask((256, 257), rate, seed=987654321987, dtype="float32")
    kept = mask != 0
    assert set(np.unique(mask)) <= {0.0, np.float32(1 / (1 - rate))}
    assert abs(kept.mean() - (1 - rate)) < 4 * math.sqrt(rate * (1 - rate) / kept.size)
    assert abs(mask.mean() - 1.0) < 0.02
    other = philox.philox_dropout_mask((256, 257), rate, seed=987654321988)
    assert (other != mask).mean() > 0.05  # a different seed gives a different stream


# ------------------------------------------------------- kernel formula code, compiled for the host
HARNESS = r"""
#include <cstdio>
#include "act_functions.cuh"
#include "dropout.cu"
template <int A> void run(int v, const float* xs, int n, float p0, float p1, float p2) {
  for (int i = 0; i < n; ++i) {
    const float x = xs[i];
    const float dy = 0.5f + 0.25f * (float)(i % 5);
    const float y = gk_act<A>(x, p0, p1, p2);
    std::printf("A %d %d %a %a\n", v, i, y, gk_dact<A>(dy, x, y, p0, p1, p2));
  }
}
#define CASE(ID) case ID: run<ID>(v, xs, n, p0, p1, p2); break;
int main() {
  static const float xs[] = {@XS@};
  const int n = sizeof(xs) / sizeof(xs[0]);
  static const int ids[] = {@IDS@};
  static const float ps[][3] = {@PS@};
  for (int v = 0; v < (int)(sizeof(ids) / sizeof(ids[0])); ++v) {
    const float p0 = ps[v][0], p1 = ps[v][1], p2 = ps[v][2];
    switch (ids[v]) { CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10)
                      CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16) default: break; }
  }
  static const unsigned int kat[][6] = {@KAT@};
  for (int k = 0; k < (int)(sizeof(kat) / sizeof(kat[0])); ++k) {
    const uint4 r = gk_philox4x32_10(make_uint4(kat[k][0], kat[k][1], kat[k][2], kat[k][3]), kat[k][4], kat[k][5]);
    std::printf("P %u %u %u %u\n", r.x, r.y, r.z, r.w);
  }
  return 0;
}
"""


@pytest.fixture(scope="module")
def host_harness(tmp_path_factory):
    """Run the kernels' formula code (host-compiled by nvcc) on the test inputs; parsed output."""
    if NVCC is None:
        pytest.skip("nvcc not found: cannot host-compile the kernel formulas")
    x = _grid32()
    params = [K.act_params(n, p) for n, p in VARIANTS]
    fmt = lambda v: "INFINITY" if v == math.inf else float(np.float32(v)).hex() + "f"  # noqa: E731
    src = (HARNESS.replace("@XS@", ", ".join(fmt(v) for v in x))
           .replace("@IDS@", ", ".join(str(K.act_ids()[n]) for n, _ in VARIANTS))
           .replace("@PS@", ", ".join("{" + ", ".join(fmt(v) for v in p) + "}" for p in params))
           .replace("@KAT@", ", ".join("{" + ", ".join(f"{v}u" for v in c + k) + "}" for c, k, _ in PHILOX_KAT)))
    d = tmp_path_factory.mktemp("harness")
    (d / "harness.cu").write_text("#include <cmath>\n" + src)
    build = subprocess.run([NVCC, "-std=c++17", "-arch=sm_80", f"-I{K.kernel_dir()}", "-o", str(d / "harness"),
                            str(d / "harness.cu")], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    out = subprocess.run([str(d / "harness")], capture_output=True, text=True, timeout=60, check=True).stdout
    acts: dict[int, list] = {}
    philox = []
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "A":
            acts.setdefault(int(parts[1]), []).append((float.fromhex(parts[3]), float.fromhex(parts[4])))
        else:
            philox.append(tuple(int(v) for v in parts[1:]))
    return x, acts, philox


@pytest.mark.parametrize("v", range(len(VARIANTS)), ids=[f"{n}{p}" for n, p in VARIANTS])
def test_kernel_activation_formulas_match_twin_on_host(host_harness, v):
    x, acts, _ = host_harness
    name, params = VARIANTS[v]
    got = np.array(acts[v], dtype=np.float32)
    y = NP.activation(name, x, params)
    dy = _dy_for(x)
    np.testing.assert_allclose(got[:, 0], y, **F32)
    np.testing.assert_allclose(got[:, 1], NP.activation_backward(name, dy, x, y, params), **F32)


def test_kernel_philox_matches_known_answers_on_host(host_harness):
    assert host_harness[2] == [want for _, _, want in PHILOX_KAT]


# ---------------------------------------------------------------------------------- GPU
def _cupy_ops():
    if backend.backend() != "cupy":
        pytest.skip("kernel tests run under the cupy backend (a GPU, or cupy-emulated on the CPU)")
    from gpukeras.backend.cupy_backend import CupyOps

    return CupyOps()


@contextlib.contextmanager
def _launches(*names: str):
    """Fail unless each kernel ran inside the block (a build failure falls back to generic code silently)."""
    before = K.launch_counts.copy()
    yield
    missing = [n for n in names if K.launch_counts[n] == before[n]]
    assert not missing, f"these kernels never ran (generic fallback?): {missing}"


def _sfx(dtype: str) -> str:
    return K.DTYPE_SUFFIX[dtype]


@pytest.mark.gpu
@pytest.mark.parametrize("suffix", ["f32", "f16"])
@pytest.mark.parametrize("filename", K.kernel_file_names())
def test_gpu_every_kernel_module_builds(filename, suffix):
    _cupy_ops()
    K.clear()
    module = K.module(filename, suffix)  # raises KernelUnavailableError with the compiler's message
    assert module is not None


F16 = dict(rtol=2e-2, atol=2e-2)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("name,params", VARIANTS, ids=[f"{n}{p}" for n, p in VARIANTS])
def test_gpu_activation_matches_numpy(name, params, dtype):
    cp = _cupy_ops()
    x = np.concatenate([_grid32(), np.float32([np.nan, np.inf, -np.inf])]).astype(dtype)  # NaN must stay NaN
    dy = _dy_for(x)
    y = NP.activation(name, x, params)
    tol = F32 if dtype == "float32" else F16
    with _launches(f"gk_act_{name}_fwd_{_sfx(dtype)}", f"gk_act_{name}_bwd_{_sfx(dtype)}"):
        gy = cp.activation(name, cp.asarray(x), params)
        gdx = cp.activation_backward(name, cp.asarray(dy), cp.asarray(x), cp.asarray(y), params)
    assert gy.dtype == x.dtype
    np.testing.assert_allclose(cp.to_numpy(gy).astype(np.float64), y.astype(np.float64), **tol)
    dx = NP.activation_backward(name, dy, x, y, params)
    np.testing.assert_allclose(cp.to_numpy(gdx).astype(np.float64), dx.astype(np.float64), **tol)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("activation", ["linear", "relu", "gelu", "tanh", "silu"])
@pytest.mark.parametrize("rows", [3, 1000])
@pytest.mark.parametrize("has_bias", [True, False])
def test_gpu_dense_matches_numpy(activation, dtype, rows, has_bias):
    cp = _cupy_ops()
    rng = np.random.default_rng(6)
    x, w, b = (rng.normal(size=s).astype(dtype) * 0.5 for s in ((rows, 64), (64, 100), (100,)))
    b = b if has_bias else None
    dy = rng.normal(size=(rows, 100)).astype(dtype)
    y, z = NP.dense(x, w, b, activation)
    fused = activation != "linear" or has_bias  # plain x @ w needs no epilogue kernel
    fwd = [f"gk_dense_fwd_{activation}_{_sfx(dtype)}"] if fused else []
    with _launches(*fwd):
        gy, gz = cp.dense(cp.asarray(x), cp.asarray(w), None if b is None else cp.asarray(b), activation)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else F16
    np.testing.assert_allclose(cp.to_numpy(gz).astype(float), z.astype(float), **tol)
    np.testing.assert_allclose(cp.to_numpy(gy).astype(float), y.astype(float), **tol)
    ref = NP.dense_backward(dy, x, w, z, y, activation, (), has_bias)
    with _launches(*[f"gk_dense_bwd_{activation}_{_sfx(dtype)}"] if fused else []):
        got = cp.dense_backward(cp.asarray(dy), cp.asarray(x), cp.asarray(w), gz, gy, activation, (), has_bias)
    btol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=5e-2, atol=5e-1)
    for r, g in zip(ref, got):
        assert (r is None) == (g is None)
        if r is not None:
            np.testing.assert_allclose(cp.to_numpy(g).astype(float), r.astype(float), **btol)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", [(5, 10), (300, 1000), (2, 3, 7), (4, 1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_gpu_row_softmax_matches_numpy(name, dtype, shape):
    cp = _cupy_ops()
    rng = np.random.default_rng(14)
    x = (rng.normal(size=shape) * 3).astype(dtype)
    x.reshape(-1, shape[-1])[0, 0] = np.nan  # a NaN row stays NaN, as in NumPy
    dy = rng.normal(size=shape).astype(dtype)
    y = NP.activation(name, x.astype(np.float32))
    dx = NP.activation_backward(name, dy.astype(np.float32), x.astype(np.float32), y)
    with _launches(f"gk_{name}_fwd_{_sfx(dtype)}", f"gk_{name}_bwd_{_sfx(dtype)}"):
        gy = cp.activation(name, cp.asarray(x))
        gdx = cp.activation_backward(name, cp.asarray(dy), cp.asarray(x), gy)
    tol = F32 if dtype == "float32" else dict(rtol=1e-2, atol=5e-3)
    np.testing.assert_allclose(cp.to_numpy(gy).astype(float), y, **tol)
    np.testing.assert_allclose(cp.to_numpy(gdx).astype(float), dx, **tol)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("pool,strides", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 3), (1, 2)), ((3, 2), (3, 3))])
@pytest.mark.parametrize("mode", ["max", "average"])
def test_gpu_pool_matches_the_generic_twin(mode, pool, strides, dtype):
    cp = _cupy_ops()
    rng = np.random.default_rng(17)
    x = np.round(rng.normal(size=(2, 9, 8, 5)) * 2).astype(dtype)  # rounded: many ties inside windows
    x[0, 1, 1, 0] = np.nan  # a NaN window maximum: NaN out, no gradient credited
    dy = rng.normal(size=(2, (9 - pool[0]) // strides[0] + 1, (8 - pool[1]) // strides[1] + 1, 5)).astype(dtype)
    y = Ops.pool(NP, x, mode, pool, strides)  # the generic code, not the C kernel
    dx = Ops.pool_backward(NP, dy, x, y, mode, pool, strides)
    name = "max" if mode == "max" else "avg"
    with _launches(f"gk_{name}_pool2d_fwd_{_sfx(dtype)}", f"gk_{name}_pool2d_bwd_{_sfx(dtype)}"):
        gy = cp.pool(cp.asarray(x), mode, pool, strides)
        gdx = cp.pool_backward(cp.asarray(dy), cp.asarray(x), gy, mode, pool, strides)
    if dtype == "float32" or mode == "max":  # a maximum is exact; float32 sums add in the twin's order
        np.testing.assert_array_equal(cp.to_numpy(gy), y)
    else:  # float16 window sums: the kernel adds in float32, the twin in float16
        np.testing.assert_allclose(cp.to_numpy(gy).astype(float), y.astype(float), **F16)
    tol = F32 if dtype == "float32" else F16  # overlapping windows sum in another order
    np.testing.assert_allclose(cp.to_numpy(gdx).astype(float), dx.astype(float), **tol)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("kernel,strides,dilation,padding,groups", [
    ((3, 3), (1, 1), (1, 1), "same", 1), ((3, 3), (2, 2), (1, 1), "valid", 1), ((2, 3), (2, 1), (1, 1), "same", 1),
    ((3, 3), (1, 1), (2, 2), "same", 1), ((3, 3), (2, 2), (1, 1), "same", 2), ((1, 1), (1, 1), (1, 1), "valid", 1)])
def test_gpu_conv_input_grad_matches_the_generic_twin(kernel, strides, dilation, padding, groups, dtype):
    cp = _cupy_ops()
    rng = np.random.default_rng(18)
    x_shape = (2, 9, 8, 4)
    # 40 output channels per group: more than the direct kernel takes (test_vision_kernel_twins.py covers it)
    w = rng.normal(size=(*kernel, 4 // groups, 40 * groups)).astype(dtype)
    out_shape = Ops.conv(NP, np.zeros(x_shape, dtype), w, None, strides, padding, dilation, groups)[0].shape
    dy = rng.normal(size=out_shape).astype(dtype)
    ref = Ops.conv_input_grad(NP, dy, w, x_shape, strides, padding, dilation, groups)
    with _launches(f"gk_col2im_add_{_sfx(dtype)}"):
        got = cp.conv_input_grad(cp.asarray(dy), cp.asarray(w), x_shape, strides, padding, dilation, groups)
    assert got.shape == ref.shape
    tol = F32 if dtype == "float32" else dict(rtol=2e-2, atol=5e-2)
    np.testing.assert_allclose(cp.to_numpy(got).astype(float), ref.astype(float), **tol)


def _check_normalize_twin(shape: tuple, axes: tuple, pshape: tuple, affine: bool, dtype: str, seed: int,
                          kernels: list[str]) -> None:
    """CuPy's normalize and its backward (inside a launch check of `kernels`) against the generic NumPy code."""
    cp = _cupy_ops()
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 3 + 1).astype(dtype)
    dy = rng.normal(size=shape).astype(dtype)
    g = rng.uniform(0.5, 1.5, size=pshape).astype(dtype) if affine else None
    b = rng.normal(size=pshape).astype(dtype) if affine else None
    ref = Ops.normalize(NP, x.astype(np.float32), axes, 1e-3, *(None if p is None else p.astype(np.float32)
                                                               for p in (g, b)))
    with _launches(*kernels):
        got = cp.normalize(cp.asarray(x), axes, 1e-3, *(None if p is None else cp.asarray(p) for p in (g, b)))
        gback = cp.normalize_backward(cp.asarray(dy), got[3], got[4], axes, pshape,
                                      None if g is None else cp.asarray(g), affine)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=2e-2, atol=2e-2)
    for r, o in zip(ref, got):  # y, mean, variance, xhat, inv_std
        assert o.shape == r.shape
        np.testing.assert_allclose(cp.to_numpy(o).astype(float), r, **tol)
    back = Ops.normalize_backward(NP, dy.astype(np.float32), ref[3], ref[4], axes, pshape,
                                  None if g is None else g.astype(np.float32), affine)
    for r, o in zip(back, gback):  # dx, dgamma, dbeta
        assert (r is None) == (o is None)
        if r is not None:
            assert o.shape == r.shape
            np.testing.assert_allclose(cp.to_numpy(o).astype(float), r, **dict(tol, atol=tol["atol"] * 10))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", [(8, 5), (2, 4, 3, 6), (300, 70)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_gpu_normalization_matches_the_generic_twin(kind, shape, affine, dtype):
    axes = tuple(range(len(shape) - 1)) if kind == "batch" else (len(shape) - 1,)
    pshape = (1,) * (len(shape) - 1) + (shape[-1],)
    sfx = _sfx(dtype)
    names = [f"gk_bn_apply_{sfx}", f"gk_bn_grad_{sfx}"] if kind == "batch" else [f"gk_ln_fwd_{sfx}",
                                                                                f"gk_ln_bwd_{sfx}"]
    _check_normalize_twin(shape, axes, pshape, affine, dtype, 19, [f"gk_bn_sums_{sfx}", "gk_bn_finish_f32", *names])


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", [(2, 7, 3, 4), (2, 5, 3, 4, 2), (3, 40, 30, 2, 8)])
@pytest.mark.parametrize("affine", [True, False])
def test_gpu_group_normalization_matches_the_generic_twin(shape, affine, dtype):
    """(N, *spatial, G, C/G) over the spatial axes and C/G, as GroupNormalization calls it."""
    axes = tuple(i for i in range(1, len(shape)) if i != len(shape) - 2)
    pshape = (1,) * (len(shape) - 2) + shape[-2:]
    sfx = _sfx(dtype)
    _check_normalize_twin(shape, axes, pshape, affine, dtype, 21,
                          [f"gk_gn_fwd_{sfx}", f"gk_gn_bwd_{sfx}", f"gk_bn_sums_{sfx}", "gk_bn_finish_f32"])


@pytest.mark.gpu
def test_gpu_group_normalization_layer_runs_the_group_kernel():
    """GroupNormalization (channels-last) reaches gk_gn_*; its output matches the float64 formula."""
    _cupy_ops()
    x = np.random.default_rng(22).normal(size=(2, 5, 6, 8)).astype(np.float32)
    layer = layers.GroupNormalization(groups=4, gamma_initializer="ones", beta_initializer="zeros")
    with _launches("gk_gn_fwd_f32"):
        got = ops.convert_to_numpy(layer(x))
    grouped = x.astype(np.float64).reshape(2, 5, 6, 4, 2)
    mean = grouped.mean(axis=(1, 2, 4), keepdims=True)
    var = grouped.var(axis=(1, 2, 4), keepdims=True)
    want = ((grouped - mean) / np.sqrt(var + layer.epsilon)).reshape(x.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_gpu_normalization_over_other_axes_uses_the_generic_code():
    cp = _cupy_ops()
    x = np.random.default_rng(20).normal(size=(6, 5, 4)).astype(np.float32)
    before = K.launch_counts.copy()
    got = cp.normalize(cp.asarray(x), (1,), 1e-3)
    assert K.launch_counts == before
    np.testing.assert_allclose(cp.to_numpy(got[0]), Ops.normalize(NP, x, (1,), 1e-3)[0], **F32)


@pytest.mark.gpu
def test_gpu_softmax_over_another_axis_uses_the_generic_code():
    cp = _cupy_ops()
    x = np.random.default_rng(15).normal(size=(6, 5)).astype(np.float32)
    before = K.launch_counts.copy()
    got = cp.to_numpy(cp.activation("softmax", cp.asarray(x), (0,)))
    assert K.launch_counts == before
    np.testing.assert_allclose(got, NP.activation("softmax", x, (0,)), **F32)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", [(5, 10), (300, 1000), (2, 3, 7)])
def test_gpu_sparse_softmax_xent_matches_numpy(dtype, shape):
    cp = _cupy_ops()
    rng = np.random.default_rng(7)
    logits = (rng.normal(size=shape) * 3).astype(dtype)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    loss, probs = NP.sparse_softmax_cross_entropy(logits.astype(np.float32), labels)
    with _launches(f"gk_sxent_fwd_{_sfx(dtype)}"):
        gl, gp = cp.sparse_softmax_cross_entropy(cp.asarray(logits), cp.asarray(labels))
    tol = F32 if dtype == "float32" else dict(rtol=1e-2, atol=2e-3)
    np.testing.assert_allclose(cp.to_numpy(gl).astype(float), loss, **tol)
    np.testing.assert_allclose(cp.to_numpy(gp).astype(float), probs, **tol)
    dloss = rng.uniform(0.5, 2, size=shape[:-1]).astype(np.float32)
    grad = NP.sparse_softmax_cross_entropy_backward(dloss, probs, labels)
    with _launches(f"gk_sxent_bwd_{_sfx(dtype)}"):
        gg = cp.sparse_softmax_cross_entropy_backward(cp.asarray(dloss.astype(dtype)), gp, cp.asarray(labels))
    np.testing.assert_allclose(cp.to_numpy(gg).astype(float), grad, **tol)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_gpu_sigmoid_bce_matches_twin(dtype):
    cp = _cupy_ops()
    rng = np.random.default_rng(8)
    z = (rng.normal(size=(257, 3)) * 5).astype(dtype)
    t = rng.uniform(size=(257, 3)).astype(dtype)
    loss, probs = NP.sigmoid_binary_cross_entropy(z.astype(np.float32), t.astype(np.float32))
    with _launches(f"gk_sbce_fwd_{_sfx(dtype)}"):
        gl, gp = cp.sigmoid_binary_cross_entropy(cp.asarray(z), cp.asarray(t))
    tol = F32 if dtype == "float32" else F16
    np.testing.assert_allclose(cp.to_numpy(gl).astype(float), loss, **tol)
    np.testing.assert_allclose(cp.to_numpy(gp).astype(float), probs, **tol)
    dl = rng.uniform(size=(257, 3)).astype(dtype)
    ref = NP.sigmoid_binary_cross_entropy_backward(dl.astype(np.float32), probs, t.astype(np.float32))
    with _launches(f"gk_sbce_bwd_{_sfx(dtype)}"):
        got = cp.sigmoid_binary_cross_entropy_backward(cp.asarray(dl), gp, cp.asarray(t))
    np.testing.assert_allclose(cp.to_numpy(got).astype(float), ref, **tol)


GPU_SHAPES = [(64, 33), (33,), (8193,), (3, 5, 7), (1,), (20000,)]


def _both(cp, arrays):
    return [a.copy() for a in arrays], [cp.asarray(a) for a in arrays]


@pytest.mark.gpu
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_gpu_fused_sgd_matches_per_weight_loop(momentum, nesterov):
    cp = _cupy_ops()
    rng = np.random.default_rng(9)
    (w, gw), (g, gg), (m, gm) = (_both(cp, _weights(rng, GPU_SHAPES)) for _ in range(3))
    for _ in range(3):
        _sgd(NP, w, g, m, 0.01, momentum, nesterov)
        with _launches("gk_sgd_multi_f32"):
            _sgd(cp, gw, gg, gm, 0.01, momentum, nesterov)
    for a, b in zip(w + m, gw + gm):
        np.testing.assert_allclose(cp.to_numpy(b), a, rtol=1e-6, atol=1e-7)


@pytest.mark.gpu
@pytest.mark.parametrize("amsgrad", [False, True])
def test_gpu_fused_adam_matches_per_weight_loop(amsgrad):
    cp = _cupy_ops()
    rng = np.random.default_rng(10)
    (w, gw), (g, gg) = (_both(cp, _weights(rng, GPU_SHAPES)) for _ in range(2))
    zeros = [np.zeros_like(a) for a in w]
    (m, gm), (v, gv), (h, gh) = (_both(cp, zeros) for _ in range(3))
    for step in range(1, 4):
        _adam(GENERIC, w, g, m, v, h if amsgrad else None, 1e-3, 0.9, 0.999, 1e-7, step)  # the generic loop
        with _launches("gk_adam_multi_f32"):
            _adam(cp, gw, gg, gm, gv, gh if amsgrad else None, 1e-3, 0.9, 0.999, 1e-7, step)
    for a, b in zip(w + m + v, gw + gm + gv):
        np.testing.assert_allclose(cp.to_numpy(b), a, rtol=1e-6, atol=1e-8)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["adam", "sgd", "lion"])
def test_gpu_fused_weight_decay_matches_the_generic_loop(kind, monkeypatch):
    """Decoupled weight decay inside the one launch (a per-weight flag in the table), as the generic loop does it."""
    cp = _cupy_ops()
    rng = np.random.default_rng(21)
    (w, gw), (g, gg) = (_both(cp, _weights(rng, GPU_SHAPES)) for _ in range(2))
    plain = [a.copy() for a in w]  # the same steps without any decay
    (m, gm), (pm, _) = (_both(cp, [np.zeros_like(a) for a in w]) for _ in range(2))
    v, gv, pv = ([np.zeros_like(a) for a in w], [cp.asarray(np.zeros_like(a)) for a in w],
                 [np.zeros_like(a) for a in w])
    mask = [i % 2 == 0 for i in range(len(w))]  # odd weights excluded from decay
    generic_calls = []
    monkeypatch.setattr(Ops, "multi_tensor_apply", lambda *a, **k: generic_calls.append(a))
    for step in range(1, 4):
        if kind == "adam":
            rule = ADAM_RULE
            lists, glists, plists = [w, g, m, v, None], [gw, gg, gm, gv, None], [plain, g, pm, pv, None]
            scalars = dict(lr=1e-2, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, step=step)
        else:
            rule = SGD_RULE if kind == "sgd" else LION_RULE
            lists, glists, plists = [w, g, m], [gw, gg, gm], [plain, g, pm]
            scalars = dict(lr=1e-2, momentum=0.9, nesterov=True) if kind == "sgd" else dict(lr=1e-2, beta_1=0.9,
                                                                                             beta_2=0.99)
        MultiTensorApply.multi_tensor_apply(GENERIC, rule, lists, {**scalars, "weight_decay": 0.1}, mask)
        MultiTensorApply.multi_tensor_apply(GENERIC, rule, plists, {**scalars, "weight_decay": 0.0}, None)
        with _launches(f"gk_{kind}_multi_f32"):
            cp.multi_tensor_apply(rule, glists, {**scalars, "weight_decay": 0.1}, mask)
    assert not generic_calls  # no fallback: the decay ran inside the kernel
    for a, b in zip(w + m, gw + gm):
        np.testing.assert_allclose(cp.to_numpy(b), a, rtol=1e-6, atol=1e-8)
    assert not np.allclose(cp.to_numpy(gw[0]), plain[0], rtol=1e-6, atol=0)  # decayed
    np.testing.assert_allclose(cp.to_numpy(gw[1]), plain[1], rtol=1e-6, atol=1e-8)  # excluded


@pytest.mark.gpu
@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.9)])
def test_gpu_fused_rmsprop_matches_per_weight_loop(centered, momentum):
    cp = _cupy_ops()
    rng = np.random.default_rng(11)
    (w, gw), (g, gg) = (_both(cp, _weights(rng, GPU_SHAPES)) for _ in range(2))
    zeros = [np.zeros_like(a) for a in w]
    (v, gv), (a, ga), (mo, gmo) = (_both(cp, zeros) for _ in range(3))
    for _ in range(3):
        _rmsprop(NP, w, g, v, mo if momentum else None, a if centered else None, 1e-3, 0.9, momentum, 1e-7)
        with _launches("gk_rmsprop_multi_f32"):
            _rmsprop(cp, gw, gg, gv, gmo if momentum else None, ga if centered else None, 1e-3, 0.9, momentum, 1e-7)
    for x, y in zip(w + v, gw + gv):
        np.testing.assert_allclose(cp.to_numpy(y), x, rtol=1e-6, atol=1e-8)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["adagrad", "adadelta", "adamax", "nadam", "lion"])
def test_gpu_fused_other_optimizers_match_per_weight_loop(kind):
    cp = _cupy_ops()
    rng = np.random.default_rng(16)
    (w, gw), (g, gg) = (_both(cp, _weights(rng, GPU_SHAPES)) for _ in range(2))
    g[0].reshape(-1)[:3] = 0.0  # sign(0) and |0| paths
    gg[0] = cp.asarray(g[0])
    start = [np.full_like(a, 0.1) for a in w]
    (s1, gs1), (s2, gs2) = (_both(cp, start) for _ in range(2))
    for step in range(1, 4):
        with _launches(f"gk_{kind}_multi_f32"):
            if kind == "adagrad":
                rule, slots, scalars = ADAGRAD_RULE, 1, dict(lr=1e-2, epsilon=1e-7)
            elif kind == "adadelta":
                rule, slots, scalars = ADADELTA_RULE, 2, dict(lr=1.0, rho=0.95, epsilon=1e-7)
            elif kind == "nadam":
                u = [0.9 * (1.0 - 0.5 * 0.96 ** t) for t in (step, step + 1)]
                prod = math.prod(0.9 * (1.0 - 0.5 * 0.96 ** t) for t in range(1, step + 1))
                rule, slots, scalars = NADAM_RULE, 2, dict(lr=2e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, u_t=u[0],
                                                           u_t_1=u[1], u_product_t=prod, beta_2_power=0.999 ** step)
            elif kind == "adamax":
                rule, slots, scalars = ADAMAX_RULE, 2, dict(lr=2e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=step)
            else:
                rule, slots, scalars = LION_RULE, 1, dict(lr=1e-3, beta_1=0.9, beta_2=0.99)
            _apply(NP, rule, [w, g, s1, s2][:2 + slots], **scalars)
            _apply(cp, rule, [gw, gg, gs1, gs2][:2 + slots], **scalars)
    for a, b in zip(w + s1 + s2, gw + gs1 + gs2):
        np.testing.assert_array_equal(cp.to_numpy(b), a)  # same float32 operations in the same order


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_gpu_dropout_is_the_philox_twin_stream(dtype, rate):
    cp = _cupy_ops()
    seed_rng = np.random.default_rng(12)
    seed = int(np.random.default_rng(12).integers(0, 2**63 - 1, dtype=np.int64))
    with _launches(f"gk_dropout_mask_{_sfx(dtype)}"):
        mask = cp.to_numpy(cp.dropout_mask((129, 1001), rate, seed_rng, dtype=dtype))
    np.testing.assert_array_equal(mask, philox.philox_dropout_mask((129, 1001), rate, seed, dtype))
    kept = mask != 0
    assert abs(kept.mean() - (1 - rate)) < 4 * math.sqrt(rate * (1 - rate) / kept.size)
    x = np.random.default_rng(13).normal(size=(129, 1001)).astype(dtype)
    with _launches(f"gk_dropout_{_sfx(dtype)}"):
        y, m2 = cp.dropout(cp.asarray(x), rate, np.random.default_rng(12))
    np.testing.assert_array_equal(cp.to_numpy(m2), mask)
    np.testing.assert_allclose(cp.to_numpy(y).astype(float), (x * mask).astype(float), rtol=1e-3)
