"""Layer configs in Keras 3's serialization schema ({module, class_name, config, registered_name, build_config}).

Reading also accepts what Keras 3.x and tf.keras 2 write for the same layers (DTypePolicy dicts,
`batch_input_shape`, keys newer Keras versions add with default values).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from gpukeras.layers.layer import Layer

# Keys other Keras versions write that gpukeras may not accept, with the values that change nothing.
_HARMLESS_DEFAULTS: dict[str, tuple] = {
    "quantization_config": (None,), "ragged": (False,), "optional": (False,), "sparse": (False, None),
    "lora_rank": (None,), "lora_alpha": (None,), "synchronized": (False,), "renorm": (False,),
    "renorm_clipping": (None, {}), "renorm_momentum": (0.99,), "fused": (None, True, False),
    "virtual_batch_size": (None,), "adjustment": (None,), "groups": (1,), "autocast": (True, False),
    "input_length": (None,), "build_input_shape": (),
}
_INITIALIZER_EXTRA_KEYS = ("input_axes", "output_axes")


def _keras_module_and_name(layer: Layer) -> tuple[str, str, str | None]:
    from gpukeras.models.functional import Functional
    from gpukeras.models.sequential import Sequential
    from gpukeras.saving.object_registry import get_registered_name

    cls = type(layer)
    if cls is Sequential:
        return "keras", "Sequential", None
    if cls is Functional:
        return "keras.src.models.functional", "Functional", "Functional"
    if cls.__module__.startswith("gpukeras."):
        return "keras.layers", cls.__name__, None
    return cls.__module__, cls.__name__, get_registered_name(cls)


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """A layer (or model) as Keras 3 writes it in config.json."""
    from gpukeras.models.model import Model
    from gpukeras.saving.serialization import serialize_keras_object

    module, class_name, registered_name = _keras_module_and_name(layer)
    config = layer.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"get_config() of layer {layer.name!r} must return a dict, got {type(config).__name__}.")
    out: dict[str, Any] = {
        "module": module,
        "class_name": class_name,
        "config": serialize_keras_object(config),
        "registered_name": registered_name,
    }
    build_config = get_build_config(layer)
    if build_config is not None:
        out["build_config"] = build_config
    if isinstance(layer, Model) and getattr(layer, "compiled", False):
        out["compile_config"] = serialize_keras_object(layer.get_compile_config())
    return out


def get_build_config(layer: Layer) -> dict[str, Any] | None:
    """`{"input_shape": ...}` for a built layer, as Keras 3's `get_build_config`."""
    from gpukeras.models.functional import Functional
    from gpukeras.models.sequential import Sequential

    if isinstance(layer, Functional):
        return {"input_shape": None}
    if isinstance(layer, Sequential):
        inputs = layer.inputs
        return {"input_shape": _listify(inputs[0].shape)} if inputs and layer.built else None
    if layer._build_shape is not None:
        return {"input_shape": _listify(layer._build_shape)}
    return None


def deserialize_layer(config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None) -> Layer:
    """Rebuild a layer (or model) from its Keras config; custom classes come from `custom_objects`
    or the `register_keras_serializable` registry."""
    from gpukeras.models.model import Model
    from gpukeras.saving import object_registry
    from gpukeras.saving.serialization import resolve_class

    if not isinstance(config, Mapping):
        raise ValueError(f"A serialized layer must be a dict with 'class_name' and 'config', got {config!r}.")
    with object_registry.CustomObjectScope(custom_objects):
        cls = resolve_class(config, custom_objects)
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise ValueError(f"{config.get('class_name')!r} is not a layer class (resolved to {cls!r}).")
        inner = normalize_config(cls, dict(config.get("config") or {}))
        if issubclass(cls, Model) and "custom_objects" in inspect.signature(cls.from_config).parameters:
            layer = cls.from_config(inner, custom_objects=custom_objects)
        else:
            try:
                layer = cls.from_config(inner)
            except TypeError as e:
                raise TypeError(f"{cls.__name__} could not be rebuilt from its config: {e}") from e
        build_config = config.get("build_config")
        if isinstance(build_config, Mapping) and not layer.built:
            build_from_config(layer, build_config)
        compile_config = config.get("compile_config")
        if compile_config and isinstance(layer, Model):
            layer.compile_from_config(compile_config)
    return layer


def build_from_config(layer: Layer, build_config: Mapping[str, Any]) -> None:
    """Create a layer's weights for `build_config["input_shape"]` (models run a zero batch)."""
    from gpukeras.models.model import Model

    shape = build_config.get("input_shape")
    if shape is None:
        return
    shape = _tuplify(shape)
    if isinstance(layer, Model):
        from gpukeras.models.sequential import Sequential

        if isinstance(layer, Sequential):
            layer.build(shape)
            return
        import numpy as np

        from gpukeras.layers.symbolic import map_shapes

        zeros = map_shapes(lambda s: np.zeros((1,) + tuple(d or 1 for d in s[1:]), "float32"), shape)
        layer(zeros, training=False) if "training" in inspect.signature(layer.call).parameters else layer(zeros)
        return
    layer._build_shape = shape
    layer.build(shape)
    layer.built = True


def normalize_config(cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """Adapt a Keras 3.x / tf.keras 2 layer config to what gpukeras' `cls` accepts."""
    from gpukeras.layers.symbolic import InputLayer

    config = _strip_initializer_extras(config)
    dtype = config.get("dtype")
    if isinstance(dtype, Mapping):
        config["dtype"] = (dtype.get("config") or {}).get("name", "float32")
    axis = config.get("axis")
    if isinstance(axis, list) and len(axis) == 1 and isinstance(axis[0], int):  # tf.keras 2 BatchNormalization
        config["axis"] = axis[0]
    if issubclass(cls, InputLayer) and "batch_input_shape" in config:
        config.setdefault("batch_shape", config.pop("batch_input_shape"))
    accepted, open_kwargs = _accepted_keys(cls)
    if not open_kwargs:
        for key in list(config):
            if key not in accepted and key in _HARMLESS_DEFAULTS:
                value = config[key]
                if not _HARMLESS_DEFAULTS[key] or value in _HARMLESS_DEFAULTS[key]:
                    del config[key]
    return config


def _accepted_keys(cls: type) -> tuple[set[str], bool]:
    """Constructor keywords `cls` takes (up its MRO), and whether it takes any keyword at all."""
    from gpukeras.layers.symbolic import InputLayer

    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        accepted.update(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if klass is Layer:
            accepted.update({"activity_regularizer", "weights", "input_length", "dynamic"})
            return accepted, False
        if klass is InputLayer:
            return accepted, False
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return accepted, False
    return accepted, True


def _strip_initializer_extras(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _strip_initializer_extras(v) for k, v in value.items()}
        inner = out.get("config")
        if "class_name" in out and isinstance(inner, dict):
            for key in _INITIALIZER_EXTRA_KEYS:
                if key in inner and inner[key] is None:
                    del inner[key]
        return out
    if isinstance(value, list):
        return [_strip_initializer_extras(v) for v in value]
    return value


def _listify(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)):
        return [_listify(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _listify(v) for k, v in shape.items()}
    return shape


def _tuplify(shape: Any) -> Any:
    """JSON shapes back to tuples: [None, 3] → (None, 3); [[None, 3], [None, 3]] → [(None, 3), (None, 3)]."""
    if isinstance(shape, dict):
        return {k: _tuplify(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        if all(d is None or isinstance(d, int) for d in shape):
            return tuple(shape)
        return [_tuplify(s) for s in shape]
    return shape
