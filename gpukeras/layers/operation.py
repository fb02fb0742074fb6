"""The graph node a keras.ops call on KerasTensors records (`ops.mean(x, axis=1)`, `x / 255.0`, `x[:, 0]`).

`OperationNode` keeps the op's name and its arguments as a template: each KerasTensor becomes a
placeholder for the node's i-th input, everything else (numbers, axes, slices, arrays) stays as
given. Run by the functional model, it fills the placeholders with real tensors and calls the op.
Its config is that template in JSON (slices, tuples and arrays tagged), so models holding these
nodes save and load; Keras 3 writes such nodes as its own Operation classes, which this format
does not reproduce (see ARCHITECTURE.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras import ops
from gpukeras.keras_tensor import KerasTensor
from gpukeras.layers.layer import Layer, unique_name
from gpukeras.ops import symbolic
from gpukeras.saving.serialization import Catalogue, register_catalogue
from gpukeras.tensor import Tensor

MODULE = "keras.ops"  # a keras.* module: only those name built-ins (gpukeras never imports a module a file names)


class OperationNode(Layer):
    """`ops.<function>(*args, **kwargs)` as a weightless node of a functional graph."""

    def __init__(self, function: str, arguments: dict[str, Any], name: str | None = None, **kwargs: Any):
        if not callable(getattr(ops, function, None)):
            raise ValueError(f"OperationNode: unknown op {function!r} (not a gpukeras.ops function).")
        super().__init__(name=name or unique_name(function), **kwargs)
        self.function, self.arguments = function, arguments
        self.autocast = False  # ops compute in their inputs' dtypes
        self.built = True
        self._input_dtypes: list[str] = []

    def call(self, inputs: list[Any]) -> Any:
        args, kwargs = _fill(self.arguments, list(inputs))
        return getattr(ops, self.function)(*args, **kwargs)

    def _symbolic_call(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        self._input_dtypes = [t.dtype for t in inputs]
        outputs = super()._symbolic_call(inputs, args, kwargs)
        for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            out.dtype = self._output_dtype
        return outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Run the op on zeros (None dimensions as 2) to learn its output shape and dtype."""
        zeros = [Tensor(_zeros(shape, dtype)) for shape, dtype in zip(input_shape, self._input_dtypes)]
        out = self.call(zeros)
        first = out[0] if isinstance(out, (list, tuple)) else out
        self._output_dtype = str(first.dtype)
        symbolic_batch = bool(input_shape) and input_shape[0][:1] == (None,)

        def shape_of(t: Any) -> tuple:
            shape = tuple(t.shape)
            return (None,) + shape[1:] if symbolic_batch and shape[:1] == (2,) else shape

        return [shape_of(t) for t in out] if isinstance(out, (list, tuple)) else shape_of(out)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "function": self.function, "arguments": self.arguments}

    def get_build_config(self) -> None:
        return None


def _zeros(shape: tuple, dtype: str) -> Any:
    return _backend.active.zeros(tuple(2 if d is None else d for d in shape), dtype=dtype)


# ---------------------------------------------------------------------- argument templates
def _template(value: Any, inputs: list[KerasTensor]) -> Any:
    """`value` as JSON, each KerasTensor replaced by {"__input__": its index in `inputs`}."""
    if isinstance(value, KerasTensor):
        inputs.append(value)
        return {"__input__": len(inputs) - 1}
    if isinstance(value, slice):
        return {"__slice__": [_template(v, inputs) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, tuple):
        return {"__tuple__": [_template(v, inputs) for v in value]}
    if isinstance(value, list):
        return [_template(v, inputs) for v in value]
    if isinstance(value, dict):
        return {str(k): _template(v, inputs) for k, v in value.items()}
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"A keras.ops call on a symbolic tensor got an argument of type {type(value).__name__}, "
                    "which a functional model cannot record; wrap the computation in a Layer instead.")


def _filled(value: Any, inputs: list[Any]) -> Any:
    """The value `_template` encoded, placeholders replaced by `inputs`."""
    if isinstance(value, list):
        return [_filled(v, inputs) for v in value]
    if not isinstance(value, dict):
        return value
    if "__input__" in value:
        return inputs[value["__input__"]]
    if "__slice__" in value:
        return slice(*(_filled(v, inputs) for v in value["__slice__"]))
    if "__ellipsis__" in value:
        return Ellipsis
    if "__tuple__" in value:
        return tuple(_filled(v, inputs) for v in value["__tuple__"])
    if "__array__" in value:
        return np.asarray(value["__array__"], dtype=value["dtype"])
    return {k: _filled(v, inputs) for k, v in value.items()}


def _fill(arguments: dict[str, Any], inputs: list[Any]) -> tuple[tuple, dict]:
    return tuple(_filled(arguments["args"], inputs)), _filled(arguments["kwargs"], inputs)


def record(function: str, args: tuple, kwargs: dict) -> Any:
    """The node of `ops.<function>(*args, **kwargs)` called on KerasTensors, called on them."""
    inputs: list[KerasTensor] = []
    arguments = {"args": _template(list(args), inputs), "kwargs": _template(dict(kwargs), inputs)}
    return OperationNode(function, arguments)(inputs)


symbolic.register_node_builder(record)
register_catalogue(Catalogue(MODULE, base=OperationNode, find_class={"OperationNode": OperationNode}.get,
                             registered_name="OperationNode"))
