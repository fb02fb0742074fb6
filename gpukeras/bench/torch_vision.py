"""The image workloads (W6-W9) in PyTorch, written to have the Keras models' layers, shapes and weights.

W6: the CIFAR ResNet-20 of vision_models.resnet20. W7/W9: keras.applications.MobileNetV2 (alpha 1.0).
W8: keras.applications.ResNet50 (V1 as Keras builds it: the stride on each stage's first 1x1 convolution,
convolutions with bias). NCHW, as a PyTorch user writes it. Keras's "same" padding of a strided
convolution on an even size pads (0, 1), and its MobileNetV2 pads (0, 1) before strided depthwise
convolutions; here every convolution pads symmetrically (k // 2): the same output shapes and arithmetic,
the window shifted by one pixel. Weights start as Keras's do where it is cheap to say so (Glorot-uniform
kernels, zero biases, batch norm's epsilon and momentum), since that is what the first steps' numbers see.
The models end in logits (CrossEntropyLoss takes them: the same function as Keras's softmax + sparse
cross-entropy). Imported by the torch runner only (this module imports torch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

if not __package__:  # run by path: siblings importable, the stdlib not shadowed
    import torch_sequence as TS  # noqa: E402
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import torch_sequence as TS
    from gpukeras.bench import workloads as W

MOBILENET_BN = {"eps": 1e-3, "momentum": 1 - 0.999}  # keras.applications.mobilenet_v2
RESNET50_BN = {"eps": 1.001e-5, "momentum": 1 - W.BN_MOMENTUM}  # keras.applications.resnet
KERAS_BN = {"eps": W.BN_EPSILON, "momentum": 1 - W.BN_MOMENTUM}
# MobileNetV2's (filters, stride, expansion) per block, as keras.applications.mobilenet_v2 (alpha 1.0)
MOBILENET_BLOCKS = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6),
                    (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6),
                    (160, 1, 6), (160, 1, 6), (320, 1, 6)]
RESNET50_STACKS = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]  # (filters, blocks, first stride)


def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False,
            bn: dict[str, float] = KERAS_BN) -> nn.Sequential:
    """Conv2d (padding k // 2) followed by BatchNorm2d."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=bias),
                         nn.BatchNorm2d(cout, **bn))


class BasicBlock(nn.Module):
    """ResNet-20's block: relu(shortcut(x) + bn(conv(relu(bn(conv(x)))))), a 1x1 conv + bn shortcut when strided."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, 3, stride), nn.ReLU(), conv_bn(cout, cout, 3))
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.body(x))


def resnet20(w: W.Workload) -> nn.Module:
    """W6: conv-bn-relu, 3 stages of 3 BasicBlocks, global average pooling, Linear(64, classes)."""
    mods: list[nn.Module] = [conv_bn(w.input_shape[2], W.RESNET20_FILTERS[0], 3), nn.ReLU()]
    cin = W.RESNET20_FILTERS[0]
    for stage, filters in enumerate(W.RESNET20_FILTERS):
        for block in range(W.RESNET20_BLOCKS):
            mods.append(BasicBlock(cin, filters, 2 if stage > 0 and block == 0 else 1))
            cin = filters
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, w.classes)]
    return nn.Sequential(*mods)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: expand 1x1 (not in block 0), depthwise 3x3, linear 1x1 projection, residual
    when the shapes allow; ReLU6."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        mods: list[nn.Module] = []
        if expansion != 1:
            mods += [conv_bn(cin, mid, 1, bn=MOBILENET_BN), nn.ReLU6()]
        mods += [conv_bn(mid, mid, 3, stride, groups=mid, bn=MOBILENET_BN), nn.ReLU6(),
                 conv_bn(mid, cout, 1, bn=MOBILENET_BN)]
        self.body = nn.Sequential(*mods)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


def mobilenet_v2(w: W.Workload) -> nn.Module:
    """W7/W9: keras.applications.MobileNetV2(alpha=1.0, classes=w.classes) without its softmax."""
    mods: list[nn.Module] = [conv_bn(w.input_shape[2], 32, 3, 2, bn=MOBILENET_BN), nn.ReLU6()]
    cin = 32
    for filters, stride, expansion in MOBILENET_BLOCKS:
        mods.append(InvertedResidual(cin, filters, stride, expansion))
        cin = filters
    mods += [conv_bn(cin, 1280, 1, bn=MOBILENET_BN), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
             nn.Linear(1280, w.classes)]
    return nn.Sequential(*mods)


class Bottleneck(nn.Module):
    """keras.applications.resnet's residual_block_v1: 1x1 (strided), 3x3, 1x1 (4x) convolutions with bias and
    batch norm, added to a 1x1 conv + bn shortcut (first block of a stack) or the input; relu."""

    def __init__(self, cin: int, filters: int, stride: int, conv_shortcut: bool):
        super().__init__()
        bn = RESNET50_BN
        self.body = nn.Sequential(conv_bn(cin, filters, 1, stride, bias=True, bn=bn), nn.ReLU(),
                                  conv_bn(filters, filters, 3, bias=True, bn=bn), nn.ReLU(),
                                  conv_bn(filters, 4 * filters, 1, bias=True, bn=bn))
        self.shortcut = conv_bn(cin, 4 * filters, 1, stride, bias=True, bn=bn) if conv_shortcut else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.body(x))


def resnet50(w: W.Workload) -> nn.Module:
    """W8: keras.applications.ResNet50(classes=w.classes) without its softmax."""
    mods: list[nn.Module] = [conv_bn(w.input_shape[2], 64, 7, 2, bias=True, bn=RESNET50_BN), nn.ReLU(),
                             nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for filters, blocks, stride in RESNET50_STACKS:
        for block in range(blocks):
            mods.append(Bottleneck(cin, filters, stride if block == 0 else 1, block == 0))
            cin = 4 * filters
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, w.classes)]
    return nn.Sequential(*mods)


def keras_init(model: nn.Module) -> nn.Module:
    """Glorot-uniform kernels and zero biases (Keras's defaults) on every Conv2d and Linear."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


BUILDERS = {"resnet20": resnet20, "mobilenetv2": mobilenet_v2, "resnet50": resnet50}


def build(w: W.Workload) -> tuple[nn.Module, Any, Any]:
    """(model, loss from logits, accuracy from logits and labels) of an image workload."""
    if w.kind not in BUILDERS:
        raise ValueError(f"{w.key} ({w.kind}) is not an image workload")
    return keras_init(BUILDERS[w.kind](w)), nn.CrossEntropyLoss(), TS.sparse_accuracy
