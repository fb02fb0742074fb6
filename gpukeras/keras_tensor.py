"""Symbolic tensors for the functional API: a shape, a dtype, and the layer call that made them.

A `KerasTensor` (from `Input(...)` or a layer called on KerasTensors) holds no data; its
`CallNode` records the call, and `gpukeras.models.functional` walks those nodes to run a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.tree import flatten


class CallNode:
    """One call of a layer inside a functional graph."""

    __slots__ = ("layer", "inputs", "args", "kwargs", "outputs")

    def __init__(self, layer: Any, inputs: Any, args: tuple, kwargs: dict, outputs: Any):
        self.layer = layer
        self.inputs = inputs
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs

    def input_tensors(self) -> list[KerasTensor]:
        """Every KerasTensor the call reads: in its first argument, its other arguments and its keywords."""
        return [t for t in flatten([self.inputs, list(self.args), list(self.kwargs.values())])
                if isinstance(t, KerasTensor)]


class KerasTensor:
    """A placeholder with a shape (batch dimension None) and dtype, recording which layer call produced it."""

    def __init__(self, shape: Sequence[int | None], dtype: str = "float32", name: str | None = None,
                 node: CallNode | None = None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self.node = node

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


def any_symbolic(x: Any) -> bool:
    """True when `x` (or any leaf of a list/tuple/dict) is a KerasTensor."""
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(any_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(any_symbolic(v) for v in x.values())
    return False
