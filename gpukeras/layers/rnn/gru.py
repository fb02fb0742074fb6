"""GRUCell and GRU (Cho et al. 2014), Keras 3's formulation: gates in order z (update), r (reset),
h (candidate); kernel (input_dim, 3 * units), recurrent_kernel (units, 3 * units); bias (2, 3 * units)
(input and recurrent rows) with `reset_after=True`, Keras 3's default, else (3 * units,)."""

from __future__ import annotations

from typing import Any

from gpukeras import activations, ops
from gpukeras.layers.rnn.lstm import check_implementation, check_use_cudnn, gate
from gpukeras.layers.rnn.recurrent_cell import RecurrentCell, check_flag, primitive
from gpukeras.layers.rnn.recurrent_layer import RecurrentLayer
from gpukeras.ops.recurrent import gru_recurrence


class GRUCell(RecurrentCell):
    """One GRU step: h = z * h_prev + (1 - z) * activation(x @ W_h + r * (h_prev @ U_h + b_h)) with
    reset_after, or activation(x @ W_h + (r * h_prev) @ U_h) without."""

    gates = 3

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, reset_after: bool = True,
                 seed: int | None = None, **kwargs: Any):
        implementation = check_implementation(type(self).__name__, kwargs.pop("implementation", 2))
        reset_after = check_flag(type(self).__name__, "reset_after", reset_after)
        recurrent = activations.get(recurrent_activation)
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.recurrent_activation = recurrent
        self.reset_after = reset_after
        self.implementation = 1 if self.recurrent_dropout > 0 else implementation
        if self.implementation == 1:
            self.dropout_mask_count = 3

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _biases(self) -> tuple[Any, Any]:
        """(input bias, recurrent bias): the two rows with reset_after, else (bias, None)."""
        if not self.use_bias:
            return None, None
        if not self.reset_after:
            return self.bias, None
        return ops.getitem(self.bias, 0), ops.getitem(self.bias, 1)

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[Any, Any]:
        nested = isinstance(states, (list, tuple))
        h_tm1 = states[0] if nested else states
        U = self.units
        input_bias, recurrent_bias = self._biases()
        dropping = training and self.dropout > 0
        if self.implementation == 1:
            masks = self.get_dropout_mask(inputs) if dropping else None
            x = [ops.matmul(inputs if masks is None else ops.multiply(inputs, masks[g]), gate(self.kernel, U, g))
                 for g in range(3)]
            if input_bias is not None:
                x = [ops.add(x[g], gate(input_bias, U, g)) for g in range(3)]
            rec_masks = self.get_recurrent_dropout_mask(h_tm1) if training and self.recurrent_dropout > 0 else None
            h = [h_tm1 if rec_masks is None else ops.multiply(h_tm1, rec_masks[g]) for g in range(3)]
            inner = [ops.matmul(h[g], gate(self.recurrent_kernel, U, g)) for g in range(2)]
            if self.reset_after and recurrent_bias is not None:
                inner = [ops.add(inner[g], gate(recurrent_bias, U, g)) for g in range(2)]
            z = self.recurrent_activation(ops.add(x[0], inner[0]))
            r = self.recurrent_activation(ops.add(x[1], inner[1]))
            if self.reset_after:
                rec_h = ops.matmul(h[2], gate(self.recurrent_kernel, U, 2))
                if recurrent_bias is not None:
                    rec_h = ops.add(rec_h, gate(recurrent_bias, U, 2))
                rec_h = ops.multiply(r, rec_h)
            else:
                rec_h = ops.matmul(ops.multiply(r, h[2]), gate(self.recurrent_kernel, U, 2))
            x_h = x[2]
        else:
            if dropping:
                inputs = ops.multiply(inputs, self.get_dropout_mask(inputs))
            matrix_x = ops.dense(inputs, self.kernel, input_bias)
            if self.reset_after:
                inner = ops.matmul(h_tm1, self.recurrent_kernel)
                if recurrent_bias is not None:
                    inner = ops.add(inner, recurrent_bias)
            else:
                inner = ops.matmul(h_tm1, ops.getitem(self.recurrent_kernel, (slice(None), slice(0, 2 * U))))
            z = self.recurrent_activation(ops.add(gate(matrix_x, U, 0), gate(inner, U, 0)))
            r = self.recurrent_activation(ops.add(gate(matrix_x, U, 1), gate(inner, U, 1)))
            if self.reset_after:
                rec_h = ops.multiply(r, gate(inner, U, 2))
            else:
                rec_h = ops.matmul(ops.multiply(r, h_tm1), gate(self.recurrent_kernel, U, 2))
            x_h = gate(matrix_x, U, 2)
        hh = self.activation(ops.add(x_h, rec_h))
        h = ops.add(ops.multiply(z, h_tm1), ops.multiply(ops.subtract(1.0, z), hh))
        return h, [h] if nested else h

    def run_sequence(self, inputs: Any, states: list[Any], mask: Any, training: bool,
                     masked_output: str) -> tuple[Any, Any, list[Any]]:
        input_bias, recurrent_bias = self._biases()
        xp = self._project(self._dropped_inputs(inputs, training), input_bias)
        outputs, last, h = gru_recurrence(xp, states[0], self.recurrent_kernel, recurrent_bias, self.reset_after,
                                          mask, primitive(self.activation), primitive(self.recurrent_activation),
                                          masked_output)
        return outputs, last, [h]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}


GRUCell._step_call = GRUCell.call


class GRU(RecurrentLayer):
    """Gated Recurrent Unit over a sequence (Keras's GRU): an RNN around a GRUCell.

    `use_cudnn` is accepted as "auto" or False (the same numbers either way); True is refused, since
    gpukeras has no cuDNN (its own kernels take that role on GPUs).
    """

    cell_class = GRUCell
    cell_name = "gru_cell"

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False, reset_after: bool = True,
                 use_cudnn: Any = "auto", **kwargs: Any):
        self.use_cudnn = check_use_cudnn(type(self).__name__, use_cudnn)
        cell_args = dict(activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         reset_after=reset_after, seed=seed, implementation=kwargs.pop("implementation", 2))
        super().__init__(units, cell_args, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
