"""Normalization layers: BatchNormalization and LayerNormalization (one fused primitive each way)."""

from __future__ import annotations

import warnings
from typing import Any

from gpukeras import backend as _backend
from gpukeras import constraints, initializers, ops, regularizers
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import batch_normalization, normalize_train

_MASK_EPSILON = 1e-7  # Keras's backend epsilon, in the masked moments
_HALF = ("float16", "bfloat16")  # normalized in float32


def _check_axes(axes: Any, ndim: int, layer: Layer) -> tuple[int, ...]:
    """Axes as non-negative ints, each within the input's rank."""
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{type(layer).__name__} {layer.name!r}: invalid `axis` {a} for inputs of rank {ndim}.")
        out.append(a % ndim)
    return tuple(out)


class BatchNormalization(Layer):
    """Normalize with batch statistics when training (updating moving ones), with the moving ones otherwise.

    moving = moving * momentum + batch_stat * (1 - momentum); the batch variance is the biased one.
    A frozen layer (trainable=False) always runs in inference mode, as in Keras 3.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros", moving_variance_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"BatchNormalization: `axis` must be an integer, got axis={axis!r}.")
        if not isinstance(momentum, (int, float)) or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: `momentum` must be a number in [0, 1], got momentum={momentum!r}.")
        if not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ValueError(f"BatchNormalization: `epsilon` must be a positive number, got epsilon={epsilon!r}.")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = bool(synchronized)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = None
        self.beta = None

    def build(self, input_shape: Any) -> None:
        (axis,) = _check_axes((self.axis,), len(input_shape), self)
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(f"BatchNormalization {self.name!r}: axis {self.axis} of the input shape "
                             f"{tuple(input_shape)} must be known.")
        self._ndim = len(input_shape)
        self._feature_axis = axis
        if self.scale:
            self.gamma = self.add_weight((dim,), self.gamma_initializer, name="gamma", autocast=False,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight((dim,), self.beta_initializer, name="beta", autocast=False,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.moving_mean = self.add_weight((dim,), self.moving_mean_initializer, name="moving_mean", trainable=False,
                                           autocast=False)
        self.moving_variance = self.add_weight((dim,), self.moving_variance_initializer, name="moving_variance",
                                               trainable=False, autocast=False)
        self.built = True

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        """Normalize; 16-bit inputs are normalized in float32 (as Keras 3, against overflow) and the result
        is returned in the compute dtype."""
        if inputs.dtype in _HALF:
            return ops.cast(self._normalize(ops.cast(inputs, "float32"), training, mask), self.compute_dtype)
        return self._normalize(inputs, training, mask)

    def _normalize(self, inputs: Any, training: bool | None, mask: Any) -> Any:
        if inputs.ndim != self._ndim:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: expected "
                             f"ndim={self._ndim}, found ndim={inputs.ndim}. Full shape received: {inputs.shape}")
        axis = self._feature_axis
        if training and self.trainable:
            reduce_axes = tuple(i for i in range(inputs.ndim) if i != axis)
            if mask is None:
                param_shape = tuple(inputs.shape[i] if i == axis else 1 for i in range(inputs.ndim))
                y, mean, var = normalize_train(inputs, self.gamma, self.beta, reduce_axes, param_shape,
                                               self.epsilon)
            else:
                y, mean, var = self._masked_train(inputs, mask, reduce_axes)
            # Direct writes on the variables through backend calls: nothing is recorded on the tape, and a
            # compiled step replays them.
            B, m = _backend.active, self.momentum
            self.moving_mean.assign(B.add(B.multiply(self.moving_mean.data, m), B.multiply(B.reshape(mean, (-1,)),
                                                                                          1.0 - m)))
            self.moving_variance.assign(B.add(B.multiply(self.moving_variance.data, m),
                                              B.multiply(B.reshape(var, (-1,)), 1.0 - m)))
            return y
        return batch_normalization(inputs, self.moving_mean.value, self.moving_variance.value, axis,
                                   offset=self.beta, scale=self.gamma, epsilon=self.epsilon)

    def _masked_train(self, inputs: Any, mask: Any, axes: tuple[int, ...]) -> tuple[Any, Any, Any]:
        """Batch statistics over the unmasked time steps only (Keras 3's weighted moments), then normalize."""
        weights = ops.broadcast_to(ops.expand_dims(ops.cast(mask, inputs.dtype), -1), inputs.shape)
        weighted = ops.multiply(weights, inputs)
        total = ops.add(ops.sum(weights, axis=axes, keepdims=True), _MASK_EPSILON)
        mean = ops.divide(ops.sum(weighted, axis=axes, keepdims=True), total)
        squared = ops.square(ops.subtract(weighted, mean))
        var = ops.divide(ops.sum(ops.multiply(weights, squared), axis=axes, keepdims=True), total)
        mean, var = ops.reshape(mean, (-1,)), ops.reshape(var, (-1,))
        y = batch_normalization(inputs, mean, var, self._feature_axis, offset=self.beta, scale=self.gamma,
                                epsilon=self.epsilon)
        return y, mean.data, var.data

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
        }


class LayerNormalization(Layer):
    """Normalize each sample over `axis` (default the last) with its own mean and variance, then scale/shift."""

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        axes = [axis] if isinstance(axis, int) and not isinstance(axis, bool) else axis
        if not isinstance(axes, (list, tuple)) or not axes or not all(
                isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ValueError(f"LayerNormalization: `axis` must be an int or a list of ints, got axis={axis!r}.")
        if not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ValueError(f"LayerNormalization: `epsilon` must be a positive number, got epsilon={epsilon!r}.")
        if rms_scaling:
            warnings.warn("LayerNormalization(rms_scaling=True) is deprecated in Keras 3: it scales the input by "
                          "its variance, not its root mean square. Use keras.layers.RMSNormalization.",
                          DeprecationWarning, stacklevel=2)
        self.axis = axis if isinstance(axis, int) else list(axis)
        self._axes_arg = tuple(axes)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = None
        self.beta = None

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        self._axes = tuple(sorted(_check_axes(self._axes_arg, ndim, self)))
        shape = tuple(input_shape[a] for a in self._axes)
        if any(d is None for d in shape):
            raise ValueError(f"LayerNormalization {self.name!r}: normalized axes {self._axes} of the input shape "
                             f"{tuple(input_shape)} must be known.")
        self._ndim = ndim
        self._param_shape = tuple(input_shape[i] if i in self._axes else 1 for i in range(ndim))
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.built = True

    def call(self, inputs: Any) -> Any:
        if inputs.ndim != self._ndim:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: expected "
                             f"ndim={self._ndim}, found ndim={inputs.ndim}. Full shape received: {inputs.shape}")
        if self.rms_scaling:  # Keras 3's (deprecated) rule: the uncentered input over its standard deviation
            variance = ops.var(inputs, axis=self._axes, keepdims=True)
            gamma = ops.reshape(self.gamma, self._param_shape)
            return inputs * ops.divide(1.0, ops.sqrt(variance + self.epsilon)) * gamma
        y, _, _ = normalize_train(inputs, self.gamma, self.beta, self._axes, self._param_shape, self.epsilon)
        return y

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }


class RMSNormalization(Layer):
    """Scale each sample by the inverse root mean square over `axis` (default the last), times a learned
    `scale` (Keras 3's RMSNormalization: no centering, no shift)."""

    def __init__(self, axis: Any = -1, epsilon: float = 1e-6, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        axes = [axis] if isinstance(axis, int) and not isinstance(axis, bool) else axis
        if not isinstance(axes, (list, tuple)) or not axes or not all(
                isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ValueError(f"RMSNormalization: `axis` must be an int or a list of ints, got axis={axis!r}.")
        if not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ValueError(f"RMSNormalization: `epsilon` must be a positive number, got epsilon={epsilon!r}.")
        self.axis = list(axes)
        self.epsilon = float(epsilon)
        self.scale = None

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        self._axes = tuple(sorted(_check_axes(tuple(self.axis), ndim, self)))
        shape = tuple(input_shape[a] for a in self._axes)
        if any(d is None for d in shape):
            raise ValueError(f"RMSNormalization {self.name!r}: normalized axes {self._axes} of the input shape "
                             f"{tuple(input_shape)} must be known.")
        self._param_shape = tuple(input_shape[i] if i in self._axes else 1 for i in range(ndim))
        self.scale = self.add_weight(shape, "ones", name="scale")
        self.built = True

    def call(self, inputs: Any) -> Any:
        mean_square = ops.mean(ops.square(inputs), axis=self._axes, keepdims=True)
        return inputs * ops.divide(1.0, ops.sqrt(mean_square + self.epsilon)) * ops.reshape(self.scale,
                                                                                             self._param_shape)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
