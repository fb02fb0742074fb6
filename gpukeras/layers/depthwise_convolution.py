"""Depthwise and separable convolution layers: DepthwiseConv1D/2D, SeparableConv1D/2D.

Keras 3's layouts: a depthwise kernel (*kernel_size, input_channels, depth_multiplier) gives output
channel c * depth_multiplier + m from input channel c; a separable layer follows it with a
pointwise kernel (1, ..., input_channels * depth_multiplier, filters) and a bias (filters,).
"""

from __future__ import annotations

from typing import Any

from gpukeras import activations, constraints, initializers, regularizers
from gpukeras.layers.convolution import check_input_rank, window_output_shape
from gpukeras.layers.convolution_transpose import check_positive_int
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import (
    depthwise_conv_bias,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    separable_conv_bias,
)


class _SpatialFilter(Layer):
    """What depthwise and separable layers share: window arguments, activation, bias, input checks."""

    rank = 2

    def __init__(self, kernel_size: Any, strides: Any, padding: str, depth_multiplier: int,
                 data_format: str | None, dilation_rate: Any, activation: Any, use_bias: bool,
                 bias_initializer: Any, bias_regularizer: Any, bias_constraint: Any, **kwargs: Any):
        cls = type(self).__name__
        check_positive_int(cls, "depth_multiplier", depth_multiplier)
        kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
        strides = normalize_tuple(strides, self.rank, "strides")
        dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate")
        padding = normalize_padding(padding)
        data_format = normalize_data_format(data_format)
        super().__init__(**kwargs)
        self.depth_multiplier = depth_multiplier
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.data_format = data_format
        self.dilation_rate = dilation_rate
        self.activation = activations.get(activation)
        self._fused = activations.fused_primitive(self.activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None

    def _channels(self, shape: Any) -> Any:
        return shape[1] if self.data_format == "channels_first" else shape[-1]

    def _input_channels(self, input_shape: Any) -> int:
        """The known channel count of `input_shape`; also checks the rank and that the windows fit."""
        check_input_rank(self, input_shape, self.rank + 2)
        channels = self._channels(input_shape)
        if channels is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the channel dimension of the inputs must be "
                             f"known, got input shape {tuple(input_shape)}.")
        self.compute_output_shape(input_shape)  # raises when a window does not fit
        return channels

    def _check_call_input(self, inputs: Any, channels: int) -> None:
        check_input_rank(self, inputs.shape, self.rank + 2)
        if self._channels(inputs.shape) != channels:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs with {channels} channels, "
                             f"got shape {tuple(inputs.shape)}.")

    def _activation_args(self) -> tuple[str, tuple]:
        return self._fused or ("linear", ())

    def _finish(self, y: Any) -> Any:
        return y if self._fused is not None else self.activation(y)

    def _output_shape(self, input_shape: Any, channels: Any) -> tuple:
        check_input_rank(self, input_shape, self.rank + 2)
        return window_output_shape(input_shape, self.rank, self.data_format, self.kernel_size, self.strides,
                                   self.padding, self.dilation_rate, channels)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class BaseDepthwiseConv(_SpatialFilter):
    """Each input channel convolved with its own `depth_multiplier` filters; weights `kernel`, `bias`."""

    def __init__(self, kernel_size: Any, strides: Any = 1, padding: str = "valid", depth_multiplier: int = 1,
                 data_format: str | None = None, dilation_rate: Any = 1, activation: Any = None,
                 use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", depthwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, bias_constraint,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape)
        self.kernel = self.add_weight(self.kernel_size + (channels, self.depth_multiplier),
                                      self.depthwise_initializer, name="kernel",
                                      regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight((channels * self.depth_multiplier,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs: Any) -> Any:
        self._check_call_input(inputs, self.kernel.shape[-2])
        name, params = self._activation_args()
        return self._finish(depthwise_conv_bias(inputs, self.kernel, self.bias, self.strides, self.padding,
                                                self.data_format, self.dilation_rate, name, params))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        channels = self._channels(tuple(input_shape))
        return self._output_shape(input_shape, None if channels is None else channels * self.depth_multiplier)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
        }


class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution; kernel (k, channels, depth_multiplier)."""

    rank = 1


class DepthwiseConv2D(BaseDepthwiseConv):
    """Depthwise 2-D convolution (MobileNet's spatial filter); kernel (kh, kw, channels, depth_multiplier)."""

    rank = 2


class BaseSeparableConv(_SpatialFilter):
    """A depthwise convolution, then a 1x1 convolution to `filters` channels; weights `depthwise_kernel`,
    `pointwise_kernel`, `bias`."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, depth_multiplier: int = 1,
                 activation: Any = None, use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 pointwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, pointwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None, pointwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any):
        check_positive_int(type(self).__name__, "filters", filters)
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, bias_constraint,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.filters = filters
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape)
        self.depthwise_kernel = self.add_weight(self.kernel_size + (channels, self.depth_multiplier),
                                                self.depthwise_initializer, name="depthwise_kernel",
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight((1,) * self.rank + (channels * self.depth_multiplier, self.filters),
                                                self.pointwise_initializer, name="pointwise_kernel",
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs: Any) -> Any:
        self._check_call_input(inputs, self.depthwise_kernel.shape[-2])
        name, params = self._activation_args()
        return self._finish(separable_conv_bias(inputs, self.depthwise_kernel, self.pointwise_kernel, self.bias,
                                                self.strides, self.padding, self.data_format, self.dilation_rate,
                                                name, params))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return self._output_shape(input_shape, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
        }


class SeparableConv1D(BaseSeparableConv):
    """Depthwise then pointwise 1-D convolution."""

    rank = 1


class SeparableConv2D(BaseSeparableConv):
    """Depthwise then pointwise 2-D convolution (Xception's block)."""

    rank = 2
