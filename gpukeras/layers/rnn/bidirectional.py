"""Bidirectional: run a recurrent layer forwards and a copy of it backwards, and merge (Keras 3's wrapper)."""

from __future__ import annotations

import copy
from typing import Any

from gpukeras import ops
from gpukeras.layers.layer import Layer, method_takes
from gpukeras.layers.rnn.sequence_call import SequenceCall
from gpukeras.ops.recurrent import flip
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object

MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _renamed_copy(layer: Layer, prefix: str, go_backwards: bool | None = None) -> Layer:
    """A fresh layer from `layer`'s config, named `<prefix>_<name>` (its weights are not shared)."""
    config = serialize_keras_object(layer)
    name = layer.name[len(prefix) + 1:] if layer.name.startswith(f"{prefix}_") else layer.name
    config["config"]["name"] = f"{prefix}_{name}"
    if go_backwards is not None:
        config["config"]["go_backwards"] = go_backwards
    config.pop("build_config", None)
    return deserialize_keras_object(config)


class Bidirectional(SequenceCall, Layer):
    """Runs `layer` on the sequence and `backward_layer` (by default a copy of `layer` with
    go_backwards=True) on the reversed sequence, then merges the two by `merge_mode`: "concat",
    "sum", "mul", "ave", or None (both outputs, as a list). With return_sequences the backward
    outputs are put back in time order first, and masked steps output zeros in both directions.
    `initial_state`: the forward layer's states, then the backward layer's."""

    def __init__(self, layer: Layer, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: Layer | None = None, **kwargs: Any):
        if not isinstance(layer, Layer):
            raise ValueError(f"Bidirectional: `layer` must be a gpukeras Layer instance (an RNN), got {layer!r}.")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"Bidirectional: `backward_layer` must be a gpukeras Layer instance, got "
                             f"{backward_layer!r}.")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: `merge_mode` must be one of {MERGE_MODES}, got {merge_mode!r}.")
        for attr in ("go_backwards", "return_sequences", "return_state", "stateful"):
            if not hasattr(layer, attr):
                raise ValueError(f"Bidirectional: the wrapped layer needs a `{attr}` attribute (an RNN has it), "
                                 f"got {layer!r}.")
        forward = _renamed_copy(layer, "forward")
        backward = _renamed_copy(layer, "backward", go_backwards=True) if backward_layer is None else backward_layer
        _check_pair(forward, backward)
        super().__init__(**kwargs)
        self.forward_layer = forward
        self.backward_layer = backward
        for rnn in (forward, backward):
            if getattr(rnn, "zero_output_for_mask", None) is not None:
                rnn.zero_output_for_mask = rnn.return_sequences
        self.merge_mode = merge_mode
        if weights:
            half = len(weights) // 2
            forward._initial_weights = list(weights[:half])
            backward._initial_weights = list(weights[half:])
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    # ------------------------------------------------------------------ calling
    def build(self, sequences_shape: Any, initial_state_shape: Any = None) -> None:
        shape = self._sequence_shape(sequences_shape)
        for rnn in (self.forward_layer, self.backward_layer):
            if not rnn.built:
                rnn._build_for(shape)
        self.built = True

    def call(self, sequences: Any, initial_state: Any = None, mask: Any = None, training: bool | None = None) -> Any:
        if isinstance(sequences, (list, tuple)):
            sequences, initial_state = sequences[0], list(sequences[1:]) or None
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        kwargs: dict[str, Any] = {}
        if method_takes(type(self.forward_layer), "call", "training"):
            kwargs["training"] = training
        if method_takes(type(self.forward_layer), "call", "mask"):
            kwargs["mask"] = mask
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, **kwargs)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, **kwargs)
        states: list[Any] = []
        if self.return_state:
            states = [*y[1:], *y_rev[1:]]
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = flip(y_rev, 1)
        output = self._merge(y, y_rev)
        if self.return_state:
            return (*output, *states) if self.merge_mode is None else (output, *states)
        return output

    def _merge(self, y: Any, y_rev: Any) -> Any:
        if self.merge_mode == "concat":
            return ops.concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return ops.add(y, y_rev)
        if self.merge_mode == "ave":
            return ops.divide(ops.add(y, y_rev), 2)
        if self.merge_mode == "mul":
            return ops.multiply(y, y_rev)
        return (y, y_rev)

    # ------------------------------------------------------------------ shapes and masks
    def compute_output_shape(self, sequences_shape: Any, initial_state_shape: Any = None) -> Any:
        output = self.forward_layer.compute_output_shape(self._sequence_shape(sequences_shape))
        states: tuple = ()
        if self.return_state:
            output, states = output[0], tuple(output[1:])
        if self.merge_mode == "concat":
            output = (*output[:-1], output[-1] * 2)
        outputs = (output, output) if self.merge_mode is None else (output,)
        if self.return_state:
            return (*outputs, *states, *states)
        return outputs if self.merge_mode is None else output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The time mask on sequence outputs (each of the two with merge_mode=None), none on states."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        outputs = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            n_states = len(self.forward_layer.state_size) * 2
            return outputs + [None] * n_states
        return outputs if self.merge_mode is None else output_mask

    # ------------------------------------------------------------------ states
    @property
    def states(self) -> Any:
        forward, backward = self.forward_layer.states, self.backward_layer.states
        if forward and backward:
            return tuple(forward + backward)
        return None

    def reset_state(self) -> None:
        if not self.stateful:
            raise AttributeError(f"Bidirectional {self.name!r}: reset_state needs a stateful layer.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self) -> None:
        """Alias of `reset_state`."""
        self.reset_state()

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_keras_object(self.forward_layer),
                "backward_layer": serialize_keras_object(self.backward_layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Bidirectional:
        config = copy.deepcopy(config)
        config["layer"] = deserialize_keras_object(config["layer"], custom_objects=custom_objects)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            config["backward_layer"] = deserialize_keras_object(backward, custom_objects=custom_objects)
        return super().from_config(config)


def _check_pair(forward: Layer, backward: Layer) -> None:
    """The two directions must differ in go_backwards and agree on stateful/return_sequences/return_state."""
    if forward.go_backwards == backward.go_backwards:
        raise ValueError(f"Bidirectional: the forward and backward layers must have different `go_backwards`, got "
                         f"{forward.go_backwards} for both.")
    for attr in ("stateful", "return_sequences", "return_state"):
        if getattr(forward, attr) != getattr(backward, attr):
            raise ValueError(f"Bidirectional: the forward and backward layers must have the same `{attr}`, got "
                             f"{getattr(forward, attr)} (forward) and {getattr(backward, attr)} (backward).")
