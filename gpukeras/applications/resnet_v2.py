"""keras.applications.resnet_v2: ResNet50V2, ResNet101V2 and ResNet152V2 (He et al., "Identity Mappings in
Deep Residual Networks", 2016): pre-activation blocks, the stride on each stage's last block.

Built by gpukeras.applications.resnet's builder with Keras 3's names and weights. Inputs are expected
scaled to [-1, 1] ("tf" mode of `preprocess_input`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpukeras.applications import imagenet_utils
from gpukeras.applications.imagenet_utils import decode_predictions
from gpukeras.applications.resnet import ResNet, stack_residual_blocks_v2
from gpukeras.models import Functional


def _v2_stacks(blocks: tuple[int, int, int, int]) -> Callable[[Any], Any]:
    """The four V2 stages (64, 128, 256, 512 filters) with `blocks` blocks each; the last is not strided."""
    def stack_fn(x: Any) -> Any:
        x = stack_residual_blocks_v2(x, 64, blocks[0], name="conv2")
        x = stack_residual_blocks_v2(x, 128, blocks[1], name="conv3")
        x = stack_residual_blocks_v2(x, 256, blocks[2], name="conv4")
        return stack_residual_blocks_v2(x, 512, blocks[3], stride1=1, name="conv5")
    return stack_fn


def ResNet50V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
               input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
               classifier_activation: Any = "softmax", name: str = "resnet50v2") -> Functional:
    """ResNet50V2: 3, 4, 6, 3 pre-activation blocks; 224x224 RGB by default ("tf" preprocessing)."""
    return ResNet(_v2_stacks((3, 4, 6, 3)), preact=True, use_bias=True, include_top=include_top, weights=weights,
                  input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                  classifier_activation=classifier_activation, name=name, weights_name="resnet50v2")


def ResNet101V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "resnet101v2") -> Functional:
    """ResNet101V2: 3, 4, 23, 3 pre-activation blocks."""
    return ResNet(_v2_stacks((3, 4, 23, 3)), preact=True, use_bias=True, include_top=include_top, weights=weights,
                  input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                  classifier_activation=classifier_activation, name=name, weights_name="resnet101v2")


def ResNet152V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "resnet152v2") -> Functional:
    """ResNet152V2: 3, 8, 36, 3 pre-activation blocks."""
    return ResNet(_v2_stacks((3, 8, 36, 3)), preact=True, use_bias=True, include_top=include_top, weights=weights,
                  input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                  classifier_activation=classifier_activation, name=name, weights_name="resnet152v2")


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Pixels scaled from [0, 255] to [-1, 1] ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


__all__ = ["ResNet101V2", "ResNet152V2", "ResNet50V2", "decode_predictions", "preprocess_input"]
