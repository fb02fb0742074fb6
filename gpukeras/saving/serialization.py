"""serialize_keras_object / deserialize_keras_object in Keras 3's config schema, with safe mode.

Objects become `{"module", "class_name", "config", "registered_name"}` dicts (plus `build_config`
and `compile_config` when the object has them); plain values stay as they are; NumPy arrays, bytes
and tensors use Keras 3's `__numpy__`/`__bytes__`/`__tensor__` markers.

This module sits below everything it serializes: it knows objects only through their methods
(`get_config`, `from_config`, `get_build_config`, `build_from_config`, `get_compile_config`,
`compile_from_config`) and finds built-in classes through the catalogues each gpukeras package
registers (`register_catalogue`). Loading never imports a module named in a file and, in safe mode,
refuses anything that would run code from the file (Python lambdas, Lambda layers, bytecode).
"""

from __future__ import annotations

import inspect
import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpukeras.keras_tensor import KerasTensor
from gpukeras.ops.core import convert_to_tensor
from gpukeras.saving import object_registry
from gpukeras.saving.limits import build_config_array
from gpukeras.tensor import Tensor

_state = threading.local()
_process_safe_mode: bool | None = None  # False after enable_unsafe_deserialization()


# ---------------------------------------------------------------------- safe mode
def in_safe_mode() -> bool | None:
    """The safe mode of the innermost open `SafeModeScope`; outside any, False once
    `enable_unsafe_deserialization()` was called, else None (each call's own `safe_mode` decides)."""
    scoped = getattr(_state, "safe_mode", None)
    return _process_safe_mode if scoped is None else scoped


def enable_unsafe_deserialization() -> None:
    """keras.config.enable_unsafe_deserialization: turn safe mode off for every later load in this process
    (Lambda layers over named functions load; gpukeras still never runs stored bytecode)."""
    global _process_safe_mode
    _process_safe_mode = False


class SafeModeScope:
    """Context manager fixing `safe_mode` for every nested deserialization call."""

    def __init__(self, safe_mode: bool = True):
        self.safe_mode = safe_mode

    def __enter__(self) -> SafeModeScope:
        self._previous = getattr(_state, "safe_mode", None)  # this thread's own scope, not the process default
        _state.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc: Any) -> None:
        _state.safe_mode = self._previous


def _lambda_error(what: str) -> ValueError:
    return ValueError(
        f"Requested the deserialization of {what}. This carries a potential risk of arbitrary code "
        "execution and is disallowed by default (safe_mode=True). If you trust the source of the file, "
        "pass `safe_mode=False` to the loading function.")


def find_unsafe(config: Any, bytecode_only: bool = False) -> str | None:
    """Describe the first part of `config` that would execute code from the file, or None.

    `bytecode_only`: look only for marshalled Python bytecode, not for Lambda layers as such.
    """
    if isinstance(config, Mapping):
        name = config.get("class_name")
        if name == "__lambda__":
            return "a Python lambda (`__lambda__`)"
        if name in ("Lambda", "TFOpLambda", "SlicingOpLambda") and not bytecode_only:
            return f"a `{name}` layer (Python code stored in the file)"
        if config.get("function_type") == "lambda" or (
                isinstance(config.get("function"), (list, tuple)) and config.get("function")):
            return "marshalled Python bytecode (a legacy Lambda layer)"
        for value in config.values():
            found = find_unsafe(value, bytecode_only)
            if found:
                return found
    elif isinstance(config, (list, tuple)):
        for value in config:
            found = find_unsafe(value, bytecode_only)
            if found:
                return found
    return None


def check_safe(config: Any, safe_mode: bool) -> None:
    """Refuse a config holding code: ValueError in safe mode (Lambda layers too); with safe mode off,
    NotImplementedError for marshalled bytecode, which gpukeras never runs (a Lambda over named
    functions then loads, its functions found by name)."""
    found = find_unsafe(config)
    if found is None:
        return
    if safe_mode:
        raise _lambda_error(found)
    found = find_unsafe(config, bytecode_only=True)
    if found is None:
        return
    raise NotImplementedError(f"The file contains {found}; gpukeras does not run Python bytecode stored in model "
                              "files, so a Lambda layer over a Python lambda cannot be loaded. Rebuild that part "
                              "as a custom layer class, or as a Lambda over a named function, and pass it in "
                              "`custom_objects`.")


# ---------------------------------------------------------------------- catalogues of built-ins
@dataclass(frozen=True)
class Catalogue:
    """Built-in objects of one Keras module (`keras.layers`, `keras.losses`, ...), as a package registers them.

    `base`: gpukeras objects of this class are written with `module`. `find_class(name)`: the built-in
    class for a config's class_name (None if unknown). `deserialize(config, custom_objects)`: the
    catalogue's own rebuild, used instead of `find_class` + `from_config` when given. `find_function`:
    a built-in function by name (activations, losses, metrics). `registered_name`: written even for
    built-ins (Keras 3 writes "Functional"); a callable gives it per class (Keras 3's operations: the class name).
    """

    module: str
    base: type | None = None
    find_class: Callable[[str], Any] | None = None
    deserialize: Callable[..., Any] | None = None
    find_function: Callable[[str], Any] | None = None
    registered_name: str | Callable[[type], str] | None = None


_catalogues: list[Catalogue] = []


def register_catalogue(catalogue: Catalogue) -> None:
    """Make a package's built-in objects known to serialization (called once by each package)."""
    _catalogues.append(catalogue)


def _normalized(module: str) -> str:
    return "keras." + module[len("keras.src."):] if module.startswith("keras.src.") else module


def _catalogues_for(module: str | None) -> list[Catalogue]:
    """Catalogues whose module is `module` or a parent of it, most specific first."""
    if module is None:
        return []
    module = _normalized(str(module))
    found = [c for c in _catalogues if (module + ".").startswith(_normalized(c.module) + ".")]
    return sorted(found, key=lambda c: -len(_normalized(c.module)))


def _registered_name(catalogue: Catalogue, cls: type) -> str | None:
    name = catalogue.registered_name
    return name(cls) if callable(name) else name


def _catalogue_of(cls: type) -> Catalogue | None:
    """The catalogue of the nearest registered base of a built-in gpukeras class."""
    if not cls.__module__.startswith("gpukeras."):
        return None
    by_base = {c.base: c for c in _catalogues if c.base is not None}
    return next((by_base[k] for k in cls.__mro__ if k in by_base), None)


# ---------------------------------------------------------------------- catalogue helpers
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
        "registered_name": None if builtin else object_registry.get_registered_name(cls),
    }


def unknown_name_error(kind: str, name: Any, valid: Any) -> ValueError:
    """A ValueError naming the bad identifier and listing the valid names."""
    names = ", ".join(sorted(valid))
    return ValueError(f"Unknown {kind} {name!r}. Valid names are: {names}.")


def lookup(kind: str, name: str, table: Mapping[str, Any],
           custom_objects: Mapping[str, Any] | None = None) -> Any:
    """`table[name]` (custom objects, scopes and the registry first), or a ValueError listing the valid names."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in table:
        return table[name]
    found = object_registry.find_custom_object(name)
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


# ---------------------------------------------------------------------- serialize
def _serialize_function(fn: Any) -> dict[str, Any]:
    if fn.__name__ == "<lambda>":
        raise ValueError(f"Cannot serialize the lambda {fn!r}: use a named function registered with "
                         "@gpukeras.saving.register_keras_serializable().")
    module = fn.__module__ or ""
    if module.startswith("gpukeras."):
        part = module.split(".")[1]
        public = {"activations": "keras.activations", "losses": "keras.losses", "metrics": "keras.metrics"}
        name = fn.__name__
        return {"module": public.get(part, "keras"), "class_name": "function", "config": name,
                "registered_name": name}
    registered = object_registry.get_registered_name(fn)
    return {"module": module, "class_name": "function", "config": registered, "registered_name": registered}


def serialize_keras_object(obj: Any) -> Any:
    """A JSON-ready config for `obj`, in Keras 3's format."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):  # a key of x[...] recorded in a functional graph
        return {"class_name": "__slice__", "config": {"start": serialize_keras_object(obj.start),
                                                      "stop": serialize_keras_object(obj.stop),
                                                      "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": str(obj.dtype)}}
    if isinstance(obj, np.generic) or (isinstance(obj, np.ndarray) and obj.ndim == 0):
        return obj.item()
    if isinstance(obj, KerasTensor):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(obj.shape), "dtype": obj.dtype, "keras_history": None}}
    if isinstance(obj, Tensor):
        value = obj.numpy()
        return {"class_name": "__tensor__", "config": {"value": value.tolist(), "dtype": str(value.dtype)}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if not callable(getattr(obj, "get_config", None)):
        raise TypeError(f"Cannot serialize {obj!r} of type {type(obj).__name__}: to be serializable, a class "
                        "must implement get_config().")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"get_config() of {obj!r} must return a dict, got {type(config).__name__}.")
    catalogue = _catalogue_of(type(obj))
    out = {
        "module": catalogue.module if catalogue else type(obj).__module__,
        "class_name": type(obj).__name__,
        "config": serialize_keras_object(config),
        "registered_name": _registered_name(catalogue, type(obj)) if catalogue
        else object_registry.get_registered_name(type(obj)),
    }
    build_config = obj.get_build_config() if hasattr(obj, "get_build_config") else None
    if build_config is not None:
        out["build_config"] = serialize_keras_object(build_config)
    compile_config = obj.get_compile_config() if hasattr(obj, "get_compile_config") else None
    if compile_config is not None:
        out["compile_config"] = serialize_keras_object(compile_config)
    return out


# ---------------------------------------------------------------------- deserialize
def resolve_class(config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None) -> Any:
    """The class (or function) a `{"module", "class_name", "registered_name"}` config names.

    Custom objects (argument, open scopes, registry) win; otherwise only gpukeras' own catalogues
    are searched: a module named in a file is never imported.
    """
    class_name = config.get("class_name")
    registered = config.get("registered_name")
    module = config.get("module")
    for key in (registered, class_name):
        found = object_registry.get_registered_object(key, custom_objects)
        if found is not None:
            return found
    if not isinstance(class_name, str):
        raise ValueError(f"A serialized object needs a string 'class_name', got {dict(config)!r}.")
    builtin = module is None or module == "keras" or str(module).startswith(("keras.", "tf_keras", "tensorflow"))
    if builtin:
        # tf.keras 2 writes no module; any other Keras module falls back to models, then layers.
        fallback = _catalogues_for("keras.models") + _catalogues_for("keras.layers")
        for catalogue in _catalogues_for(module) + fallback:
            found = catalogue.find_class(class_name) if catalogue.find_class else None
            if found is not None:
                return found
    hint = registered or class_name
    raise ValueError(f"Unknown object {class_name!r} (module {module!r}). If it is a custom class or function, "
                     f"pass it in `custom_objects={{'{hint}': ...}}` or decorate it with "
                     "@gpukeras.saving.register_keras_serializable().")


def _resolve_function(config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None) -> Any:
    name = config.get("config")
    for key in (config.get("registered_name"), name):
        found = object_registry.get_registered_object(key, custom_objects)
        if found is not None:
            return found
    if isinstance(name, str):
        catalogues = _catalogues_for(config.get("module")) or _catalogues
        for catalogue in catalogues:
            fn = catalogue.find_function(name) if catalogue.find_function else None
            if callable(fn) and not inspect.isclass(fn):
                return fn
    raise ValueError(f"Unknown function {name!r}: pass it in `custom_objects={{'{name}': ...}}` or register it "
                     "with @gpukeras.saving.register_keras_serializable().")


_MARKERS: dict[str, Callable[[Any], Any]] = {
    "__numpy__": lambda inner: build_config_array(inner, "a `__numpy__` config value"),
    "__tensor__": lambda inner: convert_to_tensor(build_config_array(inner, "a `__tensor__` config value")),
    "__bytes__": lambda inner: inner["value"].encode("utf-8"),
    "__ellipsis__": lambda inner: Ellipsis,
    "__keras_tensor__": lambda inner: KerasTensor(inner["shape"], inner.get("dtype", "float32")),
}


def deserialize_keras_object(config: Any, custom_objects: Mapping[str, Any] | None = None,
                             safe_mode: bool = True, **kwargs: Any) -> Any:
    """Rebuild the object a Keras 3 config describes (inverse of `serialize_keras_object`)."""
    scoped = in_safe_mode()
    safe_mode = scoped if scoped is not None else safe_mode
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        found = object_registry.get_registered_object(config, custom_objects)
        return found if found is not None else config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode) for x in config]
    if not isinstance(config, Mapping):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode) for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if class_name == "__lambda__":
        check_safe(config, safe_mode)
    if class_name in _MARKERS:
        return _MARKERS[class_name](inner)
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner.get(k), custom_objects, safe_mode)
                       for k in ("start", "stop", "step")))
    if class_name in ("__typespec__", "__tuple__"):
        raise NotImplementedError(f"Cannot deserialize a {class_name} entry.")
    if class_name == "function":
        return _resolve_function(config, custom_objects)
    with object_registry.CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
        check_safe(config, safe_mode)
        catalogue = next((c for c in _catalogues_for(config.get("module")) if c.deserialize), None)
        if catalogue is not None and object_registry.get_registered_object(
                config.get("registered_name") or class_name, custom_objects) is None:
            return catalogue.deserialize(dict(config), custom_objects=dict(custom_objects or {}))
        return _instantiate(config, resolve_class(config, custom_objects), custom_objects)


def _instantiate(config: Mapping[str, Any], target: Any, custom_objects: Mapping[str, Any] | None) -> Any:
    """`target.from_config(...)`, then its build and compile configs (what a saved model needs)."""
    if not isinstance(target, type):
        return target  # a registered function
    inner = dict(config.get("config") or {})
    from_config = getattr(target, "from_config", None)
    try:
        if from_config is None:
            instance = target(**inner)
        elif "custom_objects" in inspect.signature(from_config).parameters:
            instance = from_config(inner, custom_objects=custom_objects)
        else:
            instance = from_config(inner)
    except TypeError as e:
        raise TypeError(f"{target.__name__} could not be rebuilt from its config {inner!r}: {e}") from e
    build_config = config.get("build_config")
    if isinstance(build_config, Mapping) and hasattr(instance, "build_from_config") and not instance.built:
        instance.build_from_config(build_config)
    compile_config = config.get("compile_config")
    if compile_config and hasattr(instance, "compile_from_config"):
        instance.compile_from_config(compile_config)
    return instance
