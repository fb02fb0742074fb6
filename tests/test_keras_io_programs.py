"""keras.io's text and sequence programs run with `import gpukeras as keras` and reach Keras 3's results.

The program source is shared with the Keras 3 recorder (tests/reference/keras_io_programs.py), so
what runs here is exactly what ran in Keras 3; only the data is a local stand-in of the same shape
(tests/reference/keras_io_data.py). Initial weights, dropout masks and shuffling differ between the
libraries, so the bar is Keras 3's result across its recorded runs, with a small margin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reference import keras_io_data as data
from reference import keras_io_programs as programs

import gpukeras as keras

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_programs.json").read_text())
SIZES = FIXTURE["sizes"]


def _keras3(program: str, key: str) -> list[float]:
    return [run[program][key] for run in FIXTURE["runs"]]


def _sentiment_split(program: str, seed: int):
    s = SIZES[program]
    x, y = data.sentiment(s["train"] + s["test"], s["length"], seed=seed)
    return x[:s["train"]], y[:s["train"]], x[s["train"]:], y[s["train"]:]


@pytest.mark.slow
@pytest.mark.any_backend
def test_conv1d_text_classifier_reaches_keras3_accuracy() -> None:
    keras.utils.set_random_seed(1337)
    result = programs.conv1d_text_classifier(keras, *_sentiment_split("conv1d", seed=1))
    assert result["accuracy"] >= min(_keras3("conv1d", "accuracy")) - 0.03, (result, FIXTURE["runs"])


@pytest.mark.slow
@pytest.mark.any_backend
def test_bidirectional_lstm_classifier_reaches_keras3_accuracy() -> None:
    keras.utils.set_random_seed(1337)
    result = programs.bidirectional_lstm_classifier(keras, *_sentiment_split("bilstm", seed=2))
    assert result["accuracy"] >= min(_keras3("bilstm", "accuracy")) - 0.03, (result, FIXTURE["runs"])


@pytest.mark.slow
@pytest.mark.any_backend
def test_transformer_classifier_reaches_keras3_accuracy() -> None:
    keras.utils.set_random_seed(1337)
    result = programs.transformer_classifier(keras, *_sentiment_split("transformer", seed=3))
    assert result["accuracy"] >= min(_keras3("transformer", "accuracy")) - 0.03, (result, FIXTURE["runs"])


@pytest.mark.slow
@pytest.mark.any_backend
def test_lstm_weather_forecaster_reaches_keras3_loss() -> None:
    keras.utils.set_random_seed(1337)
    result = programs.weather_forecaster(keras, data.weather(SIZES["weather"]["steps"], seed=4))
    assert result["val_loss"] <= 1.2 * max(_keras3("weather", "val_loss")), (result, FIXTURE["runs"])
    assert result["loss"] <= 1.2 * max(_keras3("weather", "loss")), (result, FIXTURE["runs"])
