"""Tensor and Variable: backend arrays that remember how they were computed.

A `Tensor` wraps one array of the active backend. While a `GradientTape` records, an op
whose inputs need gradients attaches a `Node` (its inputs and backward rule) to its
output; `gpukeras.autodiff.gradient` walks those nodes back. Outside a tape no graph is
kept, so inference pays nothing for differentiation.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpukeras import backend as _backend


class Node:
    """How a tensor was made: the op's inputs and the rule mapping dL/dout to dL/dinputs."""

    __slots__ = ("backward", "inputs")

    def __init__(self, backward: Callable[[Any], Sequence[Any]], inputs: Sequence[Any]):
        self.backward = backward
        self.inputs = inputs


class Tensor:
    """An array of the active backend, with an optional autodiff node.

    Arithmetic operators dispatch to `gpukeras.ops`, so a custom layer's `x * 2 + y` is
    differentiable like any other op (they are installed by `gpukeras.ops.numpy`).
    """

    __slots__ = ("data", "node", "watched", "_keras_mask", "__weakref__")
    # NumPy arrays defer to our reflected operators instead of converting us element-wise.
    __array_ufunc__ = None

    def __init__(self, data: Any, node: Node | None = None):
        self.data = data
        self.node = node
        self.watched = False
        # `_keras_mask` is a slot left unset until a layer attaches a mask: tensors are made on
        # every op, masks rarely, so readers use get_keras_mask (getattr with a default).

    @property
    def needs_grad(self) -> bool:
        return self.node is not None or self.watched

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> str:
        return str(self.data.dtype)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    def numpy(self) -> np.ndarray:
        return _backend.active.to_numpy(self.data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __float__(self) -> float:
        return float(self.numpy())

    def __int__(self) -> int:
        return int(self.numpy())

    def __bool__(self) -> bool:
        return bool(self.numpy())

    def __index__(self) -> int:
        return int(self.numpy())

    def __repr__(self) -> str:
        return f"<Tensor shape={self.shape} dtype={self.dtype}\n{self.numpy()!r}>"

    def __hash__(self) -> int:
        return id(self)


class Variable(Tensor):
    """A named, mutable, optionally trainable tensor: a layer's weight or an optimizer slot.

    `assign` writes in place, so a variable may be a view into a larger flat buffer.
    """

    __slots__ = ("name", "_trainable", "path", "constraint", "regularizer", "aggregation")

    def __init__(self, initializer: Any, shape: Sequence[int] | None = None, dtype: Any = None,
                 trainable: bool = True, name: str | None = None, path: str | None = None):
        ops = _backend.active
        if callable(initializer) and not ops.is_array(initializer):
            if shape is None:
                raise ValueError(f"Variable {name!r}: a callable initializer needs a shape.")
            value = initializer(tuple(shape), dtype=dtype or "float32")
            value = value.data if isinstance(value, Tensor) else value
        else:
            value = initializer.data if isinstance(initializer, Tensor) else initializer
        value = ops.asarray(value, dtype=dtype or _default_dtype(value))
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(f"Variable {name!r}: initial value has shape {tuple(value.shape)}, "
                             f"expected {tuple(shape)}.")
        super().__init__(ops.copy(value))
        _live.add(self)
        self.name = name or "variable"
        self.path = path or self.name
        self.trainable = trainable
        self.constraint = None
        self.regularizer = None
        self.aggregation = "none"

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self.watched = self._trainable
        note_state_change()

    @property
    def value(self) -> Tensor:
        return Tensor(self.data)

    def numpy(self) -> np.ndarray:
        """A host copy: later updates of the variable never change an array handed out before."""
        out = _backend.active.to_numpy(self.data)
        return out.copy() if out is self.data or out.base is not None else out

    def assign(self, value: Any) -> Variable:
        """Write `value` into the variable in place; its shape must match.

        Inside `assignment_batch()` the shape is checked now and the write waits for `commit()`.
        """
        data = value.data if isinstance(value, Tensor) else value
        shape = tuple(data.shape) if hasattr(data, "shape") else np.shape(data)
        if shape != self.shape:
            raise ValueError(f"Variable {self.path!r} has shape {self.shape}; cannot assign a value of shape "
                             f"{shape}.")
        if _pending is not None:
            _pending.append((self, value))
            return self
        _backend.active.assign(self.data, _backend.active.asarray(data, dtype=self.data.dtype))
        return self

    def assign_add(self, delta: Any) -> Variable:
        return self.assign(_backend.active.add(self.data, delta.data if isinstance(delta, Tensor) else delta))

    def assign_sub(self, delta: Any) -> Variable:
        return self.assign(_backend.active.subtract(self.data, delta.data if isinstance(delta, Tensor) else delta))

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, value={self.numpy()!r}>"


_live: weakref.WeakSet[Variable] = weakref.WeakSet()
_state_version = 0


def live_variables() -> list[Variable]:
    """Every Variable that exists now (a compiled step tells weights from values computed in it)."""
    return list(_live)


def state_version() -> int:
    """A count that changes when variables are made or their trainable flags change (compiled steps made
    before such a change are traced again)."""
    return _state_version


def note_state_change() -> None:
    """Count a change that a compiled step must not outlive (a new variable, a trainable flag)."""
    global _state_version
    _state_version += 1


def get_keras_mask(x: Any) -> Tensor | None:
    """The mask attached to `x` (a boolean Tensor, True where a time step counts), or None."""
    return getattr(x, "_keras_mask", None) if isinstance(x, Tensor) else None


def set_keras_mask(x: Tensor, mask: Any) -> None:
    """Attach `mask` to `x`, as Keras 3's layers do for the layers downstream (None removes it)."""
    if mask is not None and not isinstance(mask, Tensor):
        mask = Tensor(_backend.active.asarray(mask, dtype="bool"))
    x._keras_mask = mask


_pending: list[tuple[Variable, Any]] | None = None


class assignment_batch:
    """All-or-nothing writes: inside the block `Variable.assign` only checks and records; `commit()`
    then performs every recorded write. Loading weights uses it so a bad shape anywhere leaves every
    variable as it was."""

    def __enter__(self) -> assignment_batch:
        global _pending
        self._outer = _pending
        self.writes: list[tuple[Variable, Any]] = []
        _pending = self.writes
        return self

    def __exit__(self, *exc: Any) -> None:
        global _pending
        _pending = self._outer

    def commit(self) -> None:
        """Perform the recorded writes (call it after the block, once nothing raised)."""
        for var, value in self.writes:
            var.assign(value)
        self.writes = []


def _default_dtype(value: Any) -> str:
    """float32 for floating or Python-number values (Keras's floatx), else the value's own dtype."""
    dtype = np.dtype(value.dtype) if hasattr(value, "dtype") else np.asarray(value).dtype
    return "float32" if dtype.kind in "fc" or isinstance(value, (float, list)) else str(dtype)
