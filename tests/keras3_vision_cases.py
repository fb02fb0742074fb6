"""The convolution-family cases recorded from Keras 3 and replayed on gpukeras (plain data, no Keras import).

tests/reference/record_keras3_vision_layers.py runs each case on Keras 3 (JAX) and
tests/test_keras3_vision_layers.py on gpukeras. A case names a layer class, its constructor arguments
and an input shape; `train` marks the cases also trained for a few steps inside a small model.
"""

from __future__ import annotations


def _case(cid: str, cls: str, shape: tuple, train: bool = False, **config) -> dict:
    return {"id": cid, "cls": cls, "config": config, "shape": list(shape), "train": train}


CF = {"data_format": "channels_first"}

LAYER_CASES = [
    # transposed convolutions: strides, padding, output_padding, dilation, both data formats
    _case("conv1dt_valid_s2", "Conv1DTranspose", (2, 5, 3), True, filters=4, kernel_size=3, strides=2),
    _case("conv1dt_same_op1_cf", "Conv1DTranspose", (2, 3, 5), True, filters=2, kernel_size=3, strides=2,
          padding="same", output_padding=1, **CF),
    _case("conv1dt_dilated_same", "Conv1DTranspose", (2, 6, 2), filters=3, kernel_size=2, dilation_rate=2,
          padding="same", activation="tanh"),
    _case("conv1dt_valid_s3_op2", "Conv1DTranspose", (1, 4, 2), filters=2, kernel_size=4, strides=3,
          output_padding=2),
    _case("conv2dt_same_s2", "Conv2DTranspose", (2, 4, 3, 3), True, filters=4, kernel_size=3, strides=2,
          padding="same"),
    _case("conv2dt_valid_op_cf", "Conv2DTranspose", (2, 3, 4, 3), True, filters=2, kernel_size=(3, 2),
          strides=(2, 1), output_padding=(1, 0), **CF),
    _case("conv2dt_dilated_valid", "Conv2DTranspose", (1, 4, 4, 2), filters=3, kernel_size=3, dilation_rate=2,
          activation="relu"),
    _case("conv2dt_same_nobias_cf", "Conv2DTranspose", (1, 2, 3, 4), filters=3, kernel_size=4, strides=2,
          padding="same", use_bias=False, **CF),
    _case("conv2dt_same_even_op0", "Conv2DTranspose", (1, 3, 3, 2), filters=2, kernel_size=2, strides=3,
          padding="same", output_padding=0),
    _case("conv3dt_valid_s2", "Conv3DTranspose", (1, 2, 3, 2, 2), True, filters=2, kernel_size=2, strides=2),
    _case("conv3dt_same_op_cf", "Conv3DTranspose", (1, 2, 2, 3, 2), True, filters=3, kernel_size=(3, 2, 2),
          strides=(1, 2, 1), padding="same", output_padding=(0, 1, 0), **CF),
    # depthwise: depth_multiplier, strides, dilation (also both at once, which Keras 3 allows here)
    _case("dw1d_same_s2_m2", "DepthwiseConv1D", (2, 7, 3), True, kernel_size=3, strides=2, padding="same",
          depth_multiplier=2),
    _case("dw1d_dilated_cf", "DepthwiseConv1D", (2, 3, 8), True, kernel_size=3, dilation_rate=2, **CF),
    _case("dw2d_same_relu", "DepthwiseConv2D", (2, 5, 5, 3), True, kernel_size=3, padding="same", activation="relu"),
    _case("dw2d_valid_s2_m2_cf", "DepthwiseConv2D", (2, 2, 6, 5), True, kernel_size=(3, 2), strides=2,
          depth_multiplier=2, **CF),
    _case("dw2d_dilated_m3", "DepthwiseConv2D", (1, 6, 6, 2), kernel_size=3, dilation_rate=2, padding="same",
          depth_multiplier=3),
    _case("dw2d_strided_dilated", "DepthwiseConv2D", (1, 7, 7, 2), kernel_size=2, strides=2, dilation_rate=2,
          use_bias=False),
    # separable
    _case("sep1d_same_s2_m2", "SeparableConv1D", (2, 7, 3), True, filters=4, kernel_size=3, strides=2,
          padding="same", depth_multiplier=2),
    _case("sep1d_dilated_cf", "SeparableConv1D", (2, 2, 9), True, filters=3, kernel_size=3, dilation_rate=2, **CF),
    _case("sep2d_same", "SeparableConv2D", (2, 5, 5, 3), True, filters=3, kernel_size=3, padding="same",
          activation="relu"),
    _case("sep2d_valid_s2_m2_cf", "SeparableConv2D", (2, 2, 6, 5), True, filters=4, kernel_size=(2, 3), strides=2,
          depth_multiplier=2, **CF),
    _case("sep2d_dilated_nobias", "SeparableConv2D", (1, 6, 6, 2), filters=2, kernel_size=3, dilation_rate=2,
          use_bias=False),
    # groups and dilation on the plain convolutions
    _case("conv1d_groups_dilated_cf", "Conv1D", (2, 4, 9), True, filters=6, kernel_size=3, groups=2, dilation_rate=2,
          padding="same", **CF),
    _case("conv1d_causal_dilated", "Conv1D", (2, 8, 2), filters=3, kernel_size=3, dilation_rate=2, padding="causal"),
    _case("conv2d_groups_s2_cf", "Conv2D", (2, 4, 6, 5), True, filters=4, kernel_size=3, strides=2, groups=2,
          padding="same", **CF),
    _case("conv2d_groups3_dilated", "Conv2D", (1, 7, 6, 3), filters=6, kernel_size=3, groups=3,
          dilation_rate=(2, 1)),
    _case("conv3d_groups_same_cf", "Conv3D", (1, 4, 3, 3, 4), True, filters=2, kernel_size=2, groups=2,
          padding="same", **CF),
    # up-sampling
    _case("up1d_3", "UpSampling1D", (2, 4, 3), True, size=3),
    _case("up2d_nearest", "UpSampling2D", (2, 3, 2, 2), True, size=(2, 3)),
    _case("up2d_nearest_cf", "UpSampling2D", (2, 2, 3, 2), True, size=2, **CF),
    _case("up2d_bilinear", "UpSampling2D", (2, 3, 4, 2), True, size=(2, 2), interpolation="bilinear"),
    _case("up2d_bilinear_3x2_cf", "UpSampling2D", (2, 2, 3, 4), True, size=(3, 2), interpolation="bilinear", **CF),
    _case("up2d_bilinear_4x1", "UpSampling2D", (1, 2, 1, 2), size=(4, 1), interpolation="bilinear"),
    _case("up2d_bilinear_upper", "UpSampling2D", (1, 3, 3, 1), size=(5, 3), interpolation="BILINEAR"),
    _case("up3d", "UpSampling3D", (1, 2, 2, 3, 2), True, size=(2, 1, 2)),
    _case("up3d_cf", "UpSampling3D", (1, 2, 2, 2, 2), True, size=2, **CF),
    # zero padding and cropping
    _case("pad1d", "ZeroPadding1D", (2, 4, 3), True, padding=(1, 2)),
    _case("pad1d_cf", "ZeroPadding1D", (2, 3, 4), True, padding=2, **CF),
    _case("pad2d", "ZeroPadding2D", (2, 3, 3, 2), True, padding=((1, 0), (2, 1))),
    _case("pad2d_cf", "ZeroPadding2D", (2, 2, 3, 3), True, padding=(1, 2), **CF),
    _case("pad3d", "ZeroPadding3D", (1, 2, 2, 2, 2), True, padding=((1, 0), (0, 2), (1, 1))),
    _case("pad3d_cf", "ZeroPadding3D", (1, 2, 2, 2, 2), True, padding=1, **CF),
    _case("crop1d", "Cropping1D", (2, 6, 3), True, cropping=(1, 2)),
    _case("crop2d", "Cropping2D", (2, 5, 6, 2), True, cropping=((1, 0), (2, 1))),
    _case("crop2d_cf", "Cropping2D", (2, 2, 5, 4), True, cropping=1, **CF),
    _case("crop3d", "Cropping3D", (1, 4, 3, 4, 2), True, cropping=((1, 0), (0, 1), (1, 1))),
    _case("crop3d_cf", "Cropping3D", (1, 2, 3, 4, 5), True, cropping=(0, 1, 2), **CF),
]

# global pooling with keepdims, both data formats
for _rank, _shape in ((1, (2, 4, 3)), (2, (2, 3, 4, 2)), (3, (1, 2, 3, 2, 2))):
    for _kind in ("Average", "Max"):
        for _fmt in ("channels_last", "channels_first"):
            LAYER_CASES.append(_case(f"global_{_kind.lower()}{_rank}d_keepdims_{_fmt}",
                                     f"Global{_kind}Pooling{_rank}D", _shape, _fmt == "channels_first",
                                     keepdims=True, data_format=_fmt))

# UpSampling2D's other interpolations (ops.image.resize), appended last so earlier cases keep their seeds
LAYER_CASES += [
    _case("up2d_bicubic", "UpSampling2D", (1, 4, 3, 2), True, size=(2, 3), interpolation="bicubic"),
    _case("up2d_lanczos3_cf", "UpSampling2D", (1, 2, 3, 4), True, size=2, interpolation="lanczos3", **CF),
    _case("up2d_lanczos5", "UpSampling2D", (1, 5, 4, 1), size=(3, 2), interpolation="lanczos5"),
]

CASES_BY_ID = {c["id"]: c for c in LAYER_CASES}
assert len(CASES_BY_ID) == len(LAYER_CASES)


def rank_of(case: dict) -> int:
    """Spatial rank of a case's input."""
    return len(case["shape"]) - 2


def data_format_of(case: dict) -> str:
    return case["config"].get("data_format", "channels_last")


def training_model(keras, case: dict):
    """A small model around the case's layer: [Conv{r}D(2, 1)] -> layer -> Flatten -> Dense(2).

    The 1x1 convolution in front (same data format) is added for layers without weights, so that a
    training step sends gradients through the layer under test.
    """
    layer = getattr(keras.layers, case["cls"])(**case["config"])
    rank, fmt = rank_of(case), data_format_of(case)
    stack = [keras.Input(tuple(case["shape"][1:]))]
    if case["cls"].startswith(("UpSampling", "ZeroPadding", "Cropping", "Global")):
        stack.append(getattr(keras.layers, f"Conv{rank}D")(2, 1, data_format=fmt))
    stack += [layer, keras.layers.Flatten(), keras.layers.Dense(2)]
    return keras.Sequential(stack)


TRAIN = {"batch_size": 2, "epochs": 2, "samples": 4, "learning_rate": 0.01}
