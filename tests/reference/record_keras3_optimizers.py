"""Record one small training run per optimizer from the real Keras 3 (JAX backend, CPU).

``tests/test_keras3_optimizers.py`` trains the same model from the same weights on the same data with
gpukeras and compares the loss/accuracy history, the final weights and the optimizer's iteration count.

Model: ``Input(6) -> Dense(8, tanh) -> Dense(3)``, loss ``SparseCategoricalCrossentropy(from_logits=True)``,
metrics ``["accuracy"]``, ``fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)`` on 50 rows
(batches 16, 16, 16, 2).  Every scenario starts from the same initial weights.  Data and weights are generated
with ``np.random.RandomState`` in float32 and stored in the JSON file.

How to re-record (from the repository root, with a side venv that has Keras 3 + JAX)::

    python3 -m venv /tmp/k3venv
    /tmp/k3venv/bin/pip install keras jax numpy
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_optimizers.py

Output: ``tests/fixtures/keras3_optimizers.json`` (one top-level entry per line).  Top-level keys:
"versions", "recorded_on", "data" (x, y, initial_weights) and "scenarios": a list of
``{"id", "optimizer": {"class", "kwargs", ["schedule": {"class", "kwargs"}]}, "history", "final_weights",
"optimizer_iterations"}``.  With a "schedule", the optimizer's ``learning_rate`` is that schedule object.
"""

import datetime
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "keras3_optimizers.json")
F32 = np.float32

SCENARIOS = [
    ("sgd", "SGD", {"learning_rate": 0.1}, None),
    ("sgd_momentum", "SGD", {"learning_rate": 0.05, "momentum": 0.9}, None),
    ("sgd_nesterov", "SGD", {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}, None),
    ("adam", "Adam", {"learning_rate": 0.01}, None),
    ("adam_amsgrad", "Adam", {"learning_rate": 0.01, "amsgrad": True, "beta_2": 0.95}, None),
    ("adamw", "AdamW", {"learning_rate": 0.01, "weight_decay": 0.05}, None),
    ("rmsprop", "RMSprop", {"learning_rate": 0.005}, None),
    ("rmsprop_centered_momentum", "RMSprop", {"learning_rate": 0.005, "rho": 0.8, "momentum": 0.5,
                                              "centered": True}, None),
    ("adagrad", "Adagrad", {"learning_rate": 0.1}, None),
    ("adadelta", "Adadelta", {"learning_rate": 1.0}, None),
    ("adamax", "Adamax", {"learning_rate": 0.02}, None),
    ("nadam", "Nadam", {"learning_rate": 0.01}, None),
    ("lion", "Lion", {"learning_rate": 0.003}, None),
    ("sgd_exponential_decay", "SGD", {"momentum": 0.5},
     {"class": "ExponentialDecay", "kwargs": {"initial_learning_rate": 0.2, "decay_steps": 3, "decay_rate": 0.7}}),
    ("adam_cosine_warmup", "Adam", {},
     {"class": "CosineDecay", "kwargs": {"initial_learning_rate": 0.0, "decay_steps": 8, "warmup_target": 0.02,
                                         "warmup_steps": 4, "alpha": 0.1}}),
    ("adam_clipnorm", "Adam", {"learning_rate": 0.01, "clipnorm": 0.1}, None),
    ("sgd_global_clipnorm", "SGD", {"learning_rate": 0.1, "global_clipnorm": 0.2}, None),
    ("sgd_clipvalue_weight_decay", "SGD", {"learning_rate": 0.1, "clipvalue": 0.05, "weight_decay": 0.1}, None),
    ("adam_ema", "Adam", {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.9}, None),
    ("sgd_gradient_accumulation", "SGD", {"learning_rate": 0.1, "momentum": 0.5,
                                          "gradient_accumulation_steps": 2}, None),
]


def f32list(a):
    return np.asarray(a, dtype=F32).tolist()


def build():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)])


def main():
    import jax

    x = np.random.RandomState(7).normal(size=(50, 6)).astype(F32)
    y = np.random.RandomState(8).randint(0, 3, size=50).astype(np.int64)
    shapes = [w.shape for w in build().get_weights()]
    rs = np.random.RandomState(9)
    init = [rs.uniform(-0.6, 0.6, size=s).astype(F32) for s in shapes]

    scenarios = []
    for sid, cls, kwargs, schedule in SCENARIOS:
        keras.utils.set_random_seed(1234)
        model = build()
        model.set_weights(init)
        args = dict(kwargs)
        if schedule is not None:
            args["learning_rate"] = getattr(keras.optimizers.schedules, schedule["class"])(**schedule["kwargs"])
        optimizer = getattr(keras.optimizers, cls)(**args)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        hist = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        spec = {"class": cls, "kwargs": kwargs}
        if schedule is not None:
            spec["schedule"] = schedule
        scenarios.append({
            "id": sid,
            "optimizer": spec,
            "history": {k: [float(F32(v)) for v in vals] for k, vals in hist.history.items()},
            "final_weights": [f32list(w) for w in model.get_weights()],
            "optimizer_iterations": int(np.asarray(model.optimizer.iterations)),
        })

    result = {
        "versions": {"keras": keras.__version__, "keras_backend": keras.backend.backend(), "jax": jax.__version__,
                     "numpy": np.__version__},
        "recorded_on": datetime.date.today().isoformat(),
        "data": {
            "x": f32list(x), "y": y.tolist(), "initial_weights": [f32list(w) for w in init],
            "generation": "x = RandomState(7).normal(size=(50, 6)); y = RandomState(8).randint(0, 3, 50); "
                          "rs = RandomState(9); initial_weights = [rs.uniform(-0.6, 0.6, w.shape) for w in "
                          "model.get_weights()]; float32 except y",
        },
        "scenarios": scenarios,
    }
    with open(OUT_PATH, "w") as f:
        f.write("{\n")
        items = list(result.items())
        for i, (key, val) in enumerate(items):
            f.write(json.dumps(key) + ": " + json.dumps(val) + ("," if i < len(items) - 1 else "") + "\n")
        f.write("}\n")
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
