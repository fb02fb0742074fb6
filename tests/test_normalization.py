"""BatchNormalization, LayerNormalization and RMSNormalization: Keras 3 semantics, moving statistics, gradients."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from gradcheck import check_gradients

import gpukeras as keras
from gpukeras import layers, ops
from gpukeras.autodiff import GradientTape
from gpukeras.ops.convolution import normalize_train
from gpukeras.tensor import Tensor

RNG = np.random.default_rng(3)


def test_batchnorm_training_uses_batch_stats_and_updates_moving_stats() -> None:
    x = (RNG.standard_normal((8, 3, 4, 5)) * 2 + 1).astype("float32")
    bn = layers.BatchNormalization(momentum=0.9)
    y = bn(x, training=True).numpy()
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))  # biased, as Keras's moments
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in bn.trainable_weights] == ["gamma", "beta"]
    assert bn.moving_mean.dtype == "float32"


def test_batchnorm_inference_uses_moving_stats_and_frozen_layer_ignores_training() -> None:
    x = RNG.standard_normal((4, 6)).astype("float32")
    bn = layers.BatchNormalization(epsilon=0.01)
    bn.build((None, 6))
    gamma, beta = RNG.random(6) + 0.5, RNG.standard_normal(6)
    mm, mv = RNG.standard_normal(6), RNG.random(6) + 0.5
    bn.set_weights([gamma, beta, mm, mv])
    expected = (x - mm) / np.sqrt(mv + 0.01) * gamma + beta
    np.testing.assert_allclose(bn(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-5)
    bn.trainable = False
    np.testing.assert_allclose(bn(x, training=True).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mm, rtol=1e-6)  # not updated


def test_batchnorm_channels_first_axis_and_no_center_scale() -> None:
    x = RNG.standard_normal((4, 3, 5, 5)).astype("float32")
    bn = layers.BatchNormalization(axis=1, center=False, scale=False)
    y = bn(x, training=True).numpy()
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    assert [w.name for w in bn.weights] == ["moving_mean", "moving_variance"]
    assert bn.moving_mean.shape == (3,)


def test_batchnorm_moving_update_is_not_on_the_tape() -> None:
    x = RNG.standard_normal((6, 4)).astype("float32")
    bn = layers.BatchNormalization()
    bn.build((None, 4))
    with keras.GradientTape() as tape:
        loss = ops.sum(ops.square(bn(x, training=True)))
    assert bn.moving_mean.node is None and bn.moving_variance.node is None
    grads = tape.gradient(loss, bn.trainable_weights + bn.non_trainable_weights)
    assert grads[0] is not None and grads[1] is not None
    assert grads[2] is None and grads[3] is None


def test_batchnorm_training_gradients() -> None:
    x = RNG.standard_normal((5, 2, 3))
    gamma = RNG.random(3) + 0.5
    beta = RNG.standard_normal(3)
    check_gradients(lambda a, g, b: normalize_train(a, g, b, (0, 1), (1, 1, 3), 1e-3)[0], [x, gamma, beta],
                    atol=1e-5, rtol=1e-4, name="batch norm (training)")
    xf = RNG.standard_normal((4, 2, 3))
    check_gradients(lambda a, g, b: normalize_train(a, g, b, (0, 2), (1, 2, 1), 1e-3)[0], [xf, gamma[:2], beta[:2]],
                    atol=1e-5, rtol=1e-4, name="batch norm axis=1")


def test_batchnorm_layer_gradients_through_the_layer() -> None:
    x = RNG.standard_normal((6, 3))
    bn = layers.BatchNormalization(dtype="float64")
    bn.build((None, 3))
    check_gradients(lambda a: bn(a, training=True), [x], atol=1e-5, rtol=1e-4, name="BatchNormalization layer")
    check_gradients(lambda a: bn(a, training=False), [x], name="BatchNormalization inference")


def test_batchnorm_in_a_conv_model_trains() -> None:
    (x, y), _ = keras.datasets.digits.load_data()
    x = (x[:256, :, :, None] / 16.0).astype("float32")
    y = y[:256]
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(8, 3, use_bias=False), layers.BatchNormalization(),
        layers.Activation("relu"), layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=32, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    bn = model.layers[1]
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)
    preds = model.predict(x[:8], verbose=0)
    assert np.all(np.isfinite(preds))


def test_layernorm_forward_gradients_and_config() -> None:
    x = RNG.standard_normal((3, 4, 5))
    ln = layers.LayerNormalization(dtype="float64")
    y = ln(x).numpy()
    mean = x.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-3), atol=1e-10)
    ln.set_weights([RNG.random(5) + 0.5, RNG.standard_normal(5)])
    check_gradients(lambda a: ln(a), [x], atol=1e-5, rtol=1e-4, name="LayerNormalization")
    ln2 = layers.LayerNormalization(axis=[1, 2], dtype="float64")
    ln2.build((None, 4, 5))
    ln2.set_weights([RNG.random((4, 5)) + 0.5, RNG.standard_normal((4, 5))])
    gamma, beta = ln2.get_weights()
    m = x.mean(axis=(1, 2), keepdims=True)
    v = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(ln2(x).numpy(), (x - m) / np.sqrt(v + 1e-3) * gamma + beta, atol=1e-10)
    check_gradients(lambda a, gg, bb: normalize_train(a, gg, bb, (1, 2), (1, 2, 3), 1e-3)[0],
                    [x[:2, :2, :3], gamma[:2, :3], beta[:2, :3]], atol=1e-5, rtol=1e-4, name="layer norm 2 axes")
    config = ln2.get_config()
    json.dumps(config)
    assert layers.LayerNormalization.from_config(config).get_config() == config


def test_normalization_config_and_bad_arguments() -> None:
    bn = layers.BatchNormalization(axis=1, momentum=0.5, epsilon=1e-5, center=False, gamma_regularizer="l2")
    config = bn.get_config()
    json.dumps(config)
    assert layers.BatchNormalization.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="momentum"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        layers.BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match="axis"):
        layers.BatchNormalization(axis=3)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="axis"):
        layers.LayerNormalization(axis="last")
    bn2 = layers.BatchNormalization()
    bn2(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"expected ndim=2, found ndim=3"):
        bn2(np.zeros((2, 3, 3), "float32"))


def test_rms_normalization_and_rms_scaling_match_keras3():
    """RMSNormalization (last axis; two axes) and LayerNormalization(rms_scaling=True) (Keras 3's deprecated
    variance scaling): outputs and gradients for the input and the scale equal Keras 3's (torch backend),
    recorded from the same weights in tests/fixtures/keras3_rms_normalization.json."""
    fixture = json.loads((Path(__file__).parent / "fixtures" / "keras3_rms_normalization.json").read_text())
    x, w = np.float32(fixture["x"]), np.float32(fixture["w"])
    makers = {"rms_last": lambda: keras.layers.RMSNormalization(),
              "rms_12": lambda: keras.layers.RMSNormalization(axis=[1, 2], epsilon=1e-3),
              "ln_rms_scaling": lambda: keras.layers.LayerNormalization(rms_scaling=True)}
    for name, make in makers.items():
        want = fixture["cases"][name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            layer = make()
        layer.build(x.shape)
        layer.set_weights([np.float32(want["scale"])])
        xt = Tensor(keras.backend.get().asarray(x))
        with GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
            loss = keras.ops.sum(y * w)
        dx, dscale = tape.gradient(loss, [xt, layer.weights[0]])
        np.testing.assert_allclose(y.numpy(), want["y"], rtol=2e-5, atol=2e-6, err_msg=name)
        np.testing.assert_allclose(dx.numpy(), want["dx"], rtol=2e-4, atol=2e-5, err_msg=name)
        np.testing.assert_allclose(dscale.numpy(), want["dscale"], rtol=2e-5, atol=2e-5, err_msg=name)
