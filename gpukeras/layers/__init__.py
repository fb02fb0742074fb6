"""gpukeras.layers: the Keras layers."""

from gpukeras.layers.activation import Activation
from gpukeras.layers.convolution import Conv1D, Conv2D, Conv3D
from gpukeras.layers.dense import Dense
from gpukeras.layers.dropout import Dropout
from gpukeras.layers.layer import Layer
from gpukeras.layers.merging import Add, Concatenate
from gpukeras.layers.normalization import BatchNormalization, LayerNormalization
from gpukeras.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from gpukeras.layers.reshaping import Flatten, Reshape
from gpukeras.layers.symbolic import Input, InputLayer, KerasTensor

__all__ = ["Activation", "Add", "Concatenate", "Dense", "Dropout", "Flatten", "Input", "InputLayer",
           "KerasTensor", "Layer", "Reshape"]
__all__ += ["AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "BatchNormalization", "Conv1D", "Conv2D",
            "Conv3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
            "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "LayerNormalization", "MaxPooling1D",
            "MaxPooling2D", "MaxPooling3D"]
