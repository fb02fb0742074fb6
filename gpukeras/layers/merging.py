"""Layers that merge several inputs: Concatenate, Add."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.layer import Layer


def _check_list(layer: Layer, inputs: Any) -> None:
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        raise ValueError(f"{type(layer).__name__} {layer.name!r} must be called on a list of at least 2 inputs.")


class Concatenate(Layer):
    """Join inputs along `axis` (all other dimensions must match)."""

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape: Any) -> None:
        _check_list(self, input_shape)
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise ValueError(f"Concatenate {self.name!r}: inputs must have the same rank, got {input_shape}.")
        axis = self.axis % ranks.pop()
        for i, dims in enumerate(zip(*input_shape)):
            known = {d for d in dims if d is not None}
            if i != axis and len(known) > 1:
                raise ValueError(f"Concatenate {self.name!r}: shapes {input_shape} differ outside axis {self.axis}.")
        self.built = True

    def call(self, inputs: Any) -> Any:
        _check_list(self, inputs)
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """A position counts when every input counts there, after joining the masks as the inputs were."""
        if mask is None or all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):
            if m is None:
                full.append(ops.ones_like(x, dtype="bool"))
            else:
                full.append(ops.logical_or(ops.expand_dims(m, -1), ops.zeros_like(x, dtype="bool"))
                            if m.ndim < x.ndim else m)
        return ops.all(ops.concatenate(full, axis=self.axis), axis=-1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out = list(input_shape[0])
        sizes = [s[self.axis] for s in input_shape]
        out[self.axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Add(Layer):
    """Element-wise sum of inputs of the same shape."""

    def build(self, input_shape: Any) -> None:
        _check_list(self, input_shape)
        if len({tuple(s[1:]) for s in input_shape}) != 1:
            raise ValueError(f"Add {self.name!r}: inputs must have the same shape, got {input_shape}.")
        self.built = True

    def call(self, inputs: Any) -> Any:
        _check_list(self, inputs)
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras's merge rule: a step counts when it counts in any input; no mask if one input has none."""
        if mask is None or any(m is None for m in mask):
            return None
        out = mask[0]
        for m in mask[1:]:
            out = ops.logical_or(out, m)
        return out

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[0])
