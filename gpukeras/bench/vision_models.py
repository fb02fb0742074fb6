"""The image workloads (W6-W9) as a Keras user writes them, one source for gpukeras and Keras 3.

`keras` is passed in (`import gpukeras as keras` or the real `import keras`), as in sequence_models.py, so
both libraries run the very same model code: ResNet-20 written out with layers, MobileNetV2 and ResNet50
from each library's own `applications` (weights=None). No import of either library here: the Keras 3
runner loads this file from Keras's own venv.
"""

from __future__ import annotations

import importlib
from typing import Any

if not __package__:  # run by path: siblings importable, the stdlib not shadowed
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import workloads as W


def build(keras: Any, w: W.Workload) -> Any:
    """W6-W9, compiled with Adam(1e-3), sparse categorical cross-entropy on the softmax output and
    `metrics=["accuracy"]`."""
    if w.kind == "resnet20":
        model = resnet20(keras, w)
    elif w.kind == "mobilenetv2":
        model = applications(keras).MobileNetV2(weights=None, input_shape=w.input_shape, classes=w.classes,
                                                alpha=1.0)
    elif w.kind == "resnet50":
        model = applications(keras).ResNet50(weights=None, input_shape=w.input_shape, classes=w.classes)
    else:
        raise ValueError(f"{w.key} ({w.kind}) is not an image workload")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=W.LEARNING_RATE),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def applications(keras: Any) -> Any:
    """`keras.applications`, also when the package face does not export it yet (imported by its module name)."""
    apps = getattr(keras, "applications", None)
    return apps if apps is not None else importlib.import_module(f"{keras.__name__}.applications")


def resnet20(keras: Any, w: W.Workload) -> Any:
    """The CIFAR ResNet-20 (see workloads.RESNET20_FILTERS): convolutions without bias, each followed by
    BatchNormalization (Keras's defaults), ReLU after the first convolution and after each block's sum."""
    layers = keras.layers

    def conv_bn(x: Any, filters: int, kernel: int, stride: int) -> Any:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
        return layers.BatchNormalization(momentum=W.BN_MOMENTUM, epsilon=W.BN_EPSILON)(x)

    inputs = keras.Input(w.input_shape)
    x = layers.Activation("relu")(conv_bn(inputs, W.RESNET20_FILTERS[0], 3, 1))
    for stage, filters in enumerate(W.RESNET20_FILTERS):
        for block in range(W.RESNET20_BLOCKS):
            stride = 2 if stage > 0 and block == 0 else 1
            y = layers.Activation("relu")(conv_bn(x, filters, 3, stride))
            y = conv_bn(y, filters, 3, 1)
            shortcut = conv_bn(x, filters, 1, stride) if stride != 1 else x
            x = layers.Activation("relu")(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(w.classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
