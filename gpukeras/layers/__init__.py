"""gpukeras.layers: the Keras layers."""

from gpukeras.layers.activation import Activation
from gpukeras.layers.dense import Dense
from gpukeras.layers.dropout import Dropout
from gpukeras.layers.layer import Layer
from gpukeras.layers.merging import Add, Concatenate
from gpukeras.layers.reshaping import Flatten, Reshape
from gpukeras.layers.symbolic import Input, InputLayer, KerasTensor

__all__ = ["Activation", "Add", "Concatenate", "Dense", "Dropout", "Flatten", "Input", "InputLayer",
           "KerasTensor", "Layer", "Reshape"]
