"""Record keras.applications' parameter counts, layer tables, predictions and training steps from the real
Keras 3 (JAX backend, CPU), for tests/test_keras3_applications.py.

The cases are in tests/keras3_application_cases.py:
  TABLE_CASES    each model built with weights=None: model name, trainable and non-trainable parameter
                 counts, the layer table (`model.layers`: name, class, output shape) and, where Keras 3's
                 graph holds operations that are not layers (MobileNetV3's `x + 3`, `x * (1/6)`), the
                 table of `model.operations` and the config entries of those operations.
  FORWARD_CASES  small models whose variables are set to `variable_values` (seeded per variable path), saved
                 with `save_weights`: the file's layout (groups; each dataset's path, shape, dtype, SHA-256,
                 and the variable it holds); then a fresh model loads that file (as a user would, and so that
                 Normalization layers read their statistics back) and predicts `images(case)`: the
                 predictions and the pooled features (output of the last GlobalAveragePooling2D). The test
                 rebuilds the same file from the seeds (checking every dataset's SHA-256 against Keras's), so
                 no weights file is stored. Also the layout of the same weights in tf.keras 2's weights-only
                 `.h5` format (`legacy_layout`), the format of Keras's ImageNet files.
  TRAIN_CASES    the same file loaded, then a few `train_on_batch` SGD steps: losses, some final variables in
                 full, a checksum of every variable, predictions after training.
  "preprocess"   `preprocess_input` of each mode and data format on `preprocess_images()`.

How to run (from the repository root, with a side venv holding Keras 3, JAX and h5py)::

    KERAS_BACKEND=jax JAX_PLATFORMS=cpu /tmp/k3venv/bin/python tests/reference/record_keras3_applications.py
    # writes tests/fixtures/keras3_applications.json.gz

    KERAS_BACKEND=jax JAX_PLATFORMS=cpu /tmp/k3venv/bin/python tests/reference/record_keras3_applications.py \
        --write-weights CASE_ID PATH
    # writes the forward or train case's Keras 3 weights file at PATH and prints its predictions (JSON);
    # tests/test_keras3_applications.py runs this when KERAS3_PYTHON names a Python with Keras 3
"""

import datetime
import gzip
import hashlib
import json
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "jax"

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import keras3_application_cases as cases  # noqa: E402

OUT = os.path.join(ROOT, "fixtures", "keras3_applications.json.gz")
TRAIN_VARIABLES = ["conv/kernel", "conv_bn/moving_mean", "conv_bn/moving_variance", "expanded_conv_project_bn/gamma",
                   "conv_2/bias", "logits/kernel", "logits/bias"]


def build(case: dict) -> keras.Model:
    """The case's model, built with weights=None in a fresh session (so auto names start from scratch)."""
    keras.backend.clear_session()
    return cases.build(keras, case)


def _shape(tensor) -> list:
    return [None if d is None else int(d) for d in tensor.shape]


def _count(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def table(case: dict) -> dict:
    model = build(case)
    record = {
        "id": case["id"],
        "name": model.name,
        "trainable_params": _count(model.trainable_weights),
        "non_trainable_params": _count(model.non_trainable_weights),
        "inputs": [_shape(t) for t in model.inputs],
        "outputs": [_shape(t) for t in model.outputs],
        "layers": [[layer.name, type(layer).__name__, _shape(layer.output)] for layer in model.layers],
    }
    if len(model.operations) != len(model.layers):
        record["operations"] = [[op.name, type(op).__name__, _shape(op.output)] for op in model.operations]
        configs = model.get_config()["layers"]
        record["operation_configs"] = [c for c in configs if c["module"] == "keras.src.ops.numpy"][:2]
    print(f"{case['id']}: {record['trainable_params']} + {record['non_trainable_params']} params, "
          f"{len(record['layers'])} layers", file=sys.stderr)
    return record


def set_seeded_weights(model: keras.Model) -> None:
    for layer in model.layers:
        for v in layer.weights:
            kind = cases.variable_kind(type(layer).__name__, v.name)
            v.assign(cases.variable_values(v.path, tuple(v.shape), str(v.dtype), kind))


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def layout(model: keras.Model, path: str) -> dict:
    """The groups and datasets of the weights file at `path`, each dataset with the variable it holds."""
    by_digest = {}
    for layer in model.layers:
        for v in layer.weights:
            kind = cases.variable_kind(type(layer).__name__, v.name)
            by_digest[_digest(np.asarray(v.numpy()))] = (v.path, kind)
    groups, datasets = [], []

    def visit(name, obj):
        if isinstance(obj, h5py.Group):
            groups.append(name)
        else:
            data = obj[()]
            key, kind = by_digest[_digest(np.asarray(data))]
            datasets.append({"path": name, "shape": list(data.shape), "dtype": str(data.dtype),
                             "sha256": _digest(np.asarray(data)), "variable": key, "kind": kind})

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return {"groups": groups, "datasets": datasets}


def _text(name) -> str:
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)


def legacy_layout(model: keras.Model, path: str) -> dict:
    """The same weights written by Keras 3 in tf.keras 2's weights-only HDF5 layout (the format of Keras's
    ImageNet files): `layer_names` at the root, per layer group its `weight_names` and their datasets."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    by_digest = {}
    for layer in model.layers:
        for v in layer.weights:
            by_digest[_digest(np.asarray(v.numpy()))] = (v.path, cases.variable_kind(type(layer).__name__, v.name))
    with h5py.File(path, "r") as f:
        layer_names = [_text(n) for n in f.attrs["layer_names"]]
        groups = []
        for name in layer_names:
            datasets = []
            for weight_name in [_text(n) for n in f[name].attrs["weight_names"]]:
                data = f[name][weight_name][()]
                key, kind = by_digest[_digest(data)]
                datasets.append({"name": weight_name, "shape": list(data.shape), "dtype": str(data.dtype),
                                 "sha256": _digest(data), "variable": key, "kind": kind})
            groups.append({"name": name, "weights": datasets})
        extra = sorted(set(f) - set(layer_names))  # "top_level_model_weights"
    return {"groups": groups, "extra_groups": extra}


def seeded_model_and_file(case: dict, path: str) -> keras.Model:
    """The case's model with the seeded values, saved at `path`; then a fresh model that loaded the file."""
    model = build(case)
    set_seeded_weights(model)
    model.save_weights(path)
    loaded = build(case)
    loaded.load_weights(path)
    return loaded


def pooled_features(model: keras.Model, x: np.ndarray) -> dict:
    """The output of the model's last GlobalAveragePooling2D layer: the image features the head reads."""
    layer = [lay for lay in model.layers if isinstance(lay, keras.layers.GlobalAveragePooling2D)][-1]
    values = keras.Model(model.inputs, layer.output)(x, training=False)
    return {"layer": layer.name, "values": np.asarray(values).tolist()}


def forward(case: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        model = seeded_model_and_file(case, path)
        record = {"id": case["id"], "layout": layout(model, path),
                  "legacy_layout": legacy_layout(model, os.path.join(tmp, "model.h5"))}
    x = cases.images(case)
    record["predictions"] = np.asarray(model(x, training=False)).tolist()
    record["features"] = pooled_features(model, x)
    return record


def train(case: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        model = seeded_model_and_file(case, path)
        record = {"id": case["id"], "layout": layout(model, path)}
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=case["learning_rate"]),
                  loss="sparse_categorical_crossentropy")
    x, y = cases.images(case), cases.labels(case)
    record["losses"] = [float(model.train_on_batch(x, y)) for _ in range(case["steps"])]
    record["variables"] = {v.path: np.asarray(v.numpy()).tolist() for v in model.weights if v.path in TRAIN_VARIABLES}
    record["checksums"] = {v.path: [float(np.sum(np.asarray(v.numpy(), dtype=np.float64))),
                                    float(np.sum(np.abs(np.asarray(v.numpy(), dtype=np.float64))))]
                           for v in model.weights}
    record["predictions"] = np.asarray(model(x, training=False)).tolist()
    return record


def preprocess() -> dict:
    x = cases.preprocess_images()
    modes = {}
    for module, mode in (("resnet", "caffe"), ("resnet_v2", "tf"), ("densenet", "torch")):
        fn = getattr(keras.applications, module).preprocess_input
        modes[mode] = {
            "channels_last": fn(x.copy()).tolist(),
            "channels_first": fn(np.transpose(x, (0, 3, 1, 2)).copy(), data_format="channels_first").tolist(),
            "single_image": fn(x[0].copy()).tolist(),
            "uint8": fn(x.astype("uint8")).tolist(),
        }
    return modes


def write_weights(case_id: str, path: str) -> None:
    """The case's real Keras 3 weights file at `path`; its predictions on the case's images to stdout."""
    case = next(c for c in cases.FORWARD_CASES + cases.TRAIN_CASES if c["id"] == case_id)
    model = seeded_model_and_file(case, path)
    print(json.dumps(np.asarray(model(cases.images(case), training=False)).tolist()))


def main() -> None:
    record = {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "recorded": datetime.date.today().isoformat(),
        "tables": [table(c) for c in cases.TABLE_CASES],
        "forward": [forward(c) for c in cases.FORWARD_CASES],
        "train": [train(c) for c in cases.TRAIN_CASES],
        "preprocess": preprocess(),
    }
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(json.dumps(record).encode("utf-8"))
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--write-weights":
        write_weights(sys.argv[2], sys.argv[3])
    else:
        main()
