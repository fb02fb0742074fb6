"""keras.applications.mobilenet_v3: MobileNetV3Small and MobileNetV3Large (Howard et al., "Searching for
MobileNetV3", 2019): inverted residual blocks with squeeze-and-excite and hard-swish, or their
"minimalistic" form (3x3 kernels, ReLU, no squeeze-and-excite).

Layer names, order, weights and arguments are Keras 3's. By default the model rescales its [0, 255]
inputs itself (a Rescaling layer), so `preprocess_input` passes its input through. The hard sigmoid of
the squeeze-and-excite blocks is `ReLU(6)(x + 3) * (1 / 6)` as in Keras 3: the two arithmetic steps on
symbolic tensors are recorded as Keras 3's operation nodes (gpukeras.layers.operation).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from typing import Any

from gpukeras import layers
from gpukeras.applications import heads, imagenet_utils, inputs, weight_files
from gpukeras.applications.imagenet_utils import correct_pad, decode_predictions
from gpukeras.applications.imagenet_utils import passthrough_preprocess_input as preprocess_input
from gpukeras.keras_tensor import KerasTensor
from gpukeras.models import Functional

WEIGHTS_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
WEIGHTS_HASHES = {  # md5 of (with top, without top), as Keras 3 pins them
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4"),
}
BN = {"axis": -1, "epsilon": 1e-3, "momentum": 0.999}
SE = "se"  # stands for the model's squeeze-and-excite ratio in the block tables
ACT = "act"  # stands for the model's activation (hard-swish, or ReLU when minimalistic)
K = "k"  # stands for the model's large kernel (5, or 3 when minimalistic)
# (expansion, filters, kernel, stride, se_ratio, activation) of each block
SMALL_BLOCKS = [(1, 16, 3, 2, SE, "relu"), (72.0 / 16, 24, 3, 2, None, "relu"), (88.0 / 24, 24, 3, 1, None, "relu"),
                (4, 40, K, 2, SE, ACT), (6, 40, K, 1, SE, ACT), (6, 40, K, 1, SE, ACT), (3, 48, K, 1, SE, ACT),
                (3, 48, K, 1, SE, ACT), (6, 96, K, 2, SE, ACT), (6, 96, K, 1, SE, ACT), (6, 96, K, 1, SE, ACT)]
LARGE_BLOCKS = [(1, 16, 3, 1, None, "relu"), (4, 24, 3, 2, None, "relu"), (3, 24, 3, 1, None, "relu"),
                (3, 40, K, 2, SE, "relu"), (3, 40, K, 1, SE, "relu"), (3, 40, K, 1, SE, "relu"),
                (6, 80, 3, 2, None, ACT), (2.5, 80, 3, 1, None, ACT), (2.3, 80, 3, 1, None, ACT),
                (2.3, 80, 3, 1, None, ACT), (6, 112, 3, 1, SE, ACT), (6, 112, 3, 1, SE, ACT),
                (6, 160, K, 2, SE, ACT), (6, 160, K, 1, SE, ACT), (6, 160, K, 1, SE, ACT)]


def relu(x: Any) -> Any:
    return layers.ReLU()(x)


def hard_sigmoid(x: Any) -> Any:
    """ReLU6(x + 3) / 6, computed as Keras 3 does: (x + 3), ReLU(6), times 1/6."""
    return layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def hard_swish(x: Any) -> Any:
    return layers.Activation("hard_swish")(x)


def _depth(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """`v` rounded to a multiple of `divisor` (at least `min_value`), never more than 10% below `v`."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def _input_shape(input_shape: Any, input_tensor: Any) -> tuple:
    """The shape the model is checked against (Keras 3's rules: `input_shape` when given, which must then
    agree with `input_tensor`'s width; else `input_tensor`'s (columns, rows, 3), or (None, None, 3))."""
    shape = imagenet_utils.checked_input_shape(input_shape)
    if shape is not None and input_tensor is not None:
        if not isinstance(input_tensor, KerasTensor):
            raise ValueError("`input_tensor` must be a KerasTensor (from `keras.Input(...)` or a layer called on "
                             f"one). Received: input_tensor={input_tensor!r}")
        if len(input_tensor.shape) < 3 or input_tensor.shape[2] != shape[1]:
            raise ValueError(f"input_shape={input_shape} and input_tensor.shape={input_tensor.shape} disagree: the "
                             "image width (input_shape[1], input_tensor.shape[2]) must be the same.")
    if shape is not None:
        return shape
    if isinstance(input_tensor, KerasTensor) and len(input_tensor.shape) >= 3:
        return (input_tensor.shape[2], input_tensor.shape[1], 3)
    return (None, None, 3)


def _check_arguments(alpha: Any, dropout_rate: Any, minimalistic: Any, include_preprocessing: Any) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or alpha <= 0:
        raise ValueError(f"`alpha` must be a positive number. Received: alpha={alpha!r}")
    if isinstance(dropout_rate, bool) or not isinstance(dropout_rate, numbers.Real) or not 0 <= dropout_rate <= 1:
        raise ValueError(f"`dropout_rate` must be a number between 0 and 1. Received: dropout_rate={dropout_rate!r}")
    for arg, value in (("minimalistic", minimalistic), ("include_preprocessing", include_preprocessing)):
        if not isinstance(value, bool):
            raise ValueError(f"`{arg}` must be True or False. Received: {arg}={value!r}")


def MobileNetV3(blocks: list[tuple], last_point_ch: int, input_shape: Any = None, alpha: float = 1.0,
                model_type: str = "large", minimalistic: bool = False, include_top: bool = True,
                weights: Any = "imagenet", input_tensor: Any = None, classes: int = 1000, pooling: str | None = None,
                dropout_rate: float = 0.2, classifier_activation: Any = "softmax", include_preprocessing: bool = True,
                name: str | None = None) -> Functional:
    """A MobileNetV3 made of `blocks` (rows of SMALL_BLOCKS or LARGE_BLOCKS) with width multiplier `alpha`."""
    weight_files.check_weights(weights, include_top, classes)
    heads.check_head(include_top, classes, pooling, classifier_activation, weights)
    _check_arguments(alpha, dropout_rate, minimalistic, include_preprocessing)
    shape = _input_shape(input_shape, input_tensor)
    rows, cols = shape[0], shape[1]
    if rows and cols and (rows < 32 or cols < 32):
        raise ValueError(f"input_shape={shape}: images must be at least 32x32 for MobileNetV3.")
    if weights == "imagenet":
        if (not minimalistic and alpha not in (0.75, 1.0)) or (minimalistic and alpha != 1.0):
            raise ValueError(f"alpha={alpha!r}: MobileNetV3's ImageNet weights exist for alpha 0.75 and 1.0, and "
                             "for alpha 1.0 only when minimalistic=True.")
        if rows != cols or rows != 224:
            warnings.warn(f"MobileNetV3: ImageNet weights exist for 224x224 images only; loading them for "
                          f"input_shape={shape}.", stacklevel=3)
    weights_path = weight_files.resolve(weights, _pretrained_file(model_type, minimalistic, alpha, include_top))
    image = inputs.image_input(input_tensor, shape)

    activation: Callable[[Any], Any] = relu if minimalistic else hard_swish
    kernel, se_ratio = (3, None) if minimalistic else (5, 0.25)
    x = image
    if include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = layers.Conv2D(16, kernel_size=3, strides=(2, 2), padding="same", use_bias=False, name="conv")(x)
    x = layers.BatchNormalization(**BN, name="conv_bn")(x)
    x = activation(x)
    roles = {SE: se_ratio, ACT: activation, K: kernel, "relu": relu}
    for block_id, (expansion, filters, kernel_size, stride, se, act) in enumerate(blocks):
        x = _inverted_res_block(x, expansion, _depth(filters * alpha), roles.get(kernel_size, kernel_size), stride,
                                roles[se] if se else None, roles[act], block_id)
    last_conv_ch = _depth(x.shape[-1] * 6)
    if alpha > 1.0:
        last_point_ch = _depth(last_point_ch * alpha)
    x = layers.Conv2D(last_conv_ch, kernel_size=1, padding="same", use_bias=False, name="conv_1")(x)
    x = layers.BatchNormalization(**BN, name="conv_1_bn")(x)
    x = activation(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(last_point_ch, kernel_size=1, padding="same", use_bias=True, name="conv_2")(x)
        x = activation(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Conv2D(classes, kernel_size=1, padding="same", name="logits")(x)
        x = layers.Flatten()(x)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = heads.pooled(x, pooling)
    model = Functional(inputs.model_inputs(input_tensor, image), x, name=name)
    return weight_files.load(model, weights_path)


def _pretrained_file(model_type: str, minimalistic: bool, alpha: float,
                     include_top: bool) -> weight_files.PretrainedFile | None:
    model_name = f"{model_type}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
    if model_name not in WEIGHTS_HASHES:
        return None
    name = f"weights_mobilenet_v3_{model_name}{'' if include_top else '_no_top_v2'}.h5"
    return weight_files.PretrainedFile(name, WEIGHTS_ORIGIN + name, WEIGHTS_HASHES[model_name][0 if include_top else 1])


def _se_block(inputs_: Any, filters: int, se_ratio: float, prefix: str) -> Any:
    """Squeeze-and-excite: the channels rescaled by a gate computed from their spatial means."""
    x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(inputs_)
    x = layers.Conv2D(_depth(filters * se_ratio), kernel_size=1, padding="same",
                      name=f"{prefix}squeeze_excite_conv")(x)
    x = layers.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    x = hard_sigmoid(x)
    return layers.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs_, x])


def _inverted_res_block(x: Any, expansion: float, filters: int, kernel_size: int, stride: int,
                        se_ratio: float | None, activation: Callable[[Any], Any], block_id: int) -> Any:
    """Expand (1x1, except block 0), depthwise (padded when strided), squeeze-and-excite (when `se_ratio`),
    project (1x1, linear); added to the input when the shapes allow."""
    shortcut = x
    infilters = x.shape[-1]
    prefix = "expanded_conv_"
    if block_id:
        prefix = f"expanded_conv_{block_id}_"
        x = layers.Conv2D(_depth(infilters * expansion), kernel_size=1, padding="same", use_bias=False,
                          name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(**BN, name=f"{prefix}expand_bn")(x)
        x = activation(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=correct_pad(x, kernel_size), name=f"{prefix}depthwise_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same" if stride == 1 else "valid",
                               use_bias=False, name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(**BN, name=f"{prefix}depthwise_bn")(x)
    x = activation(x)
    if se_ratio:
        x = _se_block(x, _depth(infilters * expansion), se_ratio, prefix)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(**BN, name=f"{prefix}project_bn")(x)
    if stride == 1 and infilters == filters:
        x = layers.Add(name=f"{prefix}add")([shortcut, x])
    return x


def MobileNetV3Small(input_shape: Any = None, alpha: float = 1.0, minimalistic: bool = False, include_top: bool = True,
                     weights: Any = "imagenet", input_tensor: Any = None, classes: int = 1000,
                     pooling: str | None = None, dropout_rate: float = 0.2, classifier_activation: Any = "softmax",
                     include_preprocessing: bool = True, name: str = "MobileNetV3Small") -> Functional:
    """MobileNetV3Small: 11 blocks, 1024 features before the classifier; any input of at least 32x32."""
    return MobileNetV3(SMALL_BLOCKS, 1024, input_shape, alpha, "small", minimalistic, include_top, weights,
                       input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing,
                       name=name)


def MobileNetV3Large(input_shape: Any = None, alpha: float = 1.0, minimalistic: bool = False, include_top: bool = True,
                     weights: Any = "imagenet", input_tensor: Any = None, classes: int = 1000,
                     pooling: str | None = None, dropout_rate: float = 0.2, classifier_activation: Any = "softmax",
                     include_preprocessing: bool = True, name: str = "MobileNetV3Large") -> Functional:
    """MobileNetV3Large: 15 blocks, 1280 features before the classifier; any input of at least 32x32."""
    return MobileNetV3(LARGE_BLOCKS, 1280, input_shape, alpha, "large", minimalistic, include_top, weights,
                       input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing,
                       name=name)


__all__ = ["MobileNetV3Large", "MobileNetV3Small", "decode_predictions", "preprocess_input"]
