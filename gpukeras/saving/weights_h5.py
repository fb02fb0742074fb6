"""Keras 3's HDF5 weights layout (`model.weights.h5` inside `.keras`, and `*.weights.h5` files).

Each object with state gets a group `<path>/vars` (attribute `name`: the object's name) holding
datasets `"0"`, `"1"`, ... as its `save_own_variables` writes them. Paths are not layer names: a
model's layers sit under `layers/<class_in_snake_case>` numbered per class (`dense`, `dense_1`,
`input_layer`, ...); the optimizer under `optimizer`; the model itself at the root `vars`; a
layer's sub-layers under `<path>/<attribute name>`. The objects say what they hold
(`_saveable_children`, `save_own_variables`, `load_own_variables`); nothing here knows a class.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np

from gpukeras.naming import to_snake_case
from gpukeras.saving.h5_reader import VariableStore, lookup_id, read_pending
from gpukeras.saving.limits import UnsafeFileError, nbytes
from gpukeras.tensor import assignment_batch


def walk(obj: Any, path: str = "", visited: set[int] | None = None) -> Iterator[tuple[str, Any]]:
    """Every (h5 path, saveable object) under `obj`, in Keras 3's order; shared objects once."""
    visited = set() if visited is None else visited
    if id(obj) in visited:
        return
    visited.add(id(obj))
    yield path, obj
    children = obj._saveable_children() if hasattr(obj, "_saveable_children") else ()
    for attr, child in children:
        child_path = f"{path}/{attr}" if path else attr
        if isinstance(child, (list, tuple, dict)):
            used: dict[str, int] = {}
            for item in (child.values() if isinstance(child, dict) else child):
                if not hasattr(item, "save_own_variables"):
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
        store: dict[str, Any] = {}
        obj.save_own_variables(store)
        for key, value in store.items():
            group.create_dataset(key, data=np.asarray(value))


def variable_store(h5file: Any, path: str, where: str, max_bytes: int) -> VariableStore:
    """The checked, unread datasets of `<path>/vars` (an empty store when the file has none)."""
    key = f"{path}/vars" if path else "vars"
    found = lookup_id(h5file.id, "/", key, where)
    if found is None and path.startswith("layers") and lookup_id(h5file.id, "/", "_layer_checkpoint_dependencies",
                                                                 where):
        found = lookup_id(h5file.id, "/", key.replace("layers", "_layer_checkpoint_dependencies", 1), where)
    if found is None:
        return VariableStore(None, key, where, max_bytes)
    if not isinstance(found[0], h5py.h5g.GroupID):
        raise UnsafeFileError(f"Refusing to load {where}: {key!r} should be a group, it is not.")
    return VariableStore(found[0], found[1], where, max_bytes)


def variable_bytes(model: Any) -> int:
    """Bytes the model's variables take (from their shapes and dtypes; nothing is copied)."""
    return sum(nbytes(tuple(v.shape), np.dtype(v.dtype).itemsize) for v in model.weights)


def dataset_max_bytes(model: Any) -> int:
    """The most bytes one stored dataset may take for `model`: its largest variable, in float64, or 1 MiB."""
    largest = max((math.prod(int(d) for d in v.shape) for v in model.weights), default=0)
    return max(1 << 20, 8 * largest)


def check_buildable(model: Any, source: str) -> None:
    """Refuse to load into a model that has no weights yet because it was never built."""
    if not model.built and not model.weights:
        raise ValueError(
            f"Cannot load weights from {source!r} into model {model.name!r}: the model is not built yet, so it "
            "has no weights to fill. Build it first: call it on a batch of data (model(x)), call "
            "model.build(input_shape), or start it with keras.Input(shape=...).")


def load_weights_from_h5(model: Any, h5file: Any, skip_mismatch: bool = False, source: str = "") -> None:
    """Assign the variables stored in an open h5py File (Keras 3 layout) to `model` and its optimizer.

    All or nothing: every object's variables are checked against the file before any is written.
    """
    where = f" from {source}" if source else ""
    file = repr(source) if source else "the weights file"
    max_bytes = dataset_max_bytes(model)
    with assignment_batch() as batch:
        for path, obj in walk(model):
            stored = variable_store(h5file, path, file, max_bytes)
            is_optimizer = hasattr(obj, "apply_gradients")
            if is_optimizer and not obj.built and len(stored) > len(obj.variables):
                obj.build(model.trainable_weights)
            writes = len(batch.writes)
            try:
                obj.load_own_variables(stored)
            except UnsafeFileError:
                raise  # the file breaks a loading rule: never skipped
            except (ValueError, KeyError) as e:
                del batch.writes[writes:]
                h5_path = f"{path}/vars" if path else "vars"
                if stored.last_key is not None:
                    h5_path = f"{h5_path}/{stored.last_key}"
                label = f"{type(obj).__name__} {getattr(obj, 'name', '?')!r} (h5 path {h5_path})"
                if is_optimizer and not skip_mismatch:
                    warnings.warn(f"Skipping loading the optimizer state{where}: {label}: {e}", stacklevel=3)
                    continue
                if skip_mismatch:
                    warnings.warn(f"Skipping weights{where}: {label}: {e}", stacklevel=3)
                    continue
                raise ValueError(f"Cannot load weights{where}: {label}: {e}") from None
        read_pending(batch.writes)
    batch.commit()
