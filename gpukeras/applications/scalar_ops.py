"""`x + c` and `x * c` (c a Python number) as nodes of a functional graph, written in configs as Keras 3
writes the operations it records for arithmetic on symbolic tensors.

Keras 3's MobileNetV3 computes its hard sigmoid as `ReLU(6.0)(x + 3.0) * (1.0 / 6.0)` on KerasTensors:
Keras records `keras.src.ops.numpy.Add` and `Multiply` operations (named "add", "multiply", ...) in the
graph. gpukeras' KerasTensors have no arithmetic yet, so these two small layers stand in for those
operations: same numbers, same names, same config entries (`{"module": "keras.src.ops.numpy",
"class_name": "Add", "config": {"name": ...}}`, the constant as the call's second argument), so Keras 3
files holding them load here and ours load in Keras 3. Unlike Keras 3's operations they are Layers, so
they appear in `model.layers` (Keras 3 lists only its Layers there); they have no weights, so weights
files are unaffected.
"""

from __future__ import annotations

import numbers
from typing import Any

from gpukeras import ops
from gpukeras.layers import Layer
from gpukeras.saving.serialization import Catalogue, register_catalogue

KERAS_MODULE = "keras.src.ops.numpy"


class _ScalarOperation(Layer):
    """A weightless node computing `x <op> constant`; the constant is the call's second argument."""

    def __init__(self, name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.built = True

    def call(self, x: Any, constant: Any) -> Any:
        if isinstance(constant, bool) or not isinstance(constant, numbers.Real):
            raise TypeError(f"{type(self).__name__} {self.name!r}: the second operand must be a Python number, got "
                            f"{type(constant).__name__}.")
        return self._compute(x, constant)

    def _compute(self, x: Any, constant: float) -> Any:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def get_build_config(self) -> None:
        return None


class Add(_ScalarOperation):
    """x + constant (Keras 3's `keras.src.ops.numpy.Add` node)."""

    def _compute(self, x: Any, constant: float) -> Any:
        return ops.add(x, constant)


class Multiply(_ScalarOperation):
    """x * constant (Keras 3's `keras.src.ops.numpy.Multiply` node)."""

    def _compute(self, x: Any, constant: float) -> Any:
        return ops.multiply(x, constant)


def add(x: Any, constant: float) -> Any:
    """`x + constant` recorded as Keras 3 records it on a symbolic tensor."""
    return Add()(x, constant)


def multiply(x: Any, constant: float) -> Any:
    """`x * constant` recorded as Keras 3 records it on a symbolic tensor."""
    return Multiply()(x, constant)


_OPERATIONS = {"Add": Add, "Multiply": Multiply}
for _cls in _OPERATIONS.values():
    register_catalogue(Catalogue(KERAS_MODULE, base=_cls, find_class=_OPERATIONS.get,
                                 registered_name=_cls.__name__))
