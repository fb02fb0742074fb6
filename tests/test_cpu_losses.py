"""The host C loops of sparse cross-entropy from probabilities (_cpu_losses.c) give the generic NumPy code's
bits, through the backend's fused entry points; rows that are not finite run the generic code."""

from __future__ import annotations

import numpy as np
import pytest

from gpukeras.backend.fused import host
from gpukeras.backend.numpy_backend import NumpyOps

pytestmark = pytest.mark.skipif(host.host_kernels is None or not hasattr(host.host_kernels, "sparse_xent_probs"),
                                reason="gpukeras.backend._cpu_kernels is not built from these sources")


def _case(shape: tuple, classes: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=4.0, size=shape + (classes,)).astype("float32")
    probs = np.exp(z - z.max(axis=-1, keepdims=True))
    probs = (probs / probs.sum(axis=-1, keepdims=True)).astype("float32")
    probs.reshape(-1, classes)[::5] = np.float32(1.0) / classes  # some rows uniform
    probs.reshape(-1, classes)[1, :] = 0.0
    probs.reshape(-1, classes)[1, 0] = 1.0  # a certain row: the clip cuts both ends
    labels = rng.integers(0, classes, size=shape)
    labels.reshape(-1)[2] = classes  # out of range: loss 0, no gradient (Keras's one-hot)
    dloss = rng.normal(size=shape).astype("float32")
    return probs, labels, dloss


def _run(ops: NumpyOps, probs, labels, dloss) -> tuple:
    loss, residuals = ops.sparse_crossentropy_from_probs(probs, labels, 1e-7)
    return loss, ops.sparse_crossentropy_from_probs_backward(dloss, residuals), residuals


@pytest.mark.any_backend
@pytest.mark.parametrize("shape, classes", [((64,), 10), ((32,), 1000), ((4, 7), 3), ((9,), 1)])
def test_c_loop_matches_the_generic_code(monkeypatch, shape, classes):
    probs, labels, dloss = _case(shape, classes, seed=classes)
    loss, grad, residuals = _run(NumpyOps(), probs, labels, dloss)
    assert residuals[0] == "host"  # the C loop ran
    monkeypatch.setattr(host, "host_kernels", None)
    want_loss, want_grad, generic = _run(NumpyOps(), probs, labels, dloss)
    assert not isinstance(generic[0], str)
    assert loss.shape == want_loss.shape and grad.shape == want_grad.shape and grad.dtype == np.float32
    np.testing.assert_array_equal(loss.view(np.uint32), want_loss.view(np.uint32))
    np.testing.assert_array_equal(grad.view(np.uint32), want_grad.view(np.uint32))
    assert loss.reshape(-1)[2] == 0 and not grad.reshape(-1, classes)[2].any()


@pytest.mark.any_backend
def test_a_row_that_is_not_finite_runs_the_generic_code():
    probs, labels, _ = _case((8,), 4, seed=2)
    probs[3] = [np.nan, 0.1, 0.2, 0.3]
    loss, residuals = NumpyOps().sparse_crossentropy_from_probs(probs, labels, 1e-7)
    assert not isinstance(residuals[0], str) and np.isnan(loss[3]) and np.isfinite(np.delete(loss, 3)).all()


@pytest.mark.any_backend
def test_float_labels_keep_the_generic_path():
    probs, labels, _ = _case((8,), 4, seed=1)
    _, residuals = NumpyOps().sparse_crossentropy_from_probs(probs, labels.astype("float32"), 1e-7)
    assert not isinstance(residuals[0], str)
