"""keras.applications.resnet (and resnet50): ResNet50, ResNet101 and ResNet152 (He et al., 2015), and the
builder and residual blocks they share with ResNet V2 (gpukeras.applications.resnet_v2).

Layer names, order, weights and arguments are Keras 3's, so Keras's weights files load by name or order.
Inputs are expected as `preprocess_input` makes them: BGR, zero-centred per channel ("caffe" mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpukeras import layers
from gpukeras.applications import heads, imagenet_utils, inputs, weight_files
from gpukeras.applications.imagenet_utils import decode_predictions
from gpukeras.models import Functional

WEIGHTS_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
WEIGHTS_HASHES = {  # md5 of (with top, without top), as Keras 3 pins them
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
BN_AXIS = 3  # channels_last
BN_EPSILON = 1.001e-5


def pretrained_file(weights_name: str | None, include_top: bool) -> weight_files.PretrainedFile | None:
    """Keras's ImageNet file for this ResNet (None when there is none)."""
    if weights_name not in WEIGHTS_HASHES:
        return None
    suffix = "" if include_top else "_notop"
    name = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
    return weight_files.PretrainedFile(name, WEIGHTS_ORIGIN + name, file_hash)


def ResNet(stack_fn: Callable[[Any], Any], preact: bool, use_bias: bool, include_top: bool = True,
           weights: Any = "imagenet", input_tensor: Any = None, input_shape: Any = None, pooling: str | None = None,
           classes: int = 1000, classifier_activation: Any = "softmax", name: str = "resnet",
           weights_name: str | None = None) -> Functional:
    """A ResNet (V1 when `preact` is False, V2 with pre-activation otherwise) around `stack_fn`'s blocks."""
    weight_files.check_weights(weights, include_top, classes)
    heads.check_head(include_top, classes, pooling, classifier_activation, weights)
    shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                              data_format="channels_last", require_flatten=include_top,
                                              weights=weights)
    weights_path = weight_files.resolve(weights, pretrained_file(weights_name, include_top))
    image = inputs.image_input(input_tensor, shape)

    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(image)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name="post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    x = heads.averaged_top(x, include_top, classes, classifier_activation, pooling)
    model = Functional(inputs.model_inputs(input_tensor, image), x, name=name)
    return weight_files.load(model, weights_path)


def residual_block_v1(x: Any, filters: int, kernel_size: int = 3, stride: int = 1, conv_shortcut: bool = True,
                      name: str | None = None) -> Any:
    """Bottleneck block: 1x1 (strided), kxk, 1x1 (4 * filters) convolutions with batch norm, added to
    the shortcut (a strided 1x1 convolution, or the input itself), then relu."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="SAME", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x: Any, filters: int, blocks: int, stride1: int = 2, name: str | None = None) -> Any:
    """`blocks` V1 blocks; the first has the convolution shortcut and the stride."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(x: Any, filters: int, kernel_size: int = 3, stride: int = 1, conv_shortcut: bool = False,
                      name: str | None = None) -> Any:
    """Pre-activation bottleneck block: batch norm and relu first, then 1x1, padded strided kxk and 1x1
    convolutions, added to the shortcut (1x1 convolution of the pre-activation, a strided 1x1 max pool,
    or the input)."""
    preact = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x: Any, filters: int, blocks: int, stride1: int = 2, name: str | None = None) -> Any:
    """`blocks` V2 blocks: the first with the convolution shortcut, the last with the stride."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _v1_stacks(blocks: tuple[int, int, int, int]) -> Callable[[Any], Any]:
    """The four V1 stages (64, 128, 256, 512 filters) with `blocks` blocks each; the first is not strided."""
    def stack_fn(x: Any) -> Any:
        x = stack_residual_blocks_v1(x, 64, blocks[0], stride1=1, name="conv2")
        x = stack_residual_blocks_v1(x, 128, blocks[1], name="conv3")
        x = stack_residual_blocks_v1(x, 256, blocks[2], name="conv4")
        return stack_residual_blocks_v1(x, 512, blocks[3], name="conv5")
    return stack_fn


def ResNet50(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None, input_shape: Any = None,
             pooling: str | None = None, classes: int = 1000, classifier_activation: Any = "softmax",
             name: str = "resnet50") -> Functional:
    """ResNet50: 3, 4, 6, 3 bottleneck blocks; 224x224 RGB by default ("caffe" preprocessing)."""
    return ResNet(_v1_stacks((3, 4, 6, 3)), preact=False, use_bias=True, include_top=include_top, weights=weights,
                  input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                  classifier_activation=classifier_activation, name=name, weights_name="resnet50")


def ResNet101(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None, input_shape: Any = None,
              pooling: str | None = None, classes: int = 1000, classifier_activation: Any = "softmax",
              name: str = "resnet101") -> Functional:
    """ResNet101: 3, 4, 23, 3 bottleneck blocks."""
    return ResNet(_v1_stacks((3, 4, 23, 3)), preact=False, use_bias=True, include_top=include_top, weights=weights,
                  input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                  classifier_activation=classifier_activation, name=name, weights_name="resnet101")


def ResNet152(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None, input_shape: Any = None,
              pooling: str | None = None, classes: int = 1000, classifier_activation: Any = "softmax",
              name: str = "resnet152") -> Functional:
    """ResNet152: 3, 8, 36, 3 bottleneck blocks."""
    return ResNet(_v1_stacks((3, 8, 36, 3)), preact=False, use_bias=True, include_top=include_top, weights=weights,
                  input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                  classifier_activation=classifier_activation, name=name, weights_name="resnet152")


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """RGB to BGR, then each channel zero-centred on ImageNet's mean, no scaling ("caffe" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


__all__ = ["ResNet101", "ResNet152", "ResNet50", "decode_predictions", "preprocess_input"]
