"""Run keras.io's text and sequence programs (tests/reference/keras_io_programs.py) with the real
Keras 3 on the local stand-in data, and record what they reach.

tests/test_keras_io_programs.py runs the same program source with gpukeras and must reach these
results (accuracy within a few points, losses within a margin: initial weights, dropout masks and
shuffling differ between the two libraries, so the runs are not step-for-step identical).

How to run (from the repository root, with the side venv that has Keras 3 + JAX)::

    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_programs.py

Output: ``tests/fixtures/keras3_programs.json``.
"""

import datetime
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import keras_io_data as data  # noqa: E402
import keras_io_programs as programs  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "keras3_programs.json")
SIZES = {  # shared with tests/test_keras_io_programs.py: keep them equal
    "conv1d": dict(train=512, test=256, length=500),
    "bilstm": dict(train=512, test=256, length=200),
    "transformer": dict(train=512, test=256, length=200),
    "weather": dict(steps=6000),
}


def run_all(seed):
    keras.utils.set_random_seed(seed)
    out = {}
    s = SIZES["conv1d"]
    x, y = data.sentiment(s["train"] + s["test"], s["length"], seed=1)
    out["conv1d"] = programs.conv1d_text_classifier(keras, x[:s["train"]], y[:s["train"]], x[s["train"]:],
                                                    y[s["train"]:])
    s = SIZES["bilstm"]
    x, y = data.sentiment(s["train"] + s["test"], s["length"], seed=2)
    out["bilstm"] = programs.bidirectional_lstm_classifier(keras, x[:s["train"]], y[:s["train"]], x[s["train"]:],
                                                           y[s["train"]:])
    s = SIZES["transformer"]
    x, y = data.sentiment(s["train"] + s["test"], s["length"], seed=3)
    out["transformer"] = programs.transformer_classifier(keras, x[:s["train"]], y[:s["train"]], x[s["train"]:],
                                                         y[s["train"]:])
    out["weather"] = programs.weather_forecaster(keras, data.weather(SIZES["weather"]["steps"], seed=4))
    return {name: {k: float(v) for k, v in result.items()} for name, result in out.items()}


def main():
    runs = [run_all(seed) for seed in (1337, 7)]
    out = {"versions": {"keras": keras.__version__, "backend": keras.backend.backend()},
           "recorded_on": datetime.date.today().isoformat(), "sizes": SIZES,
           "runs": runs}
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
