"""TimeDistributed: apply one layer to every time slice (axis 1) of its input (Keras 3's wrapper)."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.activation import Activation
from gpukeras.layers.convolution import Conv1D, Conv2D, Conv3D
from gpukeras.layers.dense import Dense
from gpukeras.layers.layer import Layer, method_takes
from gpukeras.layers.reshaping import Flatten
from gpukeras.layers.wrapper import Wrapper
from gpukeras.ops.multi_output import unstack

# Layers whose call treats every sample alike and alone, with no randomness: for them one call on
# the (batch * time, ...) reshaped input gives what Keras's call per time slice gives.
_PER_SAMPLE = (Dense, Activation, Flatten, Conv1D, Conv2D, Conv3D)


class TimeDistributed(Wrapper):
    """Calls `layer` on inputs[:, t] for every t and stacks the results on axis 1 (the same weights
    at every step). A (batch, time) mask is passed on per step to a layer whose call takes one, and
    stays the mask of the output."""

    def __init__(self, layer: Layer, **kwargs: Any):
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def _child_input_shape(self, input_shape: Any) -> tuple:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r} needs inputs of at least 3 dimensions (batch, time, "
                             f"...), got shape {input_shape}.")
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape: Any) -> None:
        if not self.layer.built:
            self.layer._build_for(self._child_input_shape(tuple(input_shape)))
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> tuple:
        child = self.layer.compute_output_shape(self._child_input_shape(tuple(input_shape)))
        return (child[0], input_shape[1], *child[1:])

    def _check_mask(self, inputs: Any, mask: Any) -> None:
        if len(mask.shape) < 2:
            raise ValueError(f"TimeDistributed {self.name!r}: the mask must be at least 2D (batch, time), got shape "
                             f"{tuple(mask.shape)}.")
        if tuple(mask.shape[:2]) != tuple(inputs.shape[:2]):
            raise ValueError(f"TimeDistributed {self.name!r}: the mask's shape {tuple(mask.shape)} does not start "
                             f"with the inputs' (batch, time) = {tuple(inputs.shape[:2])}.")

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if inputs.ndim < 3:
            raise ValueError(f"TimeDistributed {self.name!r} needs inputs of at least 3 dimensions (batch, time, "
                             f"...), got shape {tuple(inputs.shape)}.")
        if mask is not None:
            self._check_mask(inputs, mask)
        cls = type(self.layer)
        kwargs = {"training": training} if method_takes(cls, "call", "training") else {}
        step_masks = None
        if mask is not None and method_takes(cls, "call", "mask"):
            step_masks = unstack(mask, axis=1)
        elif cls in _PER_SAMPLE:
            batch, time = inputs.shape[:2]
            merged = self.layer.call(ops.reshape(inputs, (batch * time, *inputs.shape[2:])), **kwargs)
            return ops.reshape(merged, (batch, time, *merged.shape[1:]))
        outputs = []
        for t, x_t in enumerate(unstack(inputs, axis=1)):
            step_kwargs = kwargs if step_masks is None else {**kwargs, "mask": step_masks[t]}
            outputs.append(self.layer.call(x_t, **step_kwargs))
        return ops.stack(outputs, axis=1)
