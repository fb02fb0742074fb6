"""Differentiable convolution, pooling and normalization ops with Keras 3's names and signatures.

The backend primitives work on channels_last arrays; channels_first inputs are transposed
in and out here (a differentiable view). Argument checking lives here too so that layers
and ops report bad values the same way: a ValueError naming the argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops import numpy as numpy_ops
from gpukeras.ops.core import data_of, promote_to
from gpukeras.ops.numpy import add, divide, multiply, sqrt, subtract, transpose
from gpukeras.tensor import Tensor

DATA_FORMATS = ("channels_last", "channels_first")


# ---------------------------------------------------------------------------- argument checks
def normalize_tuple(value: Any, n: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """An int or a length-`n` sequence of ints as a tuple, each > 0 (>= 0 with allow_zero)."""
    values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    ok = (values is not None and len(values) == n
          and all(isinstance(v, int) and not isinstance(v, bool) for v in values))
    if not ok:
        raise ValueError(f"The `{name}` argument must be an integer or a tuple of {n} integers. "
                         f"Received {name}={value!r}.")
    bad = [v for v in values if v < 0 or (v == 0 and not allow_zero)]
    if bad:
        rule = "value >= 0" if allow_zero else "value > 0"
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}, "
                         f"including values {bad} that do not satisfy `{rule}`.")
    return values


def normalize_padding(padding: Any, allow_causal: bool = False) -> str:
    """'valid', 'same' (or 'causal' where allowed), case-insensitive."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    key = padding.lower() if isinstance(padding, str) else padding
    if key not in allowed:
        raise ValueError(f"The `padding` argument must be one of {allowed}. Received padding={padding!r}.")
    return key


def normalize_data_format(data_format: Any) -> str:
    """'channels_last' or 'channels_first'; None is keras.backend.image_data_format() ('channels_last')."""
    if data_format is None:
        return _backend.image_data_format()
    key = data_format.lower() if isinstance(data_format, str) else data_format
    if key not in DATA_FORMATS:
        raise ValueError(f"The `data_format` argument must be one of {DATA_FORMATS} or None. "
                         f"Received data_format={data_format!r}.")
    return key


def _to_last(x: Any, data_format: str) -> Any:
    if data_format == "channels_first":
        nd = len(data_of(x).shape)
        return transpose(x, [0] + list(range(2, nd)) + [1])
    return x


def _to_first(y: Tensor, data_format: str) -> Tensor:
    if data_format == "channels_first":
        return transpose(y, [0, y.ndim - 1] + list(range(1, y.ndim - 1)))
    return y


def _check_rank(x: Any, rank: int, what: str) -> None:
    shape = tuple(data_of(x).shape)
    if len(shape) != rank + 2:
        raise ValueError(f"{what} expects inputs of rank {rank + 2} (batch, {rank} spatial, channels): "
                         f"expected ndim={rank + 2}, got ndim={len(shape)} with shape {shape}.")


# ---------------------------------------------------------------------------- convolution
def conv_bias(inputs: Any, kernel: Any, bias: Any = None, strides: Any = 1, padding: str = "valid",
              data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1,
              activation: str = "linear", params: tuple = ()) -> Tensor:
    """activation(conv(inputs) + bias) as one primitive with one backward (what the Conv layers call)."""
    B = _backend.active
    fmt = normalize_data_format(data_format)
    w = data_of(kernel)
    rank = w.ndim - 2
    strides = normalize_tuple(strides, rank, "strides")
    dilation = normalize_tuple(dilation_rate, rank, "dilation_rate")
    padding = normalize_padding(padding, allow_causal=rank == 1)
    _check_rank(inputs, rank, f"conv with a {rank}-D kernel")
    x = _to_last(inputs, fmt)
    a = promote_to(data_of(x), w.dtype)
    if a.shape[-1] != w.shape[-2] * groups:
        raise ValueError(f"conv: inputs have {a.shape[-1]} channels but the kernel expects "
                         f"{w.shape[-2]} x groups={groups} = {w.shape[-2] * groups} (kernel shape {w.shape}).")
    b = None if bias is None else data_of(bias)
    y, cols, z = B.conv_activation(a, w, b, strides, padding, dilation, groups, activation, params)
    need_dx = isinstance(x, Tensor) and x.needs_grad

    def backward(g):
        dx, dw, db = B.conv_activation_backward(g, a.shape, w, cols, z, y, strides, padding, dilation, groups,
                                                activation, params, b is not None, need_dx)
        return (dx, dw) if b is None else (dx, dw, db)

    out = attach(y, (x, kernel) if bias is None else (x, kernel, bias), backward)
    return _to_first(out, fmt)


def conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid", data_format: str | None = None,
         dilation_rate: Any = 1) -> Tensor:
    """keras.ops.conv: N-d convolution, kernel (*kernel_size, in/groups, out); groups from the channels."""
    fmt = normalize_data_format(data_format)
    w_shape = tuple(data_of(kernel).shape)
    in_shape = tuple(data_of(inputs).shape)
    channels = in_shape[1] if fmt == "channels_first" else in_shape[-1]
    groups = max(channels // w_shape[-2], 1) if w_shape[-2] else 1
    return conv_bias(inputs, kernel, None, strides, padding, fmt, dilation_rate, groups)


def conv_transpose_output_size(in_size: int, kernel_size: int, stride: int, padding: str,
                               output_padding: int | None, dilation_rate: int) -> int:
    """Keras 3's output length of a transposed convolution along one axis."""
    eff = (kernel_size - 1) * dilation_rate + 1
    if padding == "valid":
        extra = max(eff, stride) - eff if output_padding is None else output_padding
        return (in_size - 1) * stride + eff + extra
    if output_padding is None:
        return in_size * stride
    return (in_size - 1) * stride + eff - 2 * (eff // 2) + output_padding


def _conv_transpose_pads(kernel_size: int, stride: int, padding: str, output_padding: int | None,
                         dilation_rate: int) -> tuple[int, int]:
    """(before, after) padding of the forward convolution this op transposes (Keras/JAX's split)."""
    eff = (kernel_size - 1) * dilation_rate + 1
    if padding == "valid":
        extra = max(eff, stride) - eff if output_padding is None else output_padding
        left, right = eff - 1, eff - 1 + extra
    else:
        total = stride + eff - 2 if output_padding is None else eff + eff % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, eff - 1)
        right = total - left
    return eff - 1 - left, eff - 1 - right


def conv_transpose(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
                   output_padding: Any = None, data_format: str | None = None, dilation_rate: Any = 1) -> Tensor:
    """keras.ops.conv_transpose: kernel (*kernel_size, out_channels, in_channels); the input gradient of conv."""
    return conv_transpose_bias(inputs, kernel, None, strides, padding, output_padding, data_format, dilation_rate)


def conv_transpose_bias(inputs: Any, kernel: Any, bias: Any = None, strides: Any = 1, padding: str = "valid",
                        output_padding: Any = None, data_format: str | None = None, dilation_rate: Any = 1,
                        activation: str = "linear", params: tuple = ()) -> Tensor:
    """activation(conv_transpose(inputs) + bias) with one backward (what the ConvTranspose layers call)."""
    B = _backend.active
    fmt = normalize_data_format(data_format)
    w = data_of(kernel)
    rank = w.ndim - 2
    strides = normalize_tuple(strides, rank, "strides")
    dilation = normalize_tuple(dilation_rate, rank, "dilation_rate")
    padding = normalize_padding(padding)
    out_pad = (None,) * rank if output_padding is None else normalize_tuple(output_padding, rank, "output_padding",
                                                                            allow_zero=True)
    _check_rank(inputs, rank, f"conv_transpose with a {rank}-D kernel")
    x = _to_last(inputs, fmt)
    a = promote_to(data_of(x), w.dtype)
    if a.shape[-1] != w.shape[-1]:
        raise ValueError(f"conv_transpose: inputs have {a.shape[-1]} channels, the kernel expects {w.shape[-1]} "
                         f"(kernel shape {w.shape}).")
    sizes = [conv_transpose_output_size(n, k, s, padding, p, d)
             for n, k, s, p, d in zip(a.shape[1:-1], w.shape[:-2], strides, out_pad, dilation)]
    pads = [_conv_transpose_pads(k, s, padding, p, d) for k, s, p, d in zip(w.shape[:-2], strides, out_pad, dilation)]
    # A negative "after" pad means trailing outputs no window reaches: compute without them, then zero-fill.
    cover = tuple((lo, max(hi, 0)) for lo, hi in pads)
    short = [n + min(hi, 0) for n, (_, hi) in zip(sizes, pads)]
    fill = tuple((0, -min(hi, 0)) for _, hi in pads)
    core_shape = (a.shape[0], *short, w.shape[-2])
    z = B.pad_spatial(B.conv_input_grad(a, w, core_shape, strides, cover, dilation), fill)
    b = None if bias is None else data_of(bias)
    y, z = B.bias_activation(z, b, activation, params)

    def backward(g):
        dz, db = B.bias_activation_backward(g, z, y, activation, params, b is not None)
        g_core = B.crop_spatial(dz, fill)
        dx, _ = B.conv(g_core, w, None, strides, cover, dilation)
        dw = B.conv_kernel_grad(a, g_core, w.shape, strides, cover, dilation)
        return (dx, dw) if b is None else (dx, dw, db)

    out = attach(y, (x, kernel) if bias is None else (x, kernel, bias), backward)
    return _to_first(out, fmt)


# ---------------------------------------------------------------------------- depthwise and separable
def _check_depthwise(inputs: Any, w_shape: tuple[int, ...], data_format: str, what: str) -> int:
    """The spatial rank of a depthwise kernel (*k, C, M), after checking it against the inputs' channels."""
    if len(w_shape) < 3:
        raise ValueError(f"{what}: the kernel must have rank >= 3 (*kernel_size, in_channels, depth_multiplier), "
                         f"got shape {w_shape}.")
    rank = len(w_shape) - 2
    _check_rank(inputs, rank, f"{what} with a {rank}-D kernel")
    in_shape = tuple(data_of(inputs).shape)
    channels = in_shape[1] if data_format == "channels_first" else in_shape[-1]
    if channels != w_shape[-2]:
        raise ValueError(f"{what}: the number of input channels must match the kernel's in_channels "
                         f"(kernel.shape[-2]). Received input channels {channels} and kernel shape {w_shape}.")
    return rank


def depthwise_conv_bias(inputs: Any, kernel: Any, bias: Any = None, strides: Any = 1, padding: str = "valid",
                        data_format: str | None = None, dilation_rate: Any = 1, activation: str = "linear",
                        params: tuple = ()) -> Tensor:
    """activation(depthwise_conv(inputs) + bias) with one backward (what the DepthwiseConv layers call).

    A direct depthwise convolution (the backend's `depthwise_conv`), not a grouped GEMM.
    """
    B = _backend.active
    fmt = normalize_data_format(data_format)
    padding = normalize_padding(padding)
    w = data_of(kernel)
    rank = _check_depthwise(inputs, tuple(w.shape), fmt, "depthwise_conv")
    strides = normalize_tuple(strides, rank, "strides")
    dilation = normalize_tuple(dilation_rate, rank, "dilation_rate")
    x = _to_last(inputs, fmt)
    a = promote_to(data_of(x), w.dtype)
    b = None if bias is None else data_of(bias)
    y, z = B.bias_activation(B.depthwise_conv(a, w, strides, padding, dilation), b, activation, params)
    need_dx = isinstance(x, Tensor) and x.needs_grad

    def backward(g):
        dz, db = B.bias_activation_backward(g, z, y, activation, params, b is not None)
        dx, dw = B.depthwise_conv_backward(dz, a, w, strides, padding, dilation, need_dx)
        return (dx, dw) if b is None else (dx, dw, db)

    out = attach(y, (x, kernel) if bias is None else (x, kernel, bias), backward)
    return _to_first(out, fmt)


def depthwise_conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
                   data_format: str | None = None, dilation_rate: Any = 1) -> Tensor:
    """keras.ops.depthwise_conv: kernel (*kernel_size, in_channels, depth_multiplier); output channel c*M + m."""
    return depthwise_conv_bias(inputs, kernel, None, strides, padding, data_format, dilation_rate)


def separable_conv_bias(inputs: Any, depthwise_kernel: Any, pointwise_kernel: Any, bias: Any = None,
                        strides: Any = 1, padding: str = "valid", data_format: str | None = None,
                        dilation_rate: Any = 1, activation: str = "linear", params: tuple = ()) -> Tensor:
    """activation(pointwise(depthwise(inputs)) + bias) (what the SeparableConv layers call)."""
    fmt = normalize_data_format(data_format)
    mid = depthwise_conv_bias(inputs, depthwise_kernel, None, strides, padding, fmt, dilation_rate)
    p_shape = tuple(data_of(pointwise_kernel).shape)
    d_shape = tuple(data_of(depthwise_kernel).shape)
    if len(p_shape) != len(d_shape) or any(k != 1 for k in p_shape[:-2]) or p_shape[-2] != d_shape[-2] * d_shape[-1]:
        raise ValueError(f"separable_conv: the pointwise kernel must have shape {(1,) * (len(d_shape) - 2)} + "
                         f"({d_shape[-2] * d_shape[-1]}, filters) for a depthwise kernel of shape {d_shape}; "
                         f"received {p_shape}.")
    return conv_bias(mid, pointwise_kernel, bias, 1, "valid", fmt, 1, 1, activation, params)


def separable_conv(inputs: Any, depthwise_kernel: Any, pointwise_kernel: Any, strides: Any = 1,
                   padding: str = "valid", data_format: str | None = None, dilation_rate: Any = 1) -> Tensor:
    """keras.ops.separable_conv: depthwise_conv with `depthwise_kernel`, then a 1x1 conv with `pointwise_kernel`."""
    return separable_conv_bias(inputs, depthwise_kernel, pointwise_kernel, None, strides, padding, data_format,
                               dilation_rate)


# ---------------------------------------------------------------------------- pooling
def pool(mode: str, inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
         data_format: str | None = None) -> Tensor:
    """Max ("max") or average ("average") pooling over every spatial axis, differentiable."""
    B = _backend.active
    fmt = normalize_data_format(data_format)
    rank = len(data_of(inputs).shape) - 2
    if rank < 1:
        raise ValueError(f"{mode}_pool expects inputs of rank >= 3 (batch, spatial..., channels): "
                         f"got ndim={rank + 2} with shape {tuple(data_of(inputs).shape)}.")
    window = normalize_tuple(pool_size, rank, "pool_size")
    steps = window if strides is None else normalize_tuple(strides, rank, "strides")
    padding = normalize_padding(padding)
    x = _to_last(inputs, fmt)
    a = data_of(x)
    y = B.pool(a, mode, window, steps, padding)
    out = attach(y, (x,), lambda g: (B.pool_backward(g, a, y, mode, window, steps, padding),))
    return _to_first(out, fmt)


def max_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
             data_format: str | None = None) -> Tensor:
    """keras.ops.max_pool over every spatial axis (strides default to pool_size)."""
    return pool("max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None) -> Tensor:
    """keras.ops.average_pool; with "same" padding each window averages its non-padded values (as TF)."""
    return pool("average", inputs, pool_size, strides, padding, data_format)


# ---------------------------------------------------------------------------- normalization
def normalize_train(x: Any, gamma: Any, beta: Any, axes: Sequence[int], param_shape: Sequence[int],
                    epsilon: float) -> tuple[Tensor, Any, Any]:
    """(y, mean, variance) of (x - mean) / sqrt(var + eps) * gamma + beta with batch statistics over `axes`.

    One fused primitive and one fused backward; `param_shape` is the x-rank shape gamma/beta
    broadcast as. mean/variance come back as plain backend arrays (keepdims), off the tape.
    """
    B = _backend.active
    a = data_of(x)
    axes = tuple(sorted(ax % a.ndim for ax in axes))
    param_shape = tuple(param_shape)
    g = None if gamma is None else B.reshape(data_of(gamma), param_shape)
    b = None if beta is None else B.reshape(data_of(beta), param_shape)
    y, mean, var, xhat, inv = B.normalize(a, axes, epsilon, g, b)

    def backward(dy):
        dx, dg, db = B.normalize_backward(dy, xhat, inv, axes, param_shape, g, b is not None)
        grads = [dx]
        if gamma is not None:
            grads.append(B.reshape(dg, data_of(gamma).shape))
        if beta is not None:
            grads.append(B.reshape(db, data_of(beta).shape))
        return tuple(grads)

    inputs = (x,) + tuple(t for t in (gamma, beta) if t is not None)
    return attach(y, inputs, backward), mean, var


def moments(x: Any, axes: Any, keepdims: bool = False, synchronized: bool = False) -> tuple[Tensor, Tensor]:
    """keras.ops.moments: (mean, biased variance) over `axes`, differentiable."""
    m = numpy_ops.mean(x, axis=axes, keepdims=True)
    v = numpy_ops.mean(numpy_ops.square(subtract(x, m)), axis=axes, keepdims=keepdims)
    if not keepdims:
        m = numpy_ops.squeeze(m, axis=axes)
    return m, v


def batch_normalization(x: Any, mean: Any, variance: Any, axis: int, offset: Any = None, scale: Any = None,
                        epsilon: float = 1e-3) -> Tensor:
    """keras.ops.batch_normalization: normalize with given statistics along feature `axis`."""
    nd = len(data_of(x).shape)
    axis = axis % nd
    shape = [1] * nd
    shape[axis] = -1

    def _b(t: Any) -> Any:
        return numpy_ops.reshape(t, shape) if len(data_of(t).shape) == 1 and nd > 1 else t

    inv = divide(1.0, sqrt(add(_b(variance), epsilon)))
    if scale is not None:
        inv = multiply(inv, _b(scale))
    y = multiply(subtract(x, _b(mean)), inv)
    return y if offset is None else add(y, _b(offset))


__all__ = ["average_pool", "batch_normalization", "conv", "conv_transpose", "depthwise_conv", "max_pool", "moments",
           "separable_conv"]
