"""SimpleRNNCell and SimpleRNN: output_t = activation(x_t @ kernel + bias + output_{t-1} @ recurrent_kernel)."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.rnn.recurrent_cell import RecurrentCell, primitive
from gpukeras.layers.rnn.recurrent_layer import RecurrentLayer
from gpukeras.ops.recurrent import simple_rnn_recurrence


class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN whose output is fed back as its state (Keras's SimpleRNNCell)."""

    gates = 1

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)

    def call(self, sequence: Any, states: Any, training: bool = False) -> tuple[Any, Any]:
        prev_output = states[0] if isinstance(states, (list, tuple)) else states
        if training and self.dropout > 0:
            sequence = ops.multiply(sequence, self.get_dropout_mask(sequence))
        h = ops.dense(sequence, self.kernel, self.bias)
        if training and self.recurrent_dropout > 0:
            prev_output = ops.multiply(prev_output, self.get_recurrent_dropout_mask(prev_output))
        output = self.activation(ops.add(h, ops.matmul(prev_output, self.recurrent_kernel)))
        return output, [output] if isinstance(states, (list, tuple)) else output

    def run_sequence(self, inputs: Any, states: list[Any], mask: Any, training: bool,
                     masked_output: str) -> tuple[Any, Any, list[Any]]:
        xp = self._project(self._dropped_inputs(inputs, training), self.bias)
        outputs, last, h = simple_rnn_recurrence(xp, states[0], self.recurrent_kernel, mask,
                                                 primitive(self.activation), masked_output)
        return outputs, last, [h]


SimpleRNNCell._step_call = SimpleRNNCell.call


class SimpleRNN(RecurrentLayer):
    """A fully connected RNN over a sequence (Keras's SimpleRNN): an RNN around a SimpleRNNCell."""

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False, seed: int | None = None,
                 **kwargs: Any):
        cell_args = dict(activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed)
        super().__init__(units, cell_args, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
