"""Record mixed-precision training runs from the real Keras 3 (JAX backend, CPU).

``tests/test_mixed_precision.py`` trains the same models (``tests/mixed_precision_cases.py``) from the same
weights on the same data with gpukeras and compares: each step's loss, the loss scale and its step counter
after each step, the final weights, the predictions and their dtype, the variable dtypes and the optimizer
Keras 3's ``compile`` chose.

How to re-record (from the repository root)::

    KERAS_BACKEND=jax JAX_PLATFORMS=cpu /tmp/k3venv/bin/python tests/reference/record_keras3_mixed_precision.py

Output: ``tests/fixtures/keras3_mixed_precision.json``: "versions" and "cases", one per name in CASES:
``{"losses", "scales", "step_counters", "iterations", "final_weights", "predictions", "prediction_dtype",
"variable_dtypes", "optimizer", "config_dtype", "evaluate"}`` (``evaluate``: loss and the "mae" metric
after training, both computed in float32). Training is ``train_on_batch`` over the batches of ``SAMPLES``
rows in order, ``epochs(name)`` times (Keras syncs the optimizer's state after each call).

With ``check FILE.keras INPUTS.npy`` it instead loads a file gpukeras wrote and prints what Keras 3 sees in
it (run by test_mixed_precision when ``KERAS3_PYTHON`` names a Python with Keras 3 and JAX).
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mixed_precision_cases import BATCH_SIZE, CASES, build, data, epochs, initial_weights, optimizer  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras3_mixed_precision.json")


def record(name: str) -> dict:
    policy, model_name, loss, scaling = CASES[name]
    keras.utils.clear_session()
    keras.mixed_precision.set_global_policy(policy)
    model = build(keras, model_name)
    model.set_weights(initial_weights([tuple(w.shape) for w in model.get_weights()]))
    model.compile(optimizer=optimizer(keras, scaling), loss=loss, metrics=["mae"])
    x, y = data(model_name)
    out = {"losses": [], "scales": [], "step_counters": []}
    scaled = isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer)
    for _ in range(epochs(name)):
        for start in range(0, len(x), BATCH_SIZE):
            logs = model.train_on_batch(x[start:start + BATCH_SIZE], y[start:start + BATCH_SIZE], return_dict=True)
            out["losses"].append(float(logs["loss"]))
            if scaled:
                out["scales"].append(float(model.optimizer.dynamic_scale.numpy()))
                out["step_counters"].append(int(model.optimizer.step_counter.numpy()))
    predictions = model.predict(x, verbose=0)
    out["evaluate"] = {k: float(v) for k, v in model.evaluate(x, y, verbose=0, return_dict=True).items()}
    out["iterations"] = int(model.optimizer.iterations.numpy())
    out["final_weights"] = [w.astype("float32").tolist() for w in model.get_weights()]
    out["predictions"] = np.asarray(predictions).astype("float32").tolist()
    out["prediction_dtype"] = str(model(x[:2]).dtype)
    out["variable_dtypes"] = [str(w.dtype) for w in model.weights]
    out["optimizer"] = type(model.optimizer).__name__
    out["config_dtype"] = model.layers[0].get_config()["dtype"]
    keras.mixed_precision.set_global_policy("float32")
    return out


def check(path: str, inputs: str) -> None:
    """Load a .keras file gpukeras wrote; print its layers' policies, its optimizer's class and scale and its
    predictions for the inputs in `inputs` (.npy), as JSON (test_mixed_precision reads them)."""
    model = keras.saving.load_model(path)
    opt = model.optimizer
    print(json.dumps({"policies": [layer.dtype_policy.name for layer in model.layers],
                      "optimizer": type(opt).__name__, "scale": float(opt.dynamic_scale.numpy()),
                      "inner_iterations": int(opt.inner_optimizer.iterations.numpy()),
                      "predictions": np.asarray(model.predict(np.load(inputs), verbose=0)).astype("float32").tolist()}))


def main() -> None:
    if sys.argv[1:2] == ["check"]:
        check(sys.argv[2], sys.argv[3])
        return
    cases = {name: record(name) for name in CASES}
    versions = {"keras": keras.__version__, "jax": jax.__version__, "numpy": np.__version__}
    with open(OUT, "w") as f:
        json.dump({"versions": versions, "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
