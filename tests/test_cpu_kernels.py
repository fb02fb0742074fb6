"""The NumPy backend's fused C kernels equal their pure-NumPy twins bit for bit."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from gpukeras.backend import numpy_backend
from gpukeras.backend.numpy_backend import NumpyOps
from gpukeras.optimizers.adam import ADAM_RULE
from gpukeras.optimizers.sgd import SGD_RULE

pytestmark = pytest.mark.skipif(numpy_backend.cpu_kernels is None and shutil.which("cc") is None,
                                reason="no C compiler here, so gpukeras._cpu_kernels was not built")


def test_extension_is_built_where_a_compiler_exists() -> None:
    assert numpy_backend.cpu_kernels is not None, ("gpukeras.backend._cpu_kernels failed to build on install, or "
                                                   "is a stale build (API_VERSION): pip install -e .")
    assert numpy_backend.cpu_kernels.API_VERSION == numpy_backend.CPU_KERNELS_API


def _twins(monkeypatch, run):
    """run(ops) with the C kernels, then with them switched off; returns both results."""
    fast = run(NumpyOps())
    monkeypatch.setattr(numpy_backend, "cpu_kernels", None)
    slow = run(NumpyOps())
    return fast, slow


def _state(shapes, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype("float32") for s in shapes]
    grads = [rng.normal(size=s).astype("float32") * 0.1 for s in shapes]
    slots = [[np.abs(rng.normal(size=s)).astype("float32") * 0.01 for s in shapes] for _ in range(3)]
    return params, grads, slots


# 300_000 elements crosses the threaded-split threshold (2^18).
SHAPES = [[(7, 5), (5,)], [(300_000,), (3,)]]


# AdamW's decoupled weight decay, with the second weight excluded from it.
DECAYS = [(0.0, None), (0.004, [True, False])]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decay,mask", DECAYS)
def test_adam_matches_numpy_twin(monkeypatch, shapes, amsgrad, decay, mask) -> None:
    def run(ops):
        params, grads, (m, v, vhat) = _state(shapes)
        for step in range(1, 4):
            scalars = dict(lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=amsgrad, step=step,
                           weight_decay=decay)
            ops.multi_tensor_apply(ADAM_RULE, [params, grads, m, v, vhat if amsgrad else None], scalars, mask)
        return params + m + v + (vhat if amsgrad else [])

    for a, b in zip(*_twins(monkeypatch, run)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("momentum,nesterov", [(0.9, False), (0.9, True), (0.0, False)])
@pytest.mark.parametrize("decay,mask", DECAYS)
def test_sgd_matches_numpy_twin(monkeypatch, shapes, momentum, nesterov, decay, mask) -> None:
    def run(ops):
        params, grads, (m, _, _) = _state(shapes, seed=1)
        for _ in range(3):
            scalars = dict(lr=0.05, momentum=momentum, nesterov=nesterov, weight_decay=decay)
            ops.multi_tensor_apply(SGD_RULE, [params, grads, m if momentum else None], scalars, mask)
        return params + m

    for a, b in zip(*_twins(monkeypatch, run)):
        np.testing.assert_array_equal(a, b)


def test_the_c_update_runs_instead_of_the_formula(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(numpy_backend.Ops, "multi_tensor_apply", lambda *a, **k: calls.append(a))
    params, grads, (m, v, _) = _state([(4, 3)])
    scalars = dict(lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, step=1, weight_decay=0.1)
    NumpyOps().multi_tensor_apply(ADAM_RULE, [params, grads, m, v, None], scalars, [True])
    assert calls == []
    NumpyOps().multi_tensor_apply(ADAM_RULE, [[p.astype("float64") for p in params], grads, m, v, None], scalars)
    assert len(calls) == 1  # not float32: the formula (the generic code)


def test_dense_relu_forward_and_backward_match_numpy_twin(monkeypatch) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(33, 17)).astype("float32")
    kernel = rng.normal(size=(17, 9)).astype("float32")
    bias = rng.normal(size=(9,)).astype("float32")
    dy = rng.normal(size=(33, 9)).astype("float32")

    def run(ops):
        y, z = ops.dense(x, kernel, bias, "relu")
        return [y, z, *ops.dense_backward(dy, x, kernel, z, y, "relu")]

    for a, b in zip(*_twins(monkeypatch, run)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_relu_bias_gradient_matches_numpy_twin_bit_for_bit(monkeypatch) -> None:
    # Wide rows with a ragged tail (the vectorized loop's remainder), and the special values: dz keeps the
    # sign of dy * 0, NaN/Inf in dy propagate where z > 0 or become NaN (inf * 0), dbias adds rows in order.
    rng = np.random.default_rng(4)
    dy = rng.normal(size=(37, 1029)).astype("float32")
    z = rng.normal(size=(37, 1029)).astype("float32")
    dy[0, :6] = [np.nan, np.inf, -np.inf, -0.0, np.nan, -5.0]
    z[0, :6] = [1.0, -1.0, 2.0, 3.0, -2.0, 0.0]
    z[1, :3] = [np.nan, 0.0, -0.0]

    def run(ops):
        return list(ops.bias_activation_backward(dy, z, np.maximum(z, 0), "relu"))

    for a, b in zip(*_twins(monkeypatch, run)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.view("uint32"), b.view("uint32"))


def test_kernels_refuse_wrong_dtype_and_sizes() -> None:
    kernels = numpy_backend.cpu_kernels
    w = np.zeros(4, "float32")
    with pytest.raises(TypeError, match="float32"):
        kernels.adam(w.astype("float64"), w, w, w, None, 0.0, 0.0, 1.0, 0.1, 0.1, 1e-7, 0)
    with pytest.raises(ValueError, match="same number of elements"):
        kernels.adam(w, np.zeros(3, "float32"), w, w, None, 0.0, 0.0, 1.0, 0.1, 0.1, 1e-7, 0)
    with pytest.raises(ValueError, match="exactly when amsgrad"):
        kernels.adam(w, w, w, w, None, 0.0, 0.0, 1.0, 0.1, 0.1, 1e-7, 1)
    with pytest.raises(ValueError, match="momentum buffer"):
        kernels.sgd(w, w, None, 0.0, 0.0, 0.1, 0.9, 1, 0)


def test_relu_kernels_propagate_nan_like_numpy(monkeypatch) -> None:
    x = np.array([[np.nan, 1.0], [-1.0, 2.0]], "float32")
    kernel = np.eye(2, dtype="float32")
    bias = np.zeros(2, "float32")
    dy = np.array([[1.0, np.nan], [np.inf, 1.0]], "float32")

    def run(ops):
        y, z = ops.dense(x, kernel, bias, "relu")
        return [y, *ops.dense_backward(dy, x, kernel, z, y, "relu")]

    for a, b in zip(*_twins(monkeypatch, run)):
        np.testing.assert_array_equal(a, b)


def test_sparse_softmax_cross_entropy_matches_numpy_twin(monkeypatch) -> None:
    rng = np.random.default_rng(3)
    logits = (rng.normal(size=(37, 10)) * 5).astype("float32")
    labels = rng.integers(0, 10, 37)
    dloss = rng.normal(size=37).astype("float32")

    def run(ops):
        loss, probs = ops.sparse_softmax_cross_entropy(logits, labels)
        return [loss, probs, ops.sparse_softmax_cross_entropy_backward(dloss, probs, labels)]

    for a, b in zip(*_twins(monkeypatch, run)):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)


def test_cross_entropy_kernel_refuses_out_of_range_labels() -> None:
    with pytest.raises(ValueError, match="label 10 at row 1"):
        numpy_backend.cpu_kernels.sparse_softmax_xent(np.zeros((2, 10), "float32"), np.array([0, 10]),
                                                      np.empty(2, "float32"), np.empty((2, 10), "float32"))


@pytest.mark.parametrize("pool_size, strides", [((2, 2), (2, 2)), ((3, 2), (1, 2)), ((2, 2), (1, 1))])
def test_max_pool_matches_numpy_twin_including_ties(monkeypatch, pool_size, strides) -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, size=(2, 7, 6, 3)).astype("float32")  # many ties inside windows

    def run(ops):
        y = ops.pool(x, "max", pool_size, strides, "valid")
        dy = np.arange(y.size, dtype="float32").reshape(y.shape)
        return [y, ops.pool_backward(dy, x, y, "max", pool_size, strides, "valid")]

    for a, b in zip(*_twins(monkeypatch, run)):
        np.testing.assert_array_equal(a, b)


def test_conv_bias_relu_matches_numpy_twin(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 9, 8, 2)).astype("float32")
    kernel = rng.normal(size=(3, 3, 2, 4)).astype("float32")
    bias = rng.normal(size=(4,)).astype("float32")

    def run(ops):
        y, cols, z = ops.conv_activation(x, kernel, bias, (1, 1), "same", (1, 1), 1, "relu")
        dy = np.linspace(-1, 1, y.size, dtype="float32").reshape(y.shape)
        return [y, z, *ops.conv_activation_backward(dy, x.shape, kernel, cols, z, y, (1, 1), "same", (1, 1), 1,
                                                    "relu")]

    for a, b in zip(*_twins(monkeypatch, run)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_malloc_tuning_applies_on_glibc_and_can_be_switched_off(monkeypatch) -> None:
    import platform

    if platform.libc_ver()[0] == "glibc":
        assert numpy_backend.keep_freed_memory()
    monkeypatch.setenv("GPUKERAS_MALLOC_TUNING", "0")
    assert not numpy_backend.keep_freed_memory()
