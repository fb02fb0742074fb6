"""Record Keras 3's numbers for a functional model built with keras.ops on symbolic tensors.

    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_symbolic_ops.py

Output: tests/fixtures/keras3_symbolic_ops.json (predictions before training, the history of three
SGD epochs, the final weights and predictions) and keras3_symbolic_ops.keras (the trained model as
Keras 3 saves it: its operations in the config); tests/test_symbolic_ops.py replays and loads them.
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
import symbolic_ops_cases as cases  # noqa: E402

model = cases.build(keras)
model.set_weights(cases.weights(model))
x, _ = cases.data()
before = model.predict(x, verbose=0)
history = cases.train(keras, model)
record = {
    "recorded": f"keras {keras.__version__}, backend {keras.backend.backend()}, {datetime.date.today()}",
    "output_shape": list(model.output.shape[1:]),
    "predictions_before": np.asarray(before).tolist(),
    "history": {k: [float(v) for v in vs] for k, vs in history.items()},
    "final_weights": [np.asarray(w).tolist() for w in model.get_weights()],
    "predictions_after": np.asarray(model.predict(x, verbose=0)).tolist(),
}
model.save(os.path.join(os.path.dirname(HERE), "fixtures", "keras3_symbolic_ops.keras"))
with open(os.path.join(os.path.dirname(HERE), "fixtures", "keras3_symbolic_ops.json"), "w") as f:
    json.dump(record, f)
print("wrote", record["recorded"])
