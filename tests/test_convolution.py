"""Convolution: forward values against a direct loop reference, gradients, layers, training."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from gradcheck import check_gradients

import gpukeras as keras
from gpukeras import layers, ops
from gpukeras.ops.convolution import conv_bias


# ---------------------------------------------------------------------------- references
def tf_pads(n: int, k: int, s: int, d: int, padding: str) -> tuple[int, int, int]:
    """(before, after, out) for one axis, straight from TensorFlow's documented rule."""
    eff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0, (n - eff) // s + 1
    if padding == "causal":
        return eff - 1, 0, (n - 1) // s + 1
    out = -(-n // s)
    total = max((out - 1) * s + eff - n, 0)
    return total // 2, total - total // 2, out


def ref_conv(x, k, strides, padding, dilation, groups=1, bias=None):
    """Direct convolution in float64: one dot product per output pixel and kernel offset."""
    x = np.asarray(x, np.float64)
    k = np.asarray(k, np.float64)
    r = x.ndim - 2
    geo = [tf_pads(x.shape[1 + i], k.shape[i], strides[i], dilation[i], padding) for i in range(r)]
    xp = np.pad(x, [(0, 0)] + [(g[0], g[1]) for g in geo] + [(0, 0)])
    out = tuple(g[2] for g in geo)
    cg, cout = k.shape[-2], k.shape[-1]
    og = cout // groups
    y = np.zeros((x.shape[0],) + out + (cout,))
    for o in itertools.product(*map(range, out)):
        for off in itertools.product(*map(range, k.shape[:r])):
            v = xp[(slice(None),) + tuple(o[i] * strides[i] + off[i] * dilation[i] for i in range(r))]
            for g in range(groups):
                y[(slice(None),) + o + (slice(g * og, (g + 1) * og),)] += (
                    v[:, g * cg:(g + 1) * cg] @ k[off][:, g * og:(g + 1) * og])
    return y if bias is None else y + bias


def ref_conv_transpose(x, k, strides, out_sizes, pad_before):
    """Scatter definition: out[o*s + k - p] += x[o] @ k[k].T (kernel (*k, out_ch, in_ch))."""
    r = x.ndim - 2
    y = np.zeros((x.shape[0],) + tuple(out_sizes) + (k.shape[-2],))
    for o in itertools.product(*map(range, x.shape[1:-1])):
        for off in itertools.product(*map(range, k.shape[:r])):
            pos = tuple(o[i] * strides[i] + off[i] - pad_before[i] for i in range(r))
            if all(0 <= p < n for p, n in zip(pos, out_sizes)):
                y[(slice(None),) + pos] += x[(slice(None),) + o] @ k[off].T
    return y


def _np(t):
    return np.asarray(ops.convert_to_numpy(t))


RNG = np.random.default_rng(7)


# ---------------------------------------------------------------------------- forward values
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [(1, 1), (2, 3)])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1)])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_matches_direct_reference(padding, strides, dilation, groups) -> None:
    x = RNG.standard_normal((2, 7, 8, 4))
    k = RNG.standard_normal((3, 2, 4 // groups, 6))
    b = RNG.standard_normal(6)
    y = conv_bias(x, k, b, strides, padding, None, dilation, groups)
    np.testing.assert_allclose(_np(y), ref_conv(x, k, strides, padding, dilation, groups, b), atol=1e-10)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (3, 1), (1, 3)])
def test_conv1d_matches_direct_reference(padding, strides, dilation) -> None:
    x = RNG.standard_normal((3, 10, 2))
    k = RNG.standard_normal((3, 2, 5))
    y = conv_bias(x, k, None, strides, padding, None, dilation, 1)
    np.testing.assert_allclose(_np(y), ref_conv(x, k, (strides,), padding, (dilation,)), atol=1e-10)


def test_conv3d_and_even_kernel_same_padding_split() -> None:
    x = RNG.standard_normal((1, 4, 5, 6, 2))
    k = RNG.standard_normal((2, 3, 4, 2, 3))  # even sizes: TF puts the extra pad after
    y = conv_bias(x, k, None, (1, 2, 2), "same", None, (1, 1, 1), 1)
    np.testing.assert_allclose(_np(y), ref_conv(x, k, (1, 2, 2), "same", (1, 1, 1)), atol=1e-10)


def test_ops_conv_keras_signature_channels_first_and_float32() -> None:
    x = RNG.standard_normal((2, 9, 7, 3)).astype("float32")
    k = RNG.standard_normal((3, 3, 3, 4)).astype("float32")
    y_last = ops.conv(x, k, strides=2, padding="same")
    assert y_last.dtype == "float32"
    np.testing.assert_allclose(_np(y_last), ref_conv(x, k, (2, 2), "same", (1, 1)), rtol=1e-5, atol=1e-5)
    y_first = ops.conv(np.transpose(x, (0, 3, 1, 2)), k, strides=2, padding="same", data_format="channels_first")
    np.testing.assert_allclose(_np(y_first), np.transpose(_np(y_last), (0, 3, 1, 2)), rtol=1e-6, atol=1e-6)
    # groups are inferred from channels / kernel input channels, as in Keras
    kg = RNG.standard_normal((1, 1, 1, 3))
    np.testing.assert_allclose(_np(ops.conv(x.astype("float64"), kg)),
                               ref_conv(x, kg, (1, 1), "valid", (1, 1), groups=3), atol=1e-10)


@pytest.mark.parametrize("padding,output_padding,strides", [
    ("valid", None, 2), ("valid", None, 3), ("same", None, 2), ("valid", 1, 2), ("same", 1, 2), ("same", None, 1),
])
def test_conv_transpose_matches_scatter_reference(padding, output_padding, strides) -> None:
    from gpukeras.ops.convolution import _conv_transpose_pads, conv_transpose_output_size

    x = RNG.standard_normal((2, 4, 3, 3))
    k = RNG.standard_normal((3, 2, 5, 3))  # (kh, kw, out_channels, in_channels)
    y = _np(ops.conv_transpose(x, k, strides, padding=padding, output_padding=output_padding))
    sizes = [conv_transpose_output_size(n, kk, strides, padding, output_padding, 1) for n, kk in zip((4, 3), (3, 2))]
    before = [_conv_transpose_pads(kk, strides, padding, output_padding, 1)[0] for kk in (3, 2)]
    assert y.shape == (2, *sizes, 5)
    np.testing.assert_allclose(y, ref_conv_transpose(x, k, (strides, strides), sizes, before), atol=1e-10)


def test_conv_transpose_shapes_follow_keras() -> None:
    x = np.zeros((1, 5, 5, 2))
    k = np.zeros((3, 3, 4, 2))
    assert ops.conv_transpose(x, k, 2, "valid").shape == (1, 11, 11, 4)
    assert ops.conv_transpose(x, k, 2, "same").shape == (1, 10, 10, 4)
    assert ops.conv_transpose(x, np.zeros((2, 2, 4, 2)), 3, "valid").shape == (1, 15, 15, 4)


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("padding,strides,dilation,groups", [
    ("valid", (1, 1), (1, 1), 1), ("same", (2, 2), (1, 1), 1), ("same", (1, 1), (2, 2), 2),
    ("valid", (2, 1), (1, 1), 2),
])
def test_conv2d_gradients(padding, strides, dilation, groups) -> None:
    x = RNG.standard_normal((2, 5, 6, 4))
    k = RNG.standard_normal((3, 2, 4 // groups, 4))
    b = RNG.standard_normal(4)
    check_gradients(lambda a, w, c: conv_bias(a, w, c, strides, padding, None, dilation, groups), [x, k, b],
                    name=f"conv2d {padding} {strides} {dilation} g{groups}")


def test_conv1d_causal_and_channels_first_gradients() -> None:
    x = RNG.standard_normal((2, 7, 3))
    k = RNG.standard_normal((3, 3, 2))
    check_gradients(lambda a, w: conv_bias(a, w, None, 2, "causal", None, 1, 1), [x, k], name="conv1d causal")
    xf = RNG.standard_normal((2, 3, 5, 4))
    kf = RNG.standard_normal((2, 3, 3, 2))
    check_gradients(lambda a, w: ops.conv(a, w, 1, "same", "channels_first"), [xf, kf], name="conv channels_first")


@pytest.mark.parametrize("padding,output_padding", [("valid", None), ("same", 1)])
def test_conv_transpose_gradients(padding, output_padding) -> None:
    x = RNG.standard_normal((2, 3, 3, 2))
    k = RNG.standard_normal((3, 2, 3, 2))
    check_gradients(lambda a, w: ops.conv_transpose(a, w, 2, padding, output_padding), [x, k],
                    name=f"conv_transpose {padding}")


# ---------------------------------------------------------------------------- layers
def test_conv2d_layer_shapes_weights_and_fans() -> None:
    layer = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")
    y = layer(np.ones((2, 9, 10, 3), "float32"))
    assert y.shape == (2, 5, 5, 8)
    assert layer.compute_output_shape((None, 9, 10, 3)) == (None, 5, 5, 8)
    assert [w.path for w in layer.weights] == [f"{layer.name}/kernel", f"{layer.name}/bias"]
    assert layer.kernel.shape == (3, 3, 3, 8)
    limit = np.sqrt(6.0 / (3 * 3 * 3 + 3 * 3 * 8))  # Glorot with receptive-field fans
    w = layer.kernel.numpy()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.8 * limit
    assert np.all(y.numpy() >= 0)
    model = keras.Sequential([keras.Input((6, 12, 2)), layers.Conv2D(4, 3, dilation_rate=2, groups=2)])
    assert model.output_shape_of(model.layers[0]) == (None, 2, 8, 4)
    assert model.layers[0].kernel.shape == (3, 3, 1, 4)


def test_conv_layer_channels_first_matches_channels_last() -> None:
    x = RNG.standard_normal((2, 6, 7, 3)).astype("float32")
    last = layers.Conv2D(4, (2, 3), padding="same", use_bias=True, bias_initializer="ones")
    first = layers.Conv2D(4, (2, 3), padding="same", data_format="channels_first", bias_initializer="ones")
    y_last = last(x)
    first.build((None, 3, 6, 7))
    first.set_weights(last.get_weights())
    y_first = first(np.transpose(x, (0, 3, 1, 2)))
    assert first.compute_output_shape((None, 3, 6, 7)) == (None, 4, 6, 7)
    np.testing.assert_allclose(y_first.numpy(), np.transpose(y_last.numpy(), (0, 3, 1, 2)), rtol=1e-5, atol=1e-5)


def test_conv_layer_config_round_trip() -> None:
    layer = layers.Conv2D(6, (3, 2), strides=(1, 2), padding="same", dilation_rate=1, groups=2, activation="tanh",
                          use_bias=False, kernel_regularizer="l2", name="c")
    config = layer.get_config()
    assert config["kernel_size"] == (3, 2) and config["strides"] == (1, 2) and config["groups"] == 2
    json.dumps(config)
    clone = layers.Conv2D.from_config(config)
    assert clone.get_config() == config
    c1 = layers.Conv1D.from_config(layers.Conv1D(3, 5, padding="causal").get_config())
    assert c1.kernel_size == (5,) and c1.padding == "causal"


@pytest.mark.parametrize("kwargs,argument", [
    ({"filters": 0, "kernel_size": 3}, "filters"),
    ({"filters": 4, "kernel_size": 0}, "kernel_size"),
    ({"filters": 4, "kernel_size": (3, 3, 3)}, "kernel_size"),
    ({"filters": 4, "kernel_size": 3, "strides": 0}, "strides"),
    ({"filters": 4, "kernel_size": 3, "padding": "full"}, "padding"),
    ({"filters": 4, "kernel_size": 3, "padding": "causal"}, "padding"),
    ({"filters": 4, "kernel_size": 3, "data_format": "NHWC"}, "data_format"),
    ({"filters": 4, "kernel_size": 3, "dilation_rate": -1}, "dilation_rate"),
    ({"filters": 4, "kernel_size": 3, "groups": 3}, "groups"),
    ({"filters": 4, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "dilation_rate"),
])
def test_conv_bad_arguments_name_the_argument(kwargs, argument) -> None:
    with pytest.raises(ValueError, match=argument):
        layers.Conv2D(**kwargs)


def test_conv_wrong_input_rank_and_channels() -> None:
    layer = layers.Conv2D(4, 3)
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        layer(np.zeros((2, 8, 8), "float32"))
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        keras.Sequential([keras.Input((8, 8)), layers.Conv2D(4, 3)])
    layer(np.zeros((1, 8, 8, 2), "float32"))
    with pytest.raises(ValueError, match="channels"):
        layer(np.zeros((1, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="groups"):
        layers.Conv2D(4, 3, groups=2)(np.zeros((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match="does not fit"):
        layers.Conv2D(4, 5)(np.zeros((1, 3, 3, 1), "float32"))


# ---------------------------------------------------------------------------- training
def test_conv_maxpool_dense_model_trains_on_digits() -> None:
    (x, y), _ = keras.datasets.digits.load_data()
    x = (x[:400, :, :, None] / 16.0).astype("float32")
    y = y[:400]
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(8, 3, activation="relu", padding="same"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0], losses
    assert history.history["accuracy"][-1] > 0.8


def test_w3_architecture_takes_a_training_step() -> None:
    model = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5),
        layers.Dense(10),
    ])
    assert model.output_shape_of(model.layers[3]) == (None, 5, 5, 64)
    assert model.count_params() == 320 + 18496 + 16010
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.random((16, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 16)
    first = float(model.train_on_batch(x, y))
    for _ in range(5):
        last = float(model.train_on_batch(x, y))
    assert last < first
