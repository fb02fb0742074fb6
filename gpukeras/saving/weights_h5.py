"""Keras 3's HDF5 weights layout (`model.weights.h5` inside `.keras`, and `*.weights.h5` files).

Each object with state gets a group `<path>/vars` (attribute `name`: the object's name) holding
datasets `"0"`, `"1"`, ... in the object's variable order (trainable then non-trainable, in
creation order). Paths are not layer names: a model's layers sit under `layers/<class_in_snake_case>`
numbered per class (`dense`, `dense_1`, `input_layer`, ...); the optimizer under `optimizer`; the
model itself at the root `vars`; a layer's sub-layers under `<path>/<attribute name>`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

_FRAMEWORK_ATTRS = {
    "_layers", "_variables", "_losses", "_owner", "_input_layer", "_stack", "_nodes", "_inputs_struct",
    "_outputs_struct", "_trainable_cache", "_compiled_loss", "_compiled_metrics", "_loss_tracker",
    "_output_loss_trackers", "_initial_weights", "_always_frozen", "_takes_training", "_output_shapes",
    "inputs", "outputs", "input", "output", "history", "optimizer", "activity_regularizer",
}


def to_snake_case(name: str) -> str:
    """Keras 3's `naming.to_snake_case` (Conv2D → conv2d, MaxPooling2D → max_pooling2d)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def own_variables(obj: Any) -> list[Any]:
    """The variables an object stores itself, in Keras 3's order."""
    from gpukeras.layers.layer import Layer
    from gpukeras.optimizers.optimizer import Optimizer

    if isinstance(obj, Optimizer):
        return list(obj.variables)
    if isinstance(obj, Layer):
        frozen = obj._always_frozen
        variables = list(obj._variables)
        return [v for v in variables if id(v) not in frozen] + [v for v in variables if id(v) in frozen]
    return []


def _children(obj: Any) -> Iterator[tuple[str, Any]]:
    """(attribute name, child) pairs Keras 3's saver visits: a model's layers first, then attributes."""
    from gpukeras.layers.layer import Layer
    from gpukeras.models.functional import Functional
    from gpukeras.models.model import Model
    from gpukeras.models.sequential import Sequential
    from gpukeras.optimizers.optimizer import Optimizer

    if not isinstance(obj, Layer):
        return
    if isinstance(obj, (Sequential, Functional)):
        yield "layers", obj.layers
    else:
        attrs = vars(obj)
        for attr in sorted(attrs, key=lambda a: f"~{a}" if a.startswith("_") else a):
            if attr.startswith("__") or attr in _FRAMEWORK_ATTRS:
                continue
            value = attrs[attr]
            if isinstance(value, Layer) or (isinstance(value, (list, tuple, dict)) and any(
                    isinstance(v, Layer) for v in (value.values() if isinstance(value, dict) else value))):
                yield attr, value
    if isinstance(obj, Model) and isinstance(getattr(obj, "optimizer", None), Optimizer) and obj.compiled:
        yield "optimizer", obj.optimizer


def walk(obj: Any, path: str = "", visited: set[int] | None = None) -> Iterator[tuple[str, Any]]:
    """Every (h5 path, saveable object) under `obj`, in Keras 3's order; shared objects once."""
    from gpukeras.layers.layer import Layer

    visited = set() if visited is None else visited
    if id(obj) in visited:
        return
    visited.add(id(obj))
    yield path, obj
    for attr, child in _children(obj):
        child_path = f"{path}/{attr}" if path else attr
        if isinstance(child, (list, tuple, dict)):
            used: dict[str, int] = {}
            for item in (child.values() if isinstance(child, dict) else child):
                if not isinstance(item, Layer):
                    continue
                name = to_snake_case(type(item).__name__)
                if name in used:
                    used[name] += 1
                    name = f"{name}_{used[name]}"
                else:
                    used[name] = 0
                yield from walk(item, f"{child_path}/{name}", visited)
        else:
            yield from walk(child, child_path, visited)


def save_weights_to_h5(model: Any, h5file: Any) -> None:
    """Write every variable of `model` (and its optimizer) into an open, empty h5py File."""
    for path, obj in walk(model):
        group = h5file.create_group(f"{path}/vars" if path else "vars")
        name = getattr(obj, "name", None)
        if isinstance(name, str):
            group.attrs["name"] = name
        for i, var in enumerate(own_variables(obj)):
            group.create_dataset(str(i), data=np.asarray(var.numpy()))


def _read_group(h5file: Any, path: str) -> dict[str, np.ndarray]:
    key = f"{path}/vars" if path else "vars"
    if key not in h5file:
        if path and path.startswith("layers") and "_layer_checkpoint_dependencies" in h5file:
            key = key.replace("layers", "_layer_checkpoint_dependencies", 1)
        if key not in h5file:
            return {}
    group = h5file[key]
    return {k: np.asarray(group[k]) for k in group.keys()}


def load_weights_from_h5(model: Any, h5file: Any, skip_mismatch: bool = False, source: str = "") -> None:
    """Assign the variables stored in an open h5py File (Keras 3 layout) to `model` and its optimizer."""
    from gpukeras.optimizers.optimizer import Optimizer

    where = f" from {source}" if source else ""
    for path, obj in walk(model):
        stored = _read_group(h5file, path)
        if isinstance(obj, Optimizer) and not obj.built and len(stored) > len(obj.variables):
            obj.build(model.trainable_weights)
        variables = own_variables(obj)
        label = f"{type(obj).__name__} {getattr(obj, 'name', '?')!r} (h5 path {path or '/'}/vars)"
        try:
            if len(stored) != len(variables):
                raise ValueError(f"{label} expects {len(variables)} variables, but the file holds {len(stored)}.")
            arrays = [stored[str(i)] for i in range(len(variables))]
            for var, arr in zip(variables, arrays):
                if tuple(arr.shape) != tuple(var.shape):
                    raise ValueError(f"{label}: variable {i_name(var)} has shape {tuple(var.shape)}, the file "
                                     f"holds shape {tuple(arr.shape)}.")
        except (ValueError, KeyError) as e:
            if isinstance(obj, Optimizer) and not skip_mismatch:
                warnings.warn(f"Skipping loading the optimizer state{where}: {e}", stacklevel=3)
                continue
            if skip_mismatch:
                warnings.warn(f"Skipping weights{where}: {e}", stacklevel=3)
                continue
            raise ValueError(f"Cannot load weights{where}: {e}") from None
        for var, arr in zip(variables, arrays):
            var.assign(arr)


def i_name(var: Any) -> str:
    return repr(getattr(var, "path", None) or getattr(var, "name", "?"))
