"""Model files travel both ways between gpukeras and Keras 3.

* Keras 3 → gpukeras: the committed fixtures (tests/reference/record_keras3_models.py) load and
  reproduce Keras 3's predictions to 1e-5, with the optimizer state restored.
* gpukeras → gpukeras: the same kinds of models round-trip through `.keras`.
* gpukeras → Keras 3: `python tests/test_keras3_interop.py --export DIR` writes gpukeras models and
  their predictions; the record script's `check` mode loads them in Keras 3. With
  `KERAS3_PYTHON=/path/to/venv/python` set, `test_keras3_loads_gpukeras_files` runs that check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gpukeras as keras

FIXTURES = Path(__file__).parent / "fixtures" / "keras3_models"
RECORDER = Path(__file__).parent / "reference" / "record_keras3_models.py"
NAMES = ["mlp", "two_input", "convnet", "mlp_batchnorm"]
NEEDS = {"convnet": ("Conv2D", "MaxPooling2D"), "mlp_batchnorm": ("BatchNormalization",)}


def _skip_if_missing(name: str) -> None:
    missing = [c for c in NEEDS.get(name, ()) if not hasattr(keras.layers, c)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not available")


def _inputs(data) -> list[np.ndarray]:
    return [data[f"x{i}"] for i in range(len([k for k in data.files if k.startswith("x")]))]


def _predict(model, xs):
    return np.asarray(model.predict(xs if len(xs) > 1 else xs[0], verbose=0))


@pytest.mark.parametrize("name", NAMES)
def test_loads_keras3_file_and_reproduces_predictions(name):
    _skip_if_missing(name)
    data = np.load(FIXTURES / f"{name}.npz")
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    np.testing.assert_allclose(_predict(model, _inputs(data)), data["y"], rtol=1e-5, atol=1e-5)
    assert model.compiled and int(model.optimizer.iterations.numpy()) > 0  # optimizer state came back


@pytest.mark.parametrize("name", NAMES)
def test_keras3_file_weights_and_resave(name, tmp_path):
    """gpukeras re-saves a Keras 3 model; the re-saved file reproduces the predictions and the optimizer slots."""
    _skip_if_missing(name)
    data = np.load(FIXTURES / f"{name}.npz")
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    model.save(tmp_path / "again.keras")
    again = keras.models.load_model(tmp_path / "again.keras")
    np.testing.assert_allclose(_predict(again, _inputs(data)), data["y"], rtol=1e-5, atol=1e-5)
    for a, b in zip(model.optimizer.variables, again.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_keras3_functional_layer_order_matches_keras():
    model = keras.models.load_model(FIXTURES / "two_input.keras")
    import json

    with zipfile.ZipFile(FIXTURES / "two_input.keras") as zf:
        config = json.loads(zf.read("config.json"))
    assert [layer.name for layer in model.layers] == [entry["name"] for entry in config["config"]["layers"]]
    assert model.input_names == ["a", "b"]


# ---------------------------------------------------------------------- gpukeras-written models
def build_models() -> dict[str, tuple]:
    """Small trained gpukeras models with fixed inputs, by name (those whose layers exist here)."""
    rng = np.random.RandomState(7)
    out = {}
    keras.utils.set_random_seed(3)
    mlp = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.2),
                            keras.layers.Dense(3, activation="softmax")])
    mlp.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    mlp.fit(rng.randn(16, 6).astype("float32"), rng.randint(0, 3, 16), batch_size=8, epochs=1, shuffle=False,
            verbose=0)
    out["gk_mlp"] = (mlp, [rng.randn(4, 6).astype("float32")])

    a = keras.Input((5,), name="a")
    b = keras.Input((3,), name="b")
    shared = keras.layers.Dense(4, activation="tanh", name="shared")
    ha, hb = shared(keras.layers.Dense(5, name="pa")(a)), shared(keras.layers.Dense(5, name="pb")(b))
    merged = keras.layers.Concatenate(name="cat")([ha, hb, keras.layers.Add(name="add")([ha, hb])])
    two = keras.Model([a, b], keras.layers.Dense(2, name="out")(merged), name="two_input")
    two.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    two.fit([rng.randn(16, 5).astype("float32"), rng.randn(16, 3).astype("float32")],
            rng.randn(16, 2).astype("float32"), batch_size=8, epochs=1, shuffle=False, verbose=0)
    out["gk_two_input"] = (two, [rng.randn(4, 5).astype("float32"), rng.randn(4, 3).astype("float32")])

    if all(hasattr(keras.layers, c) for c in ("Conv2D", "MaxPooling2D", "BatchNormalization")):
        conv = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(4, 3, activation="relu", padding="same"),
                                 keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(2),
                                 keras.layers.Flatten(), keras.layers.Dense(3)])
        conv.compile(optimizer="adam", loss="mse")
        conv.fit(rng.randn(8, 8, 8, 2).astype("float32"), rng.randn(8, 3).astype("float32"), batch_size=4,
                 epochs=1, shuffle=False, verbose=0)
        out["gk_convnet"] = (conv, [rng.randn(3, 8, 8, 2).astype("float32")])
    return out


def export(folder: str | os.PathLike) -> list[Path]:
    """Write each gpukeras model as NAME.keras plus NAME.npz (inputs x0.., predictions y)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (model, xs) in build_models().items():
        model.save(folder / f"{name}.keras")
        np.savez(folder / f"{name}.npz", y=_predict(model, xs), **{f"x{i}": x for i, x in enumerate(xs)})
        paths.append(folder / f"{name}.keras")
    return paths


def test_gpukeras_files_round_trip(tmp_path):
    for path in export(tmp_path):
        data = np.load(path.with_suffix(".npz"))
        model = keras.models.load_model(path)
        np.testing.assert_allclose(_predict(model, _inputs(data)), data["y"], rtol=1e-6, atol=1e-6)


def test_keras3_loads_gpukeras_files(tmp_path):
    python = os.environ.get("KERAS3_PYTHON")
    if not python:
        pytest.skip("set KERAS3_PYTHON to a Python with keras 3 + jax to run the gpukeras → Keras 3 check")
    paths = export(tmp_path)
    result = subprocess.run([python, str(RECORDER), "check", *map(str, paths)], capture_output=True, text=True,
                            env={**os.environ, "KERAS_BACKEND": "jax"}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--export":
        for p in export(sys.argv[2]):
            print(p)
    else:
        sys.exit("usage: python tests/test_keras3_interop.py --export DIR")
