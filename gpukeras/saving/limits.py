"""What a file being loaded may declare: caps on archive members, the config's nesting depth, and
the size of every array a config asks for, all checked before anything is read or allocated.

A model file comes from anywhere. Each rule here bounds what loading it can cost (memory, time)
and raises a ValueError naming the file, the member or value, and the rule, instead of letting
a declared size or depth reach an allocator or the recursion limit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

METADATA_MAX_BYTES = 1 << 20  # metadata.json: two short strings in practice
CONFIG_MAX_BYTES = 64 << 20  # config.json (or a legacy .h5's model_config): large vocabularies fit
ASSET_MAX_BYTES = 256 << 20  # one member under assets/ (a vocabulary, a tokenizer model)
ASSETS_TOTAL_MAX_BYTES = 1 << 30  # all of assets/ together
WEIGHTS_FLOOR_BYTES = 64 << 20  # model.weights.h5 may always be this large ...
WEIGHTS_PER_VARIABLE_BYTE = 8  # ... plus 8 bytes per byte of the model's variables (optimizer slots, float64)
BOMB_FLOOR_BYTES = 1 << 32  # Keras 3's rule too: over 4 GiB and over 100x its stored size is a bomb
BOMB_MAX_EXPANSION = 100
CONFIG_MAX_DEPTH = 100  # nested models reach ~30; Python's recursion limit is 1000
CONFIG_ARRAY_MAX_BYTES = 64 << 20  # one `__numpy__` / `__tensor__` value
_ARRAY_KINDS = "biufcUS"  # numbers, booleans and strings: what Keras 3 writes as `__numpy__`
_MAX_ITEMSIZE = 1024  # bytes per element (a 256-character unicode string)


class UnsafeFileError(ValueError):
    """A file breaks a loading rule (or cannot be read): raised whatever `skip_mismatch` says."""


def size_text(n: int) -> str:
    """`n` bytes in words (`6.0 GiB`), for error messages."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def weights_max_bytes(variable_bytes: int) -> int:
    """The most bytes a weights file may take for a model whose variables take `variable_bytes`."""
    return WEIGHTS_FLOOR_BYTES + WEIGHTS_PER_VARIABLE_BYTE * variable_bytes


def check_expansion(declared: int, stored: int, where: str) -> None:
    """Refuse a member that declares far more bytes than it stores (Keras 3's zip-bomb rule)."""
    if declared > BOMB_FLOOR_BYTES and declared > BOMB_MAX_EXPANSION * stored:
        raise UnsafeFileError(f"Refusing to load {where}: it declares {size_text(declared)} but stores only "
                              f"{size_text(stored)} (over {size_text(BOMB_FLOOR_BYTES)} and more than "
                              f"{BOMB_MAX_EXPANSION}x what it stores: a decompression bomb).")


def parse_config_json(data: bytes | str, where: str) -> Any:
    """`data` parsed as JSON, with its nesting depth and every array value it declares checked."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise UnsafeFileError(f"Refusing to load {where}: its JSON nests deeper than {CONFIG_MAX_DEPTH} levels "
                              "(config nesting limit).") from None
    except ValueError as e:  # JSONDecodeError, bad UTF-8, integers with too many digits
        raise UnsafeFileError(f"{where} is not valid JSON: {e}") from None
    check_config(value, where)
    return value


def check_config(config: Any, where: str) -> None:
    """Refuse a config nested deeper than CONFIG_MAX_DEPTH or holding an array value too large to build.

    Iterative, so a config too deep for the recursive loaders is refused rather than crashing them;
    lists of plain values (vocabularies, inline weights) are passed over without visiting each item.
    """
    stack: list[tuple[Any, tuple | None, int]] = [(config, None, 1)]
    while stack:
        value, trail, depth = stack.pop()
        if depth > CONFIG_MAX_DEPTH:
            raise UnsafeFileError(f"Refusing to load {where}: the config nests deeper than {CONFIG_MAX_DEPTH} "
                                  f"levels at {_json_path(trail)} (config nesting limit).")
        if isinstance(value, Mapping):
            if value.get("class_name") in ("__numpy__", "__tensor__") and isinstance(value.get("config"), Mapping):
                array_plan(value["config"], f"{where}, value {_json_path(trail)}")
            items: Any = value.items()
        elif set(map(type, value)) & {dict, list}:
            items = enumerate(value)
        else:
            continue
        stack.extend((child, (trail, key), depth + 1) for key, child in items if isinstance(child, (Mapping, list)))


def _json_path(trail: tuple | None) -> str:
    """`/key/0/key` for a trail of (parent trail, key) pairs."""
    keys = []
    while trail is not None:
        trail, key = trail
        keys.append(str(key))
    return "/" + "/".join(reversed(keys))


def array_plan(inner: Mapping[str, Any], where: str) -> np.dtype:
    """The dtype of the array a `__numpy__` config `{"value", "dtype"}` builds, once its size is checked.

    The dtype must be a plain number, boolean or string type of at most 1 KiB per element (no
    structured or sub-array dtype, which can multiply the size), and the whole array at most
    CONFIG_ARRAY_MAX_BYTES, counted from the nested lists before anything is allocated.
    """
    if not isinstance(inner, Mapping):
        raise UnsafeFileError(f"Refusing to load {where}: an array value must be a mapping with 'value' and 'dtype', "
                              f"got {type(inner).__name__}.")
    try:
        dtype = np.dtype(inner.get("dtype")) if inner.get("dtype") is not None else None
    except (TypeError, ValueError) as e:
        raise UnsafeFileError(f"Refusing to load {where}: its dtype {inner.get('dtype')!r} is not a NumPy dtype "
                              f"({e}) (config array rule).") from None
    if dtype is not None and (dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None
                              or dtype.itemsize > _MAX_ITEMSIZE):
        raise UnsafeFileError(f"Refusing to load {where}: its dtype {inner.get('dtype')!r} is not a plain number, "
                              f"boolean or string type of at most {_MAX_ITEMSIZE} bytes per element "
                              "(config array rule).")
    count, longest = _leaves(inner.get("value"), where)
    itemsize = dtype.itemsize if dtype is not None and dtype.itemsize else 0
    if not itemsize:  # no dtype, or a flexible one ("U", "S"): NumPy sizes it from the longest string
        itemsize = max(8, 4 * longest)
    if count * itemsize > CONFIG_ARRAY_MAX_BYTES:
        raise UnsafeFileError(f"Refusing to load {where}: the array would take {size_text(count * itemsize)}, "
                              f"more than {size_text(CONFIG_ARRAY_MAX_BYTES)} (config array rule).")
    return dtype


def _leaves(value: Any, where: str) -> tuple[int, int]:
    """(number of scalars, longest string) in a nested list, without building anything.

    A list of scalars counts as a whole (its element types are gathered in C), so a large
    legitimate array costs little to check.
    """
    count, longest = 0, 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, np.ndarray):
            count += item.size
            continue
        if not isinstance(item, (list, tuple)):
            count += 1
            longest = max(longest, len(item)) if isinstance(item, str) else longest
            continue
        if depth > 32:  # NumPy's own dimension limit is 64
            raise UnsafeFileError(f"Refusing to load {where}: the array nests deeper than 32 levels "
                                  "(config array rule).")
        kinds = set(map(type, item))
        if kinds & {list, tuple, np.ndarray}:
            stack.extend((x, depth + 1) for x in item)
            continue
        count += len(item)
        if str in kinds:
            longest = max(longest, max(len(x) for x in item if isinstance(x, str)))
    return count, longest


def build_config_array(inner: Mapping[str, Any], where: str = "a config") -> np.ndarray:
    """The array a `__numpy__` / `__tensor__` config describes, built only after `array_plan` allows it."""
    dtype = array_plan(inner, where)
    return np.array(inner.get("value"), dtype=dtype)


def nbytes(shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes an array of `shape` and `itemsize` takes (Python integers: never overflows)."""
    return math.prod(int(d) for d in shape) * int(itemsize)
