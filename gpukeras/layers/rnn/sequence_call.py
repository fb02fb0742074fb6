"""How RNN and Bidirectional take initial states and record their build shape (a mixin for both).

Keras's recurrent layers are called as `layer(sequences, initial_state=[...])`. In a functional
graph the initial states are symbolic outputs of other layers, so they must count as inputs of
the call: they travel as `[sequences, *states]`. The build shape saved is that of the sequences;
Keras 3 writes `{"shapes_dict": {"sequences_shape": ..., "initial_state_shape": ...}}` when the
first call had initial states, and both forms load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gpukeras import tree
from gpukeras.keras_tensor import any_symbolic
from gpukeras.tree import listify_shapes, tuplify_shapes


class SequenceCall:
    """Mixin (before Layer in the bases) for layers called on (sequences, initial_state)."""

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        initial_state = args[0] if args else kwargs.pop("initial_state", None)
        args = args[1:]
        if initial_state is not None and any_symbolic(initial_state):
            return super().__call__([inputs, *tree.flatten(initial_state)], *args, **kwargs)
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        return super().__call__(inputs, *args, **kwargs)

    @staticmethod
    def _sequence_shape(shape: Any) -> tuple:
        """The sequences' shape from a build shape that may list the initial states' shapes after it."""
        return tuple(shape[0]) if shape and isinstance(shape[0], (list, tuple)) else tuple(shape)

    def get_build_config(self) -> dict[str, Any] | None:
        if self._build_shape is None:
            return None
        return {"input_shape": listify_shapes(self._sequence_shape(self._build_shape))}

    def build_from_config(self, config: Mapping[str, Any]) -> None:
        config = config or {}
        shape = config.get("input_shape")
        if shape is None:
            shape = (config.get("shapes_dict") or {}).get("sequences_shape")
        if shape is not None:
            self._build_for(tuplify_shapes(shape))
