"""One training run per optimizer against Keras 3 (tests/reference/record_keras3_optimizers.py).

Same model, initial weights, data and fit settings must give Keras 3's loss/accuracy history, final weights
and optimizer iteration count to float32 rounding — for every optimizer, a LearningRateSchedule as
learning_rate, clipping, weight decay, EMA and gradient accumulation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpukeras as keras

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_optimizers.json").read_text())
DATA = FIXTURE["data"]
RTOL, ATOL = 1e-5, 2e-6


def _optimizer(spec: dict):
    kwargs = dict(spec["kwargs"])
    if "schedule" in spec:
        sched = spec["schedule"]
        kwargs["learning_rate"] = getattr(keras.optimizers.schedules, sched["class"])(**sched["kwargs"])
    return getattr(keras.optimizers, spec["class"])(**kwargs)


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s["id"]) for s in FIXTURE["scenarios"]])
def test_optimizer_training_matches_keras3(scenario: dict) -> None:
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(3)])
    model.set_weights([np.asarray(w, dtype="float32") for w in DATA["initial_weights"]])
    model.compile(optimizer=_optimizer(scenario["optimizer"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x = np.asarray(DATA["x"], dtype="float32")
    y = np.asarray(DATA["y"], dtype="int64")
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)

    name = scenario["id"]
    assert sorted(history.history) == sorted(scenario["history"])
    for key, expected in scenario["history"].items():
        np.testing.assert_allclose(history.history[key], expected, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {key}")
    assert int(np.asarray(model.optimizer.iterations.numpy())) == scenario["optimizer_iterations"]
    weights = [(got, np.asarray(expected)) for got, expected in zip(model.get_weights(), scenario["final_weights"],
                                                                    strict=True)]
    for i, (got, expected) in enumerate(weights):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=f"{name}: weight {i}")
