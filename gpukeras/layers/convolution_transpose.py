"""Transposed convolution layers: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

Keras 3's layout: kernel (*kernel_size, filters, input_channels), bias (filters,). The output size
along each axis follows Keras 3 (`ops.convolution.conv_transpose_output_size`), with `output_padding`
adding rows at the end.
"""

from __future__ import annotations

from typing import Any

from gpukeras import activations, constraints, initializers, regularizers
from gpukeras.layers.convolution import check_input_rank
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import (
    conv_transpose_bias,
    conv_transpose_output_size,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)


def check_positive_int(cls: str, name: str, value: Any) -> int:
    """`value` if it is an int > 0, else Keras's ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{cls}: invalid value for argument `{name}`. Expected a strictly positive integer. "
                         f"Received {name}={value!r}.")
    return value


class BaseConvTranspose(Layer):
    """N-d transposed convolution; subclasses fix `rank`."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 output_padding: Any = None, data_format: str | None = None, dilation_rate: Any = 1,
                 activation: Any = None, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any):
        cls = type(self).__name__
        check_positive_int(cls, "filters", filters)
        kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
        strides = normalize_tuple(strides, self.rank, "strides")
        dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate")
        padding = normalize_padding(padding)
        data_format = normalize_data_format(data_format)
        if output_padding is not None:
            output_padding = normalize_tuple(output_padding, self.rank, "output_padding", allow_zero=True)
            for i, (p, s) in enumerate(zip(output_padding, strides)):
                if p >= s:
                    raise ValueError(f"{cls}: `output_padding` must be strictly less than `strides` for all "
                                     f"dimensions. At dimension {i}, `output_padding` is {p} but `strides` is {s}. "
                                     f"Received: output_padding={output_padding}, strides={strides}.")
        if max(strides) > 1 and max(dilation_rate) > 1:
            raise ValueError(f"{cls}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={strides} and dilation_rate={dilation_rate}.")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.output_padding = output_padding
        self.data_format = data_format
        self.dilation_rate = dilation_rate
        self.activation = activations.get(activation)
        self._fused = activations.fused_primitive(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None

    def _channels(self, shape: Any) -> Any:
        return shape[1] if self.data_format == "channels_first" else shape[-1]

    def build(self, input_shape: Any) -> None:
        check_input_rank(self, input_shape, self.rank + 2)
        channels = self._channels(input_shape)
        if channels is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the channel dimension of the inputs must be "
                             f"known, got input shape {tuple(input_shape)}.")
        self.kernel = self.add_weight(self.kernel_size + (self.filters, channels), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, self.rank + 2)
        expected = self.kernel.shape[-1]
        if self._channels(inputs.shape) != expected:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs with {expected} channels, "
                             f"got shape {tuple(inputs.shape)}.")
        name, params = self._fused or ("linear", ())
        y = conv_transpose_bias(inputs, self.kernel, self.bias, self.strides, self.padding, self.output_padding,
                                self.data_format, self.dilation_rate, name, params)
        return y if self._fused is not None else self.activation(y)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        check_input_rank(self, input_shape, self.rank + 2)
        shape = tuple(input_shape)
        spatial = shape[2:] if self.data_format == "channels_first" else shape[1:-1]
        pads = self.output_padding or (None,) * self.rank
        out = tuple(None if n is None else conv_transpose_output_size(n, k, s, self.padding, p, d)
                    for n, k, s, p, d in zip(spatial, self.kernel_size, self.strides, pads, self.dilation_rate))
        if self.data_format == "channels_first":
            return (shape[0], self.filters, *out)
        return (shape[0], *out, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1-D convolution over (batch, steps, channels); kernel (k, filters, in)."""

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2-D convolution (a learned up-sampling); kernel (kh, kw, filters, in)."""

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3-D convolution over (batch, depth, height, width, channels)."""

    rank = 3
