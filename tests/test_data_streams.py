"""fit/evaluate/predict on PyDatasets (tf.keras 2 Sequences) and Python generators."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers


def _arrays(n: int = 48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32"))


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0
        self.threads: set[str] = set()

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.threads.add(threading.current_thread().name)
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def _model(seed_weights=None):
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    if seed_weights is not None:
        model.set_weights(seed_weights)
    return model


def test_pydataset_trains_like_the_same_arrays() -> None:
    x, y = _arrays()
    a = _model()
    b = _model(a.get_weights())
    ds = Batches(x, y, 16)
    h1 = a.fit(ds, epochs=3, verbose=0)
    h2 = b.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)
    assert ds.epochs_ended == 3
    np.testing.assert_allclose(a.predict(ds, verbose=0), b.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(a.evaluate(ds, verbose=0), b.evaluate(x, y, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_pydataset_workers_load_ahead_in_order(use_multiprocessing) -> None:
    x, y = _arrays()
    a = _model()
    b = _model(a.get_weights())
    ds = Batches(x, y, 8)
    h1 = a.fit(ds, epochs=2, verbose=0, workers=3, use_multiprocessing=use_multiprocessing, max_queue_size=4)
    h2 = b.fit(Batches(x, y, 8), epochs=2, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)
    if not use_multiprocessing:
        assert any(name != threading.current_thread().name for name in ds.threads)


def test_generator_with_steps_per_epoch_and_validation() -> None:
    x, y = _arrays()

    def forever():
        while True:
            for i in range(0, 48, 12):
                yield x[i:i + 12], y[i:i + 12]

    model = _model()
    history = model.fit(forever(), steps_per_epoch=4, epochs=3, validation_data=(x, y), verbose=0)
    assert len(history.history["loss"]) == 3 and "val_loss" in history.history
    assert int(model.optimizer.iterations.numpy()) == 12


def test_finite_generator_runs_one_pass_and_workers_zero() -> None:
    x, y = _arrays()
    model = _model()
    gen = ((x[i:i + 16], y[i:i + 16]) for i in range(0, 48, 16))
    model.fit(gen, epochs=1, verbose=0, workers=0)
    assert int(model.optimizer.iterations.numpy()) == 3


def test_generator_errors_surface_in_fit() -> None:
    def broken():
        yield _arrays(8)
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        _model().fit(broken(), epochs=1, verbose=0)


def test_stream_argument_errors() -> None:
    x, y = _arrays()
    model = _model()
    with pytest.raises(ValueError, match="`y` must not be given"):
        model.fit(Batches(x, y, 8), y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(Batches(x, y, 8), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="workers"):
        model.fit(x, y, workers=-1, verbose=0)
    with pytest.raises(ValueError, match="no batches"):
        model.fit(Batches(x[:0], y[:0], 8), verbose=0)
    with pytest.raises(ValueError, match="`workers` must be a positive integer"):
        Batches(x, y, 8, workers=0)
