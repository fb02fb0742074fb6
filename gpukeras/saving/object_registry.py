"""Custom objects: the `register_keras_serializable` registry and `custom_object_scope`.

Registered classes and functions are stored under Keras 3's `"package>name"` key; that key is
what configs carry in `registered_name`, and what loading looks up.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_ALIASES: dict[Any, Any] = {}  # a class gpukeras derived from a user's class -> that class
_scope = threading.local()


def _scopes() -> list[dict[str, Any]]:
    if not hasattr(_scope, "stack"):
        _scope.stack = []
    return _scope.stack


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable[[Any], Any]:
    """Decorator: register a class or function under `"package>name"` so saved models can find it."""

    def decorator(arg: Any) -> Any:
        class_name = name if name is not None else getattr(arg, "__name__", None)
        if not class_name:
            raise ValueError(f"Cannot register {arg!r}: it has no __name__; pass `name=`.")
        if inspect.isclass(arg) and not callable(getattr(arg, "get_config", None)):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        registered_name = f"{package}>{class_name}"
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def register_alias(alias: Any, original: Any) -> None:
    """Save `alias` under whatever name `original` is (or will be) registered with."""
    _ALIASES[alias] = original


def get_registered_name(obj: Any) -> str:
    """`"package>name"` for a registered object, else its `__name__`."""
    obj = _ALIASES.get(obj, obj)
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str | None, custom_objects: Mapping[str, Any] | None = None,
                          module_objects: Mapping[str, Any] | None = None) -> Any:
    """The object registered (or passed in a scope / `custom_objects`) under `name`, else None."""
    if not name:
        return None
    for table in (custom_objects, *reversed(_scopes()), _GLOBAL_CUSTOM_OBJECTS, module_objects):
        if table and name in table:
            return table[name]
    return None


def get_custom_objects() -> dict[str, Any]:
    """The global registry (a live dict, as in Keras): add entries to make names loadable."""
    return _GLOBAL_CUSTOM_OBJECTS


def active_custom_objects() -> dict[str, Any]:
    """Everything visible now: the global registry overlaid by the open scopes (innermost wins)."""
    merged = dict(_GLOBAL_CUSTOM_OBJECTS)
    for table in _scopes():
        merged.update(table)
    return merged


class CustomObjectScope:
    """`with custom_object_scope({"MyLayer": MyLayer}):` makes names visible to deserialization."""

    def __init__(self, *custom_objects: Mapping[str, Any] | None):
        self.custom_objects: dict[str, Any] = {}
        for objects in custom_objects:
            self.custom_objects.update(objects or {})

    def __enter__(self) -> CustomObjectScope:
        _scopes().append(self.custom_objects)
        return self

    def __exit__(self, *exc: Any) -> None:
        _scopes().pop()


custom_object_scope = CustomObjectScope


def find_custom_object(name: str) -> Any:
    """A registered / scoped object by its key, or by bare name (`"cube"` finds `"Tests>cube"`), else None."""
    found = get_registered_object(name)
    if found is not None or not isinstance(name, str) or ">" in name:
        return found
    suffix = f">{name}"
    for key, value in active_custom_objects().items():
        if key.endswith(suffix):
            return value
    return None
