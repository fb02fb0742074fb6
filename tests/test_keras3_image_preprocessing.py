"""The image preprocessing and augmentation layers and keras.ops.image, replayed against numbers
recorded from the real Keras 3 (JAX) by tests/reference/record_keras3_image_preprocessing.py.

Ops: resize (every interpolation, antialias, crop/pad to the aspect ratio, both data formats,
uint8 images), affine_transform and map_coordinates (every fill mode and interpolation): outputs
and the gradients for the images. Layers: built from their Keras 3 configs, then called (the
deterministic layers; random layers with factors that fix the transformation; training=False) or
given a transformation through Keras 3's public `transform_images`. Normalization: given
statistics and `adapt` (arrays, tensors, batches, a PyDataset; images and tabular data). A small
classifier with augmentation in front trains to Keras 3's history; a Keras 3 `.keras` file with
every layer loads and predicts Keras 3's numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend, layers, ops
from gpukeras.layers.preprocessing.image_layer import rotation_matrix

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = json.loads((FIXTURES / "keras3_image_preprocessing.json").read_text())
RTOL, ATOL = 1e-5, 2e-6
DEVICE_ATOL = 1e-5  # CuPy sums in other orders than Keras's recorded CPU run


def _atol() -> float:
    return ATOL if backend.backend() == "numpy" else DEVICE_ATOL


def _data(name: str) -> np.ndarray:
    if name.endswith("_cf"):
        x = _data(name[:-3])
        return np.transpose(x, (0, 3, 1, 2)) if x.ndim == 4 else np.transpose(x, (2, 0, 1))
    return np.asarray(FIXTURE["data"][name], dtype=FIXTURE["data_dtypes"][name])


def _close(got, expected, what: str, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(ops.convert_to_numpy(got), dtype="float64"),
                               np.asarray(expected, dtype="float64"), rtol=rtol, atol=_atol(), err_msg=what)


def _close_integers(got, expected, what: str) -> None:
    """Integer images: equal, except a value whose float result lay within float32 rounding of a .5 tie
    may round the other way (JAX and our GEMMs sum in other orders): at most 1 apart, rarely."""
    got = np.asarray(ops.convert_to_numpy(got), dtype="int64")
    expected = np.asarray(expected, dtype="int64")
    diff = np.abs(got - expected)
    assert diff.max(initial=0) <= 1 and np.count_nonzero(diff) <= max(2, diff.size // 50), f"{what}: {diff.max()}"


def _decode(value):
    if isinstance(value, dict):
        return np.asarray(value["value"], dtype=value["dtype"])
    return value


def _case_id(case: dict) -> str:
    args = case.get("args") or case.get("config", {})
    keys = ("interpolation", "fill_mode", "size", "antialias", "data_format", "order", "mode", "crop_to_aspect_ratio",
            "pad_to_aspect_ratio")
    bits = [str(args[k]) for k in keys if k in args and args[k] not in (False, None, "channels_last")]
    name = case.get("op") or case.get("class_name")
    return "-".join([name, case["input"], case.get("action", ""), *bits]).replace(" ", "")


def _ids(cases: list[dict]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for case in cases:
        base = _case_id(case)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out


# --------------------------------------------------------------------------- ops
def _op(case: dict):
    args = dict(case["args"])
    if case["op"] == "resize":
        size = tuple(args.pop("size"))
        return lambda x: ops.image.resize(x, size, **args)
    if case["op"] == "affine_transform":
        transform = np.float32(args.pop("transform"))
        return lambda x: ops.image.affine_transform(x, transform, **args)
    coordinates = _data(args.pop("coordinates"))
    return lambda x: ops.image.map_coordinates(x, coordinates, **args)


@pytest.mark.parametrize("case", FIXTURE["ops"], ids=_ids(FIXTURE["ops"]))
def test_image_op_matches_keras3(case):
    fn, x = _op(case), _data(case["input"])
    if "grad" not in case:
        out = fn(x)
        assert out.dtype == str(x.dtype), f"{case['op']}: dtype {out.dtype} for {x.dtype} images"
        _close_integers(out, case["output"], "output")
        return
    v = keras.Variable(x, name="x")
    w = np.random.RandomState(7).standard_normal(np.shape(case["output"])).astype("float32")
    with keras.GradientTape() as tape:
        out = fn(v)
        loss = ops.sum(out * w)
    _close(out, case["output"], "output")
    _close(tape.gradient(loss, [v])[0], case["grad"], "gradient for the images")


def test_uint8_images_keep_their_dtype_like_keras3():
    for case in FIXTURE["ops"]:
        if case["input"] == "images_u8":
            out = _op(case)(_data("images_u8"))
            assert out.dtype == "uint8", case["args"]
            _close_integers(out, case["output"], f"uint8 {case['op']}")


# --------------------------------------------------------------------------- layers
def _layer(case: dict):
    return getattr(layers, case["class_name"]).from_config(case["config"])


@pytest.mark.parametrize("case", FIXTURE["layers"], ids=_ids(FIXTURE["layers"]))
def test_layer_matches_keras3(case):
    layer, x = _layer(case), _data(case["input"])
    if case["action"] == "call":
        out = layer(x, training=True)
    elif case["action"] == "call_eval":
        out = layer(x, training=False)
    else:
        raw = case["transformation"]
        transformation = tuple(raw) if isinstance(raw, list) else {k: _decode(v) for k, v in raw.items()}
        images = ops.convert_to_tensor(x)
        if x.ndim == 3:
            out = layer.transform_single_image(images, transformation)
        else:
            out = layer.transform_images(images, transformation)
    if case["output_dtype"] == "uint8":
        _close_integers(out, case["output"], f"{case['class_name']} output")
    else:
        _close(out, case["output"], f"{case['class_name']} output")
    assert out.dtype == case["output_dtype"], f"dtype {out.dtype}, Keras 3 gives {case['output_dtype']}"
    if "extra" in case:  # our rotation matrix for the same angles, then the rotation with it
        extra = {k: _decode(v) for k, v in case["extra"].items()}
        matrix = rotation_matrix(ops.convert_to_tensor(extra["angle"]), x.shape[1], x.shape[2])
        _close(matrix, case["transformation"]["rotation_matrix"]["value"], "rotation matrix", rtol=1e-5)
        _close(layer.transform_images(ops.convert_to_tensor(x), {"rotation_matrix": matrix}), case["output"],
               "rotation with our matrix")


@pytest.mark.parametrize("case", FIXTURE["layers"], ids=_ids(FIXTURE["layers"]))
def test_layer_config_round_trips_keras3_config(case):
    layer = _layer(case)
    config = layer.get_config()
    for key, value in case["config"].items():
        if key in ("name", "dtype"):
            continue
        assert key in config, f"{case['class_name']}: Keras 3's config key {key!r} missing"
        got = config[key]
        if isinstance(value, dict) and value.get("class_name") == "__numpy__":
            value = value["config"]["value"]
            got = got["config"]["value"]
        assert json.loads(json.dumps(got)) == value, f"{case['class_name']}.{key}: {got!r} != Keras 3's {value!r}"
    assert set(config) - set(case["config"]) <= {"batch_input_shape"}, set(config) - set(case["config"])
    again = type(layer).from_config(config)
    assert again.get_config() == config


def test_random_crop_at_inference_is_keras_smart_resize():
    """Keras documents (and tf.keras did) a centred crop at the target aspect ratio, resized, at
    inference; that is keras.preprocessing.image.smart_resize's output."""
    for case in FIXTURE["smart_resize"]:
        height, width = case["size"]
        out = layers.RandomCrop(height, width)(_data(case["input"]), training=False)
        _close(out, case["output"], f"RandomCrop({height}, {width}) at inference")


# --------------------------------------------------------------------------- Normalization
class _XYDataset(keras.utils.PyDataset):
    def __init__(self, x: np.ndarray, batch: int):
        super().__init__()
        self.x, self.batch = x, batch

    def __len__(self) -> int:
        return (len(self.x) + self.batch - 1) // self.batch

    def __getitem__(self, i: int):
        xb = self.x[i * self.batch:(i + 1) * self.batch]
        return xb, np.zeros((len(xb), 1), "float32")


@pytest.mark.parametrize("case", FIXTURE["normalization"], ids=[c["name"] for c in FIXTURE["normalization"]])
def test_normalization_matches_keras3(case):
    kwargs = dict(case["kwargs"])
    if isinstance(kwargs.get("axis"), list):
        kwargs["axis"] = tuple(kwargs["axis"])
    layer = layers.Normalization(**kwargs)
    if case["adapt"]:
        kind, name = case["adapt"][:2]
        data = _data(name)
        if kind == "array":
            layer.adapt(data)
        elif kind == "tensor":
            layer.adapt(ops.convert_to_tensor(data))
        elif kind == "batches":
            size = case["adapt"][2]
            layer.adapt(data[i:i + size] for i in range(0, len(data), size))
        else:
            layer.adapt(_XYDataset(data, case["adapt"][2]))
        weights = layer.get_weights()
        assert [str(w.dtype) for w in weights] == case["weight_dtypes"]
        assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
        for got, expected in zip(weights, case["weights"]):
            _close(got, expected, "adapted weights")
    out = layer(_data(case["input"]))
    _close(out, case["output"], "output")
    config = layer.get_config()
    for key in ("axis", "invert", "mean", "variance"):
        assert json.loads(json.dumps(config[key])) == case["config"][key], key


# --------------------------------------------------------------------------- training and a saved model
def test_classifier_with_augmentation_trains_like_keras3():
    entry = FIXTURE["training"]
    x, y = np.float32(entry["x"]), np.int32(entry["y"])
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Rescaling(1 / 255.0),
        layers.RandomRotation((0.05, 0.05), fill_mode="constant"),
        layers.RandomZoom((0.1, 0.1)),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.set_weights([np.float32(w) for w in entry["initial_weights"]])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    for key, values in entry["history"].items():
        _close(history.history[key], values, f"history {key}", rtol=1e-4)
    for got, expected in zip(model.get_weights(), entry["final_weights"]):
        _close(got, expected, "final weights", rtol=1e-4)
    _close(model.predict(x, verbose=0), entry["predictions"], "predictions (no augmentation)", rtol=1e-4)


def test_keras3_saved_model_loads_and_predicts():
    entry = FIXTURE["saved"]
    model = keras.saving.load_model(FIXTURES / "keras3_image_preprocessing.keras")
    for got, expected in zip(model.get_weights(), entry["weights"]):
        _close(got, expected, "loaded weights")
    assert [type(layer).__name__ for layer in model.layers][:3] == ["Rescaling", "Normalization", "Resizing"]
    _close(model.predict(_data(entry["input"]), verbose=0), entry["predictions"], "predictions")
