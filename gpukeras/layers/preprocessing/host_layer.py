"""The base of the preprocessing layers that compute on the host: text, lookups, hashing, category encoding.

Strings never go to the device: they arrive as host NumPy arrays (or Tensors holding one, which is
what an `Input(dtype="string")` feeds), are processed in Python/NumPy, and only the numbers come out
as backend Tensors. These layers have no trainable weights and no gradients, as in Keras 3, where
they run through TensorFlow on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras import ops
from gpukeras.keras_tensor import any_symbolic
from gpukeras.layers.layer import Layer
from gpukeras.tensor import Tensor
from gpukeras.tracing import refuse
from gpukeras.tree import flatten


def host_array(x: Any) -> np.ndarray:
    """`x` (a Tensor, a backend array, a NumPy array, a list) as a host NumPy array."""
    if isinstance(x, Tensor) and isinstance(x.data, np.ndarray):
        return x.data
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple)) or isinstance(x, (str, bytes, int, float)):
        return np.asarray(x)
    return ops.convert_to_numpy(x)


def host_tensor(values: np.ndarray) -> Tensor:
    """A Tensor of the layer's result: numbers on the backend's device, strings kept on the host."""
    if values.dtype.kind in "USO":
        return Tensor(values)
    return ops.convert_to_tensor(values)


def check_dtype_argument(layer_name: str, dtype: Any, allowed: tuple[str, ...] = ("float32",)) -> None:
    """Keras 3's lookup and text layers take `dtype` but their outputs do not depend on it: only the
    values that change nothing are accepted, anything else is refused rather than ignored."""
    if dtype is not None and str(dtype) not in allowed:
        raise ValueError(f"{layer_name}: `dtype` must be one of {list(allowed)} (its outputs have fixed dtypes: "
                         f"int64 indices, float32 encodings), got {dtype!r}.")


class HostPreprocessingLayer(Layer):
    """A layer whose `call` gets a host NumPy array and returns host-computed results as Tensors."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.autocast = False

    def output_dtype(self) -> str:
        """The dtype of the outputs (symbolic ones included); subclasses say which."""
        return "float32"

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("training", None)
        if any_symbolic(inputs):
            outputs = self._symbolic_call(inputs, args, kwargs)
            for out in flatten(outputs):
                out.dtype = self.output_dtype()
            return outputs
        refuse("it preprocesses on the host (strings and lookups in Python/NumPy); keep it out of the model (in "
               "the data pipeline) to compile the rest", f"layer {self.name!r} ({type(self).__name__})")
        host = host_array(inputs)
        if not self.built:
            self._build_for(tuple(host.shape))
        return self.call(host, *args, **kwargs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement compute_output_shape().")
