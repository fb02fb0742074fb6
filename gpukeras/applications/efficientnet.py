"""keras.applications.efficientnet: EfficientNetB0 to B3 (Tan & Le, 2019): mobile inverted bottleneck blocks
with squeeze-and-excite and swish, scaled in width and depth per model.

Layer names, order, weights and arguments are Keras 3's. The model rescales and normalizes its [0, 255]
inputs itself (Rescaling and Normalization layers), so `preprocess_input` passes its input through.
Blocks with an identity shortcut drop whole samples in training ("drop connect", a Dropout with
`noise_shape=(None, 1, 1, 1)`), at a rate growing with depth.
"""

from __future__ import annotations

import math
from typing import Any

from gpukeras import layers
from gpukeras.applications import heads, imagenet_utils, inputs, weight_files
from gpukeras.applications.imagenet_utils import correct_pad, decode_predictions
from gpukeras.applications.imagenet_utils import passthrough_preprocess_input as preprocess_input
from gpukeras.models import Functional

WEIGHTS_ORIGIN = "https://storage.googleapis.com/keras-applications/"
WEIGHTS_HASHES = {  # md5 of (with top, without top), as Keras 3 pins them
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
}
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)
# (kernel_size, repeats, filters_in, filters_out, expand_ratio, strides) of the seven stages; every block
# has an identity skip where shapes allow and squeeze-and-excite ratio 0.25
DEFAULT_BLOCKS = [(3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
                  (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1)]
SE_RATIO = 0.25
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}


def _round_filters(filters: float, width_coefficient: float, divisor: int = 8) -> int:
    """Filters scaled by the width coefficient, rounded to a multiple of `divisor`, never more than 10% down."""
    filters *= width_coefficient
    rounded = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * filters:
        rounded += divisor
    return int(rounded)


def _round_repeats(repeats: int, depth_coefficient: float) -> int:
    return int(math.ceil(depth_coefficient * repeats))


def EfficientNet(width_coefficient: float, depth_coefficient: float, default_size: int, dropout_rate: float = 0.2,
                 drop_connect_rate: float = 0.2, depth_divisor: int = 8, activation: Any = "swish",
                 name: str = "efficientnet", include_top: bool = True, weights: Any = "imagenet",
                 input_tensor: Any = None, input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                 classifier_activation: Any = "softmax", weights_name: str | None = None) -> Functional:
    """An EfficientNet with the default seven stages scaled by `width_coefficient` and `depth_coefficient`."""
    weight_files.check_weights(weights, include_top, classes)
    heads.check_head(include_top, classes, pooling, classifier_activation, weights)
    shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                              data_format="channels_last", require_flatten=include_top,
                                              weights=weights)
    weights_path = weight_files.resolve(weights, _pretrained_file(weights_name, include_top))
    image = inputs.image_input(input_tensor, shape)

    x = layers.Rescaling(1.0 / 255.0)(image)
    x = layers.Normalization(axis=3)(x)
    if weights == "imagenet":
        # Keras's ImageNet weights were trained dividing by the variance, not the standard deviation:
        # Normalization divides by sqrt(variance), so divide once more by it.
        x = layers.Rescaling([1.0 / math.sqrt(stddev) for stddev in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(padding=correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(_round_filters(32, width_coefficient, depth_divisor), 3, strides=2, padding="valid",
                      use_bias=False, kernel_initializer=CONV_KERNEL_INITIALIZER, name="stem_conv")(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)

    total = float(sum(_round_repeats(stage[1], depth_coefficient) for stage in DEFAULT_BLOCKS))
    b = 0
    for i, (kernel_size, repeats, filters_in, filters_out, expand_ratio, strides) in enumerate(DEFAULT_BLOCKS):
        filters_in = _round_filters(filters_in, width_coefficient, depth_divisor)
        filters_out = _round_filters(filters_out, width_coefficient, depth_divisor)
        for j in range(_round_repeats(repeats, depth_coefficient)):
            if j > 0:  # only a stage's first block changes the stride and the width
                strides, filters_in = 1, filters_out
            x = block(x, activation, drop_connect_rate * b / total, name=f"block{i + 1}{chr(j + 97)}_",
                      filters_in=filters_in, filters_out=filters_out, kernel_size=kernel_size, strides=strides,
                      expand_ratio=expand_ratio, se_ratio=SE_RATIO)
            b += 1

    x = layers.Conv2D(_round_filters(1280, width_coefficient, depth_divisor), 1, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="top_conv")(x)
    x = layers.BatchNormalization(axis=3, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        x = heads.classifier(x, classes, classifier_activation, kernel_initializer=DENSE_KERNEL_INITIALIZER)
    else:
        x = heads.pooled(x, pooling)
    model = Functional(inputs.model_inputs(input_tensor, image), x, name=name)
    return weight_files.load(model, weights_path)


def _pretrained_file(weights_name: str | None, include_top: bool) -> weight_files.PretrainedFile | None:
    if weights_name not in WEIGHTS_HASHES:
        return None
    name = f"efficientnet{weights_name}{'' if include_top else '_notop'}.h5"
    file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
    return weight_files.PretrainedFile(name, WEIGHTS_ORIGIN + name, file_hash)


def block(inputs_: Any, activation: Any = "swish", drop_rate: float = 0.0, name: str = "", filters_in: int = 32,
          filters_out: int = 16, kernel_size: int = 3, strides: int = 1, expand_ratio: int = 1, se_ratio: float = 0.0,
          id_skip: bool = True) -> Any:
    """Mobile inverted bottleneck: expand (1x1), depthwise (padded when strided), squeeze-and-excite,
    project (1x1); with an identity skip (after drop connect) when the shapes allow."""
    filters = filters_in * expand_ratio
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer=CONV_KERNEL_INITIALIZER,
                          name=f"{name}expand_conv")(inputs_)
        x = layers.BatchNormalization(axis=3, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    else:
        x = inputs_
    if strides == 2:
        x = layers.ZeroPadding2D(padding=correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding="valid" if strides == 2 else "same",
                               use_bias=False, depthwise_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        filters_se = max(1, int(filters_in * se_ratio))
        se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
        se = layers.Conv2D(filters_se, 1, padding="same", activation=activation,
                           kernel_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}se_reduce")(se)
        se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid", kernel_initializer=CONV_KERNEL_INITIALIZER,
                           name=f"{name}se_expand")(se)
        x = layers.multiply([x, se], name=f"{name}se_excite")
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False, kernel_initializer=CONV_KERNEL_INITIALIZER,
                      name=f"{name}project_conv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs_], name=f"{name}add")
    return x


def EfficientNetB0(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                   input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                   classifier_activation: Any = "softmax", name: str = "efficientnetb0") -> Functional:
    """EfficientNetB0: width 1.0, depth 1.0, 224x224 by default, dropout 0.2 before the classifier."""
    return EfficientNet(1.0, 1.0, 224, 0.2, name=name, include_top=include_top, weights=weights,
                        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b0")


def EfficientNetB1(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                   input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                   classifier_activation: Any = "softmax", name: str = "efficientnetb1") -> Functional:
    """EfficientNetB1: width 1.0, depth 1.1, 240x240 by default."""
    return EfficientNet(1.0, 1.1, 240, 0.2, name=name, include_top=include_top, weights=weights,
                        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b1")


def EfficientNetB2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                   input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                   classifier_activation: Any = "softmax", name: str = "efficientnetb2") -> Functional:
    """EfficientNetB2: width 1.1, depth 1.2, 260x260 by default, dropout 0.3."""
    return EfficientNet(1.1, 1.2, 260, 0.3, name=name, include_top=include_top, weights=weights,
                        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b2")


def EfficientNetB3(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                   input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                   classifier_activation: Any = "softmax", name: str = "efficientnetb3") -> Functional:
    """EfficientNetB3: width 1.2, depth 1.4, 300x300 by default, dropout 0.3."""
    return EfficientNet(1.2, 1.4, 300, 0.3, name=name, include_top=include_top, weights=weights,
                        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b3")


__all__ = ["EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "decode_predictions",
           "preprocess_input"]
