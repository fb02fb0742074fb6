"""keras.io's convolutional autoencoder, toy ResNet, timeseries FCN, structured-data and
knowledge-distillation programs run with `import gpukeras as keras` and land within Keras 3's results.

The program source is shared with the Keras 3 recorder (tests/reference/keras_io_vision_programs.py),
so what runs here is exactly what ran in Keras 3; only the data is a local stand-in of the same shape
(tests/reference/keras_io_vision_data.py), and sample counts and epochs are small enough for CI.
Initial weights, dropout masks, noise and shuffling come from each library's own random streams, so
a run is one draw from the program's spread of results: Keras 3 was recorded over several seeds, and
a gpukeras run must fall within `_band` of that spread. (Re-record with
tests/reference/record_keras3_vision_programs.py; the whole file takes about 35 CPU-seconds.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from reference import keras_io_vision_data as data
from reference import keras_io_vision_programs as programs

import gpukeras as keras

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_vision_programs.json").read_text())["programs"]


def _run(program: str, workdir: Path, seed: int = 1337) -> dict[str, float]:
    keras.utils.set_random_seed(seed)
    args, kwargs = data.program_arguments(program, FIXTURE[program]["sizes"], str(workdir))
    return programs.PROGRAMS[program](keras, *args, **kwargs)


def _keras3(program: str, key: str) -> np.ndarray:
    return np.array([run[key] for run in FIXTURE[program]["runs"]])


def _band(values: np.ndarray, floor: float) -> tuple[float, float]:
    """Keras 3's range over its seeds, widened by half that range on each side (for 8 to 16 normal
    draws, about the mean +- 3 standard deviations), and by at least `floor`."""
    low, high = float(values.min()), float(values.max())
    margin = max((high - low) / 2, floor)
    return low - margin, high + margin


def _assert_within_keras3(program: str, result: dict[str, float], accuracies: tuple[str, ...],
                          losses: tuple[str, ...]) -> None:
    """Accuracies within the band (floor: 3 points), losses too (floor: 3% of Keras 3's mean)."""
    for key in accuracies + losses:
        values = _keras3(program, key)
        low, high = _band(values, 0.03 if key in accuracies else 0.03 * float(values.mean()))
        assert low <= result[key] <= high, (program, key, result[key], (low, high), values.tolist())


@pytest.mark.slow
@pytest.mark.any_backend
def test_denoising_autoencoder_reaches_keras3_losses(tmp_path: Path) -> None:
    result = _run("autoencoder", tmp_path)
    _assert_within_keras3("autoencoder", result, (),
                          ("reconstruction_val_loss", "denoising_val_loss", "prediction_mae"))


@pytest.mark.slow
@pytest.mark.any_backend
def test_toy_resnet_reaches_keras3_accuracy(tmp_path: Path) -> None:
    result = _run("toy_resnet", tmp_path)
    _assert_within_keras3("toy_resnet", result, ("acc", "val_acc"), ("loss", "val_loss"))


@pytest.mark.slow
@pytest.mark.any_backend
def test_timeseries_fcn_reaches_keras3_accuracy(tmp_path: Path) -> None:
    result = _run("timeseries_fcn", tmp_path)
    assert (tmp_path / "best_model.keras").is_file()  # ModelCheckpoint wrote it, load_model read it back
    _assert_within_keras3("timeseries_fcn", result, ("test_accuracy",), ("test_loss", "best_val_loss"))


@pytest.mark.slow
@pytest.mark.any_backend
def test_knowledge_distillation_reaches_keras3_accuracy(tmp_path: Path) -> None:
    result = _run("distillation", tmp_path)
    _assert_within_keras3("distillation", result,
                          ("teacher_sparse_categorical_accuracy", "distilled_sparse_categorical_accuracy",
                           "scratch_sparse_categorical_accuracy"),
                          ("teacher_loss", "distilled_loss", "scratch_loss"))


@pytest.mark.slow
@pytest.mark.any_backend
def test_structured_data_classifier_matches_keras3_spread(tmp_path: Path) -> None:
    """In Keras 3 this program's model starts from the *normalized* tensors, which become fresh
    inputs: it is fed raw columns (cholesterol in the hundreds), and most runs stall with saturated
    outputs while a few learn. A single run says little, so the means over 16 seeds (a run takes a
    fraction of a second) must match Keras 3's means over its 40, within three standard errors."""
    runs = [_run("structured_data", tmp_path, seed) for seed in range(1337, 1353)]
    for result in runs:
        assert 0.0 <= result["sample_probability"] <= 1.0
    for key in ("accuracy", "val_accuracy", "loss", "val_loss"):
        ours, theirs = np.array([r[key] for r in runs]), _keras3("structured_data", key)
        tolerance = 3 * theirs.std(ddof=1) * math.sqrt(1 / len(ours) + 1 / len(theirs))
        assert abs(ours.mean() - theirs.mean()) <= tolerance, (key, ours.tolist(), theirs.mean(), tolerance)
