"""Model ↔ config dicts: the functional graph in Keras 3's `inbound_nodes` schema, compile configs.

A functional config lists every layer once (in Keras 3's `operations` order) with the calls made
in the model as `inbound_nodes`: `{"args": [...], "kwargs": {...}}`, where a symbolic input is
`{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history": [layer, node, index]}}`.
`node` counts only that layer's calls inside this model. tf.keras 2's list form
`[[["layer", node, index, {kwargs}], ...]]` is read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gpukeras.layers.symbolic import CallNode, InputLayer, KerasTensor, flatten, map_structure


# ---------------------------------------------------------------------- graph order
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


# ---------------------------------------------------------------------- functional config
def functional_get_config(model: Any) -> dict[str, Any]:
    """Keras 3's Functional config: layers with `inbound_nodes`, `input_layers`, `output_layers`."""
    from gpukeras.layers.serialization import serialize_layer
    from gpukeras.saving.serialization import serialize_keras_object

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
    for layer in model.layers:
        entry = serialize_layer(layer)
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


def functional_from_config(cls: type, config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
                           ) -> Any:
    """Rebuild a functional model by replaying the recorded layer calls (Keras 3's algorithm)."""
    from gpukeras.layers.serialization import deserialize_layer
    from gpukeras.saving.serialization import deserialize_keras_object

    config = dict(config)
    created: dict[str, Any] = {}
    outputs_of: dict[str, list[Any]] = {}
    pending: dict[str, list[Any]] = {}
    order: list[str] = []
    for layer_data in config["layers"]:
        name = layer_data.get("name") or (layer_data.get("config") or {}).get("name")
        layer = deserialize_layer({k: v for k, v in layer_data.items() if k not in ("name", "inbound_nodes")},
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
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True))


def _legacy_single(struct: Any) -> bool:
    """tf.keras 2 writes a single input as [[name, 0, 0]]: treat it as one tensor, not a list."""
    return isinstance(struct, list) and len(struct) == 1 and isinstance(struct[0], list)


# ---------------------------------------------------------------------- whole models
def serialize_model(model: Any) -> dict[str, Any]:
    """The config.json document for `model` (with build and compile configs)."""
    from gpukeras.layers.serialization import serialize_layer
    from gpukeras.models.sequential import Sequential

    out = serialize_layer(model)
    if isinstance(model, Sequential) and out.get("build_config"):
        out["config"]["build_input_shape"] = out["build_config"]["input_shape"]
    return out


def get_compile_config(model: Any) -> dict[str, Any] | None:
    """Keras 3's compile config: the resolved optimizer and the loss/metrics as they were passed."""
    from gpukeras.saving.serialization import serialize_keras_object

    if not getattr(model, "compiled", False):
        return None
    args = dict(getattr(model, "_compile_args", {}) or {})
    jit = args.get("jit_compile", "auto")
    return {
        "optimizer": serialize_keras_object(model.optimizer),
        "loss": serialize_keras_object(args.get("loss")),
        "loss_weights": serialize_keras_object(args.get("loss_weights")),
        "metrics": serialize_keras_object(args.get("metrics")),
        "weighted_metrics": serialize_keras_object(args.get("weighted_metrics")),
        "run_eagerly": bool(args.get("run_eagerly", False)),
        "steps_per_execution": int(args.get("steps_per_execution", 1)),
        "jit_compile": jit if isinstance(jit, bool) else True,
    }


def compile_from_config(model: Any, config: Mapping[str, Any]) -> None:
    """Compile `model` from a compile config and build its optimizer (so its state can be loaded)."""
    from gpukeras.saving.serialization import deserialize_keras_object

    config = deserialize_keras_object(dict(config))
    known = {"optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly",
             "steps_per_execution", "jit_compile"}
    model.compile(**{k: v for k, v in config.items() if k in known})
    if model.built and model.trainable_weights:
        model.optimizer.build(model.trainable_weights)
