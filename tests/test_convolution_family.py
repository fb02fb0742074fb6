"""The convolution family beyond Keras 3's recorded numbers: finite-difference gradients (float64, every
backend), argument checks, masks, shapes of symbolic models, config round trips and saving."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from gradcheck import check_gradients

import gpukeras as keras
from gpukeras import layers, ops
from gpukeras.backend.fused.resampling import bilinear_phase_weights
from gpukeras.ops.convolution import conv_transpose_bias, depthwise_conv_bias, separable_conv_bias
from gpukeras.ops.resampling import crop, upsample_bilinear, upsample_nearest, zero_pad
from gpukeras.tensor import get_keras_mask, set_keras_mask

RNG = np.random.default_rng(12)


def _np(t) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(t))


# ---------------------------------------------------------------------------- gradients of the ops
@pytest.mark.parametrize("fmt,strides,dilation,padding", [
    ("channels_last", 2, 1, "same"), ("channels_first", 1, 2, "valid"), ("channels_last", 2, 2, "valid"),
])
def test_depthwise_conv_gradients(fmt, strides, dilation, padding) -> None:
    shape = (2, 6, 5, 2) if fmt == "channels_last" else (2, 2, 6, 5)
    x, k, b = RNG.standard_normal(shape), RNG.standard_normal((2, 2, 2, 2)), RNG.standard_normal(4)
    check_gradients(lambda a, w, c: depthwise_conv_bias(a, w, c, strides, padding, fmt, dilation, "tanh"),
                    [x, k, b], name=f"depthwise_conv {fmt} s{strides} d{dilation}")


def test_separable_conv_gradients_1d_channels_first() -> None:
    x, dk, pk, b = (RNG.standard_normal(s) for s in ((2, 2, 7), (3, 2, 2), (1, 4, 3), (3,)))
    check_gradients(lambda a, d, p, c: separable_conv_bias(a, d, p, c, 2, "same", "channels_first", 1, "relu"),
                    [x, dk, pk, b], name="separable_conv 1d")


@pytest.mark.parametrize("fmt,strides,padding,output_padding,dilation", [
    ("channels_last", 2, "same", None, 1), ("channels_first", (2, 3), "valid", (1, 2), 1),
    ("channels_last", 1, "same", None, 2), ("channels_last", 3, "same", 0, 1),
])
def test_conv_transpose_bias_activation_gradients(fmt, strides, padding, output_padding, dilation) -> None:
    shape = (2, 3, 2, 2) if fmt == "channels_last" else (2, 2, 3, 2)
    x, k, b = RNG.standard_normal(shape), RNG.standard_normal((2, 3, 3, 2)), RNG.standard_normal(3)
    check_gradients(lambda a, w, c: conv_transpose_bias(a, w, c, strides, padding, output_padding, fmt, dilation,
                                                        "sigmoid"),
                    [x, k, b], name=f"conv_transpose {fmt} {strides} {padding} {output_padding}")


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_resampling_gradients(fmt) -> None:
    x = RNG.standard_normal((2, 3, 2, 2))
    check_gradients(lambda a: upsample_bilinear(a, (3, 2), fmt), [x], name=f"bilinear {fmt}")
    check_gradients(lambda a: upsample_nearest(a, (2, 3), fmt), [x], name=f"nearest {fmt}")
    check_gradients(lambda a: zero_pad(a, ((1, 0), (2, 1)), fmt), [x], name=f"zero_pad {fmt}")
    x3 = RNG.standard_normal((1, 3, 4, 4, 3))
    check_gradients(lambda a: crop(a, ((1, 0), (1, 2), (0, 1)), fmt), [x3], name=f"crop {fmt}")


# ---------------------------------------------------------------------------- gradients through float64 layers
@pytest.mark.parametrize("make,shape", [
    (lambda: layers.Conv3DTranspose(2, 2, strides=(1, 2, 1), padding="same", dtype="float64"), (1, 2, 2, 2, 2)),
    (lambda: layers.Conv1DTranspose(2, 3, strides=2, output_padding=1, data_format="channels_first",
                                    dtype="float64"), (2, 2, 3)),
    (lambda: layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="elu", dtype="float64"),
     (2, 5, 2)),
    (lambda: layers.SeparableConv2D(2, 2, strides=2, data_format="channels_first", dtype="float64"), (1, 2, 4, 5)),
    (lambda: layers.UpSampling2D((2, 3), interpolation="bilinear", dtype="float64"), (1, 2, 3, 2)),
    (lambda: layers.UpSampling3D((2, 1, 2), data_format="channels_first", dtype="float64"), (1, 2, 2, 1, 2)),
    (lambda: layers.UpSampling1D(3, dtype="float64"), (1, 3, 2)),
    (lambda: layers.ZeroPadding3D(((1, 0), (0, 1), (1, 1)), dtype="float64"), (1, 2, 2, 1, 2)),
    (lambda: layers.Cropping2D(((1, 0), (0, 2)), data_format="channels_first", dtype="float64"), (1, 2, 3, 4)),
    (lambda: layers.Cropping1D((0, 2), dtype="float64"), (2, 4, 2)),
])
def test_layer_input_gradients_float64(make, shape) -> None:
    layer = make()
    x = RNG.standard_normal(shape)
    check_gradients(lambda a: layer(a), [x], name=type(layer).__name__)


# ---------------------------------------------------------------------------- forward values from first principles
def test_bilinear_matches_half_pixel_interpolation() -> None:
    """Every output of 2-D bilinear up-sampling is the half-pixel-centred interpolation with clamped edges."""
    x = RNG.standard_normal((1, 3, 4, 2))
    y = _np(upsample_bilinear(x, (3, 2)))
    for i in range(9):
        for j in range(8):
            si, sj = (i + 0.5) / 3 - 0.5, (j + 0.5) / 2 - 0.5
            i0, j0 = int(np.floor(si)), int(np.floor(sj))
            wi, wj = si - i0, sj - j0
            value = 0.0
            for di, ai in ((0, 1 - wi), (1, wi)):
                for dj, aj in ((0, 1 - wj), (1, wj)):
                    value = value + ai * aj * x[0, min(max(i0 + di, 0), 2), min(max(j0 + dj, 0), 3)]
            np.testing.assert_allclose(y[0, i, j], value, atol=1e-12)
    assert [sum(w) for w in bilinear_phase_weights(5)] == [1.0] * 5


def test_depthwise_channel_order_and_separable_composition() -> None:
    x = RNG.standard_normal((1, 4, 4, 2))
    k = RNG.standard_normal((2, 2, 2, 3))
    y = _np(ops.depthwise_conv(x, k))
    for c in range(2):
        for m in range(3):
            one = _np(ops.conv(x[..., c:c + 1], k[:, :, c:c + 1, m:m + 1]))
            np.testing.assert_allclose(y[..., c * 3 + m], one[..., 0], atol=1e-12)
    p = RNG.standard_normal((1, 1, 6, 4))
    np.testing.assert_allclose(_np(ops.separable_conv(x, k, p)), _np(ops.conv(y, p)), atol=1e-12)


# ---------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("make,argument", [
    (lambda: layers.Conv2DTranspose(0, 3), "filters"),
    (lambda: layers.Conv2DTranspose(2, (3, 3, 3)), "kernel_size"),
    (lambda: layers.Conv2DTranspose(2, 3, strides=2, output_padding=2), "output_padding"),
    (lambda: layers.Conv2DTranspose(2, 3, output_padding=-1), "output_padding"),
    (lambda: layers.Conv2DTranspose(2, 3, strides=2, dilation_rate=2), "dilation_rate"),
    (lambda: layers.Conv1DTranspose(2, 3, padding="causal"), "padding"),
    (lambda: layers.Conv3DTranspose(2, 3, data_format="NCDHW"), "data_format"),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
    (lambda: layers.DepthwiseConv1D(3, padding="causal"), "padding"),
    (lambda: layers.DepthwiseConv2D(3, strides=0), "strides"),
    (lambda: layers.SeparableConv2D(0, 3), "filters"),
    (lambda: layers.SeparableConv1D(2, 3, dilation_rate=(1, 2)), "dilation_rate"),
    (lambda: layers.UpSampling2D(0), "size"),
    (lambda: layers.UpSampling2D(interpolation="cubic"), "interpolation"),
    (lambda: layers.UpSampling3D((2, 2)), "size"),
    (lambda: layers.UpSampling1D(-1), "size"),
    (lambda: layers.ZeroPadding1D((1, 2, 3)), "padding"),
    (lambda: layers.ZeroPadding2D(((1, 2), (1, -1))), "padding"),
    (lambda: layers.ZeroPadding3D((1, 2)), "padding"),
    (lambda: layers.Cropping1D(-1), "cropping"),
    (lambda: layers.Cropping2D(-1), "cropping"),
    (lambda: layers.Cropping3D(((1, 1), (1, 1))), "cropping"),
])
def test_bad_arguments_name_the_argument(make, argument) -> None:
    with pytest.raises(ValueError, match=argument):
        make()


def test_upsampling1d_size_type() -> None:
    with pytest.raises(TypeError, match="integer"):
        layers.UpSampling1D(2.0)


def test_wrong_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        layers.Conv2DTranspose(2, 3)(np.zeros((1, 4, 4), "float32"))
    layer = layers.DepthwiseConv2D(3)
    layer(np.zeros((1, 5, 5, 2), "float32"))
    with pytest.raises(ValueError, match="channels"):
        layer(np.zeros((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match="does not fit"):
        layers.SeparableConv2D(2, 5)(np.zeros((1, 3, 3, 1), "float32"))
    with pytest.raises(ValueError, match="cropping"):
        layers.Cropping2D(((2, 1), (0, 0)))(np.zeros((1, 3, 3, 1), "float32"))
    with pytest.raises(ValueError, match="cropping"):
        keras.Sequential([keras.Input((4, 2, 3)), layers.Cropping2D(1)])
    with pytest.raises(ValueError, match="channels"):
        ops.depthwise_conv(np.zeros((1, 4, 4, 3)), np.zeros((2, 2, 2, 1)))
    with pytest.raises(ValueError, match="pointwise"):
        ops.separable_conv(np.zeros((1, 4, 4, 2)), np.zeros((2, 2, 2, 1)), np.zeros((1, 1, 3, 4)))


# ---------------------------------------------------------------------------- masks
def test_masks_stop_at_these_layers_as_in_keras3() -> None:
    """None of these layers supports masking in Keras 3: a mask on the input is not carried to the output."""
    x = keras.ops.convert_to_tensor(RNG.standard_normal((2, 6, 3)).astype("float32"))
    set_keras_mask(x, keras.ops.convert_to_tensor(np.array([[1, 1, 1, 1, 0, 0]] * 2, dtype=bool)))
    for layer in (layers.Conv1DTranspose(2, 3), layers.DepthwiseConv1D(3), layers.SeparableConv1D(2, 3),
                  layers.UpSampling1D(2), layers.ZeroPadding1D(1), layers.Cropping1D(1)):
        assert not layer.supports_masking
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = layer(x)
        assert get_keras_mask(y) is None, type(layer).__name__


# ---------------------------------------------------------------------------- symbolic shapes, config, saving
def test_symbolic_model_shapes_with_unknown_sizes() -> None:
    inputs = keras.Input((None, None, 3))
    h = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(inputs)
    h = layers.DepthwiseConv2D(3, depth_multiplier=2)(h)
    h = layers.UpSampling2D(2, interpolation="bilinear")(h)
    h = layers.ZeroPadding2D(((1, 0), (0, 2)))(h)
    h = layers.Cropping2D(1)(h)
    model = keras.Model(inputs, layers.SeparableConv2D(5, 1)(h))
    assert model.outputs[0].shape == (None, None, None, 5)
    y = model.predict(np.zeros((1, 5, 4, 3), "float32"), verbose=0)
    # 5x4 -> 10x8 -> 8x6 (x8 ch) -> 16x12 -> 17x14 -> 15x12
    assert y.shape == (1, 15, 12, 5)


def test_configs_round_trip_through_json() -> None:
    made = [
        layers.Conv3DTranspose(2, (1, 2, 3), strides=(1, 2, 1), padding="same", output_padding=(0, 1, 0),
                               activation="relu", kernel_regularizer="l2", name="a"),
        layers.DepthwiseConv2D(3, depth_multiplier=2, depthwise_constraint="non_neg", use_bias=False, name="b"),
        layers.SeparableConv1D(4, 3, dilation_rate=2, pointwise_initializer="he_normal", name="c"),
        layers.UpSampling2D((2, 3), interpolation="bilinear", data_format="channels_first", name="d"),
        layers.ZeroPadding2D((1, 2), name="e"), layers.Cropping3D(2, name="f"), layers.ZeroPadding1D(3, name="g"),
        layers.UpSampling3D(name="h"), layers.Cropping1D(name="i"),
    ]
    for layer in made:
        config = json.loads(json.dumps(layer.get_config()))
        clone = type(layer).from_config(config)
        assert json.loads(json.dumps(clone.get_config())) == config, type(layer).__name__
    assert layers.ZeroPadding2D((1, 2)).padding == ((1, 1), (2, 2))
    assert layers.ZeroPadding1D(3).padding == (3, 3)
    assert "data_format" not in layers.Cropping1D().get_config()
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose
    assert layers.SeparableConvolution1D is layers.SeparableConv1D


def test_keras_file_round_trip(tmp_path) -> None:
    model = keras.Sequential([
        keras.Input((6, 3)), layers.Conv1DTranspose(4, 3, strides=2, padding="same"),
        layers.SeparableConv1D(3, 3, depth_multiplier=2), layers.DepthwiseConv1D(2, data_format="channels_first"),
        layers.UpSampling1D(2), layers.ZeroPadding1D((1, 0)), layers.Cropping1D((0, 2)),
        layers.GlobalMaxPooling1D(keepdims=True),
    ])
    x = RNG.standard_normal((2, 6, 3)).astype("float32")
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), before)
    assert [w.path for w in again.weights] == [w.path for w in model.weights]
