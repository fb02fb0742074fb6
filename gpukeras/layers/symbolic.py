"""Symbolic tensors for the functional API: `Input`, and layers called on them.

A `KerasTensor` carries a shape (batch dimension None) and the `CallNode` that produced
it; `gpukeras.models.functional` walks these nodes to run a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.autodiff import stop_recording
from gpukeras.layers.layer import Layer
from gpukeras.tensor import Tensor


class CallNode:
    """One call of a layer inside a functional graph."""

    __slots__ = ("layer", "inputs", "args", "kwargs", "outputs")

    def __init__(self, layer: Layer, inputs: Any, args: tuple, kwargs: dict, outputs: Any):
        self.layer = layer
        self.inputs = inputs
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs

    def input_tensors(self) -> list[KerasTensor]:
        return flatten(self.inputs)


class KerasTensor:
    """A placeholder with a shape and dtype, recording which layer call produced it."""

    def __init__(self, shape: Sequence[int | None], dtype: str = "float32", name: str | None = None,
                 node: CallNode | None = None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self.node = node

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class InputLayer(Layer):
    """The source of a functional graph: declares the per-sample shape of one input."""

    def __init__(self, shape: Sequence[int] | None = None, batch_size: int | None = None,
                 dtype: Any = None, sparse: Any = None, name: str | None = None,
                 input_shape: Any = None, batch_shape: Any = None, **kwargs: Any):
        super().__init__(name=name, dtype=dtype)
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
        self.output = KerasTensor(self.batch_shape, self.dtype, name=self.name,
                                  node=CallNode(self, [], (), {}, None))
        self.output.node.outputs = self.output

    def call(self, inputs: Any) -> Any:
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False, "name": self.name}


def Input(shape: Sequence[int] | None = None, batch_size: int | None = None, dtype: Any = None,
          sparse: Any = None, batch_shape: Any = None, name: str | None = None, tensor: Any = None,
          optional: bool = False) -> KerasTensor:
    """A symbolic input of per-sample `shape`, for the functional API and Sequential."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape).output


def flatten(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in flatten(item)]
    if isinstance(x, dict):
        return [v for key in sorted(x) for v in flatten(x[key])]
    return [x]


def map_structure(fn: Any, x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return type(x)(map_structure(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    return fn(x)


def is_shape(x: Any) -> bool:
    """A tuple of ints/None (one tensor's shape), as opposed to a nest of shapes."""
    return isinstance(x, tuple) and all(d is None or isinstance(d, int) for d in x)


def map_shapes(fn: Any, x: Any) -> Any:
    """Apply `fn` to every shape in a nest of shapes (lists/dicts of tuples)."""
    if is_shape(x):
        return fn(x)
    if isinstance(x, (list, tuple)):
        return [map_shapes(fn, tuple(v) if isinstance(v, list) and all(
            d is None or isinstance(d, int) for d in v) else v) for v in x]
    if isinstance(x, dict):
        return {k: map_shapes(fn, v) for k, v in x.items()}
    raise TypeError(f"Not a shape or a nest of shapes: {x!r}")


def _dummy(shape: Sequence[int | None], dtype: str) -> Tensor:
    concrete = tuple(2 if d is None else d for d in shape)
    return Tensor(_backend.active.zeros(concrete, dtype=dtype))


def trace_output_shape(layer: Layer, input_shape: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
    """Run `layer.call` on a zero batch of size 2 to learn its output shape(s)."""
    dummies = map_shapes(lambda s: _dummy(s, layer.dtype), input_shape)
    with stop_recording():
        saved = layer._losses
        out = layer.call(dummies, *args, **(kwargs or {}))
        layer._losses = saved
    return map_structure(lambda t: (None,) + tuple(t.shape[1:]), out)


def call_symbolic(layer: Layer, inputs: Any, args: tuple, kwargs: dict) -> Any:
    """Call `layer` on KerasTensors: build it, infer output shapes, record the node."""
    shapes = map_structure(lambda t: t.shape, inputs)
    if not layer.built:
        layer._build_for(shapes)
    if type(layer).compute_output_shape is not Layer.compute_output_shape:
        out_shapes = layer.compute_output_shape(shapes)
    else:
        out_shapes = trace_output_shape(layer, shapes, args, kwargs)
    node = CallNode(layer, inputs, args, kwargs, None)
    outputs = map_shapes(lambda s: KerasTensor(s, layer.dtype, name=layer.name, node=node), out_shapes)
    node.outputs = outputs
    return outputs
