"""gpukeras.applications: Keras 3's image classification models, with their names, layers, weights layouts,
arguments and preprocessing.

`weights=None` builds random weights; a path loads a Keras weights file (`.weights.h5`, `.keras`, or
tf.keras 2's `.h5`, as Keras publishes its ImageNet weights); "imagenet" (Keras's default) uses Keras's
pretrained file from the cache (`$GPUKERAS_HOME/models/` or `~/.keras/models/`), downloading it once
when a network is there, else failing with the URL and the path to place the file at.
"""

from gpukeras.applications import (
    densenet,
    efficientnet,
    imagenet_utils,
    mobilenet_v2,
    mobilenet_v3,
    resnet,
    resnet50,
    resnet_v2,
    vgg16,
)
from gpukeras.applications.densenet import DenseNet121
from gpukeras.applications.efficientnet import EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3
from gpukeras.applications.mobilenet_v2 import MobileNetV2
from gpukeras.applications.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from gpukeras.applications.resnet import ResNet50, ResNet101, ResNet152
from gpukeras.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from gpukeras.applications.vgg16 import VGG16

__all__ = ["DenseNet121", "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "MobileNetV2",
           "MobileNetV3Large", "MobileNetV3Small", "ResNet101", "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet50",
           "ResNet50V2", "VGG16", "densenet", "efficientnet", "imagenet_utils", "mobilenet_v2", "mobilenet_v3",
           "resnet", "resnet50", "resnet_v2", "vgg16"]
