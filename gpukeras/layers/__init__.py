"""gpukeras.layers: the Keras layers."""

from gpukeras.keras_tensor import KerasTensor
from gpukeras.layers import operation as _operation  # noqa: F401  (keras.ops on KerasTensors record its nodes)
from gpukeras.layers.activation import Activation
from gpukeras.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from gpukeras.layers.attention import (
    AdditiveAttention,
    Attention,
    GroupedQueryAttention,
    MultiHeadAttention,
)
from gpukeras.layers.convolution import Conv1D, Conv2D, Conv3D
from gpukeras.layers.convolution_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from gpukeras.layers.core_layers import Identity, Lambda, Permute, RepeatVector
from gpukeras.layers.dense import Dense
from gpukeras.layers.depthwise_convolution import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from gpukeras.layers.dropout import Dropout
from gpukeras.layers.einsum_dense import EinsumDense
from gpukeras.layers.embedding import Embedding, Masking
from gpukeras.layers.input_layer import Input, InputLayer
from gpukeras.layers.input_spec import InputSpec
from gpukeras.layers.layer import Layer
from gpukeras.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from gpukeras.layers.normalization import BatchNormalization, LayerNormalization, RMSNormalization
from gpukeras.layers.padding_cropping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
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
from gpukeras.layers.preprocessing import (
    CategoryEncoding,
    CenterCrop,
    Discretization,
    Hashing,
    IntegerLookup,
    Normalization,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
    StringLookup,
    TextVectorization,
)
from gpukeras.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from gpukeras.layers.reshaping import Flatten, Reshape
from gpukeras.layers.rnn import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
    TimeDistributed,
)
from gpukeras.layers.sample_normalization import GroupNormalization, UnitNormalization
from gpukeras.layers.upsampling import UpSampling1D, UpSampling2D, UpSampling3D
from gpukeras.layers.wrapper import Wrapper
from gpukeras.saving.serialization import (
    Catalogue,
    deserialize_keras_object,
    register_catalogue,
    serialize_keras_object,
)

__all__ = ["Activation", "Add", "Concatenate", "Dense", "Dropout", "Embedding", "Flatten", "Input", "InputLayer",
           "KerasTensor", "Layer", "Masking", "Reshape"]
__all__ += ["AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "BatchNormalization", "Conv1D", "Conv2D",
            "Conv3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
            "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "LayerNormalization", "MaxPooling1D",
            "MaxPooling2D", "MaxPooling3D"]
__all__ += ["CategoryEncoding", "Discretization", "Hashing", "IntegerLookup", "StringLookup", "TextVectorization"]
__all__ += ["CenterCrop", "Normalization", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
            "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing"]
GroupQueryAttention = GroupedQueryAttention  # Keras 3's public name for it
__all__ += ["AdditiveAttention", "Attention", "EinsumDense", "GroupQueryAttention", "GroupedQueryAttention",
            "MultiHeadAttention"]
__all__ += ["GRU", "LSTM", "RNN", "Bidirectional", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell",
            "StackedRNNCells", "TimeDistributed"]

# issue 12's structure layers and the functional merge helpers
__all__ += ["ActivityRegularization", "AlphaDropout", "Average", "Dot", "ELU", "GaussianDropout", "GaussianNoise",
            "GroupNormalization", "Identity", "Lambda", "LeakyReLU", "Maximum", "Minimum", "Multiply", "PReLU",
            "Permute", "ReLU", "RepeatVector", "Softmax", "SpatialDropout1D", "SpatialDropout2D",
            "SpatialDropout3D", "Subtract", "UnitNormalization", "add", "average", "concatenate", "dot", "maximum",
            "minimum", "multiply", "subtract"]


# issue 12's convolution family (and Keras 3's longer aliases of its names)
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
__all__ += ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution1DTranspose",
            "Convolution2DTranspose", "Convolution3DTranspose", "Cropping1D", "Cropping2D", "Cropping3D",
            "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
            "SeparableConvolution2D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D",
            "ZeroPadding2D", "ZeroPadding3D"]

# Keras 3's other spellings of the convolution and pooling classes (tf.keras code uses them a lot)
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (GlobalAveragePooling1D, GlobalAveragePooling2D,
                                                     GlobalAveragePooling3D)
__all__ += ["AvgPool1D", "AvgPool2D", "AvgPool3D", "Convolution1D", "Convolution2D", "Convolution3D",
            "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
            "GlobalMaxPool3D", "InputSpec", "MaxPool1D", "MaxPool2D", "MaxPool3D", "RMSNormalization", "Wrapper",
            "deserialize", "serialize"]


def serialize(layer: Layer) -> dict:
    """keras.layers.serialize: the layer's Keras 3 config entry."""
    return serialize_keras_object(layer)


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """keras.layers.deserialize: the layer a config entry describes."""
    return deserialize_keras_object(config, custom_objects)


def _find_layer(name: str) -> type | None:
    """The built-in layer class called `name` (what a config's class_name refers to)."""
    found = globals().get(name)
    return found if isinstance(found, type) and issubclass(found, Layer) else None


register_catalogue(Catalogue("keras.layers", base=Layer, find_class=_find_layer))
