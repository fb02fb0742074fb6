"""Interop proof between gpukeras and the real Keras 3 (JAX backend), both directions.

(a) ``record`` (default): build small models in Keras 3, train them briefly (so the files hold
    optimizer state too), save them as ``.keras`` (re-zipped with deflate to keep
    the fixtures small; members unchanged) next to ``.npz`` files with fixed inputs and
    Keras 3's predictions, under ``tests/fixtures/keras3_models/``. gpukeras' tests load them.
(b) ``check FILE.keras ...``: load ``.keras`` files written by gpukeras into Keras 3 and compare
    Keras 3's predictions with the ones stored in ``FILE.npz`` (written by gpukeras next to each
    file; ``python tests/test_keras3_interop.py --export DIR`` writes such a set).

The npz layout: inputs ``x0``, ``x1``, ... and the predictions ``y``.

How to run (from the repository root)::

    python3 -m venv /tmp/k3venv && /tmp/k3venv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_models.py record
    python tests/test_keras3_interop.py --export /tmp/gk_models
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_models.py check /tmp/gk_models/*.keras
"""

import os
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "keras3_models")
TOLERANCE = 1e-5


def _mlp():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dropout(0.25),
                              layers.Dense(3, activation="softmax")], name="mlp")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.RandomState(0)
    x = rng.randn(16, 6).astype("float32")
    model.fit(x, rng.randint(0, 3, 16), epochs=1, batch_size=8, shuffle=False, verbose=0)
    return model, [rng.randn(4, 6).astype("float32")]


def _two_input():
    a = keras.Input((5,), name="a")
    b = keras.Input((3,), name="b")
    ha = layers.Dense(4, activation="tanh", name="ha")(a)
    hb = layers.Dense(4, name="hb")(b)
    merged = layers.Concatenate(name="cat")([ha, hb])
    summed = layers.Add(name="add")([ha, hb])
    out = layers.Dense(2, name="out")(layers.Concatenate(name="cat2")([merged, summed]))
    model = keras.Model([a, b], out, name="two_input")
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    rng = np.random.RandomState(1)
    model.fit([rng.randn(16, 5).astype("float32"), rng.randn(16, 3).astype("float32")],
              rng.randn(16, 2).astype("float32"), epochs=1, batch_size=8, shuffle=False, verbose=0)
    return model, [rng.randn(4, 5).astype("float32"), rng.randn(4, 3).astype("float32")]


def _convnet():
    model = keras.Sequential([keras.Input((8, 8, 2)), layers.Conv2D(4, 3, activation="relu", padding="same"),
                              layers.MaxPooling2D(2), layers.Conv2D(3, 2), layers.Flatten(), layers.Dense(3)],
                             name="convnet")
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.RandomState(2)
    model.fit(rng.randn(8, 8, 8, 2).astype("float32"), rng.randn(8, 3).astype("float32"), epochs=1,
              batch_size=4, shuffle=False, verbose=0)
    return model, [rng.randn(3, 8, 8, 2).astype("float32")]


def _mlp_batchnorm():
    model = keras.Sequential([keras.Input((5,)), layers.Dense(6), layers.BatchNormalization(),
                              layers.Activation("relu"), layers.Dense(2)], name="mlp_batchnorm")
    model.compile(optimizer="rmsprop", loss="mse")
    rng = np.random.RandomState(3)
    model.fit(rng.randn(16, 5).astype("float32"), rng.randn(16, 2).astype("float32"), epochs=2, batch_size=8,
              shuffle=False, verbose=0)
    return model, [rng.randn(4, 5).astype("float32")]


BUILDERS = {"mlp": _mlp, "two_input": _two_input, "convnet": _convnet, "mlp_batchnorm": _mlp_batchnorm}


def _deflate(path: str) -> None:
    """Re-zip with deflate (same members, same bytes): the HDF5 padding compresses ~10x."""
    with zipfile.ZipFile(path) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)


def record() -> None:
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, build in BUILDERS.items():
        keras.utils.set_random_seed(0)
        model, xs = build()
        y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        model.save(os.path.join(OUT_DIR, f"{name}.keras"))
        _deflate(os.path.join(OUT_DIR, f"{name}.keras"))
        np.savez(os.path.join(OUT_DIR, f"{name}.npz"), y=y, **{f"x{i}": x for i, x in enumerate(xs)})
        print(f"wrote {name}.keras ({os.path.getsize(os.path.join(OUT_DIR, name + '.keras'))} bytes)")
    with open(os.path.join(OUT_DIR, "VERSIONS.txt"), "w") as f:
        f.write(f"keras {keras.__version__}\nbackend {keras.backend.backend()}\nnumpy {np.__version__}\n")


def check(paths: list) -> int:
    failures = 0
    for path in paths:
        data = np.load(path[: -len(".keras")] + ".npz")
        xs = [data[f"x{i}"] for i in range(len([k for k in data.files if k.startswith("x")]))]
        try:
            model = keras.saving.load_model(path)
            y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
            err = float(np.max(np.abs(np.asarray(y) - data["y"])))
            ok = err <= TOLERANCE
            detail = f"max |diff| = {err:.3g}"
            if ok and getattr(model, "optimizer", None) is not None:
                detail += f", optimizer {type(model.optimizer).__name__} iterations={int(model.optimizer.iterations)}"
        except Exception as e:  # noqa: BLE001 - report every file
            ok, detail = False, f"{type(e).__name__}: {e}"
        failures += not ok
        print(f"{'OK  ' if ok else 'FAIL'} {os.path.basename(path)}: {detail}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2:]))
    record()
