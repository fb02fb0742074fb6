"""tf.keras 2's whole-model `.h5` files (and `save_weights("x.h5")` weight files).

Layout: root attributes `model_config` (JSON `{"class_name", "config"}`), `training_config`
(JSON, optional), `keras_version`, `backend`; group `model_weights` with attribute `layer_names`
and, per layer, a group with attribute `weight_names` whose datasets sit at
`model_weights/<layer>/<weight name>` (e.g. `dense/kernel:0`), trainable weights first.
A weights-only file has the `layer_names` layout at its root.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from gpukeras.saving import object_registry
from gpukeras.saving.h5_reader import StoredArray, lookup, open_dataset, read_attribute, read_pending
from gpukeras.saving.keras_archive import atomic_write
from gpukeras.saving.limits import CONFIG_MAX_BYTES, parse_config_json
from gpukeras.saving.serialization import SafeModeScope, check_safe, deserialize_keras_object, serialize_keras_object
from gpukeras.saving.weights_h5 import dataset_max_bytes
from gpukeras.tensor import assignment_batch
from gpukeras.version import __version__


def _attr_str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def _names(group: Any, attr: str, where: str) -> list[str]:
    """A list-of-names attribute (`layer_names`, `weight_names`), its size checked before it is read."""
    value = read_attribute(group, attr, where, CONFIG_MAX_BYTES)
    return [] if value is None else [_attr_str(n) for n in np.atleast_1d(value)]


def layer_weights(layer: Any) -> list[Any]:
    """A layer's weights in tf.keras 2's saved order (trainable first, then non-trainable)."""
    if layer._layers:
        return [w for w in layer.weights if w.trainable] + [w for w in layer.weights if not w.trainable]
    return layer._own_saved_variables()


def load_legacy_weights(model: Any, h5file: Any, skip_mismatch: bool = False, by_name: bool = False,
                        source: str = "") -> None:
    """Assign weights from a tf.keras 2 group (`model_weights` or a weights-only file's root).

    All or nothing: every layer is checked against the file before any weight is written.
    """
    where = repr(source) if source else "the weights file"
    found = lookup(h5file, "model_weights", where)
    group = found if isinstance(found, h5py.Group) else h5file
    if "layer_names" not in group.attrs:
        raise ValueError(f"{source!r} is not a Keras HDF5 weights file: no 'layer_names' attribute.")
    max_bytes = dataset_max_bytes(model)
    saved = []
    for name in _names(group, "layer_names", where):
        layer_group = lookup(group, name, where)
        weight_names = _names(layer_group, "weight_names", where) if isinstance(layer_group, h5py.Group) else []
        if weight_names:
            saved.append((name, [_stored(layer_group, w, where, max_bytes) for w in weight_names]))
    layers = [layer for layer in model.layers if layer_weights(layer)]
    if by_name:
        by = {layer.name: layer for layer in layers}
        pairs = [(by.get(name), name, arrays) for name, arrays in saved]
    else:
        if len(saved) != len(layers):
            raise ValueError(f"Cannot load weights from {source!r}: the file holds weights for {len(saved)} layers "
                             f"but the model has {len(layers)} layers with weights.")
        pairs = [(layer, name, arrays) for layer, (name, arrays) in zip(layers, saved)]
    with assignment_batch() as batch:
        for layer, name, arrays in pairs:
            if layer is not None:
                _check_layer(layer, name, arrays, skip_mismatch, source)
        read_pending(batch.writes)
    batch.commit()


def _stored(group: Any, weight_name: str, where: str, max_bytes: int) -> StoredArray:
    """The checked, unread dataset a layer's `weight_names` entry names."""
    found = open_dataset(group, weight_name, where, max_bytes)
    if found is None:
        raise ValueError(f"Cannot load weights from {where}: the layer group {group.name!r} names a weight "
                         f"{weight_name!r} that it does not hold (corrupt file?).")
    return found


def _check_layer(layer: Any, name: str, arrays: list[StoredArray], skip_mismatch: bool, source: str) -> None:
    """Queue one layer's writes in the open assignment batch, or skip / refuse it on a mismatch."""
    variables = layer_weights(layer)
    problem = None
    if len(variables) != len(arrays):
        problem = f"layer {layer.name!r} expects {len(variables)} weights, the file has {len(arrays)} for {name!r}"
    else:
        for var, arr in zip(variables, arrays):
            if tuple(var.shape) != tuple(arr.shape):
                problem = (f"weight {var.path!r} has shape {tuple(var.shape)}, the file has {tuple(arr.shape)} "
                           f"for layer {name!r} (dataset {arr.name!r})")
                break
    if problem:
        if not skip_mismatch:
            raise ValueError(f"Cannot load weights from {source!r}: {problem}.")
        warnings.warn(f"Skipping loading weights for layer {layer.name!r}: {problem}.", stacklevel=3)
        return
    for var, arr in zip(variables, arrays):
        var.assign(arr)


def load_legacy_model(filepath: str, custom_objects: Mapping[str, Any] | None = None, compile: bool = True,
                      safe_mode: bool = True) -> Any:
    """Rebuild, fill and (optionally) compile a model from a tf.keras 2 whole-model `.h5` file."""
    try:
        f = h5py.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"Cannot open {filepath!r} as an HDF5 file (corrupt or truncated?): {e}") from e
    with f:
        raw = read_attribute(f, "model_config", repr(filepath), CONFIG_MAX_BYTES)
        if raw is None:
            raise ValueError(f"No model config found in {filepath!r}: it holds weights only; build the model and "
                             "call model.load_weights() instead.")
        config = parse_config_json(_attr_str(raw), f"the model_config attribute of {filepath!r}")
        check_safe(config, safe_mode)
        with object_registry.CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
            model = deserialize_keras_object(config, custom_objects, safe_mode)
            load_legacy_weights(model, f, source=filepath)
            training = read_attribute(f, "training_config", repr(filepath), CONFIG_MAX_BYTES)
            if compile and training is not None:
                training = parse_config_json(_attr_str(training), f"the training_config attribute of {filepath!r}")
                _compile_from_training_config(model, training, custom_objects)
    return model


def _compile_from_training_config(model: Any, training: Mapping[str, Any],
                                  custom_objects: Mapping[str, Any] | None) -> None:
    try:
        opt_config = dict(training.get("optimizer_config") or {"class_name": "RMSprop", "config": {}})
        inner = {k: v for k, v in dict(opt_config.get("config") or {}).items()
                 if k not in ("jit_compile", "is_legacy_optimizer", "decay")}
        if "lr" in inner:
            inner.setdefault("learning_rate", inner.pop("lr"))
        optimizer = deserialize_keras_object({"module": "keras.optimizers", "class_name": opt_config["class_name"],
                                              "config": inner}, custom_objects)

        def plain(value: Any) -> Any:  # tf.keras 2 wraps metrics per output in lists
            if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
                value = value[0]
            if isinstance(value, list):
                return [plain(v) for v in value]
            if isinstance(value, dict) and value.get("class_name") == "MeanMetricWrapper":
                return (value.get("config") or {}).get("name")  # the name the user passed, e.g. "accuracy"
            return deserialize_keras_object(value, custom_objects)

        model.compile(optimizer=optimizer, loss=plain(training.get("loss")), metrics=plain(training.get("metrics")),
                      loss_weights=training.get("loss_weights"),
                      weighted_metrics=plain(training.get("weighted_metrics")))
    except Exception as e:  # noqa: BLE001 - a model without its compile state is still usable
        warnings.warn(f"The model was loaded but could not be compiled from the file's training config "
                      f"({type(e).__name__}: {e}). Compile it yourself before training.", stacklevel=3)


# ---------------------------------------------------------------------- writing
def _legacy_functional(config: dict[str, Any]) -> dict[str, Any]:
    """Keras 3 inbound_nodes → tf.keras 2's `[[[layer, node, tensor, kwargs], ...]]` lists."""
    def tensors(x: Any) -> list[Any]:
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            return [list(x["config"]["keras_history"])]
        if isinstance(x, list):
            return [t for v in x for t in tensors(v)]
        return []

    for layer in config["layers"]:
        layer["inbound_nodes"] = [[h + [node.get("kwargs") or {}] for h in tensors(node.get("args", [])[:1])]
                                  for node in layer.get("inbound_nodes", [])]
    for key in ("input_layers", "output_layers"):
        value = config[key]
        if value and isinstance(value[0], str):
            config[key] = [value]
    return config


def save_legacy_model(model: Any, filepath: str, include_optimizer: bool = True) -> None:
    """Write a tf.keras-2-style whole-model `.h5` file (atomically)."""
    full = serialize_keras_object(model)
    compile_config = full.pop("compile_config", None)
    full.pop("build_config", None)
    if "input_layers" in full["config"]:  # a functional graph
        full["config"] = _legacy_functional(full["config"])
    model_config = json.dumps(full)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["keras_version"] = __version__
        f.attrs["backend"] = "gpukeras"
        f.attrs["model_config"] = model_config
        if compile_config and include_optimizer:
            f.attrs["training_config"] = json.dumps({
                "loss": compile_config["loss"], "metrics": compile_config["metrics"],
                "weighted_metrics": compile_config["weighted_metrics"],
                "loss_weights": compile_config["loss_weights"],
                "optimizer_config": {"class_name": compile_config["optimizer"]["class_name"],
                                     "config": compile_config["optimizer"]["config"]}})
        save_legacy_weights(model, f.create_group("model_weights"))
    atomic_write(filepath, lambda out: out.write(buffer.getvalue()))


def save_legacy_weights(model: Any, group: Any) -> None:
    """tf.keras 2's `layer_names` / `weight_names` layout into an h5py group."""
    names = [layer.name for layer in model.layers]
    group.attrs["layer_names"] = np.array([n.encode("utf-8") for n in names], dtype="S")  # as tf.keras 2
    for layer in model.layers:
        sub = group.create_group(layer.name)
        weights = layer_weights(layer)
        weight_names = []
        for var in weights:
            name = f"{layer.name}/{var.name}:0"
            while name in weight_names:
                name = name.replace(":0", "_1:0")
            weight_names.append(name)
            sub.create_dataset(name, data=np.asarray(var.numpy()))
        sub.attrs["weight_names"] = np.array([n.encode("utf-8") for n in weight_names], dtype="S")
