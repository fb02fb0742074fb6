"""Record keras.utils.timeseries_dataset_from_array's windows and targets from the real Keras 3.

Keras 3 builds a tf.data dataset (TensorFlow must be installed in the side venv; shuffle=False so
the batches are deterministic). tests/test_timeseries_dataset.py compares gpukeras's batches.

How to run (from the repository root)::

    /tmp/k3venv/bin/pip install keras tensorflow-cpu numpy
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_timeseries.py

Output: ``tests/fixtures/keras3_timeseries.json``.
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "keras3_timeseries.json")

CASES = {
    "defaults": dict(sequence_length=5, batch_size=4),
    "stride_rate": dict(sequence_length=3, sequence_stride=2, sampling_rate=3, batch_size=3),
    "start_end": dict(sequence_length=4, start_index=5, end_index=30, batch_size=5),
    "no_targets": dict(sequence_length=6, batch_size=7, targets=None),
    "unbatched": dict(sequence_length=2, sequence_stride=9, batch_size=None),
}


def main():
    data = np.arange(40 * 2, dtype="float32").reshape(40, 2)
    targets = np.arange(100, 140)
    out = {"versions": {"keras": keras.__version__}, "data": data.tolist(), "targets": targets.tolist()}
    for name, case in CASES.items():
        kwargs = dict(case)
        t = kwargs.pop("targets", targets)
        batches = []
        for batch in keras.utils.timeseries_dataset_from_array(data, t, **kwargs):
            if isinstance(batch, tuple):
                batches.append([np.asarray(b).tolist() for b in batch])
            else:
                batches.append([np.asarray(batch).tolist()])
        out[name] = {"kwargs": {k: v for k, v in case.items() if k != "targets"}, "targets": t is not None,
                     "batches": batches}
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
