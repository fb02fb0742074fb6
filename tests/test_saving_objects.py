"""Saving through the objects' own methods: subclassed models after fit, all-or-nothing loading,
functional configs through Model.from_config, and saves that leave no temporary file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers
from gpukeras.layers.layer import framework_attributes
from gpukeras.saving import weights_h5


@keras.saving.register_keras_serializable(package="SavingTests")
class Block(keras.Layer):
    """A layer holding a sub-layer and a private list of sub-layers (both must be tracked and saved)."""

    def __init__(self, units: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.proj = layers.Dense(units, activation="relu")
        self._stack = [layers.Dense(units), layers.Dense(units, activation="tanh")]

    def call(self, x):
        return self._stack[1](self._stack[0](self.proj(x)))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="SavingTests")
class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = Block(4)
        self.head = layers.Dense(2)

    def call(self, x):
        return self.head(self.block(x))


def _data(n: int = 24):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 5)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def _h5_paths(path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(names)


def test_subclassed_model_with_nested_layers_saved_after_fit_loads_predicts_and_trains_on(tmp_path) -> None:
    x, y = _data()
    model = Net()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert len(model.weights) == 8  # proj, both list layers and head: the private list is tracked
    path = tmp_path / "net.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        z.extract("model.weights.h5", tmp_path)
    stored = _h5_paths(tmp_path / "model.weights.h5")
    assert not any("cache" in p for p in stored), stored  # framework caches are never written
    assert "block/_stack/dense/vars/0" in stored and "block/proj/vars/0" in stored and "head/vars/1" in stored

    loaded = keras.saving.load_model(path)
    assert type(loaded) is Net
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 6
    before = loaded.get_weights()
    history = loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, loaded.get_weights()))
    assert int(loaded.optimizer.iterations.numpy()) == 9  # the restored optimizer state went on counting


def test_saved_paths_do_not_change_with_training() -> None:
    x, y = _data()
    model = Net()
    model(x[:1])
    model.compile(optimizer="sgd", loss="mse")
    before = [p for p, _ in weights_h5.walk(model)]
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert [p for p, _ in weights_h5.walk(model)] == before
    assert "_layers_cache" in framework_attributes(Net) and "block" not in framework_attributes(Net)


def test_load_weights_is_all_or_nothing(tmp_path) -> None:
    source = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(2), layers.Dense(5)])
    path = tmp_path / "w.weights.h5"
    source.save_weights(path)
    target = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(2), layers.Dense(6)])
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"\(2, 5\)"):  # the last layer's kernel does not fit
        target.load_weights(path)
    for a, b in zip(target.get_weights(), before):  # the first layers, which did fit, are untouched too
        np.testing.assert_array_equal(a, b)
    legacy = tmp_path / "w.h5"
    source.save(legacy)
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        target.load_weights(legacy)
    for a, b in zip(target.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_load_weights_into_an_unbuilt_model_says_how_to_build_it(tmp_path) -> None:
    source = Net()
    source(np.zeros((1, 5), "float32"))
    path = tmp_path / "net.weights.h5"
    source.save_weights(path)
    with pytest.raises(ValueError, match=r"not built.*model\.build\(input_shape\)"):
        Net().load_weights(path)
    with pytest.raises(ValueError, match="not built"):
        keras.Sequential([layers.Dense(2)]).load_weights(path)


def test_model_from_config_revives_a_functional_config() -> None:
    inputs = keras.Input((3,), name="features")
    hidden = layers.Dense(4, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, layers.Dense(2, name="out")(hidden), name="graph")
    clone = keras.Model.from_config(model.get_config())
    assert isinstance(clone, keras.models.Functional)
    assert [la.name for la in clone.layers] == ["features", "hidden", "out"]
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert isinstance(keras.models.Functional.from_config(model.get_config()), keras.models.Functional)


def test_failed_save_leaves_no_temporary_file_and_keeps_the_old_one(tmp_path, monkeypatch) -> None:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    path = tmp_path / "m.keras"
    model.save(path)
    old = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
    assert path.read_bytes() == old


_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    import gpukeras as keras
    model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(1024), keras.layers.Dense(1024)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((2, 256), "float32"), np.zeros((2, 1024), "float32"), verbose=0)
    print("saving", flush=True)
    while True:
        model.save(sys.argv[1] + "/m.keras")
        model.save_weights(sys.argv[1] + "/m.weights.h5")
""")


@pytest.mark.any_backend
@pytest.mark.skipif(not hasattr(os, "O_TMPFILE"), reason="unnamed files (O_TMPFILE) are Linux-only")
def test_a_process_killed_while_saving_leaves_no_temporary_file(tmp_path) -> None:
    script = tmp_path / "saver.py"
    script.write_text(_SAVER)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), GPUKERAS_BACKEND="numpy")
    for i, (sig, delay) in enumerate([(signal.SIGTERM, 0.3), (signal.SIGKILL, 0.55), (signal.SIGTERM, 0.8)]):
        out = tmp_path / f"run{i}"
        out.mkdir()
        child = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, env=env)
        assert child.stdout.readline().strip() == b"saving"
        time.sleep(delay)
        child.send_signal(sig)
        child.wait(timeout=30)
        assert set(os.listdir(out)) <= {"m.keras", "m.weights.h5"}, os.listdir(out)


@pytest.mark.any_backend
def test_keras_utils_exposes_the_custom_object_helpers():
    """Keras 3 programs reach these through keras.utils as well as keras.saving."""
    for name in ("register_keras_serializable", "serialize_keras_object", "deserialize_keras_object",
                 "get_registered_name", "get_registered_object", "get_custom_objects", "custom_object_scope",
                 "CustomObjectScope"):
        assert getattr(keras.utils, name) is getattr(keras.saving, name)


@pytest.mark.any_backend
def test_layer_aliases_and_layers_serialize():
    """Keras 3's other class spellings (tf.keras code's MaxPool2D, Convolution2D, GlobalAvgPool1D, ...) are the
    same classes, configs naming them load, and keras.layers.serialize/deserialize round-trip a layer."""
    assert keras.layers.MaxPool2D is keras.layers.MaxPooling2D and keras.layers.Convolution1D is keras.layers.Conv1D
    assert keras.layers.GlobalAvgPool1D is keras.layers.GlobalAveragePooling1D
    config = keras.layers.serialize(keras.layers.AvgPool2D(3, name="pool"))
    assert config["class_name"] == "AveragePooling2D"
    again = keras.layers.deserialize(config)
    assert isinstance(again, keras.layers.AveragePooling2D)
    assert keras.layers.serialize(again) == config
    renamed = dict(config, class_name="AvgPool2D")
    assert isinstance(keras.layers.deserialize(renamed), keras.layers.AveragePooling2D)


class _Doubled(keras.layers.Wrapper):
    """A user's wrapper: twice the wrapped layer's output."""

    def call(self, x):
        return self.layer(x) * 2.0


def test_a_users_wrapper_builds_its_layer_and_round_trips():
    wrapper = _Doubled(keras.layers.Dense(3, kernel_initializer="ones", name="inner"))
    out = wrapper(np.ones((2, 4), "float32"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), np.full((2, 3), 8.0, "float32"))
    assert [w.path for w in wrapper.weights] == ["inner/kernel", "inner/bias"]
    again = _Doubled.from_config(wrapper.get_config())
    assert isinstance(again.layer, keras.layers.Dense) and again.layer.units == 3
    with pytest.raises(ValueError, match="must be a Layer instance"):
        _Doubled("dense")


class _NeedsRank3(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=3, axes={-1: 4})

    def call(self, x):
        return x


def test_input_spec_is_checked_on_every_call_with_keras3s_messages():
    layer = _NeedsRank3(name="l")
    assert layer(np.zeros((2, 5, 4), "float32")).shape == (2, 5, 4)
    assert layer(keras.Input((7, 4))).shape == (None, 7, 4)
    with pytest.raises(ValueError, match="Input 0 of layer 'l' is incompatible with the layer: expected ndim=3"):
        layer(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(ValueError, match="expected axis -1"):
        layer(keras.Input((5, 3)))
