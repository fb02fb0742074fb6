"""Keras 3 weight regularizers: `reg(x)` is a differentiable scalar penalty added to the training loss."""

from __future__ import annotations

import math
from typing import Any

from gpukeras import ops
from gpukeras.saving.serialization import Catalogue, deserialize_object, lookup, register_catalogue, serialize_object
from gpukeras.tensor import Tensor


def _validate(value: Any, name: str) -> float:
    """A finite, non-negative float penalty factor, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or math.isinf(value) or value < 0:
        raise ValueError(f"Invalid value for argument `{name}`: expected a non-negative finite float, "
                         f"got {value!r}.")
    return float(value)


class Regularizer:
    """Base class: `__call__(x)` returns a scalar penalty Tensor."""

    def __call__(self, x: Any) -> Tensor:
        return ops.multiply(ops.sum(x), 0.0)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class L1(Regularizer):
    """l1 * sum(|x|)."""

    def __init__(self, l1: float = 0.01):
        self.l1 = _validate(l1, "l1")

    def __call__(self, x: Any) -> Tensor:
        return ops.multiply(ops.sum(ops.abs(x)), self.l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum(x^2) (no factor 1/2, as in Keras 3)."""

    def __init__(self, l2: float = 0.01):
        self.l2 = _validate(l2, "l2")

    def __call__(self, x: Any) -> Tensor:
        return ops.multiply(ops.sum(ops.square(x)), self.l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x^2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _validate(l1, "l1")
        self.l2 = _validate(l2, "l2")

    def __call__(self, x: Any) -> Tensor:
        total = None
        if self.l1:
            total = ops.multiply(ops.sum(ops.abs(x)), self.l1)
        if self.l2:
            term = ops.multiply(ops.sum(ops.square(x)), self.l2)
            total = term if total is None else ops.add(total, term)
        return total if total is not None else super().__call__(x)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """factor * mean |off-diagonal of normalized rows (or columns) Gram matrix| (Keras 3's formula)."""

    def __init__(self, factor: float = 0.01, mode: str = "rows"):
        self.factor = _validate(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: unknown mode {mode!r}; valid modes are 'rows', "
                             "'columns'.")
        self.mode = mode

    def __call__(self, x: Any) -> Tensor:
        if len(x.shape) != 2:
            raise ValueError(f"OrthogonalRegularizer needs a rank-2 input, got shape {tuple(x.shape)}.")
        if self.mode == "columns":
            x = ops.transpose(x)
        norm = ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=1, keepdims=True), 1e-12))
        unit = ops.divide(x, norm)
        product = ops.matmul(unit, ops.transpose(unit))
        size = x.shape[0]
        off = ops.multiply(product, ops.subtract(1.0, ops.eye(size)))
        return ops.multiply(ops.divide(ops.sum(ops.abs(off)), float(size * (size - 1))), self.factor)

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


_CLASSES: dict[str, type] = {c.__name__: c for c in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
ALL_REGULARIZERS: dict[str, type] = {
    **_CLASSES, "l1": L1, "l2": L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer,
}


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """L1L2 with Keras's legacy default factors of 0.01 each."""
    return L1L2(l1=l1, l2=l2)


def get(identifier: Any) -> Any:
    """A regularizer from None, a name ("l1", "l2", "l1_l2", ...), class, instance, config or callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        return lookup("regularizer", identifier, ALL_REGULARIZERS)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier {identifier!r}.")


def serialize(regularizer: Any) -> Any:
    """Keras's config dict for a regularizer (None stays None)."""
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer):
        return serialize_object(regularizer, "keras.regularizers")
    return getattr(regularizer, "__name__", repr(regularizer))


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """Inverse of `serialize`."""
    if isinstance(config, str):
        return lookup("regularizer", config, ALL_REGULARIZERS, custom_objects)()
    return deserialize_object("regularizer", config, ALL_REGULARIZERS, custom_objects)


# Keras 3's lowercase aliases of the classes (keras.regularizers.l2 is L2)
l1, l2, orthogonal_regularizer = L1, L2, OrthogonalRegularizer


register_catalogue(Catalogue("keras.regularizers", base=Regularizer, deserialize=deserialize))
