"""keras.applications.densenet: DenseNet121 (Huang et al., "Densely Connected Convolutional Networks",
2017): dense blocks whose layers each add 32 channels concatenated to all before them, joined by
transition blocks that halve the channels and the resolution.

Layer names, order, weights and arguments are Keras 3's. Inputs are expected scaled to [0, 1] and
standardized per channel with ImageNet's statistics ("torch" mode of `preprocess_input`).
"""

from __future__ import annotations

from typing import Any

from gpukeras import layers
from gpukeras.applications import heads, imagenet_utils, inputs, weight_files
from gpukeras.applications.imagenet_utils import decode_predictions
from gpukeras.models import Functional

WEIGHTS_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
PRETRAINED = {  # (blocks, include_top) -> (file, md5 Keras 3 pins)
    ((6, 12, 24, 16), True): ("densenet121_weights_tf_dim_ordering_tf_kernels.h5",
                              "9d60b8095a5708f2dcce2bca79d332c7"),
    ((6, 12, 24, 16), False): ("densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
                               "30ee3e1110167f948a6b9946edeeb738"),
}
BN_AXIS = 3
BN_EPSILON = 1.001e-5
GROWTH_RATE = 32


def dense_block(x: Any, blocks: int, name: str) -> Any:
    """`blocks` conv blocks, each concatenating its new channels to its input."""
    for i in range(blocks):
        x = conv_block(x, GROWTH_RATE, name=f"{name}_block{i + 1}")
    return x


def transition_block(x: Any, reduction: float, name: str) -> Any:
    """Batch norm, relu, 1x1 convolution to `reduction` of the channels, 2x2 average pooling."""
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[BN_AXIS] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x: Any, growth_rate: int, name: str) -> Any:
    """Batch norm, relu, 1x1 convolution (4 * growth_rate), batch norm, relu, 3x3 convolution
    (growth_rate), concatenated to the block's input."""
    x1 = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=BN_AXIS, name=f"{name}_concat")([x, x1])


def DenseNet(blocks: tuple[int, int, int, int], include_top: bool = True, weights: Any = "imagenet",
             input_tensor: Any = None, input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax", name: str = "densenet") -> Functional:
    """A DenseNet with `blocks` conv blocks in its four dense blocks."""
    blocks = tuple(blocks)
    weight_files.check_weights(weights, include_top, classes)
    heads.check_head(include_top, classes, pooling, classifier_activation, weights)
    shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                              data_format="channels_last", require_flatten=include_top,
                                              weights=weights)
    pretrained = PRETRAINED.get((blocks, bool(include_top)))
    weights_path = weight_files.resolve(weights, pretrained and weight_files.PretrainedFile(
        pretrained[0], WEIGHTS_ORIGIN + pretrained[0], pretrained[1]))
    image = inputs.image_input(input_tensor, shape)

    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(image)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):
        x = dense_block(x, count, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = heads.averaged_top(x, include_top, classes, classifier_activation, pooling)
    model = Functional(inputs.model_inputs(input_tensor, image), x, name=name)
    return weight_files.load(model, weights_path)


def DenseNet121(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "densenet121") -> Functional:
    """DenseNet121: 6, 12, 24, 16 conv blocks; 224x224 RGB by default ("torch" preprocessing)."""
    return DenseNet((6, 12, 24, 16), include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Pixels scaled to [0, 1], then each channel standardized with ImageNet's mean and std ("torch" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


__all__ = ["DenseNet121", "decode_predictions", "preprocess_input"]
