"""LSTMCell and LSTM (Hochreiter 1997), Keras 3's formulation: gates in order i, f, c, o;
kernel (input_dim, 4 * units), recurrent_kernel (units, 4 * units), bias (4 * units,)."""

from __future__ import annotations

from typing import Any

from gpukeras import activations, ops
from gpukeras.layers.rnn.recurrent_cell import RecurrentCell, check_flag, primitive
from gpukeras.layers.rnn.recurrent_layer import RecurrentLayer
from gpukeras.ops.recurrent import lstm_recurrence


def check_implementation(cls_name: str, implementation: Any) -> int:
    """Keras's `implementation`: 2 computes all gates with one product, 1 gate by gate (and draws one
    dropout mask per gate); recurrent dropout always uses 1."""
    if implementation not in (1, 2) or isinstance(implementation, bool):
        raise ValueError(f"{cls_name}: `implementation` must be 1 or 2, got {implementation!r}.")
    return int(implementation)


def gate(x: Any, units: int, index: int) -> Any:
    """Columns [index * units, (index + 1) * units) of `x`: one gate's share of the last axis."""
    return ops.getitem(x, (Ellipsis, slice(index * units, (index + 1) * units)))


class _ForgetBiasInitializer:
    """Keras's unit_forget_bias: the bias initializer's values with the forget gate's part set to ones."""

    def __init__(self, initializer: Any, units: int):
        self.initializer = initializer
        self.units = units

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        u = self.units
        parts = [ops.convert_to_tensor(self.initializer((u,), dtype=dtype)), ops.ones((u,), dtype=dtype or "float32"),
                 ops.convert_to_tensor(self.initializer((2 * u,), dtype=dtype))]
        return ops.concatenate(parts, axis=0).data


class LSTMCell(RecurrentCell):
    """One LSTM step: states [h, c]; h = o * activation(c), c = f * c_prev + i * activation(x @ W_c + ...)."""

    gates = 4

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any):
        implementation = check_implementation(type(self).__name__, kwargs.pop("implementation", 2))
        unit_forget_bias = check_flag(type(self).__name__, "unit_forget_bias", unit_forget_bias)
        recurrent = activations.get(recurrent_activation)
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.recurrent_activation = recurrent
        self.unit_forget_bias = unit_forget_bias
        self.implementation = 1 if self.recurrent_dropout > 0 else implementation
        if self.implementation == 1:
            self.dropout_mask_count = 4
        self.state_size = [self.units, self.units]

    def _bias_initializer(self) -> Any:
        if self.unit_forget_bias:
            return _ForgetBiasInitializer(self.bias_initializer, self.units)
        return self.bias_initializer

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[Any, list[Any]]:
        h_tm1, c_tm1 = states[0], states[1]
        U = self.units
        dropping = training and self.dropout > 0
        if self.implementation == 1:
            masks = self.get_dropout_mask(inputs) if dropping else None
            x = [ops.matmul(inputs if masks is None else ops.multiply(inputs, masks[g]), gate(self.kernel, U, g))
                 for g in range(4)]
            if self.use_bias:
                x = [ops.add(x[g], gate(self.bias, U, g)) for g in range(4)]
            rec_masks = self.get_recurrent_dropout_mask(h_tm1) if training and self.recurrent_dropout > 0 else None
            h = [h_tm1 if rec_masks is None else ops.multiply(h_tm1, rec_masks[g]) for g in range(4)]
            z = [ops.add(x[g], ops.matmul(h[g], gate(self.recurrent_kernel, U, g))) for g in range(4)]
        else:
            if dropping:
                inputs = ops.multiply(inputs, self.get_dropout_mask(inputs))
            zz = ops.add(ops.matmul(inputs, self.kernel), ops.matmul(h_tm1, self.recurrent_kernel))
            if self.use_bias:
                zz = ops.add(zz, self.bias)
            z = [gate(zz, U, g) for g in range(4)]
        i = self.recurrent_activation(z[0])
        f = self.recurrent_activation(z[1])
        c = ops.add(ops.multiply(f, c_tm1), ops.multiply(i, self.activation(z[2])))
        o = self.recurrent_activation(z[3])
        h = ops.multiply(o, self.activation(c))
        return h, [h, c]

    def run_sequence(self, inputs: Any, states: list[Any], mask: Any, training: bool,
                     masked_output: str) -> tuple[Any, Any, list[Any]]:
        x = self._dropped_inputs(inputs, training)
        if self.implementation == 1:  # the bias joins each gate's input product, as in the step
            xp, bias = self._project(x, self.bias), None
        else:  # Keras adds the bias after the recurrent product
            xp, bias = ops.dense(x, self.kernel), self.bias  # dense: its backward folds time into the batch
        outputs, last, h, c = lstm_recurrence(xp, states[0], states[1], self.recurrent_kernel, bias, mask,
                                              primitive(self.activation), primitive(self.recurrent_activation),
                                              masked_output)
        return outputs, last, [h, c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


LSTMCell._step_call = LSTMCell.call


class LSTM(RecurrentLayer):
    """Long Short-Term Memory over a sequence (Keras's LSTM): an RNN around an LSTMCell.

    `use_cudnn` is accepted as "auto" or False (the same numbers either way); True is refused, since
    gpukeras has no cuDNN (its own kernels take that role on GPUs).
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, use_cudnn: Any = "auto", **kwargs: Any):
        self.use_cudnn = check_use_cudnn(type(self).__name__, use_cudnn)
        cell_args = dict(activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                         implementation=kwargs.pop("implementation", 2))
        super().__init__(units, cell_args, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)


def check_use_cudnn(cls_name: str, use_cudnn: Any) -> Any:
    if use_cudnn is True:
        raise ValueError(f"{cls_name}: use_cudnn=True asks for cuDNN's kernel, which gpukeras does not have (its own "
                         "recurrent kernels play that role); pass use_cudnn='auto' or False.")
    if use_cudnn not in ("auto", False):
        raise ValueError(f"{cls_name}: `use_cudnn` must be one of 'auto', True, False; got {use_cudnn!r}.")
    return use_cudnn
