"""Record Keras 3's results for the keras.ops calls in tests/ops_coverage_cases.py.

    cd /tmp && KERAS_BACKEND=jax /tmp/k3venv/bin/python /work/main/tests/reference/record_keras3_ops.py

Output: tests/fixtures/keras3_ops.json, per case id the results' values, dtypes and shapes (or the error Keras
raised); tests/test_ops_coverage.py calls the same ops on gpukeras and compares.
"""

import datetime
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import ops_coverage_cases as cases  # noqa: E402


def _json_values(a: np.ndarray) -> list:
    """Values as JSON lists; complex numbers as [real, imag] pairs."""
    if np.iscomplexobj(a):
        return np.stack([a.real, a.imag], axis=-1).tolist()
    return a.tolist()


def record_case(name: str, args: list, kwargs: dict) -> dict:
    try:
        out = getattr(keras.ops, name)(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - what Keras refuses is recorded, not fatal
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    parts = out if isinstance(out, (tuple, list)) else [out]
    host = [np.asarray(keras.ops.convert_to_numpy(p)) for p in parts]
    return {"multiple": isinstance(out, (tuple, list)),
            "python": [type(p).__name__ for p in parts if isinstance(p, (int, float, bool))],
            "dtypes": [str(h.dtype) for h in host], "shapes": [list(h.shape) for h in host],
            "values": [_json_values(h) for h in host]}


record = {"recorded": f"keras {keras.__version__}, backend {keras.backend.backend()}, {datetime.date.today()}",
          "cases": {cid: record_case(name, args, kwargs) for cid, name, args, kwargs, _ in cases.CASES}}
with open(os.path.join(os.path.dirname(HERE), "fixtures", "keras3_ops.json"), "w") as f:
    json.dump(record, f)
errors = {k: v["error"] for k, v in record["cases"].items() if "error" in v}
print("wrote", record["recorded"], len(record["cases"]), "cases;", len(errors), "refused:", errors)
