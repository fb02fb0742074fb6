"""Functional models: a graph of layer calls from `Input`s to outputs, run in topological order.

The config of a functional model lists every layer once (in Keras 3's `operations` order) with the
calls made in the model as `inbound_nodes`: `{"args": [...], "kwargs": {...}}`, where a symbolic
input is `{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history": [layer,
node, index]}}`. `node` counts only that layer's calls inside this model. tf.keras 2's list form
`[[["layer", node, index, {kwargs}], ...]]` is read too.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from gpukeras.keras_tensor import CallNode, KerasTensor
from gpukeras.layers.input_layer import Input, InputLayer
from gpukeras.layers.layer import attach_masks, unique_name
from gpukeras.models.model import Model, match_input_rank
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object
from gpukeras.tree import flatten, map_structure


class Functional(Model):
    """`Model(inputs, outputs)`: several inputs and outputs, shared layers, any DAG of calls."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True, **kwargs: Any):
        Model.__init__(self, name=name or unique_name("functional"), trainable=trainable, **kwargs)
        for t in flatten(inputs) + flatten(outputs):
            if not isinstance(t, KerasTensor):
                raise ValueError(f"Model inputs and outputs must be symbolic tensors from Input(...) and layer "
                                 f"calls, got {type(t).__name__}.")
        if not all(isinstance(t.node.layer, InputLayer) for t in flatten(inputs)):
            inputs, outputs = _graph_from_new_inputs(inputs, outputs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        self._nodes = _topological_nodes(self.outputs, self.inputs)
        for layer in operation_order(self.inputs, self.outputs):  # Keras 3's `layers` (and weights) order
            if all(layer is not known for known in self._layers):
                self._layers.append(layer)
        self._takes_training = {id(n.layer): "training" in inspect.signature(n.layer.call).parameters
                                for n in self._nodes}
        self.built = True

    @staticmethod
    def _reference_instance() -> Functional:
        """A bare functional model: its attribute names are the framework's."""
        source = InputLayer(shape=(1,), name="reference_input").output
        return Functional(source, source, name="reference")

    @property
    def output_names(self) -> list[str]:  # type: ignore[override]
        if isinstance(self._outputs_struct, dict):
            return sorted(self._outputs_struct)  # the order of `self.outputs` (flatten sorts dict keys)
        return [t.node.layer.name for t in self.outputs]

    @property
    def input(self) -> Any:
        """The inputs as given to the constructor (a tensor, a list or a dict)."""
        return self._inputs_struct

    @property
    def output(self) -> Any:
        """The outputs as given to the constructor."""
        return self._outputs_struct

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._inputs_struct, dict):
            return sorted(self._inputs_struct)  # the order of `self.inputs` (flatten sorts dict keys)
        return [t.node.layer.name for t in self.inputs]

    def _known_input_names(self) -> list[str]:
        return self.input_names

    def _input_shapes(self) -> list[tuple]:
        return [t.shape for t in self.inputs]

    def _input_dtypes(self) -> list[str]:
        return [t.dtype for t in self.inputs]

    def _symbolic_output_shapes(self) -> list[tuple]:
        return [t.shape for t in self.outputs]

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
        values = [match_input_rank(v, t.shape) for v, t in zip(values, self.inputs)]
        attach_masks(values, mask)
        computed: dict[int, Any] = {id(t): v for t, v in zip(self.inputs, values)}
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            def value(t: Any) -> Any:
                return computed[id(t)] if isinstance(t, KerasTensor) else t

            args = map_structure(value, node.inputs)
            extra = map_structure(value, node.args) if node.args else ()
            kwargs = {k: map_structure(value, v) for k, v in node.kwargs.items()}
            if self._takes_training[id(node.layer)] and "training" not in kwargs:
                kwargs["training"] = training
            out = node.layer(args, *extra, **kwargs)
            for sym, val in zip(flatten(node.outputs), flatten(out)):
                computed[id(sym)] = val
        return map_structure(lambda t: computed[id(t)], self._outputs_struct)

    # ------------------------------------------------------------------ config and saving
    def get_config(self) -> dict[str, Any]:
        """Keras 3's functional config: layers with `inbound_nodes`, `input_layers`, `output_layers`."""
        return _graph_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Functional:
        return Functional.from_graph_config(cls, config, custom_objects)

    @staticmethod
    def from_graph_config(cls: type, config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
                          ) -> Any:
        """Rebuild a functional model of class `cls` by replaying the recorded layer calls."""
        inputs, outputs = _replay_graph(config, custom_objects)
        return cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True))

    def get_build_config(self) -> dict[str, Any]:
        return {"input_shape": None}  # what Keras 3 writes: the graph itself fixes the shapes

    def _saveable_children(self) -> Iterator[tuple[str, Any]]:
        yield "layers", self.layers
        yield from super()._saveable_children()


Model._functional_class = Functional


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


def _graph_from_new_inputs(inputs: Any, outputs: Any) -> tuple[Any, Any]:
    """Keras 3's model from intermediate tensors: each input that is a layer's output is replaced by a
    fresh `Input` of its shape and dtype, and the calls between the inputs and the outputs are
    recorded again from there. What computed those tensors is not part of the model (keras.io's
    structured-data program builds its model from normalized inputs, so it is fed raw values); the
    original graph is left as it was."""
    new: dict[int, KerasTensor] = {}
    for t in flatten(inputs):
        if not isinstance(t.node.layer, InputLayer) and id(t) not in new:
            new[id(t)] = Input(batch_shape=t.shape, dtype=t.dtype, name=unique_name(f"{t.name}CLONE"))
    stop = set(new)

    def renamed(x: Any) -> Any:
        return new.get(id(x), x) if isinstance(x, KerasTensor) else x

    for node in _nodes_after(flatten(outputs), stop):
        if isinstance(node.layer, InputLayer):
            continue
        copy = CallNode(node.layer, map_structure(renamed, node.inputs), map_structure(renamed, node.args),
                        {k: map_structure(renamed, v) for k, v in node.kwargs.items()}, None)

        def recorded(t: Any, copy: CallNode = copy) -> Any:
            new[id(t)] = KerasTensor(t.shape, t.dtype, name=t.name, node=copy)
            return new[id(t)]

        copy.outputs = map_structure(recorded, node.outputs)
    return map_structure(renamed, inputs), map_structure(renamed, outputs)


def _nodes_after(outputs: list[KerasTensor], stop: set[int]) -> list[CallNode]:
    """The call nodes the outputs depend on, each after those it reads, not looking behind the
    tensors whose ids are in `stop`."""
    order: list[CallNode] = []
    seen: set[int] = set()

    def visit(t: KerasTensor) -> None:
        if id(t) in stop or id(t.node) in seen:
            return
        seen.add(id(t.node))
        for source in t.node.input_tensors():
            visit(source)
        order.append(t.node)

    for t in outputs:
        visit(t)
    return order


def operation_order(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Any]:
    """Layers of the graph in Keras 3's order (`map_graph`): deepest first, ties by DFS discovery."""
    finished: set[int] = set()
    in_progress: set[int] = set()
    ordered_nodes: list[CallNode] = []
    op_index: dict[int, int] = {}
    ops: dict[int, Any] = {}
    input_ids = {id(t) for t in inputs}

    def visit(tensor: KerasTensor) -> None:
        node = tensor.node
        if node is None or id(node) in finished:
            return
        if not isinstance(node.layer, InputLayer) and id(tensor) in input_ids:
            finished.add(id(node))
            return
        if id(node) in in_progress:
            raise ValueError(f"Tensor {tensor} from layer {node.layer.name!r} is part of a cycle.")
        op_index.setdefault(id(node.layer), len(op_index))
        ops[id(node.layer)] = node.layer
        in_progress.add(id(node))
        if not isinstance(node.layer, InputLayer):
            for t in node.input_tensors():
                if isinstance(t, KerasTensor):
                    visit(t)
        finished.add(id(node))
        in_progress.discard(id(node))
        ordered_nodes.append(node)

    for t in outputs:
        visit(t)
    node_ids = {id(n) for n in ordered_nodes}
    node_depth: dict[int, int] = {}
    op_depth: dict[int, int] = {}
    for node in reversed(ordered_nodes):
        depth = node_depth.setdefault(id(node), 0)
        depth = max(depth, op_depth.get(id(node.layer), 0))
        op_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        for t in node.input_tensors():
            if isinstance(t, KerasTensor) and t.node is not None and id(t.node) in node_ids:
                node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    for t in inputs:
        layer = t.node.layer
        if id(layer) not in op_depth and isinstance(layer, InputLayer):
            op_depth[id(layer)] = 0
            op_index[id(layer)] = -1
            ops[id(layer)] = layer
    return sorted(ops.values(), key=lambda op: (-op_depth[id(op)], op_index[id(op)]))


def _graph_config(model: Functional) -> dict[str, Any]:
    """The layers with the calls made inside `model` as `inbound_nodes`, and the input/output tensors."""
    nodes_of: dict[int, list[CallNode]] = {}
    for node in model._nodes:
        nodes_of.setdefault(id(node.layer), []).append(node)
    for t in model.inputs:  # unused inputs still have their InputLayer node
        nodes_of.setdefault(id(t.node.layer), [t.node])
    position: dict[int, tuple[str, int]] = {}
    for layer_nodes in nodes_of.values():
        for i, node in enumerate(layer_nodes):
            position[id(node)] = (node.layer.name, i)

    def history(t: KerasTensor) -> list[Any]:
        name, index = position[id(t.node)]
        return [name, index, next(i for i, o in enumerate(flatten(t.node.outputs)) if o is t)]

    def tensor_config(x: Any) -> Any:
        if isinstance(x, KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(x.shape), "dtype": x.dtype, "keras_history": history(x)}}
        return serialize_keras_object(x)

    layer_configs = []
    for layer in model.operations:
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": [map_structure(tensor_config, node.inputs)] + [map_structure(tensor_config, a)
                                                                    for a in node.args],
             "kwargs": {k: map_structure(tensor_config, v) for k, v in node.kwargs.items()}}
            for node in nodes_of.get(id(layer), []) if not isinstance(layer, InputLayer)]
        layer_configs.append(entry)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layer_configs,
        "input_layers": _map_leaves(history, model._inputs_struct),
        "output_layers": _map_leaves(history, model._outputs_struct),
    }


def _map_leaves(fn: Any, struct: Any) -> Any:
    if isinstance(struct, KerasTensor):
        return fn(struct)
    if isinstance(struct, dict):
        return {k: _map_leaves(fn, v) for k, v in struct.items()}
    return [_map_leaves(fn, v) for v in struct]


class _NotReady(Exception):
    """A node refers to a layer call that has not been replayed yet."""


def _replay_graph(config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None) -> tuple[Any, Any]:
    """Recreate the layers of a functional config and call them as recorded; returns (inputs, outputs)."""
    created: dict[str, Any] = {}
    outputs_of: dict[str, list[Any]] = {}
    pending: dict[str, list[Any]] = {}
    order: list[str] = []
    for layer_data in config["layers"]:
        name = layer_data.get("name") or (layer_data.get("config") or {}).get("name")
        layer = deserialize_keras_object({k: v for k, v in layer_data.items() if k not in ("name", "inbound_nodes")},
                                         custom_objects)
        created[name] = layer
        order.append(name)
        outputs_of[name] = [layer.output] if isinstance(layer, InputLayer) else []
        pending[name] = list(layer_data.get("inbound_nodes") or [])

    def get_tensor(layer_name: str, node_index: int, tensor_index: int) -> Any:
        if layer_name not in created:
            raise ValueError(f"Invalid functional config: unknown layer {layer_name!r}.")
        calls = outputs_of[layer_name]
        if node_index >= len(calls):
            raise _NotReady
        return flatten(calls[node_index])[tensor_index]

    def revive(x: Any) -> Any:
        if isinstance(x, Mapping) and x.get("class_name") == "__keras_tensor__":
            return get_tensor(*x["config"]["keras_history"][:3])
        if isinstance(x, Mapping) and not ("class_name" in x and "config" in x):
            return {k: revive(v) for k, v in x.items()}
        if isinstance(x, list):
            return [revive(v) for v in x]
        return deserialize_keras_object(x, custom_objects)

    def call(name: str, node_data: Any) -> None:
        layer = created[name]
        if isinstance(node_data, list):  # tf.keras 2: [[layer, node, tensor, kwargs], ...]
            tensors = [get_tensor(*entry[:3]) for entry in node_data]
            kwargs = dict(node_data[0][3]) if node_data and len(node_data[0]) > 3 else {}
            args = [tensors[0] if len(tensors) == 1 else tensors]
        else:
            args = revive(list(node_data.get("args") or []))
            kwargs = revive(dict(node_data.get("kwargs") or {}))
        if not args:
            raise ValueError(f"Invalid functional config: a call of layer {name!r} has no inputs.")
        outputs_of[name].append(layer(*args, **kwargs))

    while any(pending.values()):
        progressed = False
        for name in order:
            while pending[name]:
                try:
                    call(name, pending[name][0])
                except _NotReady:
                    break
                pending[name].pop(0)
                progressed = True
        if not progressed:
            stuck = {n: len(p) for n, p in pending.items() if p}
            raise ValueError(f"Invalid functional model config: the graph has loops or disconnected nodes; "
                             f"unresolved calls: {stuck}.")

    def map_tensors(struct: Any) -> Any:
        if isinstance(struct, list) and len(struct) == 3 and isinstance(struct[0], str):
            return get_tensor(*struct)
        if isinstance(struct, dict):
            return {k: map_tensors(v) for k, v in struct.items()}
        return [map_tensors(v) for v in struct]

    inputs = map_tensors(config["input_layers"])
    outputs = map_tensors(config["output_layers"])
    if isinstance(inputs, list) and len(inputs) == 1 and _legacy_single(config["input_layers"]):
        inputs = inputs[0]
    if isinstance(outputs, list) and len(outputs) == 1 and _legacy_single(config["output_layers"]):
        outputs = outputs[0]
    return inputs, outputs


def _legacy_single(struct: Any) -> bool:
    """tf.keras 2 writes a single input as [[name, 0, 0]]: treat it as one tensor, not a list."""
    return isinstance(struct, list) and len(struct) == 1 and isinstance(struct[0], list)
