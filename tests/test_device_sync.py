"""No device -> host read per training step: loss and metric sums stay on the device until an
epoch ends or someone prints them; predict joins batches on the device and copies once.

Counted on the emulated CuPy backend, whose device arrays record every host read (each one a
synchronisation on a real GPU). Skipped on other backends.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend


@pytest.fixture
def reads():
    emulated = getattr(sys.modules.get("cupy"), "__version__", "").endswith("+cpu-emulated")
    if backend.backend() != "cupy" or not emulated:
        pytest.skip("host reads are counted on the emulated CuPy backend only")
    from emulation.cupy_on_numpy import host_reads

    host_reads.clear()
    return host_reads


def _model_and_data(n: int = 320):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = rng.integers(0, 3, n)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.1), keras.layers.Dense(3)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model, x, y


@pytest.mark.parametrize("verbose", [0, 2])
def test_fit_reads_the_device_per_epoch_not_per_step(reads, verbose):
    model, x, y = _model_and_data()
    counts = []
    for batch_size in (64, 8):  # 5 and 40 steps per epoch
        reads.clear()
        model.fit(x, y, batch_size=batch_size, epochs=2, verbose=verbose)
        counts.append(sum(reads.values()))
    assert counts[0] == counts[1] <= 2 * 2  # loss and accuracy, once per epoch


def test_evaluate_reads_once_per_metric(reads):
    model, x, y = _model_and_data()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    reads.clear()
    model.evaluate(x, y, batch_size=8, verbose=0)  # 40 steps
    assert sum(reads.values()) == 2


def test_predict_copies_to_the_host_once(reads):
    model, x, _ = _model_and_data()
    reads.clear()
    out = model.predict(x, batch_size=8, verbose=0)  # 40 batches
    assert sum(reads.values()) == 1
    assert isinstance(out, np.ndarray) and not isinstance(out, sys.modules["cupy"].ndarray)
    np.testing.assert_allclose(out, model.predict_on_batch(x), rtol=1e-5, atol=1e-6)


def test_predict_batch_outputs_are_copied_only_for_callbacks_that_read_them(reads):
    model, x, _ = _model_and_data()
    seen = []
    reader = keras.callbacks.LambdaCallback(on_predict_batch_end=lambda b, logs: seen.append(logs["outputs"][0]))
    out = model.predict(x, batch_size=64, verbose=0, callbacks=[reader])
    np.testing.assert_array_equal(np.concatenate(seen), out)
    reads.clear()
    model.predict(x, batch_size=64, verbose=0, callbacks=[keras.callbacks.LambdaCallback(
        on_predict_batch_end=lambda b, logs: None)])
    assert sum(reads.values()) == 1
