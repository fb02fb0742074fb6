"""Record Keras 3's numbers for the convolution family (JAX, CPU): transposed, depthwise and separable
convolutions, Conv groups/dilation, UpSampling, ZeroPadding, Cropping and global pooling with keepdims.

The cases live in tests/keras3_vision_cases.py; tests/test_keras3_vision_layers.py replays them on
gpukeras and compares with what this script stores:

  layers       every LAYER_CASES entry: input, initial weights (uniform(-0.5, 0.5) in `weights` order),
               output, the gradients of sum(output * w_out) w.r.t. the input and each weight, weight
               names/shapes, config, and compute_output_shape of the shape with batch None
  training     every case with train=True: keras3_vision_cases.training_model around the layer, its
               initial weights, Adam(0.01) + mse `fit` (batch 2, 2 epochs, no shuffling), history, final
               weights and predictions
  ops          keras.ops.depthwise_conv / separable_conv / conv_transpose called directly, with gradients
  saved_model  a three-input model using every layer class, trained 2 epochs and saved to
               tests/fixtures/keras3_models/vision_layers.keras (inputs and predictions in vision_layers.npz)

Gradients come from jax.grad over `layer.stateless_call`. Everything is deterministic: fixed RandomState
seeds per case, set weights, shuffle=False.

How to run (from the repository root, with the side venv that has Keras 3 and JAX)::

    python3 -m venv /tmp/k3venv && /tmp/k3venv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax JAX_PLATFORMS=cpu /tmp/k3venv/bin/python tests/reference/record_keras3_vision_layers.py

Output: tests/fixtures/keras3_vision_layers.json (one top-level entry per line) and the model files.
"""

import datetime
import json
import os
import sys
import zipfile

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import keras3_vision_cases as C  # noqa: E402
import numpy as np  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
OUT_PATH = os.path.join(FIXTURES, "keras3_vision_layers.json")
MODEL_DIR = os.path.join(FIXTURES, "keras3_models")
F32 = np.float32


def f32list(a):
    """float32 values as nested lists of the shortest decimals that read back as the same float32."""
    arr = np.asarray(a, dtype=F32)
    return np.asarray([float(str(v)) for v in arr.ravel()], dtype=np.float64).reshape(arr.shape).tolist()


def uniform(shape, seed, lo=-1.0, hi=1.0):
    return np.random.RandomState(seed).uniform(lo, hi, size=tuple(shape)).astype(F32)


def uniform_weights(variables, seed):
    rs = np.random.RandomState(seed)
    return [rs.uniform(-0.5, 0.5, size=tuple(v.shape)).astype(F32) for v in variables]


def jsonable(value):
    """A config value as JSON would hold it (tuples as lists)."""
    return json.loads(json.dumps(value))


# --------------------------------------------------------------------------- layers
def record_layer(case, seed):
    x = uniform(case["shape"], seed)
    layer = getattr(keras.layers, case["cls"])(**case["config"])
    symbolic = layer.compute_output_shape((None,) + tuple(case["shape"][1:]))
    layer(x)
    init = uniform_weights(layer.weights, seed + 100)
    layer.set_weights(init)
    y = layer(x)
    w_out = uniform(y.shape, seed + 200, 0.5, 1.5)

    def loss_fn(trainable, x):
        return jnp.sum(layer.stateless_call(trainable, [], x)[0] * w_out)

    g_weights, g_x = jax.grad(loss_fn, argnums=(0, 1))([v.value for v in layer.trainable_variables],
                                                        jnp.asarray(x))
    return {
        "input": f32list(x),
        "initial_weights": [f32list(w) for w in init],
        "weights": [{"path": v.path, "name": v.name, "shape": list(v.shape)} for v in layer.weights],
        "output": f32list(y),
        "loss_weights": f32list(w_out),
        "input_gradient": f32list(g_x),
        "weight_gradients": [f32list(g) for g in g_weights],
        "config": jsonable(layer.get_config()),
        "symbolic_output_shape": list(symbolic),
    }


# --------------------------------------------------------------------------- training
def record_training(case, seed):
    shape = [C.TRAIN["samples"]] + case["shape"][1:]
    x = uniform(shape, seed)
    y = uniform((C.TRAIN["samples"], 2), seed + 1)
    model = C.training_model(keras, case)
    init = uniform_weights(model.weights, seed + 100)
    model.set_weights(init)
    model.compile(optimizer=keras.optimizers.Adam(C.TRAIN["learning_rate"]), loss="mse")
    hist = model.fit(x, y, batch_size=C.TRAIN["batch_size"], epochs=C.TRAIN["epochs"], shuffle=False, verbose=0)
    return {
        "x": f32list(x),
        "y": f32list(y),
        "initial_weights": [f32list(w) for w in init],
        "weight_paths": [v.path for v in model.weights],
        "history": [float(F32(v)) for v in hist.history["loss"]],
        "final_weights": [f32list(w) for w in model.get_weights()],
        "predictions": f32list(model.predict(x, verbose=0)),
    }


# --------------------------------------------------------------------------- ops called directly
OP_CASES = [
    {"id": "depthwise_conv_cf", "op": "depthwise_conv", "shapes": [(2, 3, 6, 5), (3, 2, 3, 2)],
     "kwargs": {"strides": 2, "padding": "same", "data_format": "channels_first"}},
    {"id": "depthwise_conv_1d_dilated", "op": "depthwise_conv", "shapes": [(2, 9, 2), (3, 2, 2)],
     "kwargs": {"dilation_rate": 2}},
    {"id": "separable_conv", "op": "separable_conv", "shapes": [(2, 6, 5, 3), (3, 3, 3, 2), (1, 1, 6, 4)],
     "kwargs": {"strides": (2, 1), "padding": "same"}},
    {"id": "separable_conv_cf_dilated", "op": "separable_conv", "shapes": [(1, 2, 7, 7), (3, 3, 2, 1),
                                                                            (1, 1, 2, 3)],
     "kwargs": {"dilation_rate": 2, "data_format": "channels_first"}},
    {"id": "conv_transpose_cf", "op": "conv_transpose", "shapes": [(2, 3, 4, 3), (3, 3, 2, 3)],
     "kwargs": {"strides": 2, "padding": "same", "output_padding": 1, "data_format": "channels_first"}},
]


def record_op(case, seed):
    arrays = [uniform(s, seed + i) for i, s in enumerate(case["shapes"])]
    fn = getattr(keras.ops, case["op"])
    out = fn(*arrays, **case["kwargs"])
    w_out = uniform(out.shape, seed + 50, 0.5, 1.5)
    grads = jax.grad(lambda *xs: jnp.sum(fn(*xs, **case["kwargs"]) * w_out),
                     argnums=tuple(range(len(arrays))))(*[jnp.asarray(a) for a in arrays])
    return {"inputs": [f32list(a) for a in arrays], "output": f32list(out), "loss_weights": f32list(w_out),
            "gradients": [f32list(g) for g in grads]}


# --------------------------------------------------------------------------- a saved model
def vision_model(keras):
    """Three inputs (image, sequence, volume) through every layer class of the family, joined by a Dense."""
    L = keras.layers
    img = keras.Input((8, 8, 3), name="image")
    h = L.Conv2D(4, 3, padding="same", groups=1, dilation_rate=1)(img)
    h = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu")(h)
    h = L.SeparableConv2D(6, 3, strides=2, padding="same")(h)
    h = L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1)(h)
    h = L.UpSampling2D(interpolation="bilinear")(h)
    h = L.ZeroPadding2D(1)(h)
    h = L.Cropping2D(((1, 2), (0, 1)), data_format="channels_first")(h)
    h = L.Conv2D(4, 3, groups=2, data_format="channels_first")(h)
    h = L.GlobalAveragePooling2D(data_format="channels_first", keepdims=True)(h)
    h = L.Flatten()(h)
    seq = keras.Input((10, 3), name="sequence")
    s = L.Conv1DTranspose(4, 3, strides=2)(seq)
    s = L.SeparableConv1D(4, 3, depth_multiplier=2)(s)
    s = L.DepthwiseConv1D(3, dilation_rate=2)(s)
    s = L.UpSampling1D(2)(s)
    s = L.ZeroPadding1D((0, 2))(s)
    s = L.Cropping1D((3, 1))(s)
    s = L.GlobalMaxPooling1D()(s)
    vol = keras.Input((3, 3, 3, 2), name="volume")
    v = L.Conv3DTranspose(2, 2, strides=2, data_format="channels_first")(vol)
    v = L.UpSampling3D((1, 2, 1))(v)
    v = L.ZeroPadding3D(((0, 1), (1, 0), (0, 0)))(v)
    v = L.Cropping3D(1)(v)
    v = L.GlobalAveragePooling3D()(v)
    out = L.Dense(3)(L.Concatenate()([h, s, v]))
    return keras.Model([img, seq, vol], out)


def model_inputs(seed, n):
    return [uniform((n, 8, 8, 3), seed), uniform((n, 10, 3), seed + 1), uniform((n, 3, 3, 3, 2), seed + 2)]


def record_saved_model(seed):
    keras.utils.set_random_seed(seed)
    model = vision_model(keras)
    xs = model_inputs(seed, 8)
    y = uniform((8, 3), seed + 3)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(xs, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    x_test = model_inputs(seed + 10, 3)
    path = os.path.join(MODEL_DIR, "vision_layers.keras")
    model.save(path)
    _recompress(path)
    np.savez(os.path.join(MODEL_DIR, "vision_layers.npz"), x0=x_test[0], x1=x_test[1], x2=x_test[2],
             y=model.predict(x_test, verbose=0))
    return {"file": "keras3_models/vision_layers.keras", "seed": seed, "params": model.count_params()}


def _recompress(path):
    with zipfile.ZipFile(path) as zf:
        members = [(info, zf.read(info.filename)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info.filename, data)


# --------------------------------------------------------------------------- main
def main():
    keras.utils.set_random_seed(1234)
    result = {
        "versions": {"keras": keras.__version__, "keras_backend": keras.backend.backend(), "jax": jax.__version__,
                     "numpy": np.__version__},
        "recorded_on": datetime.date.today().isoformat(),
        "layers": {c["id"]: record_layer(c, 1000 + 10 * i) for i, c in enumerate(C.LAYER_CASES)},
        "training": {c["id"]: record_training(c, 5000 + 10 * i) for i, c in enumerate(C.LAYER_CASES) if c["train"]},
        "ops": {c["id"]: {"case": c, **record_op(c, 9000 + 100 * i)} for i, c in enumerate(OP_CASES)},
        "saved_model": record_saved_model(7000),
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
