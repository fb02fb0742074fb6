"""One training step (`train_on_batch`) per workload, on each backend: W1, W2, W3."""

from __future__ import annotations

import pytest

from gpukeras.bench import gpukeras_runner, workloads


@pytest.mark.parametrize("key", list(workloads.WORKLOADS))
def test_train_step(benchmark, ops, gk, key):
    w = workloads.get(key)
    if w.kind == "cnn" and not gpukeras_runner.has_conv(gk):
        pytest.skip("gpukeras has no Conv2D/MaxPooling2D yet")
    batch = w.batch_gpu if ops.name == "cupy" else w.batch
    x, y = workloads.make_data(w, batch)
    gk.utils.set_random_seed(0)
    model = gpukeras_runner.build_model(gk, w)
    model.train_on_batch(x, y)

    def run():
        model.train_on_batch(x, y)
        ops.synchronize()

    benchmark(run)
