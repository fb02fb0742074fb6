"""Keras 3 weight constraints: `constraint(w)` is the projected weight, assigned after each optimizer step."""

from __future__ import annotations

from typing import Any

from gpukeras import backend as _backend
from gpukeras import ops
from gpukeras.saving.serialization import Catalogue, deserialize_object, lookup, register_catalogue, serialize_object
from gpukeras.tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()'s default; the code reads the value set now


class Constraint:
    """Base class: the identity projection."""

    def __call__(self, w: Any) -> Any:
        return w

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


def _norms(w: Any, axis: Any) -> Tensor:
    return ops.sqrt(ops.sum(ops.square(w), axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Rescale slices along `axis` whose L2 norm exceeds `max_value`."""

    def __init__(self, max_value: float = 2.0, axis: Any = 0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w: Any) -> Tensor:
        norms = _norms(w, self.axis)
        desired = ops.clip(norms, 0.0, self.max_value)
        return ops.multiply(w, ops.divide(desired, ops.add(norms, _backend.epsilon())))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Move slice norms toward [min_value, max_value] at `rate` (1.0 = clip exactly)."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Any = 0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w: Any) -> Tensor:
        norms = _norms(w, self.axis)
        clipped = ops.clip(norms, self.min_value, self.max_value)
        desired = ops.add(ops.multiply(clipped, self.rate), ops.multiply(norms, 1.0 - self.rate))
        return ops.multiply(w, ops.divide(desired, ops.add(norms, _backend.epsilon())))

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class NonNeg(Constraint):
    """Zero out negative weights."""

    def __call__(self, w: Any) -> Tensor:
        return ops.multiply(w, ops.cast(ops.greater_equal(w, 0.0), ops.convert_to_tensor(w).dtype))


class UnitNorm(Constraint):
    """Scale slices along `axis` to unit L2 norm."""

    def __init__(self, axis: Any = 0):
        self.axis = axis

    def __call__(self, w: Any) -> Tensor:
        return ops.divide(w, ops.add(_norms(w, self.axis), _backend.epsilon()))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


_CLASSES: dict[str, type] = {c.__name__: c for c in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
ALL_CONSTRAINTS: dict[str, type] = {
    **_CLASSES, "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
}


def get(identifier: Any) -> Any:
    """A constraint from None, a name ("max_norm", "non_neg", ...), class, instance, config or callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        return lookup("constraint", identifier, ALL_CONSTRAINTS)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret constraint identifier {identifier!r}.")


def serialize(constraint: Any) -> Any:
    """Keras's config dict for a constraint (None stays None)."""
    if constraint is None:
        return None
    if isinstance(constraint, Constraint):
        return serialize_object(constraint, "keras.constraints")
    return getattr(constraint, "__name__", repr(constraint))


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """Inverse of `serialize`."""
    if isinstance(config, str):
        return lookup("constraint", config, ALL_CONSTRAINTS, custom_objects)()
    return deserialize_object("constraint", config, ALL_CONSTRAINTS, custom_objects)


# Keras 3's lowercase aliases of the classes (keras.constraints.max_norm is MaxNorm)
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm


register_catalogue(Catalogue("keras.constraints", base=Constraint, deserialize=deserialize))
