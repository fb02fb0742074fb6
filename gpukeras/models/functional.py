"""Functional models: a graph of layer calls from `Input`s to outputs, run in topological order."""

from __future__ import annotations

import inspect
from typing import Any

from gpukeras.layers.symbolic import CallNode, InputLayer, KerasTensor, flatten, map_structure
from gpukeras.models.model import Model


class Functional(Model):
    """`Model(inputs, outputs)`: several inputs and outputs, shared layers, any DAG of calls."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True, **kwargs: Any):
        Model.__init__(self, name=name or _functional_name(), trainable=trainable, **kwargs)
        for t in flatten(inputs) + flatten(outputs):
            if not isinstance(t, KerasTensor):
                raise ValueError(f"Model inputs and outputs must be symbolic tensors from Input(...) and layer "
                                 f"calls, got {type(t).__name__}.")
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        for t in self.inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model inputs must come straight from Input(...); {t} does not.")
        self._nodes = _topological_nodes(self.outputs, self.inputs)
        from gpukeras.saving.config import operation_order

        for layer in operation_order(self.inputs, self.outputs):  # Keras 3's `layers` (and weights) order
            if all(layer is not known for known in self._layers):
                self._layers.append(layer)
        self._takes_training = {id(n.layer): "training" in inspect.signature(n.layer.call).parameters
                                for n in self._nodes}
        self.built = True

    @property
    def output_names(self) -> list[str]:  # type: ignore[override]
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        return [t.node.layer.name for t in self.outputs]

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._inputs_struct, dict):
            return list(self._inputs_struct)
        return [t.node.layer.name for t in self.inputs]

    def _known_input_names(self) -> list[str]:
        return self.input_names

    def _input_shapes(self) -> list[tuple]:
        return [t.shape for t in self.inputs]

    def _build_from_data(self, xs: list[Any]) -> None:
        return

    def _pack_inputs(self, xs: list[Any]) -> Any:
        if isinstance(self._inputs_struct, dict):
            return dict(zip(self.input_names, xs))
        return xs[0] if len(xs) == 1 and not isinstance(self._inputs_struct, (list, tuple)) else list(xs)

    def _unflatten_outputs(self, outputs: list[Any]) -> Any:
        if isinstance(self._outputs_struct, dict):
            return dict(zip(self.output_names, outputs))
        if isinstance(self._outputs_struct, (list, tuple)):
            return list(outputs)
        return outputs[0]

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if isinstance(self._inputs_struct, dict) and isinstance(inputs, dict):
            values = [inputs[n] for n in self.input_names]
        else:
            values = flatten(inputs)
        if len(values) != len(self.inputs):
            raise ValueError(f"Model {self.name!r} expects {len(self.inputs)} inputs, got {len(values)}.")
        computed: dict[int, Any] = {id(t): v for t, v in zip(self.inputs, values)}
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            args = map_structure(lambda t: computed[id(t)] if isinstance(t, KerasTensor) else t, node.inputs)
            kwargs = dict(node.kwargs)
            if self._takes_training[id(node.layer)] and "training" not in kwargs:
                kwargs["training"] = training
            out = node.layer(args, *node.args, **kwargs)
            for sym, val in zip(flatten(node.outputs), flatten(out)):
                computed[id(sym)] = val
        return map_structure(lambda t: computed[id(t)], self._outputs_struct)


    def get_config(self) -> dict[str, Any]:
        from gpukeras.saving.config import functional_get_config

        return functional_get_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Functional:
        from gpukeras.saving.config import functional_from_config

        return functional_from_config(cls, config, custom_objects)


def _functional_name() -> str:
    from gpukeras.layers.layer import unique_name

    return unique_name("functional")


def _topological_nodes(outputs: list[KerasTensor], inputs: list[KerasTensor]) -> list[CallNode]:
    """Every call node between the inputs and the outputs, each after the nodes it depends on."""
    order: list[CallNode] = []
    done: set[int] = set()
    active: set[int] = set()
    input_ids = {id(t) for t in inputs}

    def visit(node: CallNode) -> None:
        if id(node) in done:
            return
        if id(node) in active:
            raise ValueError("The layer graph has a cycle.")
        active.add(id(node))
        for t in node.input_tensors():
            if not isinstance(t, KerasTensor):
                continue
            if isinstance(t.node.layer, InputLayer) and id(t) not in input_ids:
                raise ValueError(f"Output depends on input {t.name!r}, which is not among the model's inputs.")
            visit(t.node)
        active.discard(id(node))
        done.add(id(node))
        order.append(node)

    for t in outputs:
        visit(t.node)
    return order

