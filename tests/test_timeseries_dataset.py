"""keras.utils.timeseries_dataset_from_array: the same windows, targets and batches as Keras 3
(tests/reference/record_keras3_timeseries.py), and a model trains on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpukeras as keras

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_timeseries.json").read_text())
CASES = [k for k in FIXTURE if k not in ("versions", "data", "targets")]


@pytest.mark.any_backend
@pytest.mark.parametrize("name", CASES)
def test_windows_and_targets_match_keras3(name) -> None:
    case = FIXTURE[name]
    data = np.asarray(FIXTURE["data"], "float32")
    targets = np.asarray(FIXTURE["targets"]) if case["targets"] else None
    dataset = keras.utils.timeseries_dataset_from_array(data, targets, **case["kwargs"])
    batches = list(dataset)
    assert len(batches) == len(case["batches"]) == len(dataset)
    for got, want in zip(batches, case["batches"]):
        parts = got if isinstance(got, tuple) else (got,)
        assert len(parts) == len(want)
        for part, expected in zip(parts, want):
            np.testing.assert_array_equal(part, np.asarray(expected))


@pytest.mark.any_backend
def test_arguments_are_checked_and_shuffle_is_seeded() -> None:
    data = np.arange(20, dtype="float32")[:, None]
    with pytest.raises(ValueError, match="sampling_rate"):
        keras.utils.timeseries_dataset_from_array(data, None, 3, sampling_rate=0)
    with pytest.raises(ValueError, match="end_index"):
        keras.utils.timeseries_dataset_from_array(data, None, 3, start_index=5, end_index=4)
    a = keras.utils.timeseries_dataset_from_array(data, np.arange(20), 3, batch_size=4, shuffle=True, seed=3)
    b = keras.utils.timeseries_dataset_from_array(data, np.arange(20), 3, batch_size=4, shuffle=True, seed=3)
    np.testing.assert_array_equal(a[0][1], b[0][1])
    assert sorted(np.concatenate([t for _, t in a]).tolist()) == list(range(18))  # every window, once


def test_a_model_trains_on_the_windows() -> None:
    series = np.sin(np.arange(300) / 8.0).astype("float32")[:, None]
    train = keras.utils.timeseries_dataset_from_array(series[:-1], series[10:], sequence_length=10, batch_size=32)
    model = keras.Sequential([keras.Input((10, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(train, epochs=5, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
