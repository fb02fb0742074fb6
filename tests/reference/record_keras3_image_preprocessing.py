"""Record Keras 3's numbers for the image preprocessing and augmentation layers (JAX backend, CPU).

gpukeras' tests/test_keras3_image_preprocessing.py replays everything written here with
``import gpukeras as keras``.

Ops (``ops``): ``keras.ops.image.resize`` (every interpolation, antialias, crop/pad to the aspect
ratio, both data formats, unbatched and uint8 images), ``affine_transform`` (every fill mode and
interpolation, both data formats) and ``map_coordinates`` (every fill mode, orders 0 and 1), with
the gradient of ``sum(output * W)`` for the images (``jax.grad``; ``W`` from RandomState(7)).

Layers (``layers``): each case builds the layer from its Keras 3 config and either calls it
(``call``: the deterministic layers, the random ones with factors that fix the transformation, and
``training=False``) or applies a given transformation with Keras 3's public
``transform_images(images, transformation)`` (per-image angles, zooms, shifts, flips, contrast
factors, brightness deltas, crop windows). Stored: config, input name, what was done, output.

Normalization (``normalization``): given statistics and ``adapt`` on arrays, tensors, batches from a
generator and a PyDataset of ``(x, y)``, images and tabular data; the adapted weights and outputs.

Training (``training``): a small classifier with Rescaling, RandomRotation and RandomZoom (fixed
factors) in front, weights set from RandomState, ``fit(shuffle=False)``; history, weights, predictions.

Saved (``saved``): ``tests/fixtures/keras3_image_preprocessing.keras`` (re-zipped with deflate), a
model with an adapted Normalization and the preprocessing and augmentation layers; its predictions.

How to run (from the repository root, with a side venv that has Keras 3 and JAX)::

    python3 -m venv /tmp/k3venv && /tmp/k3venv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_image_preprocessing.py

Output: ``tests/fixtures/keras3_image_preprocessing.json`` and ``.keras``.
"""

import datetime
import json
import os
import sys
import zipfile

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_PATH = os.path.join(ROOT, "fixtures", "keras3_image_preprocessing.json")
MODEL_PATH = os.path.join(ROOT, "fixtures", "keras3_image_preprocessing.keras")
FILL_MODES = ["constant", "nearest", "wrap", "mirror", "reflect"]
LAYER_FILL_MODES = ["reflect", "wrap", "constant", "nearest"]


def tolist(a):
    a = np.asarray(a)
    if a.dtype == bool:
        return a.tolist()
    if a.dtype.kind in "iu":
        return a.astype(np.int64).tolist()
    a = a.astype(np.float32)
    return np.array([float(str(v)) for v in a.ravel()]).reshape(a.shape).tolist()  # shortest float32 text


def encode(value):
    """A transformation value for the fixture: arrays with their dtype, numbers as they are."""
    if isinstance(value, (int, float)):
        return value
    a = np.asarray(value)
    return {"value": tolist(a), "dtype": str(a.dtype)}


def make_data():
    rs = np.random.RandomState(1234)
    return {
        "images": rs.uniform(0, 1, (2, 6, 7, 3)).astype("float32"),
        "images_255": rs.uniform(0, 255, (3, 5, 6, 2)).astype("float32"),
        "images_u8": rs.randint(0, 256, (2, 6, 7, 3)).astype("uint8"),
        "image": rs.uniform(0, 1, (7, 5, 2)).astype("float32"),
        "volume": rs.uniform(0, 1, (4, 6, 5)).astype("float32"),
        "coords": rs.uniform(-3.0, 9.0, (3, 4, 5)).astype("float32"),
        "tabular": (rs.normal(3.0, 2.0, (20, 4)) * np.float32([1, 10, 0.1, 5])).astype("float32"),
        "tabular64": rs.normal(-1.0, 3.0, (15, 3)),
        "ints": rs.randint(0, 50, (10, 3)).astype("int64"),
        "small": rs.uniform(0, 1, (2, 3, 4, 2)).astype("float32"),
    }


def channels_first(x):
    return np.transpose(x, (0, 3, 1, 2)) if x.ndim == 4 else np.transpose(x, (2, 0, 1))


def input_of(d, name):
    if name.endswith("_cf"):
        return channels_first(d[name[:-3]])
    return d[name]


def output_weights(shape):
    return np.random.RandomState(7).standard_normal(shape).astype("float32")


def grad_of(fn, x):
    w = output_weights(np.shape(fn(x)))
    return np.asarray(jax.grad(lambda v: jnp.sum(fn(v) * w))(jnp.asarray(x)))


# ------------------------------------------------------------------------------ ops
AFFINE = np.float32([[0.9, -0.35, 1.3, 0.3, 1.15, -0.8, 0, 0],
                     [1.25, 0.2, -2.2, -0.15, 0.85, 1.7, 0, 0]])


def op_cases():
    cases = []
    for method in ["bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"]:  # antialias acts when shrinking
        for size, antialias in [((4, 5), False), ((4, 5), True), ((9, 11), False)]:
            cases.append(("resize", "images", {"size": size, "interpolation": method, "antialias": antialias}))
    cases.append(("resize", "images", {"size": (9, 11), "interpolation": "bicubic", "antialias": True}))
    cases += [
        ("resize", "images_cf", {"size": (3, 10), "interpolation": "bilinear", "data_format": "channels_first"}),
        ("resize", "images_cf", {"size": (8, 4), "interpolation": "bicubic", "antialias": True,
                                 "data_format": "channels_first"}),
        ("resize", "images", {"size": (4, 4), "crop_to_aspect_ratio": True}),
        ("resize", "images", {"size": (3, 8), "crop_to_aspect_ratio": True, "interpolation": "nearest"}),
        ("resize", "images_cf", {"size": (4, 4), "crop_to_aspect_ratio": True, "data_format": "channels_first"}),
        ("resize", "images", {"size": (5, 3), "pad_to_aspect_ratio": True, "fill_value": 0.5}),
        ("resize", "images", {"size": (4, 9), "pad_to_aspect_ratio": True, "fill_value": -1.0}),
        ("resize", "images_cf", {"size": (5, 3), "pad_to_aspect_ratio": True, "fill_value": 0.25,
                                 "data_format": "channels_first"}),
        ("resize", "image", {"size": (4, 3)}),
        ("resize", "images_u8", {"size": (4, 5)}),
        ("resize", "images_u8", {"size": (9, 8), "interpolation": "bicubic"}),
    ]
    for fill_mode in FILL_MODES:
        for interpolation in ["bilinear", "nearest"]:
            args = {"transform": AFFINE.tolist(), "interpolation": interpolation, "fill_mode": fill_mode,
                    "fill_value": 0.5}
            cases.append(("affine_transform", "images", args))
            cases.append(("affine_transform", "images_cf", {**args, "data_format": "channels_first"}))
    cases += [
        ("affine_transform", "image", {"transform": AFFINE[0].tolist(), "fill_mode": "reflect"}),
        ("affine_transform", "images_u8", {"transform": AFFINE.tolist(), "fill_mode": "nearest"}),
    ]
    for fill_mode in FILL_MODES:
        for order in [0, 1]:
            cases.append(("map_coordinates", "volume", {"coordinates": "coords", "order": order,
                                                         "fill_mode": fill_mode, "fill_value": 0.25}))
    return cases


def _wants_grad(op, args):
    """Gradients for the cases that differ in what flows back (the fixture stays small)."""
    if op == "resize":
        return tuple(args["size"]) != (4, 5) or args.get("antialias") or len(args) > 3
    if op == "affine_transform":
        return args.get("interpolation", "bilinear") == "bilinear"
    return args["order"] == 1


def run_op(d, op, input_name, args):
    x = input_of(d, input_name)
    kwargs = dict(args)
    if op == "resize":
        kwargs["size"] = tuple(kwargs["size"])

        def fn(v):
            return keras.ops.image.resize(v, **kwargs)
    elif op == "affine_transform":
        transform = np.float32(kwargs.pop("transform"))

        def fn(v):
            return keras.ops.image.affine_transform(v, transform, **kwargs)
    else:
        coords = d[kwargs.pop("coordinates")]

        def fn(v):
            return keras.ops.image.map_coordinates(v, coords, **kwargs)
    out = np.asarray(fn(x))
    record = {"op": op, "input": input_name, "args": args, "output": tolist(out)}
    if x.dtype.kind == "f" and _wants_grad(op, args):
        record["grad"] = tolist(grad_of(fn, x))
    return record


# ------------------------------------------------------------------------------ layers
def layer_cases(d):
    """(layer, input name, action): action "call" / "call_eval" / ("transform", transformation)."""
    cases = [
        (layers.Rescaling(1 / 255.0), "images_u8", "call"),
        (layers.Rescaling(scale=np.float32([0.5, 2.0, 1.5]), offset=np.float32([-1.0, 0.0, 1.0])), "images", "call"),
        (layers.Resizing(4, 5), "images", "call"),
        (layers.Resizing(9, 11, interpolation="bicubic", data_format="channels_first"), "images_cf", "call"),
        (layers.Resizing(5, 3, interpolation="nearest"), "images", "call"),
        (layers.Resizing(3, 4, interpolation="lanczos3", antialias=True), "images", "call"),
        (layers.Resizing(4, 4, crop_to_aspect_ratio=True), "images", "call"),
        (layers.Resizing(5, 3, pad_to_aspect_ratio=True, fill_value=0.5), "images", "call"),
        (layers.Resizing(5, 3, pad_to_aspect_ratio=True, data_format="channels_first"), "images_cf", "call"),
        (layers.Resizing(4, 5), "images_u8", "call"),
        (layers.Resizing(3, 3), "image", "call"),
        (layers.CenterCrop(4, 5), "images", "call"),
        (layers.CenterCrop(3, 4, data_format="channels_first"), "images_cf", "call"),
        (layers.CenterCrop(8, 9), "images", "call"),
        (layers.CenterCrop(4, 6), "small", "call"),
        (layers.CenterCrop(4, 3), "image", "call"),
        (layers.CenterCrop(4, 5), "images_u8", "call"),
    ]
    flips = {"flips": np.array([True, False]).reshape(2, 1, 1, 1)}
    for mode in ["horizontal", "vertical", "horizontal_and_vertical"]:
        cases.append((layers.RandomFlip(mode), "images", ("transform", flips)))
    cases += [
        (layers.RandomFlip("horizontal", data_format="channels_first"), "images_cf", ("transform", flips)),
        (layers.RandomFlip("vertical"), "images_u8", ("transform", flips)),
        (layers.RandomFlip(), "images", "call_eval"),
        (layers.RandomFlip(), "images_u8", "call_eval"),
    ]
    for fill_mode in LAYER_FILL_MODES:
        cases.append((layers.RandomRotation((0.1, 0.1), fill_mode=fill_mode, fill_value=0.3), "images", "call"))
    cases += [
        (layers.RandomRotation((-0.07, -0.07), interpolation="nearest", fill_mode="constant"), "images", "call"),
        (layers.RandomRotation((0.2, 0.2), interpolation="nearest", fill_mode="wrap"), "images", "call"),
        (layers.RandomRotation((0.15, 0.15), fill_mode="reflect", data_format="channels_first"), "images_cf", "call"),
        (layers.RandomRotation((0.15, 0.15), fill_mode="constant", interpolation="nearest",
                               data_format="channels_first"), "images_cf", "call"),
        (layers.RandomRotation((0.1, 0.1)), "image", "call"),
        (layers.RandomRotation(0.3), "images", "call_eval"),
    ]
    rotation = layers.RandomRotation(0.2, fill_mode="constant")
    angles = np.float32([23.5, -71.0])
    matrix = rotation._compute_affine_matrix(
        center_x=0.5, center_y=0.5, angle=jnp.asarray(angles), translate_x=jnp.zeros(2), translate_y=jnp.zeros(2),
        scale=jnp.ones(2), shear_x=jnp.zeros(2), shear_y=jnp.zeros(2), height=6, width=7)
    cases.append((rotation, "images", ("transform", {"rotation_matrix": np.asarray(matrix)}, {"angle": angles})))
    for fill_mode in LAYER_FILL_MODES:
        cases.append((layers.RandomZoom((0.3, 0.3), fill_mode=fill_mode, fill_value=0.7), "images", "call"))
    cases += [
        (layers.RandomZoom((-0.25, -0.25), (0.2, 0.2), interpolation="nearest"), "images", "call"),
        (layers.RandomZoom((0.4, 0.4), (-0.3, -0.3), fill_mode="constant", data_format="channels_first"),
         "images_cf", "call"),
        (layers.RandomZoom((-0.2, -0.2)), "image", "call"),
        (layers.RandomZoom(0.5), "images", "call_eval"),
        (layers.RandomZoom(0.3, 0.3, fill_mode="wrap"), "images",
         ("transform", {"height_zoom": np.float32([[1.2], [0.75]]), "width_zoom": np.float32([[0.9], [1.35]])})),
    ]
    for fill_mode in LAYER_FILL_MODES:
        cases.append((layers.RandomTranslation((0.2, 0.2), (-0.3, -0.3), fill_mode=fill_mode, fill_value=0.2),
                      "images", "call"))
    cases += [
        (layers.RandomTranslation((-0.35, -0.35), (0.15, 0.15), interpolation="nearest"), "images", "call"),
        (layers.RandomTranslation((0.25, 0.25), (0.25, 0.25), fill_mode="constant", data_format="channels_first"),
         "images_cf", "call"),
        (layers.RandomTranslation((0.1, 0.1), (0.2, 0.2)), "image", "call"),
        (layers.RandomTranslation(0.5, 0.5), "images", "call_eval"),
        (layers.RandomTranslation(0.5, 0.5, fill_mode="nearest"), "images",
         ("transform", {"translations": np.float32([[1.7, -2.25], [-3.5, 0.6]])})),
        (layers.RandomCrop(4, 5), "images", ("transform", (1, 2))),
        (layers.RandomCrop(3, 4, data_format="channels_first"), "images_cf", ("transform", (2, 0))),
        (layers.RandomCrop(5, 5), "small", "call"),
        (layers.RandomCrop(4, 3), "image", ("transform", (2, 1))),
        (layers.RandomContrast(0.5), "images_255",
         ("transform", {"contrast_factor": np.float32([1.3, 0.6, 1.9]).reshape(3, 1, 1, 1)})),
        (layers.RandomContrast((0.2, 0.9), value_range=(0, 1), data_format="channels_first"), "images_cf",
         ("transform", {"contrast_factor": np.float32([0.4, 1.7]).reshape(2, 1, 1, 1)})),
        (layers.RandomContrast(0.5), "images_255", "call_eval"),
        (layers.RandomBrightness((0.1, 0.1)), "images_255", "call"),
        (layers.RandomBrightness((-0.3, -0.3), value_range=(0, 1)), "images", "call"),
        (layers.RandomBrightness(0.4), "images_255",
         ("transform", {"rgb_delta": np.float32([30.0, -80.5, 120.0]).reshape(3, 1, 1, 1)})),
        (layers.RandomBrightness(0.4), "images_255", "call_eval"),
    ]
    return cases


def run_layer(d, layer, input_name, action):
    x = input_of(d, input_name)
    record = {"class_name": type(layer).__name__, "config": layer.get_config(), "input": input_name}
    if action == "call":
        out = layer(x, training=True)
        record["action"] = "call"
    elif action == "call_eval":
        out = layer(x, training=False)
        record["action"] = "call_eval"
    else:
        transformation = action[1]
        if len(x.shape) == 3:
            out = layer.transform_single_image(keras.ops.convert_to_tensor(x), transformation)
        else:
            out = layer.transform_images(keras.ops.convert_to_tensor(x), transformation)
        record["action"] = "transform"
        if isinstance(transformation, tuple):
            record["transformation"] = list(transformation)
        else:
            record["transformation"] = {k: encode(v) for k, v in transformation.items()}
        if len(action) > 2:
            record["extra"] = {k: encode(v) for k, v in action[2].items()}
    record["output"] = tolist(np.asarray(out))
    record["output_dtype"] = str(np.asarray(out).dtype)
    return record


def smart_resize_cases(d):
    return [{"input": "images", "size": [4, 5], "output": tolist(keras.preprocessing.image.smart_resize(
        d["images"], (4, 5)))},
            {"input": "small", "size": [5, 5], "output": tolist(keras.preprocessing.image.smart_resize(
                d["small"], (5, 5)))}]


# ------------------------------------------------------------------------------ Normalization
class XYDataset(keras.utils.PyDataset):
    def __init__(self, x, batch):
        super().__init__()
        self.x, self.batch = x, batch

    def __len__(self):
        return (len(self.x) + self.batch - 1) // self.batch

    def __getitem__(self, i):
        xb = self.x[i * self.batch:(i + 1) * self.batch]
        return xb, np.zeros((len(xb), 1), "float32")


def normalization_cases():
    return [
        ("given_tabular", {"mean": [1.0, 20.0, 0.5, -3.0], "variance": [4.0, 100.0, 0.25, 9.0]}, None, "tabular"),
        ("given_tabular_invert", {"mean": [1.0, 20.0, 0.5, -3.0], "variance": [4.0, 100.0, 0.25, 9.0],
                                  "invert": True}, None, "tabular"),
        ("given_scalar", {"axis": None, "mean": 100.0, "variance": 900.0}, None, "images_255"),
        ("given_images", {"mean": [10.0, 200.0], "variance": [25.0, 0.0]}, None, "images_255"),
        ("given_spatial", {"axis": (1, 2), "mean": np.arange(30, dtype="float32").reshape(5, 6).tolist(),
                           "variance": np.full((5, 6), 4.0).tolist()}, None, "images_255"),
        ("adapt_tabular", {}, ("array", "tabular"), "tabular"),
        ("adapt_tabular64", {}, ("array", "tabular64"), "tabular64"),
        ("adapt_ints", {}, ("array", "ints"), "ints"),
        ("adapt_images", {}, ("array", "images_255"), "images_255"),
        ("adapt_images_axis_none", {"axis": None}, ("array", "images_255"), "images_255"),
        ("adapt_images_spatial", {"axis": (1, 2)}, ("array", "images_255"), "images_255"),
        ("adapt_images_invert", {"invert": True}, ("array", "images_255"), "images_255"),
        ("adapt_tensor", {}, ("tensor", "tabular"), "tabular"),
        ("adapt_batches", {}, ("batches", "tabular", 6), "tabular"),
        ("adapt_image_batches", {}, ("batches", "images_255", 2), "images_255"),
        ("adapt_pydataset", {}, ("pydataset", "tabular", 8), "tabular"),
    ]


def run_normalization(d, name, kwargs, adapt, input_name):
    layer = layers.Normalization(**kwargs)
    record = {"name": name, "kwargs": kwargs, "adapt": list(adapt) if adapt else None, "input": input_name}
    if adapt:
        kind, data_name = adapt[0], adapt[1]
        data = d[data_name]
        if kind == "array":
            layer.adapt(data)
        elif kind == "tensor":
            layer.adapt(keras.ops.convert_to_tensor(data))
        elif kind == "batches":
            size = adapt[2]
            layer.adapt(data[i:i + size] for i in range(0, len(data), size))
        else:
            layer.adapt(XYDataset(data, adapt[2]))
        record["weights"] = [tolist(w) for w in layer.get_weights()]
        record["weight_dtypes"] = [str(np.asarray(w).dtype) for w in layer.get_weights()]
    record["config"] = layer.get_config()
    out = layer(d[input_name])
    record["output"] = tolist(np.asarray(out))
    return record


# ------------------------------------------------------------------------------ training and saving
def uniform_weights(model, seed):
    rs = np.random.RandomState(seed)
    model.set_weights([rs.uniform(-0.3, 0.3, w.shape).astype("float32") for w in model.get_weights()])


def training_case():
    rs = np.random.RandomState(5)
    x = rs.randint(0, 256, (24, 8, 8, 1)).astype("float32")
    y = rs.randint(0, 3, (24,)).astype("int32")
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Rescaling(1 / 255.0),
        layers.RandomRotation((0.05, 0.05), fill_mode="constant"),
        layers.RandomZoom((0.1, 0.1)),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    uniform_weights(model, 11)
    initial = [tolist(w) for w in model.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    return {"x": tolist(x), "y": tolist(y), "initial_weights": initial,
            "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
            "final_weights": [tolist(w) for w in model.get_weights()],
            "predictions": tolist(model.predict(x, verbose=0))}


def deflate(path):
    """Re-zip with deflate (same members): the HDF5 padding compresses well."""
    with zipfile.ZipFile(path) as zf:
        members = [(info.filename, zf.read(info.filename)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)


def saved_case(d):
    x = d["images_255"]
    norm = layers.Normalization()
    norm.adapt(x / 255.0)
    model = keras.Sequential([
        keras.Input((5, 6, 2)),
        layers.Rescaling(1 / 255.0),
        norm,
        layers.Resizing(4, 4, interpolation="bicubic"),
        layers.RandomFlip(seed=1),
        layers.RandomRotation(0.1, seed=2),
        layers.RandomZoom(0.2, seed=3),
        layers.RandomTranslation(0.1, 0.1, seed=4),
        layers.RandomContrast(0.3, value_range=(-5, 5), seed=5),
        layers.RandomBrightness(0.1, value_range=(-5, 5), seed=6),
        layers.CenterCrop(3, 3),
        layers.Flatten(),
        layers.Dense(2),
    ])
    uniform_weights(model.layers[-1], 21)  # the Dense layer (Normalization keeps its adapted statistics)
    model.save(MODEL_PATH)
    deflate(MODEL_PATH)
    return {"input": "images_255", "predictions": tolist(model.predict(x, verbose=0)),
            "weights": [tolist(w) for w in model.get_weights()]}


def main():
    d = make_data()
    result = {
        "meta": {"keras": keras.__version__, "jax": jax.__version__, "backend": keras.backend.backend(),
                 "recorded": datetime.date.today().isoformat(), "python": sys.version.split()[0]},
        "data": {k: tolist(v) for k, v in d.items()},
        "data_dtypes": {k: str(v.dtype) for k, v in d.items()},
        "ops": [run_op(d, *case) for case in op_cases()],
        "layers": [run_layer(d, *case) for case in layer_cases(d)],
        "smart_resize": smart_resize_cases(d),
    }
    result["normalization"] = [run_normalization(d, *case) for case in normalization_cases()]
    keras.utils.set_random_seed(0)
    result["training"] = training_case()
    result["saved"] = saved_case(d)
    with open(OUT_PATH, "w") as f:
        f.write("{\n")
        items = list(result.items())
        for i, (key, val) in enumerate(items):
            f.write(json.dumps(key) + ": " + json.dumps(val) + ("," if i < len(items) - 1 else "") + "\n")
        f.write("}\n")
    print("wrote", OUT_PATH, os.path.getsize(OUT_PATH), "bytes;", MODEL_PATH, os.path.getsize(MODEL_PATH), "bytes")


if __name__ == "__main__":
    main()
