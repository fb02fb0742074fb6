"""serialize_keras_object / deserialize_keras_object in Keras 3's config schema, with safe mode.

Objects become `{"module", "class_name", "config", "registered_name"}` dicts; plain values stay
as they are; NumPy arrays, bytes and tensors use Keras 3's `__numpy__`/`__bytes__`/`__tensor__`
markers. Loading never imports a module named in a file and, in safe mode, refuses anything that
would run code from the file (Python lambdas, Lambda layers, marshalled bytecode).
"""

from __future__ import annotations

import importlib
import inspect
import threading
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from gpukeras.saving import object_registry

_state = threading.local()

# Keras 3 module prefix → gpukeras catalogue module (each has get/serialize/deserialize).
_CATALOGUES = {
    "keras.activations": "gpukeras.activations",
    "keras.initializers": "gpukeras.initializers",
    "keras.regularizers": "gpukeras.regularizers",
    "keras.constraints": "gpukeras.constraints",
    "keras.losses": "gpukeras.losses",
    "keras.metrics": "gpukeras.metrics",
    "keras.optimizers.schedules": "gpukeras.optimizers.schedules",
    "keras.optimizers": "gpukeras.optimizers",
}
_MODEL_CLASSES = ("Sequential", "Functional", "Model")


# ---------------------------------------------------------------------- safe mode
def in_safe_mode() -> bool | None:
    """The safe mode of the innermost open `SafeModeScope`, or None outside any."""
    return getattr(_state, "safe_mode", None)


class SafeModeScope:
    """Context manager fixing `safe_mode` for every nested deserialization call."""

    def __init__(self, safe_mode: bool = True):
        self.safe_mode = safe_mode

    def __enter__(self) -> SafeModeScope:
        self._previous = in_safe_mode()
        _state.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc: Any) -> None:
        _state.safe_mode = self._previous


def _lambda_error(what: str) -> ValueError:
    return ValueError(
        f"Requested the deserialization of {what}. This carries a potential risk of arbitrary code "
        "execution and is disallowed by default (safe_mode=True). If you trust the source of the file, "
        "pass `safe_mode=False` to the loading function.")


def find_unsafe(config: Any) -> str | None:
    """Describe the first part of `config` that would execute code from the file, or None."""
    if isinstance(config, Mapping):
        name = config.get("class_name")
        if name == "__lambda__":
            return "a Python lambda (`__lambda__`)"
        if name in ("Lambda", "TFOpLambda", "SlicingOpLambda"):
            return f"a `{name}` layer (Python code stored in the file)"
        if config.get("function_type") == "lambda" or (
                isinstance(config.get("function"), (list, tuple)) and config.get("function")):
            return "marshalled Python bytecode (a legacy Lambda layer)"
        for value in config.values():
            found = find_unsafe(value)
            if found:
                return found
    elif isinstance(config, (list, tuple)):
        for value in config:
            found = find_unsafe(value)
            if found:
                return found
    return None


def check_safe(config: Any, safe_mode: bool) -> None:
    """Refuse a config holding code: ValueError in safe mode, NotImplementedError otherwise."""
    found = find_unsafe(config)
    if found is None:
        return
    if safe_mode:
        raise _lambda_error(found)
    raise NotImplementedError(f"The file contains {found}; gpukeras does not run Python code stored in model "
                              "files (Lambda layers are not supported). Rebuild that part as a custom layer "
                              "class and pass it in `custom_objects`.")


# ---------------------------------------------------------------------- serialize
def _gpukeras_module_of(obj: Any) -> str | None:
    """Keras 3's public module for a built-in gpukeras object, by its base class."""
    from gpukeras import constraints, initializers, losses, metrics, optimizers, regularizers
    from gpukeras.optimizers.schedules import LearningRateSchedule

    pairs = [(optimizers.Optimizer, "keras.optimizers"), (LearningRateSchedule, "keras.optimizers.schedules"),
             (losses.Loss, "keras.losses"), (metrics.Metric, "keras.metrics")]
    for name, module in (("Initializer", "keras.initializers"), ("Regularizer", "keras.regularizers"),
                         ("Constraint", "keras.constraints")):
        base = getattr({"keras.initializers": initializers, "keras.regularizers": regularizers,
                        "keras.constraints": constraints}[module], name, None)
        if isinstance(base, type):
            pairs.append((base, module))
    for base, module in pairs:
        if isinstance(obj, base):
            return module
    return None


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
    from gpukeras.layers.layer import Layer
    from gpukeras.layers.symbolic import KerasTensor
    from gpukeras.tensor import Tensor

    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
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
    if isinstance(obj, Layer):
        from gpukeras.layers.serialization import serialize_layer

        return serialize_layer(obj)
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if not callable(getattr(obj, "get_config", None)):
        raise TypeError(f"Cannot serialize {obj!r} of type {type(obj).__name__}: to be serializable, a class "
                        "must implement get_config().")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"get_config() of {obj!r} must return a dict, got {type(config).__name__}.")
    module = _gpukeras_module_of(obj) if type(obj).__module__.startswith("gpukeras.") else None
    return {
        "module": module or type(obj).__module__,
        "class_name": type(obj).__name__,
        "config": serialize_keras_object(config),
        "registered_name": None if module else object_registry.get_registered_name(type(obj)),
    }


# ---------------------------------------------------------------------- deserialize
def _catalogue_for(module: str | None) -> Any:
    if not module:
        return None
    for prefix, target in _CATALOGUES.items():
        if module == prefix or module.startswith(prefix + ".") or module == prefix.replace("keras.", "keras.src."):
            return importlib.import_module(target)
        if module.startswith(prefix.replace("keras.", "keras.src.")):
            return importlib.import_module(target)
    return None


def resolve_class(config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None) -> Any:
    """The class (or function) a `{"module", "class_name", "registered_name"}` config names.

    Custom objects (argument, open scopes, registry) win; otherwise only gpukeras' own classes are
    considered: a module named in a file is never imported.
    """
    from gpukeras import layers, models

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
        if class_name in _MODEL_CLASSES and (module is None or "layers" not in str(module)):
            return getattr(models, "Functional" if class_name == "Model" else class_name)
        catalogue = _catalogue_for(module)
        if catalogue is not None:
            return catalogue
        found = getattr(layers, class_name, None)
        if isinstance(found, type):
            return found
    hint = registered or class_name
    raise ValueError(f"Unknown object {class_name!r} (module {module!r}). If it is a custom class or function, "
                     f"pass it in `custom_objects={{'{hint}': ...}}` or decorate it with "
                     "@gpukeras.saving.register_keras_serializable().")


def _resolve_function(config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None) -> Any:
    from gpukeras import activations, losses, metrics

    name = config.get("config")
    for key in (config.get("registered_name"), name):
        found = object_registry.get_registered_object(key, custom_objects)
        if found is not None:
            return found
    if isinstance(name, str):
        module = str(config.get("module") or "")
        order = {"keras.activations": [activations], "keras.losses": [losses], "keras.metrics": [metrics]}.get(
            module, [activations, losses, metrics])
        for mod in order:
            fn = getattr(mod, name, None)
            if callable(fn) and not inspect.isclass(fn):
                return fn
    raise ValueError(f"Unknown function {name!r}: pass it in `custom_objects={{'{name}': ...}}` or register it "
                     "with @gpukeras.saving.register_keras_serializable().")


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
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        from gpukeras.ops.core import convert_to_tensor

        return convert_to_tensor(np.array(inner["value"], dtype=inner["dtype"]))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner.get(k), custom_objects, safe_mode)
                       for k in ("start", "stop", "step")))
    if class_name == "__keras_tensor__":
        from gpukeras.layers.symbolic import KerasTensor

        return KerasTensor(inner["shape"], inner.get("dtype", "float32"))
    if class_name in ("__typespec__", "__tuple__"):
        raise NotImplementedError(f"Cannot deserialize a {class_name} entry.")
    if class_name == "function":
        return _resolve_function(config, custom_objects)
    with object_registry.CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
        check_safe(config, safe_mode)
        return _instantiate(config, resolve_class(config, custom_objects), custom_objects)


def _instantiate(config: Mapping[str, Any], target: Any, custom_objects: Mapping[str, Any] | None) -> Any:
    from gpukeras.layers.layer import Layer

    if isinstance(target, types.ModuleType):
        if target.__name__ == "gpukeras.activations":
            return target.get(config.get("config") or config["class_name"])
        return target.deserialize(dict(config), custom_objects=dict(custom_objects or {}))
    if isinstance(target, type) and issubclass(target, Layer):
        from gpukeras.layers.serialization import deserialize_layer

        return deserialize_layer(config, custom_objects)
    if not isinstance(target, type):
        return target  # a registered function
    inner = dict(config.get("config") or {})
    from_config = getattr(target, "from_config", None)
    try:
        return from_config(inner) if from_config else target(**inner)
    except TypeError as e:
        raise TypeError(f"{target.__name__} could not be rebuilt from its config {inner!r}: {e}") from e
