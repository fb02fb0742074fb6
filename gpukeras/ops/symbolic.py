"""keras.ops on symbolic tensors: `ops.mean(x)`, `x / 255.0`, `x[:, 0]` inside a functional model.

Called with a KerasTensor among its arguments, a public op does not compute: it records a node of
the functional graph, as Keras 3 records an Operation. The node is a weightless layer (built by
`layers/operation.py`, which registers itself here: ops sit below layers) holding the op's name and
its arguments, the KerasTensors replaced by placeholders; run, it calls the op on real tensors.
The same ops give KerasTensor its Python operators, as they give Tensor its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from gpukeras.keras_tensor import KerasTensor, any_symbolic

_node_builder: Callable[[str, tuple, dict], Any] | None = None


def register_node_builder(builder: Callable[[str, tuple, dict], Any]) -> None:
    """`builder(op_name, args, kwargs)` makes the graph node of an op called on KerasTensors."""
    global _node_builder
    _node_builder = builder


def _symbolic_args(args: tuple, kwargs: dict) -> bool:
    """A cheap test first (ops run in every layer call): a KerasTensor argument, or one in a list argument."""
    for a in args:
        kind = type(a)
        if kind is KerasTensor or ((kind is list or kind is tuple) and any_symbolic(a)):
            return True
    return bool(kwargs) and any_symbolic(kwargs)


def symbolic(name: str, fn: Callable) -> Callable:
    """`fn` that records a graph node instead of computing when given KerasTensors."""

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        if _symbolic_args(args, kwargs):
            if _node_builder is None:
                raise TypeError(f"ops.{name} was called on a symbolic tensor before gpukeras.layers was imported.")
            return _node_builder(name, args, kwargs)
        return fn(*args, **kwargs)

    op.__wrapped__ = fn
    return op


def wrap_namespace(namespace: dict[str, Any], skip: frozenset[str]) -> None:
    """Replace each public op function in `namespace` (a module's globals) by its symbolic-aware form."""
    for name, value in list(namespace.items()):
        if name == "shape":  # Keras 3: a symbolic tensor's shape, its batch dimension None
            namespace[name] = _shape(value)
        elif callable(value) and not name.startswith("_") and name not in skip and not isinstance(value, type) \
                and getattr(value, "__module__", "").startswith("gpukeras.ops."):
            namespace[name] = symbolic(name, value)


def _shape(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def shape(x: Any) -> tuple:
        return x.shape if isinstance(x, KerasTensor) else fn(x)

    return shape


def install_operators(ops: dict[str, Any]) -> None:
    """KerasTensor's Python operators, each the symbolic form of the op Tensor uses for it."""

    def rev(fn: Callable) -> Callable:
        return lambda self, other: fn(other, self)

    table = {
        "__add__": ops["add"], "__radd__": rev(ops["add"]), "__sub__": ops["subtract"],
        "__rsub__": rev(ops["subtract"]), "__mul__": ops["multiply"], "__rmul__": rev(ops["multiply"]),
        "__truediv__": ops["true_divide"], "__rtruediv__": rev(ops["true_divide"]), "__pow__": ops["power"],
        "__rpow__": rev(ops["power"]), "__matmul__": ops["matmul"], "__rmatmul__": rev(ops["matmul"]),
        "__neg__": ops["negative"], "__abs__": ops["abs"], "__getitem__": ops["getitem"], "__lt__": ops["less"],
        "__le__": ops["less_equal"], "__gt__": ops["greater"], "__ge__": ops["greater_equal"],
    }
    for name, fn in table.items():
        setattr(KerasTensor, name, fn)
    KerasTensor.__pos__ = lambda self: self
    KerasTensor.T = property(lambda self: ops["transpose"](self))
    KerasTensor.astype = lambda self, dtype: ops["cast"](self, dtype)
