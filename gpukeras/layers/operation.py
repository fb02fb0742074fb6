"""The graph nodes that keras.ops calls on KerasTensors record (`ops.mean(x, axis=1)`, `x / 255.0`, `x[:, 0]`),
in Keras 3's format.

Keras 3 records such a call as an Operation of the op's class (`keras.src.ops.numpy.TrueDivide`,
`Mean(axis=1)`, `GetItem`): the op's static parameters are its config, its tensor operands (and the
constants of arithmetic) are the call's arguments. `Operation` does the same, one subclass per op
made on demand (`operation_class("mean")` is a class named `Mean`), so functional configs holding
these nodes are written as Keras 3 writes them and Keras 3's load here. Unlike Keras 3's, these
nodes are Layers (weightless), so `model.layers` lists them.
"""

from __future__ import annotations

import inspect
from typing import Any

from gpukeras import backend as _backend
from gpukeras import ops, tree
from gpukeras.keras_tensor import CallNode, KerasTensor
from gpukeras.layers.layer import Layer, unique_name
from gpukeras.naming import to_snake_case
from gpukeras.ops import symbolic
from gpukeras.saving.serialization import Catalogue, register_catalogue
from gpukeras.tensor import Tensor

# An op's parameters that are operands (call arguments in Keras 3's Operations); every other parameter
# is static and goes to the config.
OPERANDS = frozenset({"x", "x1", "x2", "xs", "condition", "indices", "key", "inputs", "kernel", "bias", "query",
                      "value", "mask", "labels", "probs", "logits", "values", "weights", "target", "output", "data",
                      "segment_ids", "gamma", "beta", "bins", "updates", "targets", "predictions", "sorted_sequence",
                      "array", "y"})
# Keras 3's class names whose snake_case is not the gpukeras op's name.
_FUNCTION_OF = {"get_item": "getitem"}
_CLASS_OF = {"getitem": "GetItem"}
# gpukeras.ops submodule -> Keras 3's module of the Operation classes.
_KERAS_MODULE = {"numpy": "keras.src.ops.numpy", "einsum": "keras.src.ops.numpy", "nn": "keras.src.ops.nn",
                 "convolution": "keras.src.ops.nn", "attention": "keras.src.ops.nn", "core": "keras.src.ops.core",
                 "math": "keras.src.ops.math", "linalg": "keras.src.ops.linalg", "flow": "keras.src.ops.core"}


class Operation(Layer):
    """`ops.<function>(*operands, **parameters)` as a weightless node of a functional graph."""

    function = ""
    graph_operation = True

    def __init__(self, name: str | None = None, **parameters: Any):
        super().__init__(name=name or unique_name(to_snake_case(type(self).__name__)))
        self.parameters = _check_parameters(self.function, parameters)
        self.built = True

    def __call__(self, *operands: Any, **kwargs: Any) -> Any:
        if any(isinstance(t, KerasTensor) for t in tree.flatten([list(operands), kwargs])):
            return self._record(operands, kwargs)
        return self.call(*operands, **kwargs)

    def call(self, *operands: Any, **kwargs: Any) -> Any:
        if self.function == "getitem" and isinstance(operands[1], list):  # a config's key tuple comes as a list
            operands = (operands[0], tuple(operands[1]))
        return _op(self.function)(*operands, **kwargs, **self.parameters)

    def _record(self, operands: tuple, kwargs: dict) -> Any:
        """The symbolic call: run the op on zeros (None dimensions as 2) for the output, record the node."""
        def concrete(x: Any) -> Any:
            return Tensor(_backend.active.zeros(tuple(2 if d is None else d for d in x.shape), dtype=x.dtype)) \
                if isinstance(x, KerasTensor) else x

        symbolic_batch = any(isinstance(t, KerasTensor) and t.shape[:1] == (None,)
                             for t in tree.flatten([list(operands), kwargs]))
        out = self.call(*tree.map_structure(concrete, list(operands)), **tree.map_structure(concrete, kwargs))
        node = CallNode(self, operands[0], tuple(operands[1:]), dict(kwargs), None)

        def symbolic_tensor(t: Any) -> KerasTensor:
            shape = tuple(t.shape)
            if symbolic_batch and shape[:1] == (2,):
                shape = (None,) + shape[1:]
            return KerasTensor(shape, str(t.dtype), name=self.name, node=node)

        node.outputs = tree.map_structure(symbolic_tensor, out)
        self._inbound_nodes.append(node)
        return node.outputs

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.parameters}

    def get_build_config(self) -> None:
        return None


class NumpyOperation(Operation):
    """An Operation of keras.src.ops.numpy."""


class NnOperation(Operation):
    """An Operation of keras.src.ops.nn."""


class CoreOperation(Operation):
    """An Operation of keras.src.ops.core."""


class MathOperation(Operation):
    """An Operation of keras.src.ops.math."""


class LinalgOperation(Operation):
    """An Operation of keras.src.ops.linalg."""


_BASES = {"keras.src.ops.numpy": NumpyOperation, "keras.src.ops.nn": NnOperation,
          "keras.src.ops.core": CoreOperation, "keras.src.ops.math": MathOperation,
          "keras.src.ops.linalg": LinalgOperation}
_classes: dict[str, type[Operation]] = {}


def _op(function: str) -> Any:
    """The plain op (not its symbolic wrapper: operands here are real tensors)."""
    fn = getattr(ops, function, None)
    return getattr(fn, "__wrapped__", fn)


def _keras_module(function: str) -> str | None:
    fn = _op(function)
    if not callable(fn):
        return None
    return _KERAS_MODULE.get(getattr(fn, "__module__", "").rpartition(".")[2])


def operation_class(function: str) -> type[Operation] | None:
    """The Operation class of `ops.<function>` (`Mean` for "mean"), made once; None for an unknown op."""
    found = _classes.get(function)
    if found is None:
        module = _keras_module(function)
        if module is None:
            return None
        name = _CLASS_OF.get(function) or "".join(part.capitalize() for part in function.split("_"))
        found = _classes[function] = type(name, (_BASES[module],), {"function": function,
                                                                     "__module__": __name__})
    return found


def _check_parameters(function: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The static parameters the op takes (lists as tuples: axes); a parameter Keras 3 writes that the op
    lacks is dropped when it holds its default, None, else refused by name."""
    accepted = inspect.signature(_op(function)).parameters
    out = {}
    for key, value in parameters.items():
        if key not in accepted:
            if value is None:
                continue
            raise ValueError(f"ops.{function} has no parameter {key!r} (value {value!r}); gpukeras cannot rebuild "
                             f"this {type(value).__name__}-valued setting of Keras 3's operation.")
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def record(function: str, args: tuple, kwargs: dict) -> Any:
    """`ops.<function>(*args, **kwargs)` called on KerasTensors: its node, called on the operands."""
    bound = inspect.signature(_op(function)).bind(*args, **kwargs)
    operands = [v for k, v in bound.arguments.items() if k in OPERANDS]
    parameters = {k: v for k, v in bound.arguments.items() if k not in OPERANDS}
    for key, value in parameters.items():
        if any(isinstance(t, KerasTensor) for t in tree.flatten([value])):
            raise TypeError(f"ops.{function}: the argument {key!r} is a symbolic tensor, which a functional model "
                            "records only as an operand; wrap the computation in a Layer instead.")
    if not operands:
        raise TypeError(f"ops.{function} has no tensor operand to record in a functional model.")
    return operation_class(function)(**parameters)(*operands)


def _find(class_name: str) -> type[Operation] | None:
    snake = to_snake_case(class_name)
    return operation_class(_FUNCTION_OF.get(snake, snake))


symbolic.register_node_builder(record)
for _module, _base in _BASES.items():
    register_catalogue(Catalogue(_module, base=_base, find_class=_find, registered_name=lambda cls: cls.__name__))
