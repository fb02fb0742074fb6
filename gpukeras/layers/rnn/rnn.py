"""RNN: runs a cell over the time steps of a sequence (Keras 3's `keras.layers.RNN`).

The cell is any object with `call(inputs, states)` returning `(output, new_states)` and a
`state_size` (a list of cells becomes a StackedRNNCells). Built-in cells that can run a whole
sequence at once (`sequence_ready`) do so; any other cell is stepped in a Python loop through
`gpukeras.ops`, the step inputs coming from one `unstack` and the outputs going into one `stack`.

Keras 3's semantics (JAX backend) throughout: `go_backwards` processes the sequence last step first
and returns outputs in that order; at a masked step the states keep their values and the output
repeats the previous first state (zeros with `zero_output_for_mask`; with `unroll`, the previous
output, zeros before the first step); `stateful` layers keep their final states in non-trainable
variables for the next batch.
"""

from __future__ import annotations

from typing import Any

from gpukeras import ops, tree
from gpukeras.layers.layer import Layer, method_takes
from gpukeras.layers.rnn.recurrent_cell import check_flag
from gpukeras.layers.rnn.sequence_call import SequenceCall
from gpukeras.layers.rnn.stacked_rnn_cells import StackedRNNCells
from gpukeras.ops.multi_output import unstack
from gpukeras.ops.recurrent import flip, snapshot
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object
from gpukeras.tensor import Tensor, Variable

RNN_FLAGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask")


def check_rnn_flags(cls_name: str, flags: dict[str, Any]) -> dict[str, bool]:
    """The RNN layer's boolean arguments, validated."""
    return {name: check_flag(cls_name, name, value) for name, value in flags.items()}


def check_cell(cell: Any, where: str) -> None:
    """A cell needs `call` and a `state_size` that is an int or a (nested) list of ints."""
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{where}: the cell must have a `call` method, got {cell!r}.")
    size = getattr(cell, "state_size", None)
    if size is None:
        raise ValueError(f"{where}: the cell must have a `state_size` attribute (an integer, or a list of "
                         f"integers, one per state), got {cell!r}.")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in tree.flatten(size)):
        raise ValueError(f"{where}: `state_size` must be an integer or a list of integers, got {size!r}.")


def _first_state(cell: Any, states: list[Any]) -> Any:
    """What a masked step outputs: the previous first state; for stacked cells the last cell's first
    state (what Keras 3 means to take; it takes the first cell's when that cell's state is not a list)."""
    if isinstance(cell, StackedRNNCells):
        return tree.flatten(states[-1])[0]
    first = states[0]
    return states[-1][0] if isinstance(first, (list, tuple)) else first


def _time_mask(m: Any, like: Any) -> Any:
    """A (batch,) step mask shaped to broadcast over `like` (batch, ...)."""
    return ops.reshape(m, (m.shape[0],) + (1,) * (like.ndim - 1))


class RNN(SequenceCall, Layer):
    """Base class of recurrent layers: loops `cell` over the time axis (axis 1) of its inputs."""

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any):
        flags = check_rnn_flags(type(self).__name__, dict(
            return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
            stateful=stateful, unroll=unroll, zero_output_for_mask=zero_output_for_mask))
        if isinstance(cell, (list, tuple)):  # in the layer's dtype, so it casts steps as its cells do
            cell = StackedRNNCells(cell, dtype=kwargs.get("dtype"))
        check_cell(cell, type(self).__name__)
        super().__init__(**kwargs)
        for name, value in flags.items():
            setattr(self, name, value)
        self.cell = cell
        self.supports_masking = True
        self.states: Any = None
        self._expected_batch_size: int | None = None
        size = cell.state_size
        self.single_state = isinstance(size, int)
        self.state_size = [size] if self.single_state else list(size)

    # ------------------------------------------------------------------ calling with initial states
    def _split_inputs(self, inputs: Any, initial_state: Any) -> tuple[Any, Any]:
        """(sequences, initial_state) from either form of the call."""
        if not isinstance(inputs, (list, tuple)):
            return inputs, initial_state
        if initial_state is not None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: initial states were passed both in the inputs "
                             "list and as `initial_state`.")
        sequences, states = inputs[0], list(inputs[1:])
        return sequences, self._pack_states(states) if states else None

    def _pack_states(self, flat: list[Any]) -> list[Any]:
        """Flat initial states in the cell's structure (one list per cell for stacked cells)."""
        structure = self.state_size
        if len(tree.flatten(structure)) == len(flat):
            return tree.pack_sequence_as(list(structure), flat)
        return flat

    # ------------------------------------------------------------------ shapes and build
    def build(self, sequences_shape: Any, initial_state_shape: Any = None) -> None:
        shape = self._sequence_shape(sequences_shape)
        if len(shape) < 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, time, ...), "
                             f"got {shape}.")
        if self.unroll and shape[1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: cannot unroll a RNN whose number of time steps "
                             "is unknown; give the Input a fixed `shape` (time steps included).")
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((shape[0],) + shape[2:])
            self.cell.built = True
        if self.stateful:
            if self.states is not None:
                self.reset_state()
            else:
                if shape[0] is None:
                    raise ValueError(f"{type(self).__name__} {self.name!r}: a stateful RNN needs a static batch "
                                     f"size; got inputs of shape {shape}. Give the Input a `batch_size`.")
                self.states = tree.map_structure(
                    lambda s: Variable(s, dtype=s.dtype, trainable=False, name="rnn_state",
                                       path=f"{self.name}/rnn_state"),
                    self.get_initial_state(shape[0]))
                self._expected_batch_size = shape[0]
        self.built = True

    def compute_output_shape(self, sequences_shape: Any, initial_state_shape: Any = None) -> Any:
        shape = self._sequence_shape(sequences_shape)
        batch, length = shape[0], shape[1]
        states = [(batch, s) if isinstance(s, int) else [(batch, d) for d in s] for s in self.state_size]
        size = getattr(self.cell, "output_size", None)
        size = self.state_size[0] if size is None else size
        if not isinstance(size, int):
            raise ValueError(f"{type(self).__name__} {self.name!r}: the cell's output_size must be an integer, "
                             f"got {size!r}.")
        output = (batch, length, size) if self.return_sequences else (batch, size)
        return (output, *states) if self.return_state else output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """A sequence output keeps the time mask; a last-step output and the states have none."""
        mask = tree.flatten(mask)[0] if mask is not None else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # ------------------------------------------------------------------ states
    def get_initial_state(self, batch_size: int) -> list[Any]:
        """The cell's initial states (zeros unless the cell says otherwise), always as a list."""
        make = getattr(self.cell, "get_initial_state", None)
        if make is None:
            dtype = getattr(self.cell, "dtype", self.dtype)
            return [ops.zeros((batch_size, d), dtype=dtype) for d in self.state_size]
        state = make(batch_size=batch_size)
        return list(state) if isinstance(state, (list, tuple)) else [state]

    def reset_state(self) -> None:
        """Zero a stateful layer's states."""
        if self.states is not None:
            for var in tree.flatten(self.states):
                var.assign(ops.zeros(var.shape, dtype=var.dtype))

    def reset_states(self) -> None:
        """Alias of `reset_state` (Keras keeps both)."""
        self.reset_state()

    def _initial_states(self, sequences: Tensor, initial_state: Any) -> list[Any]:
        batch = sequences.shape[0]
        if self.stateful:
            if self._expected_batch_size is not None and batch != self._expected_batch_size:
                raise ValueError(f"{type(self).__name__} {self.name!r} is stateful: the batch size of its inputs "
                                 f"must stay {self._expected_batch_size} (the batch size of its states), got "
                                 f"{batch}.")
        if initial_state is None:
            if self.stateful:
                return tree.map_structure(snapshot, self.states)
            initial_state = self.get_initial_state(batch)
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        dtype = getattr(self.cell, "dtype", self.dtype)
        states = tree.map_structure(lambda s: ops.convert_to_tensor(s, dtype=dtype), list(initial_state))
        for s in tree.flatten(states):
            if s.shape[0] != batch:
                raise ValueError(f"{type(self).__name__} {self.name!r}: an initial state has batch size "
                                 f"{s.shape[0]}, the inputs {batch}.")
        return states

    # ------------------------------------------------------------------ the loop
    def _masked_output(self) -> str:
        return "unroll" if self.unroll else "zero" if self.zero_output_for_mask else "carry"

    def call(self, sequences: Any, initial_state: Any = None, mask: Any = None, training: bool = False) -> Any:
        sequences, initial_state = self._split_inputs(sequences, initial_state)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if sequences.ndim < 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, time, ...), "
                             f"got {tuple(sequences.shape)}.")
        states = self._initial_states(sequences, initial_state)
        ndim = sequences.ndim
        x = ops.transpose(sequences, (1, 0, *range(2, ndim)))
        if mask is not None:
            mask = ops.transpose(ops.cast(mask, "bool"), (1, 0))
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(f"{type(self).__name__} {self.name!r}: the mask has shape "
                                 f"{tuple(mask.shape[::-1])}, expected (batch, time) = {tuple(sequences.shape[:2])}.")
        if self.go_backwards:
            x = flip(x, 0)
            mask = None if mask is None else flip(mask, 0)
        ready = getattr(self.cell, "sequence_ready", None)
        try:
            if ndim == 3 and ready is not None and ready(bool(training)):
                outputs, last, states = self.cell.run_sequence(x, states, mask, bool(training), self._masked_output())
            else:
                outputs, last, states = self._step_loop(x, states, mask, training)
        finally:
            _reset_dropout_masks(self.cell)
        if self.stateful:
            for var, value in zip(tree.flatten(self.states), tree.flatten(states)):
                var.assign(value)
        output = ops.transpose(outputs, (1, 0, *range(2, outputs.ndim))) if self.return_sequences else last
        return (output, *states) if self.return_state else output

    def _step_loop(self, x: Tensor, states: list[Any], mask: Any, training: Any) -> tuple[Tensor, Tensor, list[Any]]:
        """Step the cell over time-major `x`: (outputs (T, batch, ...), last output, final states)."""
        cell = self.cell
        step = cell.__call__ if isinstance(cell, Layer) else cell.call
        kwargs = {"training": training} if isinstance(cell, Layer) or method_takes(type(cell), "call", "training") \
            else {}
        policy = self._masked_output()
        step_masks = None if mask is None else unstack(mask)
        outputs: list[Any] = []
        for t, x_t in enumerate(unstack(x)):
            output, new_states = step(x_t, states, **kwargs)
            if not isinstance(new_states, (list, tuple)):
                new_states = [new_states]
            if step_masks is not None:
                m = step_masks[t]
                if policy == "carry":
                    fallback = _first_state(cell, states)
                elif policy == "zero" or not outputs:
                    fallback = ops.zeros_like(output)
                else:
                    fallback = outputs[-1]
                output = ops.where(_time_mask(m, output), output, fallback)
                flat = [ops.where(_time_mask(m, new), new, old)
                        for new, old in zip(tree.flatten(new_states), tree.flatten(states))]
                new_states = tree.pack_sequence_as(new_states, flat)
            outputs.append(output)
            states = list(new_states)
        return ops.stack(outputs, axis=0), outputs[-1], states

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        config = {name: getattr(self, name) for name in RNN_FLAGS}
        return {**super().get_config(), **config, "cell": serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> RNN:
        config = dict(config)
        cell = deserialize_keras_object(config.pop("cell"), custom_objects=custom_objects)
        return super().from_config({**config, "cell": cell})


def _reset_dropout_masks(cell: Any) -> None:
    """Forget the dropout masks a call made (each sequence draws its own), in stacked cells too."""
    for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
        fn = getattr(cell, reset, None)
        if fn is not None:
            fn()
    for inner in getattr(cell, "cells", None) or []:
        _reset_dropout_masks(inner)
