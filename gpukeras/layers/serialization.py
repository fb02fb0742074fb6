"""Layer configs in Keras 3's serialization schema ({module, class_name, config, registered_name})."""

from __future__ import annotations

from typing import Any

from gpukeras.layers.layer import Layer


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """A layer as Keras 3 writes it in config.json."""
    builtin = type(layer).__module__.startswith("gpukeras.")
    out: dict[str, Any] = {
        "module": "keras.layers" if builtin else type(layer).__module__,
        "class_name": type(layer).__name__,
        "config": layer.get_config(),
        "registered_name": None if builtin else type(layer).__name__,
    }
    if layer._build_shape is not None:
        out["build_config"] = {"input_shape": _listify(layer._build_shape)}
    return out


def deserialize_layer(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Layer:
    """Rebuild a layer from `serialize_layer`'s output (custom classes via `custom_objects`)."""
    from gpukeras import layers

    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or getattr(layers, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"Unknown layer class {name!r}: pass it in custom_objects={{'{name}': ...}}.")
    return cls.from_config(dict(config.get("config", {})))


def _listify(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)):
        return [_listify(s) for s in shape]
    return shape
