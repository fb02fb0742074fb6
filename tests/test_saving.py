"""gpukeras.saving: the .keras archive, .weights.h5, legacy tf.keras 2 .h5, safety and atomicity."""

from __future__ import annotations

import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import gpukeras as keras
from gpukeras.saving import keras_archive


def _data(n=32, d=6, k=3, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n, d).astype("float32"), rng.randint(0, k, n)


def _mlp():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _functional():
    a, b = keras.Input((6,), name="a"), keras.Input((2,), name="b")
    shared = keras.layers.Dense(4, activation="tanh", name="shared")
    h = keras.layers.Concatenate(name="cat")([shared(a), shared(keras.layers.Dense(6, name="proj")(b))])
    out1 = keras.layers.Dense(3, activation="softmax", name="cls")(h)
    summed = keras.layers.Add(name="add")([shared(a), keras.layers.Dense(4, name="d4")(h)])
    out2 = keras.layers.Dense(1, name="reg")(summed)
    model = keras.Model([a, b], [out1, out2], name="two_io")
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss=["sparse_categorical_crossentropy", "mse"])
    return model


def _weights(model):
    return [w.numpy().copy() for w in model.weights]


# ---------------------------------------------------------------------- .keras round trips
def test_archive_layout_matches_keras3(tmp_path):
    x, y = _data()
    model = _mlp()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
        metadata = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
        h5 = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    assert set(metadata) == {"keras_version", "date_saved"} and "@" in metadata["date_saved"]
    assert (config["module"], config["class_name"], config["registered_name"]) == ("keras", "Sequential", None)
    dense = config["config"]["layers"][1]
    assert dense["module"] == "keras.layers" and dense["class_name"] == "Dense" and dense["registered_name"] is None
    assert dense["build_config"] == {"input_shape": [None, 6]}
    assert dense["config"]["kernel_initializer"]["module"] == "keras.initializers"
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert config["compile_config"]["loss"] == "sparse_categorical_crossentropy"
    assert config["compile_config"]["metrics"] == ["accuracy"]
    with h5:
        assert h5["vars"].attrs["name"] == model.name
        assert h5["layers/dense/vars"].attrs["name"] == model.layers[0].name
        assert h5["layers/dense/vars/0"].shape == (6, 8) and h5["layers/dense_1/vars/1"].shape == (3,)
        assert len(h5["optimizer/vars"]) == 2 + 2 * 4  # iteration, learning_rate, m and v per weight
        assert int(h5["optimizer/vars/0"][()]) == 2


@pytest.mark.parametrize("build", [_mlp, _functional])
def test_training_continues_identically_after_round_trip(build, tmp_path):
    x, y = _data()
    b = np.random.RandomState(1).randn(32, 2).astype("float32")
    inputs = x if build is _mlp else [x, b]
    targets = y if build is _mlp else [y, b[:, :1]]
    model = build()
    model.fit(inputs, targets, epochs=1, batch_size=8, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config()
    for a, c in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
    model.fit(inputs, targets, epochs=1, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(inputs, targets, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, c in zip(_weights(model), _weights(loaded)):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)


def test_load_without_compile_and_unzipped_folder(tmp_path):
    model = _mlp()
    model.fit(*_data(), epochs=1, verbose=0)
    loaded = keras.models.load_model(_save(model, tmp_path / "m.keras"), compile=False)
    assert not loaded.compiled
    model.save(tmp_path / "folder.keras", zipped=False)
    assert sorted(os.listdir(tmp_path / "folder.keras")) == ["config.json", "metadata.json", "model.weights.h5"]
    again = keras.models.load_model(tmp_path / "folder.keras")
    x = _data()[0]
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def _save(model, path):
    model.save(path)
    return path


def test_suffix_and_overwrite_rules(tmp_path):
    model = _mlp()
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "model.bin")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / "model.h5")
    path = _save(model, tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(path, overwrite=False)


def test_to_json_and_compile_config():
    model = _mlp()
    config = json.loads(model.to_json())
    assert config["class_name"] == "Sequential" and "compile_config" in config
    assert model.get_compile_config()["optimizer"]["config"]["learning_rate"] == pytest.approx(0.01)


def test_functional_config_uses_keras3_node_schema():
    model = _functional()
    config = model.get_config()
    names = [entry["name"] for entry in config["layers"]]
    # Keras 3.15 orders this graph (checked with the real Keras) deepest-first:
    assert names == ["b", "a", "proj", "shared", "cat", "d4", "add", "cls", "reg"]
    shared = next(e for e in config["layers"] if e["name"] == "shared")
    histories = [node["args"][0]["config"]["keras_history"] for node in shared["inbound_nodes"]]
    assert histories == [["a", 0, 0], ["proj", 0, 0], ["a", 0, 0]]  # three calls inside the model
    assert shared["inbound_nodes"][0]["args"][0]["class_name"] == "__keras_tensor__"
    add = next(e for e in config["layers"] if e["name"] == "add")
    assert [t["config"]["keras_history"] for t in add["inbound_nodes"][0]["args"][0]] == [["shared", 2, 0],
                                                                                         ["d4", 0, 0]]
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert config["output_layers"] == [["cls", 0, 0], ["reg", 0, 0]]
    rebuilt = keras.models.Functional.from_config(config)
    assert [layer.name for layer in rebuilt.layers] == names


# ---------------------------------------------------------------------- weights files
def test_save_and_load_weights(tmp_path):
    x, y = _data()
    model = _mlp()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as h5:
        assert "layers/dense/vars/0" in h5 and "optimizer/vars/0" in h5
    fresh = _mlp()
    fresh.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(_weights(model), _weights(fresh)):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    other = _mlp()
    other.load_weights(_save(model, tmp_path / "m.keras"))  # weights straight from a .keras file
    np.testing.assert_array_equal(_weights(other)[0], _weights(model)[0])


def test_load_weights_mismatch(tmp_path):
    model = _mlp()
    model.save_weights(tmp_path / "w.weights.h5")
    wider = keras.Sequential([keras.Input((6,)), keras.layers.Dense(9), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="shape"):
        wider.load_weights(tmp_path / "w.weights.h5")
    before = _weights(wider)
    with pytest.warns(UserWarning):
        wider.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(_weights(wider)[0], before[0])


# ---------------------------------------------------------------------- bad and unsafe files
def test_missing_corrupt_and_truncated_files(tmp_path):
    missing = tmp_path / "nope.keras"
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        keras.models.load_model(missing)
    with pytest.raises(ValueError, match="nope.keras"):
        keras.models.load_model(missing)
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match="garbage.keras"):
        keras.models.load_model(garbage)
    good = _save(_mlp(), tmp_path / "good.keras").read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="truncated.keras"):
        keras.models.load_model(truncated)
    bad_json = tmp_path / "badjson.keras"
    with zipfile.ZipFile(bad_json, "w") as zf:
        zf.writestr("config.json", "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        keras.models.load_model(bad_json)
    no_config = tmp_path / "noconfig.keras"
    with zipfile.ZipFile(no_config, "w") as zf:
        zf.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match="config.json"):
        keras.models.load_model(no_config)


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil"])
def test_unsafe_member_names_are_refused(tmp_path, member):
    src = _save(_mlp(), tmp_path / "m.keras")
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(evil, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
        zout.writestr(member, "x")
    with pytest.raises(ValueError, match="unsafe member"):
        keras.models.load_model(evil)
    assert not (tmp_path.parent / "evil.txt").exists()


def _with_config(tmp_path, edit, name="edited.keras"):
    src = _save(_mlp(), tmp_path / "m.keras")
    out = tmp_path / name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(info.filename, data)
    return out


def test_lambda_layer_refused_in_safe_mode(tmp_path):
    def add_lambda(config):
        config["config"]["layers"].insert(2, {
            "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "lam", "function": {"class_name": "__lambda__", "config": {"value": ["4wEAAA", None]}}}})

    path = _with_config(tmp_path, add_lambda)
    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.load_model(path)
    with pytest.raises(NotImplementedError, match="Lambda"):
        keras.models.load_model(path, safe_mode=False)


def test_lambda_activation_and_legacy_bytecode_refused(tmp_path):
    def lambda_activation(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "class_name": "__lambda__", "config": {"value": ["4wEAAA", None, None]}}

    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.load_model(_with_config(tmp_path, lambda_activation))
    with pytest.raises(ValueError, match="safe_mode"):
        keras.saving.deserialize_keras_object(
            {"class_name": "Lambda", "config": {"function": ["4wEAAAAAAAAA", None, None], "function_type": "lambda"}})


# ---------------------------------------------------------------------- atomic writes
class Exploding(keras.layers.Layer):
    def call(self, inputs):
        return inputs

    def get_config(self):
        raise RuntimeError("cannot serialize me")


def test_failed_save_leaves_existing_file_untouched(tmp_path):
    path = _save(_mlp(), tmp_path / "m.keras")
    before = path.read_bytes()
    bad = keras.Sequential([keras.Input((6,)), Exploding()])
    with pytest.raises(RuntimeError, match="cannot serialize me"):
        bad.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]  # no temporary file left behind


def test_crash_while_writing_leaves_existing_file_untouched(tmp_path, monkeypatch):
    path = _save(_mlp(), tmp_path / "m.keras")
    before = path.read_bytes()
    calls = []

    def writestr(self, name, data, *args, **kwargs):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, name, data, *args, **kwargs)

    original = zipfile.ZipFile.writestr
    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    with pytest.raises(OSError, match="disk full"):
        _mlp().save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.keras"]
    w = tmp_path / "w.weights.h5"
    _mlp().save_weights(w)
    before = w.read_bytes()
    monkeypatch.setattr(keras_archive.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("rename failed")))
    with pytest.raises(OSError, match="rename failed"):
        _mlp().save_weights(w)
    assert w.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.keras", "w.weights.h5"]


# ---------------------------------------------------------------------- custom objects
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", name="w")

    def call(self, inputs):
        return inputs * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="Tests")
class RegisteredScale(Scale):
    pass


@keras.saving.register_keras_serializable(package="Tests")
def cube(x):
    return x * x * x


def test_custom_objects_argument(tmp_path):
    model = keras.Sequential([keras.Input((3,)), Scale(3.0, name="scale"), keras.layers.Dense(2)])
    model.layers[0].w.assign(np.array([1.0, 2.0, 3.0], "float32"))
    path = _save(model, tmp_path / "m.keras")
    with pytest.raises(ValueError, match="custom_objects"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, custom_objects={"Scale": Scale})
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.layers[0].factor == 3.0


def test_registered_objects(tmp_path):
    model = keras.Sequential([keras.Input((3,)), RegisteredScale(0.5), keras.layers.Dense(2, activation=cube)])
    model.compile(optimizer="sgd", loss="mse")
    path = _save(model, tmp_path / "m.keras")
    with zipfile.ZipFile(path) as zf:
        layer = json.loads(zf.read("config.json"))["config"]["layers"][1]
    assert layer["registered_name"] == "Tests>RegisteredScale" and layer["class_name"] == "RegisteredScale"
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[0], RegisteredScale) and loaded.layers[1].activation is cube
    assert keras.saving.get_registered_object("Tests>cube") is cube
    x = np.random.RandomState(0).randn(4, 3).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_serialize_keras_object_round_trip():
    init = keras.initializers.HeNormal(seed=3)
    config = keras.saving.serialize_keras_object(init)
    assert config == {"module": "keras.initializers", "class_name": "HeNormal", "config": init.get_config(),
                      "registered_name": None}
    assert isinstance(keras.saving.deserialize_keras_object(config), keras.initializers.HeNormal)
    arr = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(arr)), arr)


# ---------------------------------------------------------------------- tf.keras 2 legacy .h5
def _tf2_layer(class_name, config, **extra):
    return {"class_name": class_name, "config": config, **extra}


def _write_tf2_h5(path, model_config, weights, training_config=None):
    """A file laid out as tf.keras 2.x `model.save("x.h5")` writes it."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config)
        if training_config:
            f.attrs["training_config"] = json.dumps(training_config)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([name.encode() for name, _ in weights], dtype="S")
        for name, arrays in weights:
            sub = g.create_group(name)
            names = [f"{name}/{w}:0" for w, _ in arrays]
            sub.attrs["weight_names"] = np.array([n.encode() for n in names], dtype="S")
            for n, (_, arr) in zip(names, arrays):
                sub.create_dataset(n, data=arr)


def test_tf2_sequential_h5(tmp_path):
    rng = np.random.RandomState(0)
    k1, b1 = rng.randn(4, 5).astype("float32"), rng.randn(5).astype("float32")
    k2, b2 = rng.randn(5, 2).astype("float32"), rng.randn(2).astype("float32")
    glorot = {"class_name": "GlorotUniform", "config": {"seed": None}}
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        _tf2_layer("InputLayer", {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False,
                                  "ragged": False, "name": "dense_input"}),
        _tf2_layer("Dense", {"name": "dense", "trainable": True, "dtype": "float32", "batch_input_shape": [None, 4],
                             "units": 5, "activation": "relu", "use_bias": True, "kernel_initializer": glorot,
                             "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
                             "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
                             "bias_constraint": None}),
        _tf2_layer("Dropout", {"name": "dropout", "trainable": True, "dtype": "float32", "rate": 0.5,
                               "noise_shape": None, "seed": None}),
        _tf2_layer("Dense", {"name": "dense_1", "trainable": True, "dtype": "float32", "units": 2,
                             "activation": "linear", "use_bias": True, "kernel_initializer": glorot,
                             "bias_initializer": {"class_name": "Zeros", "config": {}}}),
        _tf2_layer("Activation", {"name": "activation", "trainable": True, "dtype": "float32",
                                  "activation": "softmax"})]},
        "keras_version": "2.15.0", "backend": "tensorflow"}
    training = {"loss": "categorical_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper", "config": {
        "name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}]], "weighted_metrics": None,
                "loss_weights": None, "optimizer_config": {"class_name": "Adam", "config": {
                    "name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999,
                    "epsilon": 1e-07, "amsgrad": False, "jit_compile": False, "is_legacy_optimizer": False}}}
    path = tmp_path / "tf2.h5"
    _write_tf2_h5(path, config, [("dense", [("kernel", k1), ("bias", b1)]), ("dropout", []),
                                 ("dense_1", [("kernel", k2), ("bias", b2)]), ("activation", [])], training)
    model = keras.models.load_model(path)
    x = rng.randn(3, 4).astype("float32")
    logits = np.maximum(x @ k1 + b1, 0) @ k2 + b2
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    # gpukeras writes the same legacy layout back
    model.save(tmp_path / "again.h5")
    again = keras.models.load_model(tmp_path / "again.h5")
    np.testing.assert_allclose(again.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    with h5py.File(tmp_path / "again.h5", "r") as f:
        assert [n.decode() for n in f["model_weights"].attrs["layer_names"]] == [layer.name for layer in model.layers]


def test_tf2_functional_h5(tmp_path):
    rng = np.random.RandomState(1)
    k, b = rng.randn(3, 2).astype("float32"), rng.randn(2).astype("float32")
    config = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "input_1"}, "name": "input_1",
         "inbound_nodes": []},
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "input_2"}, "name": "input_2",
         "inbound_nodes": []},
        {"class_name": "Add", "config": {"name": "add", "trainable": True, "dtype": "float32"}, "name": "add",
         "inbound_nodes": [[["input_1", 0, 0, {}], ["input_2", 0, 0, {}]]]},
        {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 2,
                                           "activation": "linear", "use_bias": True}, "name": "dense",
         "inbound_nodes": [[["add", 0, 0, {}]]]}],
        "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]], "output_layers": [["dense", 0, 0]]}}
    path = tmp_path / "tf2_functional.h5"
    _write_tf2_h5(path, config, [("input_1", []), ("input_2", []), ("add", []),
                                 ("dense", [("kernel", k), ("bias", b)])])
    model = keras.models.load_model(path)
    x1, x2 = rng.randn(4, 3).astype("float32"), rng.randn(4, 3).astype("float32")
    np.testing.assert_allclose(model.predict([x1, x2], verbose=0), (x1 + x2) @ k + b, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "again.h5")
    again = keras.models.load_model(tmp_path / "again.h5")
    np.testing.assert_allclose(again.predict([x1, x2], verbose=0), (x1 + x2) @ k + b, rtol=1e-5, atol=1e-6)


def test_tf2_convnet_h5(tmp_path):
    for name in ("Conv2D", "MaxPooling2D", "BatchNormalization"):
        if not hasattr(keras.layers, name):
            pytest.skip(f"{name} not available")
    rng = np.random.RandomState(2)
    kc, bc = rng.randn(3, 3, 1, 2).astype("float32"), rng.randn(2).astype("float32")
    bn = [rng.rand(2).astype("float32") + 0.5, rng.randn(2).astype("float32"), rng.randn(2).astype("float32"),
          rng.rand(2).astype("float32") + 0.5]
    kd, bd = rng.randn(18, 2).astype("float32"), rng.randn(2).astype("float32")
    layers = [
        _tf2_layer("InputLayer", {"batch_input_shape": [None, 8, 8, 1], "dtype": "float32", "sparse": False,
                                  "ragged": False, "name": "conv2d_input"}),
        _tf2_layer("Conv2D", {"name": "conv2d", "trainable": True, "dtype": "float32",
                              "batch_input_shape": [None, 8, 8, 1], "filters": 2, "kernel_size": [3, 3],
                              "strides": [1, 1], "padding": "valid", "data_format": "channels_last",
                              "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": True}),
        _tf2_layer("BatchNormalization", {"name": "batch_normalization", "trainable": True, "dtype": "float32",
                                          "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": True,
                                          "scale": True}),
        _tf2_layer("MaxPooling2D", {"name": "max_pooling2d", "trainable": True, "dtype": "float32",
                                    "pool_size": [2, 2], "padding": "valid", "strides": [2, 2],
                                    "data_format": "channels_last"}),
        _tf2_layer("Flatten", {"name": "flatten", "trainable": True, "dtype": "float32",
                               "data_format": "channels_last"}),
        _tf2_layer("Dense", {"name": "dense", "trainable": True, "dtype": "float32", "units": 2,
                             "activation": "linear", "use_bias": True})]
    path = tmp_path / "tf2_conv.h5"
    _write_tf2_h5(path, {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}, [
        ("conv2d", [("kernel", kc), ("bias", bc)]),
        ("batch_normalization", list(zip(["gamma", "beta", "moving_mean", "moving_variance"], bn))),
        ("max_pooling2d", []), ("flatten", []), ("dense", [("kernel", kd), ("bias", bd)])])
    model = keras.models.load_model(path)
    reference = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                                  keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(2),
                                  keras.layers.Flatten(), keras.layers.Dense(2)])
    reference.set_weights([kc, bc, *bn, kd, bd])
    x = rng.randn(2, 8, 8, 1).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
