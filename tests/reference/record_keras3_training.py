"""Record reference training numbers from the real Keras 3 (JAX backend, CPU).

gpukeras' test suite compares its own ``fit`` / ``predict`` / ``evaluate``
results against the numbers written here: loss/metric history, final
weights, predictions, evaluate() results and optimizer iteration counts.

Everything (data, initial weights, sample weights) is generated
deterministically with ``np.random.RandomState`` in float32 and stored in the
JSON file, so the consuming test never has to regenerate it.

How to run (from the repository root, with a side venv that has Keras 3)::

    python3 -m venv /tmp/k3venv
    /tmp/k3venv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_training.py

Output: ``tests/fixtures/keras3_training.json`` (one top-level entry per line).
Top-level keys: "versions", "recorded_on", "data", and one entry per
scenario name.  Each scenario holds "index", "setup", "weight_shapes",
"initial_weights", "history", "final_weights", "predictions", "evaluate",
"optimizer_iterations" (and "sample_weight" where used).
"""

import datetime
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

OUT_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "fixtures",
    "keras3_training.json",
)

F32 = np.float32


def make_data():
    x = np.random.RandomState(0).normal(size=(90, 8)).astype(F32)
    rs = np.random.RandomState(1)
    y_int = rs.randint(0, 3, size=90)
    y_onehot = np.eye(3, dtype=F32)[y_int]
    y_reg = rs.normal(size=(90, 2)).astype(F32)
    y_bin = rs.randint(0, 2, size=(90, 1)).astype(F32)
    return {
        "x": x,
        "y_int": y_int.astype(np.int64),
        "y_onehot": y_onehot,
        "y_reg": y_reg,
        "y_bin": y_bin,
    }


def f32list(a):
    """float32 array -> nested lists of Python floats (exact float32 values)."""
    return np.asarray(a, dtype=F32).tolist()


def scenarios(d):
    """Yield (name, build_fn, compile_kwargs_fn, fit_kwargs, setup, label_key).

    ``setup`` is a readable description of what was done (for humans / tests).
    """
    x = d["x"]
    sw = np.random.RandomState(3).uniform(0.5, 1.5, size=90).astype(F32)

    out = []

    # 0
    out.append(dict(
        name="sgd_momentum_sparse",
        build=lambda: keras.Sequential([
            keras.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ]),
        compile=lambda: dict(
            optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        ),
        labels="y_int",
        fit=dict(batch_size=16, epochs=3, shuffle=False, validation_split=0.2,
                 class_weight={0: 1.0, 1: 2.0, 2: 0.5}, verbose=0),
        setup={
            "layers": [
                {"type": "Input", "shape": [8]},
                {"type": "Dense", "units": 16, "activation": "relu"},
                {"type": "Dense", "units": 3, "activation": "softmax"},
            ],
            "compile": {
                "optimizer": {"class": "SGD", "learning_rate": 0.1,
                              "momentum": 0.9, "nesterov": False},
                "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"],
            },
            "fit": {"x": "x", "y": "y_int", "batch_size": 16, "epochs": 3,
                    "shuffle": False, "validation_split": 0.2,
                    "class_weight": {"0": 1.0, "1": 2.0, "2": 0.5}},
            "evaluate": {"x": "x", "y": "y_int"},
            "notes": "train = first 72 rows (batches 16,16,16,16,8); "
                     "validation = last 18 rows",
        },
    ))

    # 1
    out.append(dict(
        name="adam_logits_categorical",
        build=lambda: keras.Sequential([
            keras.Input((8,)),
            layers.Dense(16, activation="tanh"),
            layers.Dense(3),
        ]),
        compile=lambda: dict(
            optimizer=keras.optimizers.Adam(learning_rate=0.01),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        ),
        labels="y_onehot",
        fit=dict(batch_size=16, epochs=3, shuffle=False, validation_split=0.2,
                 verbose=0),
        setup={
            "layers": [
                {"type": "Input", "shape": [8]},
                {"type": "Dense", "units": 16, "activation": "tanh"},
                {"type": "Dense", "units": 3, "activation": None},
            ],
            "compile": {
                "optimizer": {"class": "Adam", "learning_rate": 0.01},
                "loss": {"class": "CategoricalCrossentropy",
                         "from_logits": True},
                "metrics": ["accuracy"],
            },
            "fit": {"x": "x", "y": "y_onehot", "batch_size": 16, "epochs": 3,
                    "shuffle": False, "validation_split": 0.2},
            "evaluate": {"x": "x", "y": "y_onehot"},
            "notes": "train = first 72 rows (batches 16,16,16,16,8); "
                     "validation = last 18 rows",
        },
    ))

    # 2
    out.append(dict(
        name="nesterov_mse",
        build=lambda: keras.Sequential([
            keras.Input((8,)),
            layers.Dense(8, activation="sigmoid"),
            layers.Dense(2),
        ]),
        compile=lambda: dict(
            optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.5,
                                           nesterov=True),
            loss="mse",
            metrics=["mae"],
        ),
        labels="y_reg",
        fit=dict(batch_size=32, epochs=4, shuffle=False, verbose=0),
        setup={
            "layers": [
                {"type": "Input", "shape": [8]},
                {"type": "Dense", "units": 8, "activation": "sigmoid"},
                {"type": "Dense", "units": 2, "activation": None},
            ],
            "compile": {
                "optimizer": {"class": "SGD", "learning_rate": 0.05,
                              "momentum": 0.5, "nesterov": True},
                "loss": "mse",
                "metrics": ["mae"],
            },
            "fit": {"x": "x", "y": "y_reg", "batch_size": 32, "epochs": 4,
                    "shuffle": False},
            "evaluate": {"x": "x", "y": "y_reg"},
            "notes": "90 rows -> batches 32, 32, 26",
        },
    ))

    # 3
    out.append(dict(
        name="adam_binary_l2",
        build=lambda: keras.Sequential([
            keras.Input((8,)),
            layers.Dense(4, activation="relu",
                         kernel_regularizer=keras.regularizers.L2(0.01)),
            layers.Dense(1, activation="sigmoid"),
        ]),
        compile=lambda: dict(
            optimizer=keras.optimizers.Adam(learning_rate=0.05),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        ),
        labels="y_bin",
        fit=dict(batch_size=20, epochs=3, shuffle=False,
                 validation_data=(x[:30], d["y_bin"][:30]),
                 sample_weight=sw, verbose=0),
        sample_weight=sw,
        setup={
            "layers": [
                {"type": "Input", "shape": [8]},
                {"type": "Dense", "units": 4, "activation": "relu",
                 "kernel_regularizer": {"class": "L2", "l2": 0.01}},
                {"type": "Dense", "units": 1, "activation": "sigmoid"},
            ],
            "compile": {
                "optimizer": {"class": "Adam", "learning_rate": 0.05},
                "loss": "binary_crossentropy",
                "metrics": ["accuracy"],
            },
            "fit": {"x": "x", "y": "y_bin", "batch_size": 20, "epochs": 3,
                    "shuffle": False,
                    "validation_data": ["x[:30]", "y_bin[:30]"],
                    "sample_weight": "sample_weight (stored in this entry; "
                                     "RandomState(3).uniform(0.5, 1.5, 90))"},
            "evaluate": {"x": "x", "y": "y_bin"},
            "notes": "90 rows -> batches 20, 20, 20, 20, 10",
        },
    ))

    # 4
    out.append(dict(
        name="sgd_plain_sparse_logits",
        build=lambda: keras.Sequential([
            keras.Input((8,)),
            layers.Dense(3),
        ]),
        compile=lambda: dict(
            optimizer="sgd",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        ),
        labels="y_int",
        fit=dict(batch_size=25, epochs=2, shuffle=False, verbose=0),
        setup={
            "layers": [
                {"type": "Input", "shape": [8]},
                {"type": "Dense", "units": 3, "activation": None},
            ],
            "compile": {
                "optimizer": "sgd (SGD defaults: learning_rate=0.01, "
                             "momentum=0.0)",
                "loss": {"class": "SparseCategoricalCrossentropy",
                         "from_logits": True},
                "metrics": ["accuracy"],
            },
            "fit": {"x": "x", "y": "y_int", "batch_size": 25, "epochs": 2,
                    "shuffle": False},
            "evaluate": {"x": "x", "y": "y_int"},
            "notes": "90 rows -> batches 25, 25, 25, 15",
        },
    ))
    return out


def run_scenario(k, sc, d):
    keras.utils.set_random_seed(1234)  # nothing random should matter; belt+braces
    model = sc["build"]()
    shapes = [tuple(w.shape) for w in model.get_weights()]
    rs = np.random.RandomState(10 + k)
    init = [rs.uniform(-0.5, 0.5, size=s).astype(F32) for s in shapes]
    model.set_weights(init)
    model.compile(**sc["compile"]())

    x = d["x"]
    y = d[sc["labels"]]
    hist = model.fit(x, y, **sc["fit"])
    history = {
        key: [float(F32(v)) for v in vals] for key, vals in hist.history.items()
    }
    final = model.get_weights()
    preds = model.predict(x, verbose=0)
    ev = model.evaluate(x, y, verbose=0, return_dict=True)
    ev = {key: float(F32(v)) for key, v in ev.items()}

    entry = {
        "index": k,
        "setup": sc["setup"],
        "weight_shapes": [list(s) for s in shapes],
        "initial_weights": [f32list(w) for w in init],
        "history": history,
        "final_weights": [f32list(w) for w in final],
        "predictions": f32list(preds),
        "evaluate": ev,
        "optimizer_iterations": int(np.asarray(model.optimizer.iterations)),
    }
    if "sample_weight" in sc:
        entry["sample_weight"] = f32list(sc["sample_weight"])
    return entry


def main():
    import jax

    d = make_data()
    result = {
        "versions": {
            "keras": keras.__version__,
            "keras_backend": keras.backend.backend(),
            "jax": jax.__version__,
            "numpy": np.__version__,
        },
        "recorded_on": datetime.date.today().isoformat(),
        "data": {
            "x": f32list(d["x"]),
            "y_int": d["y_int"].tolist(),
            "y_onehot": f32list(d["y_onehot"]),
            "y_reg": f32list(d["y_reg"]),
            "y_bin": f32list(d["y_bin"]),
            "generation": {
                "x": "RandomState(0).normal(size=(90, 8)).astype(float32)",
                "labels": "rs = RandomState(1); y_int = rs.randint(0, 3, 90); "
                          "y_onehot = one_hot(y_int); "
                          "y_reg = rs.normal(size=(90, 2)); "
                          "y_bin = rs.randint(0, 2, size=(90, 1)); all float32 "
                          "except y_int",
                "initial_weights": "RandomState(10 + index).uniform(-0.5, 0.5, "
                                   "size=w.shape).astype(float32) for w in "
                                   "model.get_weights() order",
            },
        },
    }
    for k, sc in enumerate(scenarios(d)):
        result[sc["name"]] = run_scenario(k, sc, d)

    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write("{\n")
        items = list(result.items())
        for i, (key, val) in enumerate(items):
            sep = "," if i < len(items) - 1 else ""
            f.write(json.dumps(key) + ": " + json.dumps(val) + sep + "\n")
        f.write("}\n")
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
