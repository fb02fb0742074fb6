"""The training loop: Keras 3's fit/evaluate/predict semantics, printed progress, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers


def _data(n: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    return x, y


def _model() -> keras.Sequential:
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, round(logs["loss"], 6)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))


def test_fit_history_epochs_and_batches() -> None:
    x, y = _data(50)
    rec = Recorder()
    history = _model().fit(x, y, batch_size=16, epochs=3, initial_epoch=1, validation_split=0.2,
                           callbacks=[rec], verbose=0)
    assert history.epoch == [1, 2]
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    batches = [e for e in rec.events if e[0] == "batch_end"]
    assert len(batches) == 2 * 3  # 40 training rows in batches of 16, 16, 8
    assert rec.events[0] == ("epoch_begin", 1)


def test_loss_is_batch_size_weighted_mean_and_partial_batch_kept() -> None:
    x, y = _data(10)
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    probs = model.predict(x, verbose=0)
    per_sample = -np.log(np.clip(probs[np.arange(10), y], 1e-7, 1 - 1e-7))
    np.testing.assert_allclose(history.history["loss"][0], per_sample.mean(), rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=3, verbose=0), per_sample.mean(), rtol=1e-5)


def test_validation_split_takes_the_last_rows_before_shuffling() -> None:
    x, y = _data(20)
    model = _model()
    model.fit(x, y, validation_split=0.25, epochs=1, verbose=0, shuffle=True)
    manual = model.evaluate(x[15:], y[15:], verbose=0, return_dict=True)
    history = model.fit(x, y, validation_split=0.25, epochs=1, verbose=0, shuffle=True)
    assert "val_loss" in history.history
    again = model.evaluate(x[15:], y[15:], verbose=0, return_dict=True)
    np.testing.assert_allclose(history.history["val_loss"][0], again["loss"], rtol=1e-5)
    assert set(manual) == {"loss", "accuracy"}


def test_validation_freq_int_and_list() -> None:
    x, y = _data(30)
    model = _model()
    rec = Recorder()
    model.fit(x, y, epochs=4, validation_data=(x[:5], y[:5]), validation_freq=2, verbose=0, callbacks=[rec])
    ends = [e for e in rec.events if e[0] == "epoch_end"]
    assert ["val_loss" in e[2] for e in ends] == [False, True, False, True]
    rec2 = Recorder()
    model.fit(x, y, epochs=3, validation_data=(x[:5], y[:5]), validation_freq=[1, 3], verbose=0, callbacks=[rec2])
    assert ["val_loss" in e[2] for e in rec2.events if e[0] == "epoch_end"] == [True, False, True]


def test_steps_per_epoch_and_validation_steps() -> None:
    x, y = _data(40)
    rec = Recorder()
    _model().fit(x, y, batch_size=8, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[rec],
                 validation_data=(x, y), validation_steps=1)
    assert len([e for e in rec.events if e[0] == "batch_end"]) == 6


def test_stop_training_from_callback() -> None:
    class Stopper(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    x, y = _data(64)
    model = _model()
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[Stopper()])
    assert history.epoch == [0]
    assert int(model.optimizer.iterations.numpy()) == 2


def test_class_weight_and_sample_weight() -> None:
    x, y = _data(32)
    model = _model()
    w_before = model.get_weights()
    with pytest.raises(ValueError, match="either `class_weight` or `sample_weight`"):
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0}, sample_weight=np.ones(32), verbose=0)
    for a, b in zip(model.get_weights(), w_before):
        np.testing.assert_array_equal(a, b)
    # class_weight {0: 1, 1: 3} equals sample_weight with those values.
    m1, m2 = _model(), _model()
    m2.set_weights(m1.get_weights())
    h1 = m1.fit(x, y, class_weight={0: 1.0, 1: 3.0}, shuffle=False, epochs=2, verbose=0)
    h2 = m2.fit(x, y, sample_weight=np.where(y == 1, 3.0, 1.0), shuffle=False, epochs=2, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)


def test_evaluate_return_forms_and_predict() -> None:
    x, y = _data(20)
    model = _model()
    as_list = model.evaluate(x, y, verbose=0)
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert isinstance(as_list, list) and len(as_list) == 2
    assert as_list == [as_dict["loss"], as_dict["accuracy"]]
    pred = model.predict(x, batch_size=7, verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (20, 2)
    np.testing.assert_allclose(pred, model.predict_on_batch(x), rtol=1e-6)
    single = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])
    single.compile(optimizer="sgd", loss="mse")
    assert isinstance(single.evaluate(x, y.astype("float32"), verbose=0), float)


def test_train_and_test_on_batch() -> None:
    x, y = _data(16)
    model = _model()
    before = model.test_on_batch(x, y)
    for _ in range(20):
        model.train_on_batch(x, y)
    after = model.test_on_batch(x, y, return_dict=True)
    assert after["loss"] < before[0]
    assert int(model.optimizer.iterations.numpy()) == 20


def test_verbose_2_prints_one_keras_line_per_epoch(capsys) -> None:
    x, y = _data(40)
    _model().fit(x, y, batch_size=10, epochs=2, validation_split=0.25, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    value = r"\d\.\d{4}"
    pattern = (rf"^3/3 - \d+s - \d+(us|ms|s)/step - accuracy: {value} - loss: {value} "
               rf"- val_accuracy: {value} - val_loss: {value}$")
    assert re.match(pattern, lines[1]), lines[1]
    assert len(lines) == 4


def test_verbose_1_off_terminal_prints_only_final_lines(capsys) -> None:
    x, y = _data(40)
    _model().fit(x, y, batch_size=4, epochs=1, verbose=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 1
    assert re.match(r"^10/10 ━{20} \d+s \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$", lines[0]), lines


def test_tf2_arguments_are_accepted() -> None:
    x, y = _data(20)
    model = keras.Sequential([layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  loss_weights=None, sample_weight_mode=None, weighted_metrics=None)
    model.fit(x, y, max_queue_size=10, workers=1, use_multiprocessing=False, verbose=0)
    model.evaluate(x, y, max_queue_size=10, workers=1, use_multiprocessing=False, verbose=0)
    model.predict(x, max_queue_size=10, workers=1, use_multiprocessing=False, verbose=0)


# ---------------------------------------------------------------------------- bad input
def _assert_untouched(model, weights) -> None:
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations.numpy()) == 0


def test_fit_before_compile() -> None:
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(2)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(*_data(4), verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": -3}, "batch_size"),
    ({"validation_split": 1.0}, "validation_split"),
    ({"validation_split": -0.1}, "validation_split"),
    ({"validation_split": 0.99}, "no training"),
    ({"verbose": 3}, "verbose"),
])
def test_fit_bad_arguments(kwargs, match) -> None:
    model = _model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(*_data(20), **kwargs)
    _assert_untouched(model, weights)


def test_fit_bad_data() -> None:
    model = _model()
    weights = model.get_weights()
    x, y = _data(20)
    with pytest.raises(ValueError, match=r"x\[0\]: 20, y\[0\]: 19"):
        model.fit(x, y[:19], verbose=0)
    with pytest.raises(ValueError, match=r"expected shape \(None, 4\), got data of shape \(20, 5\)"):
        model.fit(np.ones((20, 5), "float32"), y, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(TypeError, match="`x` must be an array"):
        model.fit("not an array", y, verbose=0)
    with pytest.raises(TypeError, match="`x` must be an array"):
        model.fit(5, y, verbose=0)
    _assert_untouched(model, weights)


def test_compile_unknown_names() -> None:
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="no_such_loss"):
        model.compile(optimizer="adam", loss="no_such_loss")
    with pytest.raises(ValueError, match="no_such_opt"):
        model.compile(optimizer="no_such_opt", loss="mse")
    with pytest.raises(ValueError, match="no_such_metric"):
        model.compile(optimizer="adam", loss="mse", metrics=["no_such_metric"])
    with pytest.raises(TypeError, match="not_an_arg"):
        model.compile(optimizer="adam", loss="mse", not_an_arg=1)
    assert not model.compiled
