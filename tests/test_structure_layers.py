"""Issue 12's structure layers on every backend: finite-difference gradients (float64 layers), the random
layers' training behaviour (statistics, seeding, inference identity), masks, configs, saving, and
Lambda's saving rules. Their numbers against Keras 3 are in tests/test_keras3_structure_layers.py.
"""

from __future__ import annotations

import codecs
import json
import marshal
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradcheck import check_gradients
from reference import structure_layer_cases as cases

import gpukeras as keras
from gpukeras import layers, ops
from gpukeras.tensor import get_keras_mask, set_keras_mask

RNG = np.random.default_rng(12)
F64 = {"dtype": "float64"}
LAMBDA_FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_structure_layers.json").read_text())


def _x(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------------------- finite differences
MERGES = {
    "add": (lambda: layers.Add(**F64), [(2, 2, 3), (2, 1, 3)]),
    "add_lower_rank": (lambda: layers.Add(**F64), [(2, 2, 3), (2, 3)]),
    "subtract": (lambda: layers.Subtract(**F64), [(2, 2, 3), (2, 2, 3)]),
    "multiply": (lambda: layers.Multiply(**F64), [(2, 2, 3)] * 3),
    "average": (lambda: layers.Average(**F64), [(2, 2, 3)] * 2),
    "maximum": (lambda: layers.Maximum(**F64), [(2, 2, 3)] * 3),
    "minimum": (lambda: layers.Minimum(**F64), [(2, 2, 3)] * 2),
    "concatenate": (lambda: layers.Concatenate(axis=1, **F64), [(2, 2, 3), (2, 1, 3)]),
    "dot_2d": (lambda: layers.Dot(axes=1, **F64), [(2, 3), (2, 3)]),
    "dot_3d": (lambda: layers.Dot(axes=(1, 2), **F64), [(2, 2, 3), (2, 4, 2)]),
    "dot_normalize": (lambda: layers.Dot(axes=-1, normalize=True, **F64), [(2, 2, 3), (2, 1, 3)]),
}


@pytest.mark.parametrize("name", sorted(MERGES))
def test_merge_gradients(name: str) -> None:
    make, shapes = MERGES[name]
    check_gradients(lambda *xs: make()(list(xs)), [_x(*s) for s in shapes], name=name)


SINGLE = {
    "relu_options": (lambda: layers.ReLU(max_value=1.2, negative_slope=0.1, threshold=0.3, **F64), (3, 5)),
    "leaky_relu": (lambda: layers.LeakyReLU(0.2, **F64), (3, 5)),
    "elu": (lambda: layers.ELU(0.6, **F64), (3, 5)),
    "softmax_two_axes": (lambda: layers.Softmax(axis=[1, 2], **F64), (2, 3, 4)),
    "permute": (lambda: layers.Permute((3, 1, 2), **F64), (2, 3, 4, 2)),
    "repeat_vector": (lambda: layers.RepeatVector(3, **F64), (2, 4)),
    "unit_normalization": (lambda: layers.UnitNormalization(axis=[1, 2], **F64), (2, 3, 4)),
    "lambda": (lambda: layers.Lambda(lambda t, k: ops.square(t) * k, arguments={"k": 1.5}, **F64), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_layer_input_gradients(name: str) -> None:
    make, shape = SINGLE[name]
    check_gradients(lambda x: make()(x), [_x(*shape)], name=name)


def test_softmax_mask_gradient() -> None:
    mask = ops.convert_to_tensor(np.array([[[True, False, True, True]], [[False, False, False, False]]]))
    check_gradients(lambda x: layers.Softmax(**F64)(x, mask=mask), [_x(2, 3, 4)], name="masked softmax")


def test_prelu_gradients() -> None:
    def prelu(x, alpha):
        layer = layers.PReLU(shared_axes=[1], **F64)
        layer.build(x.shape)
        layer.alpha = alpha
        return layer(x)

    check_gradients(prelu, [_x(2, 3, 4), _x(1, 4)], name="PReLU")


@pytest.mark.parametrize("groups, axis, shape", [(2, -1, (2, 3, 4)), (-1, 1, (2, 3, 2, 2)), (1, -1, (3, 4))])
def test_group_normalization_gradients(groups: int, axis: int, shape: tuple) -> None:
    def group_norm(x, gamma, beta):
        layer = layers.GroupNormalization(groups=groups, axis=axis, **F64)
        layer.build(x.shape)
        layer.gamma, layer.beta = gamma, beta
        return layer(x)

    channels = shape[axis]
    check_gradients(group_norm, [_x(*shape), _x(channels) + 1.0, _x(channels)], name=f"GroupNormalization{groups}")


@pytest.mark.parametrize("make", [lambda: layers.GaussianNoise(0.4, seed=3, **F64),
                                  lambda: layers.GaussianDropout(0.3, seed=4, **F64),
                                  lambda: layers.AlphaDropout(0.3, seed=5, **F64),
                                  lambda: layers.SpatialDropout1D(0.5, seed=6, **F64)],
                         ids=["gaussian_noise", "gaussian_dropout", "alpha_dropout", "spatial_dropout"])
def test_random_layer_gradients_in_training(make) -> None:
    """A fresh layer with the same seed draws the same noise, so the training-mode function is fixed."""
    check_gradients(lambda x: make()(x, training=True), [_x(2, 3, 4)], name="random layer")


# ---------------------------------------------------------------------------- the random layers
def _draw(layer, x, training=True) -> np.ndarray:
    return ops.convert_to_numpy(layer(x, training=training))


@pytest.mark.parametrize("make", [
    lambda: layers.GaussianNoise(0.5, seed=1), lambda: layers.GaussianDropout(0.4, seed=2),
    lambda: layers.AlphaDropout(0.3, seed=3), lambda: layers.SpatialDropout1D(0.5, seed=4),
    lambda: layers.SpatialDropout2D(0.5, seed=5), lambda: layers.SpatialDropout3D(0.5, seed=6),
], ids=["gaussian_noise", "gaussian_dropout", "alpha_dropout", "spatial1d", "spatial2d", "spatial3d"])
def test_random_layers_are_seeded_and_active_only_in_training(make) -> None:
    facts = LAMBDA_FIXTURE["random_layers"]["gaussian_noise"]  # what Keras 3 does (all three layers alike)
    assert facts["new_draw_each_call"] and facts["same_seed_same_first_draw"] and facts["inference_identity"]
    layer = make()
    rank = {"SpatialDropout2D": 4, "SpatialDropout3D": 5}.get(type(layer).__name__, 3)
    x = (RNG.standard_normal((4,) + (3,) * (rank - 2) + (8,)) + 2.0).astype("float32")
    np.testing.assert_array_equal(_draw(layer, x, training=False), x)
    np.testing.assert_array_equal(_draw(layer, x, training=None), x)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), x)  # default: inference
    first, second = _draw(layer, x), _draw(layer, x)
    assert not np.array_equal(first, second), "each training call draws new noise"
    np.testing.assert_array_equal(_draw(make(), x), first)  # the same seed, the same draws
    config = layer.get_config()
    np.testing.assert_array_equal(_draw(type(layer).from_config(config), x), first)


def test_gaussian_noise_and_dropout_statistics() -> None:
    x = np.full((200, 100), 3.0, "float32")
    noise = _draw(layers.GaussianNoise(0.25, seed=1), x) - 3.0
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.25) < 0.01
    factor = _draw(layers.GaussianDropout(0.2, seed=2), x) / 3.0
    assert abs(factor.mean() - 1.0) < 0.01 and abs(factor.std() - math.sqrt(0.2 / 0.8)) < 0.01
    assert _draw(layers.GaussianDropout(0.0), x).tolist() == x.tolist()
    assert _draw(layers.GaussianNoise(0.0), x).tolist() == x.tolist()
    with pytest.raises(ValueError, match="rate=1"):
        layers.GaussianDropout(1.0)(x, training=True)


def test_alpha_dropout_keeps_mean_and_variance_of_selu_activations() -> None:
    x = keras.activations.selu(RNG.standard_normal((400, 100)).astype("float32"))
    x = ops.convert_to_numpy(x)
    rate = 0.2
    y = _draw(layers.AlphaDropout(rate, seed=7), x)
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    dropped = np.isclose(y, a * alpha_p + (-a * alpha_p * rate), atol=1e-5)
    assert abs(dropped.mean() - rate) < 0.01
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] - a * alpha_p * rate, rtol=1e-5, atol=1e-5)
    assert abs(y.mean() - x.mean()) < 0.03 and abs(y.var() - x.var()) < 0.05
    shared = _draw(layers.AlphaDropout(0.5, noise_shape=[None, 1, 5], seed=8), np.ones((6, 4, 5), "float32"))
    assert np.all(shared == shared[:, :1, :])


@pytest.mark.parametrize("layer_cls, shape, data_format, axes", [
    (layers.SpatialDropout1D, (64, 7, 16), None, (1,)),
    (layers.SpatialDropout2D, (32, 4, 5, 16), None, (1, 2)),
    (layers.SpatialDropout2D, (32, 16, 4, 5), "channels_first", (2, 3)),
    (layers.SpatialDropout3D, (16, 3, 3, 3, 16), None, (1, 2, 3)),
])
def test_spatial_dropout_drops_whole_feature_maps(layer_cls, shape, data_format, axes) -> None:
    kwargs = {} if data_format is None else {"data_format": data_format}
    y = _draw(layer_cls(0.25, seed=9, **kwargs), np.ones(shape, "float32"))
    first = y[tuple(slice(0, 1) if i in axes else slice(None) for i in range(len(shape)))]
    assert np.all(y == first), "one draw per sample and channel"
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((first == 0).mean() - 0.25) < 0.05
    with pytest.raises(ValueError, match="rank"):
        layer_cls(0.5)(np.ones((2, 3), "float32"))


def test_spatial_dropout_configs_like_keras3() -> None:
    assert layers.SpatialDropout1D(0.3, seed=2, name="s").get_config() == {"rate": 0.3, "seed": 2, "name": "s",
                                                                             "dtype": "float32"}
    config = layers.SpatialDropout2D(0.3, data_format="channels_first").get_config()
    assert config["data_format"] == "channels_first" and isinstance(layers.SpatialDropout2D(0.1), layers.Dropout)
    with pytest.raises(TypeError):
        layers.SpatialDropout1D(0.3, data_format="channels_first")


def test_activity_regularization_adds_its_penalty_over_the_batch() -> None:
    x = _x(4, 5).astype("float32")
    layer = layers.ActivityRegularization(l1=0.01, l2=0.02)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), x)
    expected = (0.01 * np.abs(x).sum() + 0.02 * np.square(x).sum()) / 4  # Keras 3 divides by the batch size
    np.testing.assert_allclose(float(ops.convert_to_numpy(layer.losses[0])), expected, rtol=1e-5)
    assert layer.get_config()["l1"] == 0.01 and "activity_regularizer" not in layer.get_config()


# ---------------------------------------------------------------------------- masks
def test_mask_roles() -> None:
    """Which layers pass masks on, use them, or drop them (Keras 3's choices)."""
    x = ops.convert_to_tensor(_x(2, 3, 4).astype("float32"))
    mask = ops.convert_to_tensor(np.array([[True, True, False], [True, False, False]]))
    passing = [layers.ReLU(), layers.LeakyReLU(), layers.PReLU(), layers.ELU(), layers.Identity(),
               layers.GaussianNoise(0.1), layers.GaussianDropout(0.1), layers.AlphaDropout(0.1),
               layers.SpatialDropout1D(0.1), layers.ActivityRegularization(), layers.GroupNormalization(2),
               layers.UnitNormalization(), layers.Lambda(lambda t: t, mask=lambda i, m: m)]
    for layer in passing:
        set_keras_mask(x, mask)
        out = layer(x, training=True) if "training" in layer.call.__code__.co_varnames else layer(x)
        np.testing.assert_array_equal(ops.convert_to_numpy(get_keras_mask(out)), ops.convert_to_numpy(mask))
    fixed = layers.Lambda(lambda t: t * 1.0, mask=np.array([[True, False, True]] * 2))
    np.testing.assert_array_equal(ops.convert_to_numpy(get_keras_mask(fixed(x))), [[True, False, True]] * 2)
    with pytest.warns(UserWarning, match="does not support masking"):
        out = layers.Permute((2, 1))(x)
    assert get_keras_mask(out) is None
    y = layers.Softmax()(ops.convert_to_tensor(np.zeros((2, 2, 3), "float32")), mask=np.array([[1.0, 0.0, 0.7]]))
    np.testing.assert_allclose(ops.convert_to_numpy(y)[..., 1], 0.0)
    np.testing.assert_allclose(ops.convert_to_numpy(y)[..., 0], 0.5)


def test_functional_helpers_are_their_layers() -> None:
    a, b = keras.Input((3,)), keras.Input((3,))
    for helper, cls in [(layers.add, layers.Add), (layers.subtract, layers.Subtract),
                        (layers.multiply, layers.Multiply), (layers.average, layers.Average),
                        (layers.maximum, layers.Maximum), (layers.minimum, layers.Minimum),
                        (layers.concatenate, layers.Concatenate)]:
        out = helper([a, b], name=f"h_{cls.__name__.lower()}")
        assert isinstance(out.node.layer, cls) and out.node.layer.name == f"h_{cls.__name__.lower()}"
    out = layers.dot([a, b], axes=1, normalize=True)
    assert isinstance(out.node.layer, layers.Dot) and out.node.layer.normalize and out.shape == (None, 1)
    assert layers.concatenate([a, b], axis=-1).shape == (None, 6)


def test_symbolic_shapes() -> None:
    assert layers.Dot(axes=(2, 2))([keras.Input((3, 5)), keras.Input((6, 5))]).shape == (None, 3, 6)
    assert layers.Add()([keras.Input((3, 5)), keras.Input((1, 5))]).shape == (None, 3, 5)
    assert layers.Permute((3, 1, 2))(keras.Input((2, 3, 4))).shape == (None, 4, 2, 3)
    assert layers.RepeatVector(4)(keras.Input((5,))).shape == (None, 4, 5)
    assert layers.Lambda(lambda t: t[:, :2], output_shape=(2,))(keras.Input((5,))).shape == (None, 2)
    assert layers.Lambda(lambda t: t, output_shape=lambda s: (s[0], 9))(keras.Input((5,))).shape == (None, 9)
    assert layers.Lambda(lambda t: ops.concatenate([t, t], axis=1))(keras.Input((5,))).shape == (None, 10)
    with pytest.raises(ValueError, match="incompatible shapes"):
        layers.Add()([keras.Input((3,)), keras.Input((4,))])


# ---------------------------------------------------------------------------- saving
def _every_layer_model():
    inp = keras.Input((4, 6))
    h = layers.Dense(6)(inp)
    h = layers.PReLU(shared_axes=[1])(h)
    h = layers.GroupNormalization(groups=3)(h)
    h = layers.ReLU(max_value=3.0)(h)
    h = layers.LeakyReLU(0.1)(h)
    h = layers.ELU()(h)
    h = layers.Softmax(axis=[1, 2])(h)
    h = layers.UnitNormalization()(h)
    h = layers.GaussianNoise(0.1, seed=1)(h)
    h = layers.SpatialDropout1D(0.1, seed=2)(h)
    h = layers.Permute((2, 1))(h)
    h = layers.Identity()(h)
    flat = layers.Flatten()(h)
    rep = layers.Flatten()(layers.RepeatVector(2)(flat))
    merged = layers.concatenate([layers.maximum([flat, flat]), layers.Dot(axes=1)([flat, flat]), rep])
    return keras.Model(inp, layers.Dense(1)(layers.ActivityRegularization(0.01)(merged)))


def test_saved_model_with_every_layer_reloads(tmp_path) -> None:
    model = _every_layer_model()
    x = _x(3, 4, 6).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    assert [type(a).__name__ for a in loaded.layers] == [type(b).__name__ for b in model.layers]
    assert [w.name for w in loaded.weights] == [w.name for w in model.weights]


_KERAS3_CHECK = """
import sys, numpy as np, keras
for path in sys.argv[1:]:
    data = np.load(path + ".npz")
    model = keras.models.load_model(path, safe_mode=False)  # safe_mode=False: one holds a Lambda's bytecode
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-5, atol=1e-6)
print("ok")
"""


def test_keras3_loads_gpukeras_files(tmp_path) -> None:
    """Keras 3 reads what gpukeras writes for these layers (configs, weights, a Lambda's bytecode)."""
    python = os.environ.get("KERAS3_PYTHON")
    if not python:
        pytest.skip("set KERAS3_PYTHON to a Python with keras 3 + jax to run the gpukeras -> Keras 3 check")
    models = {"every_layer": (_every_layer_model(), _x(3, 4, 6).astype("float32"))}
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=60).stdout.strip()
    if version == str(sys.version_info[:2]):  # marshalled bytecode only loads in the Python version that wrote it
        models["lambda"] = (keras.Sequential([keras.Input((5,)), layers.Lambda(lambda t: t * 3.0 + 1.0)]),
                            _x(2, 5).astype("float32"))
    paths = []
    for name, (model, x) in models.items():
        path = str(tmp_path / f"{name}.keras")
        model.save(path)
        np.savez(path + ".npz", x=x, y=model.predict(x, verbose=0))
        paths.append(path)
    result = subprocess.run([python, "-c", _KERAS3_CHECK, *paths], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    assert result.returncode == 0 and "ok" in result.stdout, result.stdout + result.stderr


def test_lambda_writes_keras3_bytecode_entry_and_is_refused_on_load(tmp_path) -> None:
    scale = 3.0
    layer = layers.Lambda(lambda t, offset=1.0: t * scale + offset)
    entry = layer.get_config()["function"]
    keras3 = LAMBDA_FIXTURE["layers"]["lambda"]["config"]["function"]
    assert entry["class_name"] == keras3["class_name"] == "__lambda__"
    assert sorted(entry["config"]) == sorted(keras3["config"]) == ["closure", "code", "defaults"]
    assert entry["config"]["defaults"] == (1.0,) and entry["config"]["closure"] == (3.0,)
    code = marshal.loads(codecs.decode(entry["config"]["code"].encode("ascii"), "base64"))  # our own bytes
    assert code.co_name == "<lambda>"
    model = keras.Sequential([keras.Input((2,)), layer])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        saved = json.loads(z.read("config.json"))["config"]["layers"][1]
    assert saved["class_name"] == "Lambda" and saved["config"]["function"]["class_name"] == "__lambda__"
    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.load_model(path)
    with pytest.raises(NotImplementedError, match="bytecode"):
        keras.models.load_model(path, safe_mode=False)
    with pytest.raises(ValueError, match="safe_mode"):
        layers.Lambda.from_config(layer.get_config())


def test_lambda_over_a_named_function_loads_only_with_safe_mode_off(tmp_path) -> None:
    model = keras.Sequential([keras.Input((5,)), layers.Lambda(cases.double_plus_one, output_shape=(5,))])
    x = _x(2, 5).astype("float32")
    path = tmp_path / "named.keras"
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.load_model(path)
    with pytest.raises(ValueError, match="double_plus_one"):
        keras.models.load_model(path, safe_mode=False)
    loaded = keras.models.load_model(path, safe_mode=False, custom_objects={"double_plus_one": cases.double_plus_one})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x * 2.0 + 1.0, rtol=1e-6)
    # the config Keras 3 itself writes for such a model ({"module": "builtins", "registered_name": "function"})
    keras3_model = LAMBDA_FIXTURE["lambda_named"]["model_config"]
    with pytest.raises(ValueError, match="safe_mode"):
        keras.saving.deserialize_keras_object(keras3_model)
    rebuilt = keras.saving.deserialize_keras_object(keras3_model, safe_mode=False,
                                                    custom_objects={"double_plus_one": cases.double_plus_one})
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), x * 2.0 + 1.0, rtol=1e-6)
    assert rebuilt.layers[0].get_config()["output_shape"] == (5,)


def test_lambda_arguments_mask_and_training() -> None:
    seen = {}

    def fn(t, mask=None, training=None, power=2):
        seen.update(mask=mask, training=training)
        return t ** power

    layer = layers.Lambda(fn, arguments={"power": 3})
    x = ops.convert_to_tensor(np.full((2, 3), 2.0, "float32"))
    set_keras_mask(x, ops.convert_to_tensor(np.array([True, False])))
    with pytest.warns(UserWarning, match="does not support masking"):  # no `mask=`: the mask stops here
        np.testing.assert_allclose(ops.convert_to_numpy(layer(x, training=True)), 8.0)
    assert seen["training"] is True and ops.convert_to_numpy(seen["mask"]).tolist() == [True, False]
    with pytest.raises(ValueError, match="callable"):
        layers.Lambda(3)
    with pytest.raises(ValueError, match="arguments"):
        layers.Lambda(fn, arguments=[1])


def test_enable_unsafe_deserialization_lets_load_model_take_a_named_function_lambda(tmp_path, monkeypatch) -> None:
    """keras.config.enable_unsafe_deserialization() turns safe mode off for later loads, load_model's own
    default included (Keras 3's rule); stored bytecode is still never run."""
    from gpukeras.saving import serialization

    model = keras.Sequential([keras.Input((5,)), layers.Lambda(cases.double_plus_one, output_shape=(5,))])
    path = tmp_path / "named.keras"
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.load_model(path, custom_objects={"double_plus_one": cases.double_plus_one})
    monkeypatch.setattr(serialization, "_process_safe_mode", None)  # restored after the test
    keras.config.enable_unsafe_deserialization()
    loaded = keras.models.load_model(path, custom_objects={"double_plus_one": cases.double_plus_one})
    x = _x(2, 5).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x * 2.0 + 1.0, rtol=1e-6)
