"""`Input` and `InputLayer`: the source of a functional graph, declaring the per-sample shape of one input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.keras_tensor import CallNode, KerasTensor
from gpukeras.layers.layer import Layer


class InputLayer(Layer):
    """Holds the symbolic tensor a model starts from; `batch_shape` is (batch_size, *shape)."""

    def __init__(self, shape: Sequence[int] | None = None, batch_size: int | None = None,
                 dtype: Any = None, sparse: Any = None, name: str | None = None,
                 input_shape: Any = None, batch_shape: Any = None, **kwargs: Any):
        super().__init__(name=name, dtype=dtype)
        if sparse:
            raise ValueError(f"InputLayer {self.name!r}: sparse inputs are not supported; pass dense arrays.")
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("InputLayer needs `shape`, e.g. Input(shape=(784,)).")
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(None if d is None else int(d) for d in shape)
        if any(d is not None and d <= 0 for d in shape):
            raise ValueError(f"Input shape must have positive dimensions, got {shape}.")
        self.batch_shape = (batch_size,) + shape
        self.built = True
        node = CallNode(self, [], (), {}, None)
        node.outputs = KerasTensor(self.batch_shape, self.dtype, name=self.name, node=node)
        self._inbound_nodes.append(node)  # `output` is this Input tensor, `input` an empty list

    def call(self, inputs: Any) -> Any:
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> InputLayer:
        config = dict(config)
        if "batch_input_shape" in config:  # tf.keras 2's spelling
            config.setdefault("batch_shape", config.pop("batch_input_shape"))
        return super().from_config(config)


def Input(shape: Sequence[int] | None = None, batch_size: int | None = None, dtype: Any = None,
          sparse: Any = None, batch_shape: Any = None, name: str | None = None, tensor: Any = None,
          optional: bool = False) -> KerasTensor:
    """A symbolic input of per-sample `shape`, for the functional API and Sequential.

    `sparse=True`, `tensor=` (wrapping an existing tensor, tf.keras 2) and `optional=True` (inputs
    that may be None) are Keras features gpukeras does not have: they are refused, not ignored.
    """
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported: gpukeras inputs are placeholders; pass the data "
                         "to fit/predict or call the model on it.")
    if optional:
        raise ValueError("Input(optional=True) is not supported: every gpukeras input must be given.")
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, name=name,
                      batch_shape=batch_shape).output
