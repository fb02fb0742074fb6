"""What other Keras versions write in a layer's config, adapted to what gpukeras's constructors take.

Keras 3.x and tf.keras 2 configs carry DTypePolicy dicts, `batch_input_shape`, one-element axis
lists, initializer keys of newer versions, and keys newer versions add with values that change
nothing; `Layer.from_config` passes every config through `normalize_config` first.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

# Keys other Keras versions write that gpukeras may not accept, with the values that change nothing.
_HARMLESS_DEFAULTS: dict[str, tuple] = {
    "quantization_config": (None,), "ragged": (False,), "optional": (False,), "sparse": (False, None),
    "lora_rank": (None,), "lora_alpha": (None,), "synchronized": (False,), "renorm": (False,),
    "renorm_clipping": (None, {}), "renorm_momentum": (0.99,), "fused": (None, True, False),
    "virtual_batch_size": (None,), "adjustment": (None,), "groups": (1,), "autocast": (True, False),
    "input_length": (None,), "build_input_shape": (),
}
_INITIALIZER_EXTRA_KEYS = ("input_axes", "output_axes")
# Keyword arguments the Layer base takes through **kwargs (see Layer.__init__).
LAYER_EXTRA_KWARGS = frozenset({"activity_regularizer", "weights", "input_length", "dynamic"})


def normalize_config(cls: type, config: Mapping[str, Any], root: type) -> dict[str, Any]:
    """`config` with other Keras versions' spellings turned into what `cls(**config)` accepts.

    `root` is the base class whose constructor ends the keyword search (Layer).
    """
    config = _strip_initializer_extras(dict(config))
    dtype = config.get("dtype")
    if isinstance(dtype, Mapping):
        config["dtype"] = (dtype.get("config") or {}).get("name", "float32")
    axis = config.get("axis")
    if isinstance(axis, list) and len(axis) == 1 and isinstance(axis[0], int):  # tf.keras 2 BatchNormalization
        config["axis"] = axis[0]
    accepted, open_kwargs = accepted_keys(cls, root)
    if not open_kwargs:
        for key in list(config):
            if key not in accepted and key in _HARMLESS_DEFAULTS:
                value = config[key]
                if not _HARMLESS_DEFAULTS[key] or value in _HARMLESS_DEFAULTS[key]:
                    del config[key]
    return config


def accepted_keys(cls: type, root: type) -> tuple[set[str], bool]:
    """Constructor keywords `cls` takes (up its MRO to `root`), and whether it takes any keyword at all."""
    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        accepted.update(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if klass is root:
            accepted.update(LAYER_EXTRA_KWARGS)
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
