"""StackedRNNCells: several cells behaving as one, each feeding its output to the next (Keras 3's)."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.layer import Layer, method_takes
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object


class StackedRNNCells(Layer):
    """A cell made of `cells`: its states are the list of their states, its output the last one's."""

    def __init__(self, cells: list[Any], **kwargs: Any):
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(f"StackedRNNCells: `cells` must be a non-empty list of cells, got {cells!r}.")
        for cell in cells:
            if not callable(getattr(cell, "call", None)):
                raise ValueError(f"StackedRNNCells: every cell must have a `call` method, got {cell!r}.")
            if getattr(cell, "state_size", None) is None:
                raise ValueError(f"StackedRNNCells: every cell must have a `state_size`, got {cell!r}.")
        super().__init__(**kwargs)
        self.cells = list(cells)

    @property
    def state_size(self) -> list[Any]:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size: int | None = None) -> list[Any]:
        states = []
        for cell in self.cells:
            make = getattr(cell, "get_initial_state", None)
            if make is not None:
                states.append(make(batch_size=batch_size))
            elif isinstance(cell.state_size, int):
                states.append(ops.zeros((batch_size, cell.state_size), dtype=self.dtype))
            else:
                states.append([ops.zeros((batch_size, d), dtype=self.dtype) for d in cell.state_size])
        return states

    def build(self, input_shape: Any) -> None:
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(input_shape)
                cell.built = True
            input_shape = (input_shape[0], _output_size(cell))
        self.built = True

    def call(self, inputs: Any, states: Any, training: bool = False, **kwargs: Any) -> tuple[Any, Any]:
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            is_list = isinstance(cell_states, (list, tuple))
            cell_states = list(cell_states) if is_list else [cell_states]
            step = cell.__call__ if isinstance(cell, Layer) else cell.call
            extra = dict(kwargs)
            if isinstance(cell, Layer) or method_takes(type(cell), "call", "training"):
                extra["training"] = training
            inputs, cell_states = step(inputs, cell_states, **extra)
            if not isinstance(cell_states, (list, tuple)):
                cell_states = [cell_states]
            if len(cell_states) == 1 and not is_list:
                cell_states = cell_states[0]
            new_states.append(cell_states)
        return inputs, new_states[0] if len(new_states) == 1 else new_states

    # ------------------------------------------------------------------ whole sequences
    def sequence_ready(self, training: bool) -> bool:
        """Whether every cell runs whole sequences: then the stack runs cell after cell, which gives
        what stepping the stack would (a masked step keeps every cell's states, so what a lower cell
        outputs there never reaches the cells above)."""
        return all(getattr(c, "sequence_ready", None) is not None and c.sequence_ready(training) for c in self.cells)

    def run_sequence(self, inputs: Any, states: list[Any], mask: Any, training: bool,
                     masked_output: str) -> tuple[Any, Any, list[Any]]:
        final = []
        last = None
        for cell, cell_states in zip(self.cells, states):
            is_list = isinstance(cell_states, (list, tuple))
            inputs, last, new = cell.run_sequence(inputs, list(cell_states) if is_list else [cell_states], mask,
                                                  training, masked_output)
            final.append(new if is_list else new[0])
        return inputs, last, final

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cells": [serialize_keras_object(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> StackedRNNCells:
        config = dict(config)
        cells = [deserialize_keras_object(c, custom_objects=custom_objects) for c in config.pop("cells")]
        return super().from_config({**config, "cells": cells})


def _output_size(cell: Any) -> int:
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    return cell.state_size[0] if isinstance(cell.state_size, (list, tuple)) else cell.state_size
