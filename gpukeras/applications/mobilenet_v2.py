"""keras.applications.mobilenet_v2: MobileNetV2 (Sandler et al., 2018): inverted residual blocks with linear
bottlenecks, ReLU6, width multiplier `alpha`.

Layer names, order, weights and arguments are Keras 3's. Inputs are expected scaled to [-1, 1] ("tf"
mode of `preprocess_input`).
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

from gpukeras import layers
from gpukeras.applications import heads, imagenet_utils, inputs, weight_files
from gpukeras.applications.imagenet_utils import correct_pad, decode_predictions
from gpukeras.keras_tensor import KerasTensor
from gpukeras.models import Functional

WEIGHTS_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
PRETRAINED_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
PRETRAINED_SIZES = (96, 128, 160, 192, 224)
# (filters, stride, expansion) of blocks 0..16
BLOCKS = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
          (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
          (320, 1, 6)]
BN = {"axis": -1, "epsilon": 1e-3, "momentum": 0.999}


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """`v` rounded to a multiple of `divisor` (at least `min_value`), never more than 10% below `v`."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def _default_size(input_shape: Any, input_tensor: Any) -> int:
    """The size of ImageNet weights to use: the input's when square and one Keras has, else 224."""
    if input_shape is not None:
        rows, cols = input_shape[0], input_shape[1]
    elif isinstance(input_tensor, KerasTensor):
        rows, cols = input_tensor.shape[1], input_tensor.shape[2]
    else:
        return 224
    return rows if rows == cols and rows in PRETRAINED_SIZES else 224


def _check_input_tensor(input_shape: Any, input_tensor: Any) -> None:
    """Both given: `input_tensor` must be symbolic and agree with `input_shape` (Keras checks the width)."""
    if input_shape is None or input_tensor is None:
        return
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError("`input_tensor` must be a KerasTensor (from `keras.Input(...)` or a layer called on "
                         f"one). Received: input_tensor={input_tensor!r}")
    if len(input_tensor.shape) < 3 or len(input_shape) < 2 or input_tensor.shape[2] != input_shape[1]:
        raise ValueError(f"input_shape={input_shape} and input_tensor.shape={input_tensor.shape} disagree: the "
                         "image width (input_shape[1], input_tensor.shape[2]) must be the same.")


def MobileNetV2(input_shape: Any = None, alpha: float = 1.0, include_top: bool = True, weights: Any = "imagenet",
                input_tensor: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str | None = None) -> Functional:
    """MobileNetV2 with width multiplier `alpha`; named `mobilenetv2_<alpha>_<rows>` unless `name` is given."""
    weight_files.check_weights(weights, include_top, classes)
    heads.check_head(include_top, classes, pooling, classifier_activation, weights)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or alpha <= 0:
        raise ValueError(f"`alpha` must be a positive number. Received: alpha={alpha!r}")
    imagenet_utils.checked_input_shape(input_shape)  # its type and entries, before they are read
    _check_input_tensor(input_shape, input_tensor)
    shape = imagenet_utils.obtain_input_shape(input_shape, default_size=_default_size(input_shape, input_tensor),
                                              min_size=32, data_format="channels_last",
                                              require_flatten=include_top, weights=weights)
    rows, cols = shape[0], shape[1]
    if weights == "imagenet":
        if alpha not in PRETRAINED_ALPHAS:
            raise ValueError(f"alpha={alpha!r}: MobileNetV2's ImageNet weights exist for alpha in "
                             f"{PRETRAINED_ALPHAS} only.")
        if rows != cols or rows not in PRETRAINED_SIZES:
            rows = 224
            warnings.warn(f"MobileNetV2: ImageNet weights exist for square images of sizes {PRETRAINED_SIZES}; "
                          f"loading the 224x224 ones for input_shape={shape}.", stacklevel=2)
    weights_path = weight_files.resolve(weights, _pretrained_file(alpha, rows, include_top))
    image = inputs.image_input(input_tensor, shape)

    x = layers.Conv2D(_make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same", use_bias=False,
                      name="Conv1")(image)
    x = layers.BatchNormalization(**BN, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(BLOCKS):
        x = _inverted_res_block(x, expansion=expansion, stride=stride, alpha=alpha, filters=filters,
                                block_id=block_id)
    # The last convolution is widened with alpha > 1 only (no alpha below 1, as in the paper).
    last_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(**BN, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = heads.classifier(x, classes, classifier_activation)
    else:
        x = heads.pooled(x, pooling, avg_name=None, max_name=None)
    model = Functional(inputs.model_inputs(input_tensor, image), x,
                       name=name if name is not None else f"mobilenetv2_{alpha:0.2f}_{rows}")
    return weight_files.load(model, weights_path)


def _pretrained_file(alpha: float, rows: Any, include_top: bool) -> weight_files.PretrainedFile:
    suffix = "" if include_top else "_no_top"
    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5"
    return weight_files.PretrainedFile(name, WEIGHTS_ORIGIN + name)


def _inverted_res_block(inputs_: Any, expansion: int, stride: int, alpha: float, filters: int, block_id: int) -> Any:
    """Expand (1x1, except block 0), depthwise 3x3 (padded when strided), project (1x1, linear); added to
    the input when the shapes allow."""
    in_channels = inputs_.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs_
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False, activation=None,
                          name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(**BN, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid", name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(**BN, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
                      name=f"{prefix}project")(x)
    x = layers.BatchNormalization(**BN, name=f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs_, x])
    return x


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Pixels scaled from [0, 255] to [-1, 1] ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


__all__ = ["MobileNetV2", "decode_predictions", "preprocess_input"]
