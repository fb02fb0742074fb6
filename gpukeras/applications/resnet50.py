"""keras.applications.resnet50: Keras's older module name for ResNet50 and its preprocessing."""

from gpukeras.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
