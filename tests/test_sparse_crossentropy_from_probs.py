"""The fused sparse cross-entropy from probabilities (a softmax output, from_logits=False) gives the bits of
the unfused ops it replaces, forward and backward, on every backend: the same loss history as before the
fusion, and the compiled step replays two backend calls instead of about thirty."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import ops
from gpukeras.autodiff import GradientTape
from gpukeras.losses import EPSILON
from gpukeras.tensor import Tensor


def _unfused(labels: Tensor, probs: Tensor) -> Tensor:
    """What losses.sparse_categorical_crossentropy computed before the fusion, op by op."""
    p = ops.divide(probs, ops.sum(probs, axis=-1, keepdims=True))
    log_p = ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON))
    return ops.negative(ops.sum(ops.multiply(ops.one_hot(labels, probs.shape[-1], dtype=probs.dtype), log_p),
                                axis=-1))


def _loss_and_grad(fn, labels: np.ndarray, probs: np.ndarray, upstream: np.ndarray):
    x = Tensor(keras.backend.get().asarray(probs))
    with GradientTape() as tape:
        tape.watch(x)
        loss = fn(Tensor(keras.backend.get().asarray(labels)), x)
    (grad,) = tape.gradient(loss, [x], output_gradients=Tensor(keras.backend.get().asarray(upstream)))
    return ops.convert_to_numpy(loss), keras.backend.get().to_numpy(grad)


def _same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize("shape", [(33, 10), (4, 5, 7), (6, 1), (3, 130)])
def test_fused_equals_the_unfused_ops_bit_for_bit(shape) -> None:
    rng = np.random.default_rng(sum(shape))
    probs = rng.uniform(0.0, 1.0, size=shape).astype("float32") ** 3  # unnormalized, some below epsilon
    probs.reshape(-1, shape[-1])[0, -1] = 0.0 if shape[-1] > 1 else 0.5  # a zero class (not a zero row)
    labels = rng.integers(0, shape[-1], size=shape[:-1]).astype("int32")
    labels.reshape(-1)[-1] = shape[-1]  # out of range: contributes 0, as Keras's one-hot
    labels.reshape(-1)[1] = -1
    upstream = rng.normal(size=shape[:-1]).astype("float32")

    fused = _loss_and_grad(lambda t, p: ops.sparse_crossentropy_from_probs(t, p, EPSILON), labels, probs, upstream)
    unfused = _loss_and_grad(_unfused, labels, probs, upstream)
    for a, b in zip(fused, unfused):
        _same_bits(a, b)
    assert np.all(np.isfinite(fused[1])) and fused[0].reshape(-1)[-1] == 0.0


def test_nan_and_saturated_rows_propagate_as_the_unfused_ops() -> None:
    probs = np.array([[np.nan, 0.5, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.2, 0.3, 0.5]], "float32")
    labels = np.array([1, 0, 0, 2], "int32")
    upstream = np.array([1.0, -2.0, 0.5, 0.25], "float32")
    fused = _loss_and_grad(lambda t, p: ops.sparse_crossentropy_from_probs(t, p, EPSILON), labels, probs, upstream)
    unfused = _loss_and_grad(_unfused, labels, probs, upstream)
    for a, b in zip(fused, unfused):
        _same_bits(a, b)
    assert np.isnan(fused[0][0]) and fused[0][2] == np.float32(-np.log(np.float32(EPSILON)))


def test_the_loss_uses_it_and_matches_keras_formula() -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5), size=8).astype("float32")
    labels = rng.integers(0, 5, size=8)
    loss = keras.losses.sparse_categorical_crossentropy(labels, probs)
    want = -np.log(np.clip(probs / probs.sum(-1, keepdims=True), EPSILON, 1 - EPSILON)[np.arange(8), labels])
    np.testing.assert_allclose(ops.convert_to_numpy(loss), want, rtol=1e-6)
