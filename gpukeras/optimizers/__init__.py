"""gpukeras.optimizers: Keras 3 optimizers, one per file with its update rule; each step is one fused backend call."""

from __future__ import annotations

from typing import Any

from gpukeras.optimizers import schedules
from gpukeras.optimizers.adadelta import Adadelta
from gpukeras.optimizers.adagrad import Adagrad
from gpukeras.optimizers.adam import Adam
from gpukeras.optimizers.adamax import Adamax
from gpukeras.optimizers.adamw import AdamW
from gpukeras.optimizers.ftrl import Ftrl
from gpukeras.optimizers.lion import Lion
from gpukeras.optimizers.loss_scale_optimizer import LossScaleOptimizer
from gpukeras.optimizers.nadam import Nadam
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.optimizers.rmsprop import RMSprop
from gpukeras.optimizers.sgd import SGD
from gpukeras.saving.serialization import Catalogue, deserialize_object, lookup, register_catalogue, serialize_object

_CLASSES: dict[str, type] = {
    c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion, Ftrl,
                            LossScaleOptimizer)
}


def _table() -> dict[str, type]:
    table = dict(_CLASSES)
    table.update({name.lower(): cls for name, cls in _CLASSES.items()})
    return table


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name ("sgd", "adam", "Adam", ...), class, instance or config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return lookup("optimizer", identifier, _table())()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"Could not interpret optimizer identifier {identifier!r}: expected a name "
                     f"({', '.join(sorted(_table()))}), an Optimizer or a config dict.")


def serialize(optimizer: Optimizer) -> dict[str, Any] | None:
    """Keras's config dict for an optimizer."""
    return serialize_object(optimizer, "keras.optimizers")


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """Inverse of `serialize` (the class name may be any case, as in Keras)."""
    config = dict(config)
    name = config.get("class_name")
    if isinstance(name, str) and name.lower() in _table():
        config["class_name"] = _table()[name.lower()].__name__
    return deserialize_object("optimizer", config, _CLASSES, custom_objects)


LossScaleOptimizer.deserialize_inner = deserialize

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lion", "LossScaleOptimizer", "Nadam",
           "Optimizer",
           "RMSprop", "deserialize", "get", "schedules", "serialize"]


register_catalogue(Catalogue("keras.optimizers", base=Optimizer, deserialize=deserialize))
