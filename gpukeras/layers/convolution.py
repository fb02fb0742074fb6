"""Convolution layers: Conv1D, Conv2D, Conv3D (im2col + GEMM primitives, Keras kernel layout)."""

from __future__ import annotations

from typing import Any

from gpukeras import activations, constraints, initializers, regularizers
from gpukeras.backend.convolution import conv_padding
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import conv_bias, normalize_data_format, normalize_padding, normalize_tuple


def check_input_rank(layer: Layer, shape: Any, ndim: int) -> None:
    """Raise Keras's InputSpec error when `shape` does not have rank `ndim`."""
    if len(shape) != ndim:
        raise ValueError(f"Input 0 of layer {layer.name!r} is incompatible with the layer: expected ndim={ndim}, "
                         f"found ndim={len(shape)}. Full shape received: {tuple(shape)}")


def window_output_shape(input_shape: Any, rank: int, data_format: str, window: tuple[int, ...],
                        strides: tuple[int, ...], padding: str, dilation_rate: tuple[int, ...],
                        channels: int | None) -> tuple:
    """Output shape of a conv/pool layer (unknown spatial sizes stay None)."""
    shape = tuple(input_shape)
    spatial = shape[2:] if data_format == "channels_first" else shape[1:-1]
    out = []
    for i, n in enumerate(spatial):
        if n is None:
            out.append(None)
        else:
            _, (o,) = conv_padding((n,), (window[i],), (strides[i],), (dilation_rate[i],), padding)
            out.append(o)
    ch = shape[1] if data_format == "channels_first" else shape[-1]
    ch = ch if channels is None else channels
    return (shape[0], ch, *out) if data_format == "channels_first" else (shape[0], *out, ch)


class BaseConv(Layer):
    """N-d convolution layer; subclasses fix `rank`. Kernel (*kernel_size, in/groups, filters)."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, lora_rank: int | None = None,
                 **kwargs: Any):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{cls}: invalid value for argument `filters`. Expected a strictly positive integer. "
                             f"Received filters={filters!r}.")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{cls}: the number of `groups` must be a positive integer. Received: groups={groups!r}.")
        if filters % groups:
            raise ValueError(f"{cls}: the number of filters must be evenly divisible by the number of `groups`. "
                             f"Received: groups={groups}, filters={filters}.")
        if lora_rank is not None:
            raise NotImplementedError(f"{cls}: lora_rank is not supported yet.")
        self.filters = filters
        self.groups = groups
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(strides, self.rank, "strides")
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = normalize_padding(padding, allow_causal=self.rank == 1)
        self.data_format = normalize_data_format(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{cls}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}.")
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
        if channels % self.groups:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the number of input channels must be evenly "
                             f"divisible by the number of groups. Received groups={self.groups}, but the input "
                             f"has {channels} channels (full input shape is {tuple(input_shape)}).")
        shape = self.kernel_size + (channels // self.groups, self.filters)
        self.kernel = self.add_weight(shape, self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, self.rank + 2)
        expected = self.kernel.shape[-2] * self.groups
        if self._channels(inputs.shape) != expected:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs with {expected} channels, "
                             f"got shape {tuple(inputs.shape)}.")
        if self._fused is not None:
            name, params = self._fused
            return conv_bias(inputs, self.kernel, self.bias, self.strides, self.padding, self.data_format,
                             self.dilation_rate, self.groups, name, params)
        y = conv_bias(inputs, self.kernel, self.bias, self.strides, self.padding, self.data_format,
                      self.dilation_rate, self.groups)
        return self.activation(y)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        check_input_rank(self, input_shape, self.rank + 2)
        return window_output_shape(input_shape, self.rank, self.data_format, self.kernel_size, self.strides,
                                   self.padding, self.dilation_rate, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
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


class Conv1D(BaseConv):
    """1-D convolution over (batch, steps, channels); padding may also be "causal"."""

    rank = 1


class Conv2D(BaseConv):
    """2-D convolution over (batch, height, width, channels); kernel (kh, kw, in/groups, filters)."""

    rank = 2


class Conv3D(BaseConv):
    """3-D convolution over (batch, depth, height, width, channels)."""

    rank = 3
