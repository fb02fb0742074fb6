"""Per-primitive forward + backward on the backend: fused Dense per activation, softmax CE, Adam, GEMM."""

from __future__ import annotations

import numpy as np
import pytest

from gpukeras.optimizers.adam import ADAM_RULE

ACTS = ("linear", "relu", "sigmoid", "tanh", "gelu", "silu")
# (batch, in, out): W1's first layer, W2's middle layer.
SHAPES = {"32x784x128": (32, 784, 128), "256x1024x1024": (256, 1024, 1024)}


def _arr(ops, shape, seed=0):
    return ops.asarray(np.random.default_rng(seed).standard_normal(shape, dtype=np.float32))


@pytest.mark.parametrize("shape", list(SHAPES))
def test_matmul(benchmark, ops, shape):
    b, i, o = SHAPES[shape]
    x, k = _arr(ops, (b, i)), _arr(ops, (i, o), 1)

    def run():
        ops.matmul(x, k)
        ops.synchronize()

    benchmark(run)


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("act", ACTS)
def test_dense_fwd_bwd(benchmark, ops, act, shape):
    b, i, o = SHAPES[shape]
    x, k, bias, dy = _arr(ops, (b, i)), _arr(ops, (i, o), 1), _arr(ops, (o,), 2), _arr(ops, (b, o), 3)

    def run():
        y, z = ops.dense(x, k, bias, act)
        ops.dense_backward(dy, x, k, z, y, act)
        ops.synchronize()

    benchmark(run)


@pytest.mark.parametrize("batch", [32, 256, 4096])
def test_sparse_softmax_ce_fwd_bwd(benchmark, ops, batch):
    logits = _arr(ops, (batch, 10))
    labels = ops.asarray(np.random.default_rng(1).integers(0, 10, batch).astype(np.int32))
    dloss = ops.full((batch,), 1.0 / batch)

    def run():
        _, probs = ops.sparse_softmax_cross_entropy(logits, labels)
        ops.sparse_softmax_cross_entropy_backward(dloss, probs, labels)
        ops.synchronize()

    benchmark(run)


@pytest.mark.parametrize("model", ["W1", "W2"])
def test_adam_update(benchmark, ops, model):
    dims = [784, 128, 10] if model == "W1" else [784, 1024, 1024, 10]
    shapes = [s for a, b in zip(dims[:-1], dims[1:]) for s in ((a, b), (b,))]
    params = [_arr(ops, s, i) for i, s in enumerate(shapes)]
    grads = [_arr(ops, s, 10 + i) for i, s in enumerate(shapes)]
    ms = [ops.zeros(s) for s in shapes]
    vs = [ops.zeros(s) for s in shapes]
    state = {"t": 0}

    def run():
        state["t"] += 1
        scalars = dict(lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, step=state["t"],
                       weight_decay=0.0)
        ops.multi_tensor_apply(ADAM_RULE, [params, grads, ms, vs, None], scalars)
        ops.synchronize()

    benchmark(run)
