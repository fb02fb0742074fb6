"""The kernel list comes from kernels/*.cu, each kernel has one launcher, and a kernel that cannot be
built warns once (naming kernel, file and reason) and falls back to the generic code."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from gpukeras import backend
from gpukeras.backend import kernels as K


@pytest.fixture
def kernel_copy(tmp_path, monkeypatch):
    """A copy of kernels/ that GPUKERAS_KERNEL_DIR points at for one test (loader caches cleared around it)."""
    copy = tmp_path / "kernels"
    shutil.copytree(K.kernel_dir(), copy)
    monkeypatch.setenv("GPUKERAS_KERNEL_DIR", str(copy))
    K.clear()
    yield copy
    monkeypatch.delenv("GPUKERAS_KERNEL_DIR")
    K.clear()


def _cupy_ops():
    if backend.backend() != "cupy":
        pytest.skip("launchers run under the cupy backend (a GPU, or cupy-emulated on the CPU)")
    from gpukeras.backend.cupy_backend import CupyOps

    return CupyOps()


@pytest.mark.any_backend
def test_the_catalogue_is_read_from_the_files(kernel_copy):
    (kernel_copy / "extra.cu").write_text(
        '#include "common.cuh"\n'
        "#define GK_EXTRA(T, S) \\\n"
        '  extern "C" __global__ void gk_extra_##S(const T* x, float* out, const long long* idx, \\\n'
        "                                           gk_index n, int k, unsigned int seed) {}\n"
        "GK_FOR_EACH_DTYPE(GK_EXTRA)\n"
        'extern "C" __global__ void __launch_bounds__(256) gk_plain_f32(float* x) {}\n')
    found = K.catalogue()
    assert found["gk_extra"] == K.KernelSpec("gk_extra", "extra.cu", ("f32", "f16", "bf16"),
                                             ("T*", "f32*", "i64*", "i64", "i32", "u32"))
    assert found["gk_plain"].dtypes == ("f32",) and found["gk_plain"].params == ("f32*",)
    assert "extra.cu" in K.kernel_file_names()
    assert found["gk_act_{}_fwd"].full_name("f16", "gelu") == "gk_act_gelu_fwd_f16"


@pytest.mark.any_backend
def test_activation_ids_come_from_the_header():
    ids = K.act_ids()
    assert ids["relu"] == 1 and ids["mish"] == 16 and "linear" not in ids
    assert K.act_params("gelu", ()) == (0.0, 0.0, 0.0) and K.act_params("softmax", ()) is None


def test_every_kernel_has_exactly_one_launcher():
    ops = _cupy_ops()
    names = [launcher.kernel for launcher in ops.kernels.launchers()]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(K.catalogue())


def test_a_launcher_checks_its_arguments_against_the_declaration():
    ops = _cupy_ops()
    fwd = ops.kernels.act_fwd
    x = ops.asarray(np.ones(8, np.float32))
    with pytest.raises(TypeError, match=r"gk_act_relu_fwd_f32 argument 1 must be a C-contiguous float32"):
        fwd.launch("f32", (1,), (32,), x, ops.asarray(np.ones(8, np.float64)), 8, 0.0, 0.0, 0.0, variant="relu")
    with pytest.raises(TypeError, match="takes 6 arguments, 5 given"):
        fwd.launch("f32", (1,), (32,), x, x, 8, 0.0, 0.0, variant="relu")
    assert fwd.suffix(ops.asarray(np.ones(3, np.float64))) is None  # no float64 build: the generic code runs


def test_a_kernel_that_fails_to_build_warns_once_and_falls_back(kernel_copy):
    source = kernel_copy / "softmax_xent.cu"
    source.write_text(source.read_text() + "\nthis line is not C++;\n")
    ops = _cupy_ops()
    rng = np.random.default_rng(0)
    logits = ops.asarray(rng.normal(size=(6, 5)).astype(np.float32))
    labels = ops.asarray(rng.integers(0, 5, size=6))
    before = K.launch_counts["gk_sxent_fwd_f32"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss, probs = ops.sparse_softmax_cross_entropy(logits, labels)
        again, _ = ops.sparse_softmax_cross_entropy(logits, labels)
        grad = ops.sparse_softmax_cross_entropy_backward(ops.ones((6,)), probs, labels)
    build = [w for w in caught if issubclass(w.category, K.KernelBuildWarning)]
    assert len(build) == 1, [str(w.message) for w in build]
    message = str(build[0].message)
    assert "gk_sxent_fwd_f32" in message and "softmax_xent.cu" in message and "not C++" in message
    assert K.launch_counts["gk_sxent_fwd_f32"] == before
    generic = backend.Ops.sparse_softmax_cross_entropy(ops, logits, labels)
    np.testing.assert_array_equal(ops.to_numpy(loss), ops.to_numpy(generic[0]))
    np.testing.assert_array_equal(ops.to_numpy(again), ops.to_numpy(generic[0]))
    want = backend.Ops.sparse_softmax_cross_entropy_backward(ops, ops.ones((6,)), probs, labels)
    np.testing.assert_array_equal(ops.to_numpy(grad), ops.to_numpy(want))
    # other files still build and launch
    y = ops.activation("relu", logits)
    assert K.launch_counts["gk_act_relu_fwd_f32"] > 0 and ops.to_numpy(y).min() >= 0
