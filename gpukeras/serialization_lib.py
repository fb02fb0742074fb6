"""Keras-3-style config dicts and name lookups shared by the get/serialize helpers of each catalogue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def serialize_object(obj: Any, module: str) -> dict[str, Any] | None:
    """Keras's `{"module", "class_name", "config", "registered_name"}` dict for an object with get_config."""
    if obj is None:
        return None
    if not hasattr(obj, "get_config"):
        raise ValueError(f"Cannot serialize {obj!r}: it has no get_config() method.")
    cls = type(obj)
    builtin = cls.__module__.startswith("gpukeras.")
    return {
        "module": module if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": obj.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def unknown_name_error(kind: str, name: Any, valid: Any) -> ValueError:
    """A ValueError naming the bad identifier and listing the valid names."""
    names = ", ".join(sorted(valid))
    return ValueError(f"Unknown {kind} {name!r}. Valid names are: {names}.")


def lookup(kind: str, name: str, table: Mapping[str, Any],
           custom_objects: Mapping[str, Any] | None = None) -> Any:
    """`table[name]` (custom objects first), or a ValueError listing the valid names."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in table:
        return table[name]
    from gpukeras.saving.object_registry import find_custom_object  # registry and custom_object_scope

    found = find_custom_object(name)
    if found is not None:
        return found
    raise unknown_name_error(kind, name, table)


def deserialize_object(kind: str, config: Mapping[str, Any], table: Mapping[str, Any],
                       custom_objects: Mapping[str, Any] | None = None) -> Any:
    """Rebuild an object from a Keras config dict `{"class_name", "config"}` via its class's from_config."""
    if "class_name" not in config:
        raise ValueError(f"A serialized {kind} must be a dict with a 'class_name' key, got {dict(config)!r}.")
    cls = lookup(kind, config["class_name"], table, custom_objects)
    inner = config.get("config") or {}
    if isinstance(cls, type):
        from_config: Callable[..., Any] = getattr(cls, "from_config", None) or (lambda c: cls(**c))
        return from_config(dict(inner)) if isinstance(inner, Mapping) else cls()
    return cls
