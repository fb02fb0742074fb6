"""keras.applications.vgg16: VGG16 (Simonyan & Zisserman, 2014): five blocks of 3x3 convolutions and max
pooling, then (with the top) two 4096-unit Dense layers and the classifier.

Layer names, order, weights and arguments are Keras 3's. Inputs are expected BGR and zero-centred per
channel ("caffe" mode of `preprocess_input`).
"""

from __future__ import annotations

from typing import Any

from gpukeras import layers
from gpukeras.applications import heads, imagenet_utils, inputs, weight_files
from gpukeras.applications.imagenet_utils import decode_predictions
from gpukeras.models import Functional

WEIGHTS_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
PRETRAINED = {  # include_top -> (file, md5 Keras 3 pins)
    True: ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b"),
    False: ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "6d6bbae143d832006294945121d1f1fc"),
}
BLOCKS = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]  # (filters, convolutions) of blocks 1..5


def VGG16(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None, input_shape: Any = None,
          pooling: str | None = None, classes: int = 1000, classifier_activation: Any = "softmax",
          name: str = "vgg16") -> Functional:
    """VGG16; 224x224 RGB by default (fixed when `include_top`, the Dense layers take the flattened maps)."""
    weight_files.check_weights(weights, include_top, classes)
    heads.check_head(include_top, classes, pooling, classifier_activation, weights)
    shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                              data_format="channels_last", require_flatten=include_top,
                                              weights=weights)
    file_name, file_hash = PRETRAINED[bool(include_top)]
    weights_path = weight_files.resolve(weights, weight_files.PretrainedFile(file_name, WEIGHTS_ORIGIN + file_name,
                                                                           file_hash))
    image = inputs.image_input(input_tensor, shape)

    x = image
    for b, (filters, convolutions) in enumerate(BLOCKS, start=1):
        for c in range(1, convolutions + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{b}_conv{c}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = heads.classifier(x, classes, classifier_activation)
    else:
        x = heads.pooled(x, pooling, avg_name=None, max_name=None)
    model = Functional(inputs.model_inputs(input_tensor, image), x, name=name)
    return weight_files.load(model, weights_path)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """RGB to BGR, then each channel zero-centred on ImageNet's mean, no scaling ("caffe" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


__all__ = ["VGG16", "decode_predictions", "preprocess_input"]
