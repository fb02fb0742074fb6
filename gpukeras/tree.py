"""Nested structures of values (lists, tuples, dicts): flatten them and map over their leaves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def flatten(x: Any) -> list[Any]:
    """The leaves of `x` in order (dict entries by sorted key, as Keras's tree does)."""
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in flatten(item)]
    if isinstance(x, dict):
        return [v for key in sorted(x) for v in flatten(x[key])]
    return [x]


def map_structure(fn: Callable[[Any], Any], x: Any) -> Any:
    """`x` with every leaf replaced by `fn(leaf)`; lists, tuples and dicts keep their shape."""
    if isinstance(x, (list, tuple)):
        return type(x)(map_structure(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    return fn(x)


def is_shape(x: Any) -> bool:
    """A tuple of ints/None (one tensor's shape), as opposed to a nest of shapes."""
    return isinstance(x, tuple) and all(d is None or isinstance(d, int) for d in x)


def map_shapes(fn: Callable[[tuple], Any], x: Any) -> Any:
    """Apply `fn` to every shape in a nest of shapes (lists/dicts of tuples; JSON lists count as shapes)."""
    if is_shape(x):
        return fn(x)
    if isinstance(x, (list, tuple)):
        return [map_shapes(fn, tuple(v) if isinstance(v, list) and all(
            d is None or isinstance(d, int) for d in v) else v) for v in x]
    if isinstance(x, dict):
        return {k: map_shapes(fn, v) for k, v in x.items()}
    raise TypeError(f"Not a shape or a nest of shapes: {x!r}")


def listify_shapes(shape: Any) -> Any:
    """Shapes as JSON-ready lists: (None, 3) → [None, 3], nests kept."""
    if isinstance(shape, (list, tuple)):
        return [listify_shapes(s) for s in shape]
    if isinstance(shape, dict):
        return {k: listify_shapes(v) for k, v in shape.items()}
    return shape


def tuplify_shapes(shape: Any) -> Any:
    """JSON shapes back to tuples: [None, 3] → (None, 3); [[None, 3], [None, 3]] → [(None, 3), (None, 3)]."""
    if isinstance(shape, dict):
        return {k: tuplify_shapes(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        if all(d is None or isinstance(d, int) for d in shape):
            return tuple(shape)
        return [tuplify_shapes(s) for s in shape]
    return shape


def pack_sequence_as(structure: Any, flat: list[Any]) -> Any:
    """Inverse of `flatten`: the leaves `flat` (in flatten's order) put back into `structure`'s shape."""
    leaves = iter(flat)

    def rebuild(x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            return type(x)(rebuild(v) for v in x)
        if isinstance(x, dict):
            built = {key: rebuild(x[key]) for key in sorted(x)}
            return {key: built[key] for key in x}
        return next(leaves)

    return rebuild(structure)
