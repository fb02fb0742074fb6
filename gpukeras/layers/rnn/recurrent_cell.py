"""The base of the built-in cells (SimpleRNNCell, LSTMCell, GRUCell): their shared arguments, their
weights, their dropout masks, and the whole-sequence path the RNN layer takes when it can.

A cell's `call(inputs, states, training)` is one time step (Keras's cell protocol; the RNN layer
loops over it for custom cells and in the cases below). For a whole sequence the layer instead
asks `run_sequence`, which projects the inputs of every time step with one GEMM and hands the
recurrence to one op of `gpukeras.ops.recurrent`. That path is taken when `sequence_ready` says
the numbers are the same: the subclass does not override `call`, both activations are backend
primitives, and no recurrent dropout is active.
"""

from __future__ import annotations

import numbers
from typing import Any

from gpukeras import activations, constraints, initializers, ops, regularizers
from gpukeras.layers.layer import Layer
from gpukeras.random import SeedGenerator
from gpukeras.tensor import Tensor


def check_units(cls_name: str, units: Any) -> int:
    if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
        raise ValueError(f"{cls_name}: `units` must be a positive integer, got {units!r}.")
    return int(units)


def check_rate(cls_name: str, name: str, rate: Any) -> float:
    """A dropout rate in [0, 1): 1 would drop every input, and Keras's LSTM/GRU then silently skip dropout."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"{cls_name}: `{name}` must be a number in [0, 1), got {rate!r}.")
    return float(rate)


def check_seed(cls_name: str, seed: Any) -> Any:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"{cls_name}: `seed` must be an integer or None, got {seed!r}.")
    return seed


def check_flag(cls_name: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, numbers.Integral)):
        raise ValueError(f"{cls_name}: `{name}` must be a boolean, got {value!r}.")
    return bool(value)


class RecurrentCell(Layer):
    """Shared by the built-in cells; subclasses set `gates` (columns of the kernels per unit)."""

    gates = 1

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any):
        name = type(self).__name__
        resolved = {
            "units": check_units(name, units),
            "activation": activations.get(activation),
            "use_bias": check_flag(name, "use_bias", use_bias),
            "kernel_initializer": initializers.get(kernel_initializer),
            "recurrent_initializer": initializers.get(recurrent_initializer),
            "bias_initializer": initializers.get(bias_initializer),
            "kernel_regularizer": regularizers.get(kernel_regularizer),
            "recurrent_regularizer": regularizers.get(recurrent_regularizer),
            "bias_regularizer": regularizers.get(bias_regularizer),
            "kernel_constraint": constraints.get(kernel_constraint),
            "recurrent_constraint": constraints.get(recurrent_constraint),
            "bias_constraint": constraints.get(bias_constraint),
            "dropout": check_rate(name, "dropout", dropout),
            "recurrent_dropout": check_rate(name, "recurrent_dropout", recurrent_dropout),
            "seed": check_seed(name, seed),
        }
        super().__init__(**kwargs)
        for key, value in resolved.items():
            setattr(self, key, value)
        self.seed_generator = SeedGenerator(seed)
        self.dropout_mask_count: int | None = None
        self._dropout_mask: Any = None
        self._recurrent_dropout_mask: Any = None
        self.state_size: Any = self.units
        self.output_size = self.units
        self.kernel = self.recurrent_kernel = self.bias = None

    # ------------------------------------------------------------------ weights
    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def _bias_initializer(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape: Any) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the last input dimension must be known, "
                             f"got {input_shape}.")
        width = self.gates * self.units
        self.kernel = self.add_weight((input_dim, width), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight((self.units, width), self.recurrent_initializer,
                                                name="recurrent_kernel", regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(), name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def get_initial_state(self, batch_size: int | None = None) -> list[Tensor]:
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, d), dtype=self.dtype) for d in sizes]

    # ------------------------------------------------------------------ dropout (Keras's DropoutRNNCell)
    def _create_dropout_mask(self, step_input: Any, rate: float) -> Any:
        """Inverted-dropout masks shaped like one step's input, drawn from this cell's seed generator:
        one, or `dropout_mask_count` (one per gate) when the cell computes gate by gate."""
        ones = ops.ones(tuple(step_input.shape), dtype=str(step_input.dtype))
        draw = lambda: ops.dropout(ones, rate, self.seed_generator.rng)  # noqa: E731
        return draw() if self.dropout_mask_count is None else [draw() for _ in range(self.dropout_mask_count)]

    def get_dropout_mask(self, step_input: Any) -> Any:
        """The input dropout mask(s) of the current sequence (made once, reused at every step)."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_input: Any) -> Any:
        """The recurrent dropout mask(s) of the current sequence (made once, reused at every step)."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._create_dropout_mask(step_input, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    # ------------------------------------------------------------------ the whole-sequence path
    _step_call: Any = None  # the `call` that run_sequence reproduces (set after each cell class)

    def sequence_ready(self, training: bool) -> bool:
        """Whether `run_sequence` gives what stepping `call` would: `call` not overridden, both
        activations backend primitives, no recurrent dropout in this call."""
        if type(self).call is not type(self)._step_call:
            return False
        if activations.fused_primitive(self.activation) is None:
            return False
        recurrent = getattr(self, "recurrent_activation", None)
        if recurrent is not None and activations.fused_primitive(recurrent) is None:
            return False
        return not (training and self.recurrent_dropout > 0)

    def run_sequence(self, inputs: Any, states: list[Any], mask: Any, training: bool,
                     masked_output: str) -> tuple[Tensor, Tensor, list[Tensor]]:
        """(outputs (T, batch, units), last output, final states) over time-major `inputs`
        (T, batch, features), processed first to last; only when `sequence_ready`."""
        raise NotImplementedError

    def _dropped_inputs(self, inputs: Any, training: bool) -> Any:
        """Time-major inputs times this call's input dropout mask (one per gate when counted), or as given."""
        if not (training and self.dropout > 0):
            return inputs
        mask = self.get_dropout_mask(ops.getitem(inputs, 0))
        if isinstance(mask, list):
            return [ops.multiply(inputs, m) for m in mask]
        return ops.multiply(inputs, mask)

    def _project(self, inputs: Any, bias: Any) -> Any:
        """inputs @ kernel (+ bias) for every time step at once; per gate when the inputs are per gate."""
        if not isinstance(inputs, list):
            return ops.dense(inputs, self.kernel, bias)
        width = self.units
        parts = []
        for g, x in enumerate(inputs):
            cols = (slice(None), slice(g * width, (g + 1) * width))
            b = None if bias is None else ops.getitem(bias, cols[1])
            parts.append(ops.dense(x, ops.getitem(self.kernel, cols), b))
        return ops.concatenate(parts, axis=-1)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def primitive(fn: Any) -> tuple[str, tuple]:
    """The (backend primitive, params) of an activation `sequence_ready` accepted."""
    found = activations.fused_primitive(fn)
    if found is None:
        raise ValueError(f"Activation {fn!r} is not a backend primitive.")
    return found
