"""gpukeras.applications against Keras 3 (JAX), from tests/fixtures/keras3_applications.json.gz.

tests/reference/record_keras3_applications.py built the cases of tests/keras3_application_cases.py with
Keras 3. Here, with gpukeras:

* every TABLE case (each application, with and without its top, other sizes, pooling, classes, alpha...):
  model name, trainable and non-trainable parameter counts, inputs, outputs and the layer table (name,
  class, output shape, in order); MobileNetV3's `x + 3` and `x * (1/6)` graph operations and their config;
* every FORWARD case (MobileNetV3Small, EfficientNetB0, MobileNetV2): Keras 3's weights file is rebuilt
  from the seeds (every dataset's SHA-256 checked against the file Keras wrote), loaded with `weights=PATH`,
  and the predictions and pooled features equal Keras 3's; the same from the tf.keras 2 `.h5` layout of
  Keras's ImageNet files; our own `save_weights` writes Keras's datasets;
* the TRAIN case: three SGD steps from the same file: losses, variables, predictions;
* with KERAS3_PYTHON set (a Python with Keras 3 and JAX), the weights files Keras 3 itself writes for the
  FORWARD cases load here and predict what Keras 3 predicted;
* `preprocess_input` of each mode ("caffe", "tf", "torch"; both data formats, one image, integers);
* the bad arguments, refused before anything is built or downloaded, and the errors without a network.

Building the big models (ResNet152, VGG16) only allocates weights, so the table cases run under the first
backend only; forward and training cases run on every backend.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import urllib.error
from pathlib import Path

import h5py
import keras3_application_cases as C
import numpy as np
import pytest

import gpukeras as keras
from gpukeras import applications, backend, ops
from gpukeras.datasets import cache

FIXTURE = json.loads(gzip.decompress((Path(__file__).parent / "fixtures" / "keras3_applications.json.gz")
                                     .read_bytes()))
TABLES = {t["id"]: t for t in FIXTURE["tables"]}
FORWARD = {r["id"]: r for r in FIXTURE["forward"]}
TRAIN = {r["id"]: r for r in FIXTURE["train"]}
RTOL, ATOL = 1e-5, 1e-6
DEVICE_ATOL = 1e-5  # CuPy kernels sum in another order than NumPy (see tests/test_keras3_reference.py)


def _atol() -> float:
    return ATOL if backend.backend() == "numpy" else DEVICE_ATOL


def _close(got, expected, what: str, rtol: float = RTOL, atol: float | None = None) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=rtol, atol=_atol() if atol is None else atol, err_msg=what)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _build(case: dict, weights=None):
    """The case's application, built as the recorder built it (`input_tensor` given as data)."""
    return C.build(keras, case, weights)


def _shape(tensor) -> list:
    return [None if d is None else int(d) for d in tensor.shape]


def _count(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def _layer_outputs(model) -> dict:
    """id(layer) -> the KerasTensor(s) its call in the model's graph made (gpukeras layers do not keep
    their nodes: Keras's `layer.output` is read from the model's own graph)."""
    return {id(node.layer): node.outputs for node in model._nodes}


# --------------------------------------------------------------------------- layer tables
@pytest.mark.any_backend
@pytest.mark.parametrize("case", C.TABLE_CASES, ids=[c["id"] for c in C.TABLE_CASES])
def test_layer_table_and_parameter_counts_equal_keras3(case) -> None:
    expected = TABLES[case["id"]]
    model = _build(case)
    assert model.name == expected["name"]
    assert (_count(model.trainable_weights), _count(model.non_trainable_weights)) == \
        (expected["trainable_params"], expected["non_trainable_params"])
    assert [_shape(t) for t in model.inputs] == expected["inputs"]
    assert [_shape(t) for t in model.outputs] == expected["outputs"]
    outputs = _layer_outputs(model)
    table = [[layer.name, type(layer).__name__, _shape(outputs[id(layer)])] for layer in model.operations]
    # Keras 3 lists its graph operations (MobileNetV3's `x + 3`, `x * (1/6)`) in `operations` only
    assert table == expected.get("operations", expected["layers"])
    assert [row for row in table if row[0] in {layer.name for layer in model.layers}] == expected["layers"]
    assert not any(isinstance(layer, keras.layers.operation.Operation) for layer in model.layers)
    if "operation_configs" in expected:
        ours = [c for c in model.get_config()["layers"] if c["module"] == "keras.src.ops.numpy"][:2]
        assert json.loads(json.dumps(ours)) == expected["operation_configs"]


# --------------------------------------------------------------------------- Keras 3's weights files
def _seeded(entry: dict) -> np.ndarray:
    """A dataset of Keras's file rebuilt from the seeds, checked against the SHA-256 Keras wrote."""
    values = C.variable_values(entry["variable"], entry["shape"], entry["dtype"], entry["kind"])
    assert _digest(values) == entry["sha256"], f"{entry['variable']}: seeded values differ from Keras 3's file"
    return values


def _write_keras_file(layout: dict, path: Path) -> Path:
    """Keras 3's `.weights.h5` file (groups and datasets at the paths Keras wrote them)."""
    with h5py.File(path, "w") as f:
        for group in layout["groups"]:
            f.require_group(group)
        for entry in layout["datasets"]:
            f.create_dataset(entry["path"], data=_seeded(entry))
    return path


def _write_legacy_file(layout: dict, path: Path) -> Path:
    """The same weights in tf.keras 2's weights-only `.h5` layout (that of Keras's ImageNet files)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([g["name"].encode("utf-8") for g in layout["groups"]])
        for group in layout["groups"]:
            g = f.create_group(group["name"])
            g.attrs["weight_names"] = np.array([w["name"].encode("utf-8") for w in group["weights"]])
            for entry in group["weights"]:
                g.create_dataset(entry["name"], data=_seeded(entry))
        for name in layout["extra_groups"]:
            f.create_group(name)
    return path


def _h5_datasets(path: Path) -> dict[str, str]:
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, _digest(obj[()])) if isinstance(obj, h5py.Dataset)
                     else None)
    return found


def _check_predictions(got, expected: list, softmax: bool, what: str) -> None:
    """Predictions equal Keras 3's: softmax outputs (all near 1/1000 for seeded weights) are compared as log
    probabilities, so a difference in the logits shows."""
    got, expected = ops.convert_to_numpy(got), np.asarray(expected)
    if softmax:
        _close(np.log(got), np.log(expected), what, rtol=0, atol=1e-4)
    else:
        _close(got, expected, what, rtol=1e-4, atol=1e-4)


def _check_features(model, x, expected: dict, what: str) -> None:
    layer = model.get_layer(expected["layer"])
    features = keras.Model(model.inputs, _layer_outputs(model)[id(layer)])(ops.convert_to_tensor(x), training=False)
    scale = max(1.0, float(np.abs(np.asarray(expected["values"])).max()))  # float32 noise grows with it
    _close(ops.convert_to_numpy(features), expected["values"], f"{what}: {layer.name}", rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("case", C.FORWARD_CASES, ids=[c["id"] for c in C.FORWARD_CASES])
def test_predictions_from_keras3_weights_file_equal_keras3(case, tmp_path) -> None:
    expected = FORWARD[case["id"]]
    softmax = case["kwargs"].get("classifier_activation", "softmax") == "softmax"
    x = C.images(case)
    path = _write_keras_file(expected["layout"], tmp_path / "model.weights.h5")
    model = _build(case, weights=str(path))
    _check_predictions(model(ops.convert_to_tensor(x), training=False), expected["predictions"], softmax,
                       f"{case['id']}: predictions")
    _check_features(model, x, expected["features"], case["id"])
    # our own file holds Keras 3's datasets, at Keras 3's paths
    model.save_weights(tmp_path / "ours.weights.h5")
    keras_datasets = {e["path"]: e["sha256"] for e in expected["layout"]["datasets"]}
    assert _h5_datasets(tmp_path / "ours.weights.h5") == keras_datasets
    # Keras's ImageNet files are tf.keras 2 `.h5` weight files: the same weights in that layout load too
    legacy = _write_legacy_file(expected["legacy_layout"], tmp_path / "model.h5")
    backend.clear_session()
    model = _build(case, weights=str(legacy))
    _check_predictions(model.predict(x, verbose=0), expected["predictions"], softmax, f"{case['id']}: from .h5")


@pytest.mark.any_backend
@pytest.mark.skipif(not os.environ.get("KERAS3_PYTHON"), reason="set KERAS3_PYTHON to a Python with keras 3 + jax")
@pytest.mark.parametrize("case", C.FORWARD_CASES, ids=[c["id"] for c in C.FORWARD_CASES])
def test_weights_files_keras3_writes_load_and_predict_the_same(case, tmp_path) -> None:
    path = tmp_path / "keras3.weights.h5"
    recorder = Path(__file__).parent / "reference" / "record_keras3_applications.py"
    result = subprocess.run([os.environ["KERAS3_PYTHON"], str(recorder), "--write-weights", case["id"], str(path)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-3000:]
    keras3_predictions = json.loads(result.stdout.strip().splitlines()[-1])
    model = _build(case, weights=str(path))
    softmax = case["kwargs"].get("classifier_activation", "softmax") == "softmax"
    _check_predictions(model.predict(C.images(case), verbose=0), keras3_predictions, softmax, case["id"])


def test_sgd_steps_from_keras3_weights_file_equal_keras3(tmp_path) -> None:
    (case,) = C.TRAIN_CASES
    expected = TRAIN[case["id"]]
    path = _write_keras_file(expected["layout"], tmp_path / "model.weights.h5")
    model = _build(case)
    model.load_weights(path)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=case["learning_rate"]),
                  loss="sparse_categorical_crossentropy")
    x, y = C.images(case), C.labels(case)
    losses = [float(model.train_on_batch(x, y)) for _ in range(case["steps"])]
    _close(losses, expected["losses"], "losses", rtol=1e-4, atol=1e-5)
    weights = {v.path: ops.convert_to_numpy(v) for v in model.weights}
    assert sorted(weights) == sorted(expected["checksums"])
    for key, values in expected["variables"].items():
        _close(weights[key], values, key, rtol=1e-3, atol=2e-5)
    for key, (total, magnitude) in expected["checksums"].items():
        ours = weights[key].astype("float64")
        _close([ours.sum(), np.abs(ours).sum()], [total, magnitude], f"checksum of {key}", rtol=1e-4,
               atol=1e-4 * max(1.0, ours.size ** 0.5))
    _check_predictions(model(ops.convert_to_tensor(x), training=False), expected["predictions"], True,
                       "predictions after training")


# --------------------------------------------------------------------------- preprocess_input
PREPROCESS_MODULES = {"caffe": applications.resnet, "tf": applications.resnet_v2, "torch": applications.densenet}


@pytest.mark.any_backend
@pytest.mark.parametrize("mode", sorted(PREPROCESS_MODULES))
def test_preprocess_input_on_arrays_equals_keras3(mode) -> None:
    fn = PREPROCESS_MODULES[mode].preprocess_input
    expected = FIXTURE["preprocess"][mode]
    x = C.preprocess_images()
    kept = x.copy()
    out = fn(x)
    _close(out, expected["channels_last"], f"{mode}: channels_last", atol=1e-5)
    assert out is x or np.shares_memory(out, x)  # float arrays are changed in place, as in Keras 3
    _close(fn(np.transpose(kept, (0, 3, 1, 2)).copy(), data_format="channels_first"), expected["channels_first"],
           f"{mode}: channels_first", atol=1e-5)
    _close(fn(kept[0].copy()), expected["single_image"], f"{mode}: one image", atol=1e-5)
    integers = fn(kept.astype("uint8"))
    assert integers.dtype == np.float32
    _close(integers, expected["uint8"], f"{mode}: uint8", atol=1e-5)


@pytest.mark.parametrize("mode", sorted(PREPROCESS_MODULES))
def test_preprocess_input_on_tensors_equals_keras3(mode) -> None:
    fn = PREPROCESS_MODULES[mode].preprocess_input
    expected = FIXTURE["preprocess"][mode]
    x = C.preprocess_images()
    out = fn(ops.convert_to_tensor(x))
    assert isinstance(out, keras.Tensor)
    _close(ops.convert_to_numpy(out), expected["channels_last"], f"{mode}: tensor", atol=1e-5)
    first = fn(ops.convert_to_tensor(np.transpose(x, (0, 3, 1, 2)).copy()), data_format="channels_first")
    _close(ops.convert_to_numpy(first), expected["channels_first"], f"{mode}: channels_first tensor", atol=1e-5)
    single = fn(ops.convert_to_tensor(x[0]))
    _close(ops.convert_to_numpy(single), expected["single_image"], f"{mode}: one image tensor", atol=1e-5)


@pytest.mark.any_backend
def test_models_that_rescale_inside_pass_preprocess_input_through() -> None:
    x = C.preprocess_images()
    for module in (applications.mobilenet_v3, applications.efficientnet):
        assert module.preprocess_input(x) is x


@pytest.mark.any_backend
def test_preprocess_input_refuses_bad_arguments() -> None:
    x = C.preprocess_images()
    with pytest.raises(ValueError, match="mode"):
        applications.imagenet_utils.preprocess_input(x, mode="keras")
    with pytest.raises(ValueError, match="data_format"):
        applications.resnet.preprocess_input(x, data_format="NHWC")
    with pytest.raises(ValueError, match="symbolic"):
        applications.resnet.preprocess_input(keras.Input(shape=(8, 8, 3)))


# --------------------------------------------------------------------------- the package's names
@pytest.mark.any_backend
def test_keras3_names_of_keras_applications() -> None:
    assert keras.applications is applications
    modules = {"resnet": ["ResNet50", "ResNet101", "ResNet152"], "resnet50": ["ResNet50"],
               "resnet_v2": ["ResNet50V2", "ResNet101V2", "ResNet152V2"], "mobilenet_v2": ["MobileNetV2"],
               "mobilenet_v3": ["MobileNetV3Small", "MobileNetV3Large"],
               "efficientnet": ["EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3"],
               "vgg16": ["VGG16"], "densenet": ["DenseNet121"]}
    for module_name, models in modules.items():
        module = getattr(keras.applications, module_name)
        for name in models:
            assert getattr(module, name) is getattr(keras.applications, name), f"{module_name}.{name}"
        assert callable(module.preprocess_input) and callable(module.decode_predictions), module_name
    assert callable(keras.applications.imagenet_utils.preprocess_input)
    assert keras.applications.resnet50.preprocess_input is keras.applications.resnet.preprocess_input


# --------------------------------------------------------------------------- bad arguments, no network
@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty gpukeras and Keras cache, and no network: every download fails as it would offline."""
    monkeypatch.setenv("GPUKERAS_HOME", str(tmp_path / "gpukeras_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    attempts = []

    def no_network(url, destination):
        attempts.append(url)
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(cache, "_download", no_network)
    monkeypatch.setattr(applications.imagenet_utils, "_class_index", None)  # nothing read in this process
    return attempts


@pytest.mark.any_backend
@pytest.mark.parametrize("fn, kwargs, file_name", [
    ("ResNet50", {}, "resnet50_weights_tf_dim_ordering_tf_kernels.h5"),
    ("MobileNetV3Small", {"input_shape": (224, 224, 3)}, "weights_mobilenet_v3_small_224_1.0_float.h5"),
    ("EfficientNetB0", {}, "efficientnetb0.h5"),
    ("DenseNet121", {}, "densenet121_weights_tf_dim_ordering_tf_kernels.h5"),
])
def test_imagenet_weights_without_network_name_the_file_to_fetch(offline, fn, kwargs, file_name) -> None:
    with pytest.raises(cache.DownloadError) as error:
        getattr(applications, fn)(**kwargs)
    message = str(error.value)
    destination = os.path.join(os.environ["GPUKERAS_HOME"], "models", file_name)
    assert file_name in message and destination in message and offline[0] in message
    assert offline[0].endswith("/" + file_name)
    assert os.listdir(os.path.dirname(destination)) == []  # nothing half-written left behind


@pytest.mark.any_backend
def test_imagenet_weights_without_top_name_the_notop_file(offline) -> None:
    with pytest.raises(cache.DownloadError, match="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        applications.ResNet50(include_top=False)
    with pytest.raises(cache.DownloadError, match="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top"):
        applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), include_top=False)


BAD_ARGUMENTS = [
    ("imagenet top with 10 classes", "ResNet50", {"weights": "imagenet", "classes": 10}, "classes=10"),
    ("imagenet top with 10 classes", "MobileNetV3Small", {"weights": "imagenet", "classes": 10}, "classes=10"),
    ("imagenet top at another size", "VGG16", {"weights": "imagenet", "input_shape": (64, 64, 3)}, "224, 224, 3"),
    ("imagenet on one channel", "ResNet50", {"weights": "imagenet", "include_top": False,
                                              "input_shape": (64, 64, 1)}, "3 \\(RGB\\) channels"),
    ("too small", "ResNet50", {"include_top": False, "input_shape": (20, 20, 3)}, "at least 32x32"),
    ("too small", "MobileNetV3Large", {"input_shape": (16, 64, 3)}, "at least 32x32"),
    ("two dimensions", "DenseNet121", {"input_shape": (64, 64)}, "three"),
    ("not a tuple", "EfficientNetB0", {"input_shape": 64}, "input_shape"),
    ("negative size", "MobileNetV2", {"input_shape": (64, -64, 3)}, "positive"),
    ("top without sizes", "ResNet50V2", {"input_shape": (None, None, 3)}, "fixed image sizes"),
    ("unknown pooling", "ResNet50", {"include_top": False, "pooling": "mean"}, "pooling"),
    ("unknown pooling", "MobileNetV3Small", {"include_top": False, "pooling": "Max"}, "pooling"),
    ("classes 0", "EfficientNetB1", {"classes": 0}, "classes"),
    ("missing file", "VGG16", {"weights": "no/such/file.weights.h5"}, "no such file"),
    ("not a path", "ResNet101", {"weights": 3}, "weights"),
    ("relu top on pretrained weights", "DenseNet121", {"weights": "imagenet", "classifier_activation": "relu"},
     "classifier_activation"),
    ("alpha without imagenet weights", "MobileNetV2", {"weights": "imagenet", "alpha": 0.6}, "alpha"),
    ("alpha without imagenet weights", "MobileNetV3Small", {"weights": "imagenet", "alpha": 0.5}, "alpha"),
    ("alpha 0", "MobileNetV2", {"alpha": 0}, "alpha"),
    ("dropout rate 2", "MobileNetV3Small", {"dropout_rate": 2}, "dropout_rate"),
    ("input_tensor not symbolic", "ResNet50", {"input_tensor": np.zeros((1, 64, 64, 3))}, "KerasTensor"),
    ("input_tensor and input_shape disagree", "MobileNetV2",
     {"input_tensor": "Input(64, 64, 3)", "input_shape": (64, 48, 3), "include_top": False}, "width"),
]


@pytest.mark.any_backend
@pytest.mark.parametrize("what, fn, kwargs, match", BAD_ARGUMENTS, ids=[f"{b[1]}-{b[0]}" for b in BAD_ARGUMENTS])
def test_bad_arguments_are_refused_before_anything_is_built_or_downloaded(offline, what, fn, kwargs, match) -> None:
    kwargs = {"weights": None, **kwargs}
    if isinstance(kwargs.get("input_tensor"), str):  # made here, after the session is cleared
        kwargs["input_tensor"] = keras.Input(shape=(64, 64, 3))
    backend.clear_session()
    with pytest.raises(ValueError, match=match):
        getattr(applications, fn)(**kwargs)
    assert offline == []  # refused before any download
    assert keras.layers.Dense(1).name == "dense"  # and before any layer was made


@pytest.mark.any_backend
def test_classifier_activation_is_free_without_pretrained_weights() -> None:
    model = applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=3,
                                          classifier_activation="sigmoid")
    assert model.get_layer("predictions").get_config()["activation"] == "sigmoid"


# --------------------------------------------------------------------------- decode_predictions
def _class_index_file(path: Path) -> Path:
    path.write_text(json.dumps({str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}))
    return path


@pytest.mark.any_backend
def test_decode_predictions_from_a_local_class_index(tmp_path) -> None:
    preds = np.full((2, 1000), 1e-4, dtype="float32")
    preds[0, [7, 3, 999]] = [0.5, 0.3, 0.1]
    preds[1, 42] = 0.9
    decoded = applications.resnet.decode_predictions(preds, top=3, class_index=_class_index_file(tmp_path / "i.json"))
    assert [(wnid, name) for wnid, name, _ in decoded[0]] == [("n00000007", "class_7"), ("n00000003", "class_3"),
                                                              ("n00000999", "class_999")]
    assert [score for _, _, score in decoded[0]] == pytest.approx([0.5, 0.3, 0.1])
    assert decoded[1][0][:2] == ("n00000042", "class_42") and len(decoded[1]) == 3
    tensor = applications.imagenet_utils.decode_predictions(ops.convert_to_tensor(preds), top=1,
                                                            class_index=tmp_path / "i.json")
    assert [row[0][1] for row in tensor] == ["class_7", "class_42"]


@pytest.mark.any_backend
def test_decode_predictions_refuses_bad_input(offline, tmp_path) -> None:
    with pytest.raises(ValueError, match=r"\(samples, 1000\).*\(2, 10\)"):
        applications.resnet.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="top"):
        applications.resnet.decode_predictions(np.zeros((2, 1000)), top=0, class_index=tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"0": ["n0", "tench"]}))
    with pytest.raises(ValueError, match="class index"):
        applications.resnet.decode_predictions(np.zeros((1, 1000)), class_index=bad)
    with pytest.raises(cache.DownloadError) as error:  # no network, nothing cached
        applications.vgg16.decode_predictions(np.zeros((1, 1000)))
    destination = os.path.join(os.environ["GPUKERAS_HOME"], "models", "imagenet_class_index.json")
    assert "imagenet_class_index.json" in str(error.value) and destination in str(error.value)
