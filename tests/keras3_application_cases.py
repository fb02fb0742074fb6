"""The keras.applications cases recorded from Keras 3 and replayed on gpukeras (plain data and NumPy, no Keras import).

tests/reference/record_keras3_applications.py builds each case with Keras 3 (JAX) and
tests/test_keras3_applications.py with gpukeras. TABLE_CASES compare parameter counts and layer tables
(built with weights=None); FORWARD_CASES also compare predictions from the same weights, whose values
come from `variable_values` (seeded per variable, so both sides make them without storing them);
TRAIN_CASES compare a few SGD steps from those weights.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


def _case(cid: str, fn: str, **kwargs) -> dict:
    return {"id": cid, "fn": fn, "kwargs": kwargs}


# `input_tensor` as data: [layer class, its argument, Input shape] -> Layer(arg)(Input(shape)).
RESCALED_INPUT_64 = ["Rescaling", 0.5, [64, 64, 3]]

TABLE_CASES = [
    _case("resnet50", "ResNet50"),
    _case("resnet50_notop_avg_64", "ResNet50", include_top=False, pooling="avg", input_shape=[64, 64, 3]),
    _case("resnet50_classes10_logits_48", "ResNet50", classes=10, classifier_activation=None, input_shape=[48, 48, 3]),
    _case("resnet101", "ResNet101"),
    _case("resnet152", "ResNet152"),
    _case("resnet50v2", "ResNet50V2"),
    _case("resnet50v2_notop_max_96", "ResNet50V2", include_top=False, pooling="max", input_shape=[96, 96, 3]),
    _case("resnet101v2", "ResNet101V2"),
    _case("resnet152v2", "ResNet152V2"),
    _case("mobilenetv2", "MobileNetV2"),
    _case("mobilenetv2_a035_96_notop_max", "MobileNetV2", alpha=0.35, input_shape=[96, 96, 3], include_top=False,
          pooling="max"),
    _case("mobilenetv2_a14", "MobileNetV2", alpha=1.4),
    _case("mobilenetv2_a13_75_notop", "MobileNetV2", alpha=1.3, input_shape=[75, 75, 3], include_top=False),
    _case("mobilenetv2_a05_160_classes10", "MobileNetV2", alpha=0.5, input_shape=[160, 160, 3], classes=10),
    _case("mobilenetv3small", "MobileNetV3Small"),
    _case("mobilenetv3small_min_a075_96_notop_avg", "MobileNetV3Small", minimalistic=True, alpha=0.75,
          include_top=False, pooling="avg", input_shape=[96, 96, 3]),
    _case("mobilenetv3small_rescaled_input_tensor", "MobileNetV3Small", input_tensor=RESCALED_INPUT_64,
          include_top=False),
    _case("mobilenetv3large", "MobileNetV3Large"),
    _case("mobilenetv3large_nopre_nodrop_logits", "MobileNetV3Large", include_preprocessing=False, dropout_rate=0.0,
          classes=10, classifier_activation=None, input_shape=[64, 64, 3]),
    _case("mobilenetv3large_min_a125", "MobileNetV3Large", minimalistic=True, alpha=1.25),
    _case("efficientnetb0", "EfficientNetB0"),
    _case("efficientnetb0_notop_avg_64", "EfficientNetB0", include_top=False, pooling="avg", input_shape=[64, 64, 3]),
    _case("efficientnetb1", "EfficientNetB1"),
    _case("efficientnetb2", "EfficientNetB2"),
    _case("efficientnetb3", "EfficientNetB3"),
    _case("efficientnetb3_notop_max_65x71", "EfficientNetB3", include_top=False, pooling="max",
          input_shape=[65, 71, 3]),
    _case("vgg16", "VGG16"),
    _case("vgg16_notop_avg_48", "VGG16", include_top=False, pooling="avg", input_shape=[48, 48, 3]),
    _case("densenet121", "DenseNet121"),
    _case("densenet121_notop_max_64", "DenseNet121", include_top=False, pooling="max", input_shape=[64, 64, 3]),
]

FORWARD_CASES = [
    {**_case("mobilenetv3small_64", "MobileNetV3Small", input_shape=[64, 64, 3]), "batch": 2, "seed": 11},
    {**_case("efficientnetb0_48", "EfficientNetB0", input_shape=[48, 48, 3]), "batch": 2, "seed": 12},
    {**_case("mobilenetv2_a035_64_logits", "MobileNetV2", alpha=0.35, input_shape=[64, 64, 3],
             classifier_activation=None), "batch": 2, "seed": 13},
]

# A few SGD steps (sparse categorical cross-entropy, batch statistics in the BatchNormalization layers);
# no dropout, so Keras 3's steps are deterministic. 64x64 inputs leave 2x2 maps at the end: at 32x32 the last
# BatchNormalization layers normalize 4 values per channel, and three steps already part Keras 3's own jit and
# eager runs (third loss 0.997 vs 1.064), so no implementation could be held to them.
TRAIN_CASES = [
    {**_case("mobilenetv3small_64_train", "MobileNetV3Small", input_shape=[64, 64, 3], classes=5, dropout_rate=0.0),
     "batch": 4, "steps": 3, "learning_rate": 0.01, "seed": 21},
]

PREPROCESS_SEED = 31


def case_by_id(cases: Sequence[dict], cid: str) -> dict:
    return next(c for c in cases if c["id"] == cid)


def images(case: dict) -> np.ndarray:
    """The case's input batch: pixels in [0, 255], float32."""
    shape = (case["batch"], *case["kwargs"]["input_shape"])
    return np.random.RandomState(case["seed"]).uniform(0.0, 255.0, size=shape).astype("float32")


def labels(case: dict) -> np.ndarray:
    return np.random.RandomState(case["seed"] + 1).randint(0, case["kwargs"]["classes"], size=case["batch"])


def preprocess_images() -> np.ndarray:
    """Two 4x5 RGB images (values in [0, 255]) for the preprocessing modes."""
    return np.random.RandomState(PREPROCESS_SEED).uniform(0.0, 255.0, size=(2, 4, 5, 3)).astype("float32")


def variable_kind(layer_class: str, variable_name: str) -> str:
    """What a variable holds, which picks the range of its values (see `variable_values`)."""
    if layer_class == "DepthwiseConv2D" and variable_name == "kernel":
        return "depthwise_kernel"
    if layer_class == "Normalization" and variable_name in ("mean", "variance"):
        return f"norm_{variable_name}"
    return variable_name


def variable_values(key: str, shape: Sequence[int], dtype: str, kind: str) -> np.ndarray:
    """Seeded values for the variable `key` (its path, e.g. "conv_bn/gamma"): scaled so that activations
    stay of order one through a deep network (He-uniform kernels, batch-norm statistics near identity)."""
    rng = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
    shape = tuple(shape)
    if kind == "count":
        return np.zeros(shape, dtype=dtype)
    if kind in ("kernel", "depthwise_kernel"):
        fan_in = int(np.prod(shape[:-2])) if kind == "depthwise_kernel" else int(np.prod(shape[:-1]))
        limit = float(np.sqrt(6.0 / max(fan_in, 1)))
        low, high = -limit, limit
    else:
        low, high = {"bias": (-0.05, 0.05), "gamma": (0.8, 1.2), "beta": (-0.1, 0.1), "moving_mean": (-0.1, 0.1),
                     "moving_variance": (0.8, 1.2), "norm_mean": (0.4, 0.6), "norm_variance": (0.05, 0.1)}[kind]
    return rng.uniform(low, high, size=shape).astype(dtype)


def build(keras, case: dict, weights=None):
    """The case's application from `keras` (Keras 3 in the recorder, gpukeras in the tests), with
    `input_tensor` made from its data form and list shapes as tuples."""
    kwargs = dict(case["kwargs"], weights=weights)
    spec = kwargs.get("input_tensor")
    if spec is not None:
        layer_class, argument, shape = spec
        kwargs["input_tensor"] = getattr(keras.layers, layer_class)(argument)(keras.Input(shape=tuple(shape)))
    if "input_shape" in kwargs:
        kwargs["input_shape"] = tuple(kwargs["input_shape"])
    return getattr(keras.applications, case["fn"])(**kwargs)
