"""gpukeras.metrics: Keras 3's stateful metrics, `get`, and compile's "accuracy"/"crossentropy" resolution."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from gpukeras import losses as _losses
from gpukeras.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from gpukeras.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from gpukeras.metrics.confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from gpukeras.metrics.scores import F1Score, FBetaScore, R2Score, RootMeanSquaredError
from gpukeras.metrics.wrappers import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    KLDivergence,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    cosine_similarity,
)
from gpukeras.saving.serialization import Catalogue, deserialize_object, lookup, register_catalogue, serialize_object

binary_crossentropy = _losses.binary_crossentropy
categorical_crossentropy = _losses.categorical_crossentropy
sparse_categorical_crossentropy = _losses.sparse_categorical_crossentropy
mean_squared_error = _losses.mean_squared_error
mean_absolute_error = _losses.mean_absolute_error
mean_absolute_percentage_error = _losses.mean_absolute_percentage_error
mean_squared_logarithmic_error = _losses.mean_squared_logarithmic_error
kl_divergence = _losses.kl_divergence
poisson = _losses.poisson
hinge = _losses.hinge
squared_hinge = _losses.squared_hinge
categorical_hinge = _losses.categorical_hinge
log_cosh = _losses.log_cosh

_CLASSES: list[type] = [
    Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
    SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, LogCoshError,
    CosineSimilarity,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge,
    SquaredHinge, CategoricalHinge, AUC, Precision, Recall, TruePositives, FalsePositives, TrueNegatives,
    FalseNegatives, F1Score, FBetaScore, R2Score, RootMeanSquaredError,
]
_FUNCTIONS: list[Callable[..., Any]] = [
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy, binary_crossentropy, categorical_crossentropy,
    sparse_categorical_crossentropy, mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, kl_divergence, poisson, hinge, squared_hinge, categorical_hinge,
    cosine_similarity,
]
_ALIASES: dict[str, type] = {
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError, "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
}


def _snake_case(name: str) -> str:
    """Keras's snake-case form of a class name ("TopKCategoricalAccuracy": "top_k_categorical_accuracy")."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _registry() -> dict[str, Any]:
    """Names `get` accepts: functions, then classes by name and snake-case name (classes win, as in Keras)."""
    table: dict[str, Any] = {fn.__name__: fn for fn in _FUNCTIONS}
    table.update({cls.__name__: cls for cls in _CLASSES})
    table.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
    table.update(_ALIASES)
    return table


def register(*classes: type) -> None:
    """Add metric classes (e.g. those of other gpukeras modules) to the names `get` knows."""
    _CLASSES.extend(classes)


def get(identifier: Any) -> Metric | None:
    """A Metric from a name, class, instance, config dict or function; a string becomes the metric's name."""
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        obj = lookup("metric", identifier, _registry())
        metric = obj() if inspect.isclass(obj) else MeanMetricWrapper(obj)
        metric.name = identifier
        return metric
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier {identifier!r}: expected a name, a Metric, "
                     f"a config dict or a callable.")


def serialize(metric: Metric) -> dict[str, Any] | None:
    """Keras's config dict for a metric."""
    return serialize_object(metric, "keras.metrics")


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Metric:
    """Inverse of `serialize`."""
    return deserialize_object("metric", config, {cls.__name__: cls for cls in _CLASSES}, custom_objects)


def _loss_kind(loss: Any) -> str | None:
    """"binary", "sparse" or "categorical" when `loss` is that cross-entropy, else None."""
    if loss is None:
        return None
    if isinstance(loss, str):
        try:
            loss = _losses.get(loss)
        except ValueError:
            return None
    fn = getattr(loss, "fn", loss)
    if fn in (_losses.binary_crossentropy, _losses.binary_focal_crossentropy):
        return "binary"
    if fn is _losses.sparse_categorical_crossentropy:
        return "sparse"
    if fn in (_losses.categorical_crossentropy, _losses.categorical_focal_crossentropy):
        return "categorical"
    return None


def resolve_accuracy(name: str, y_true_shape: Any, y_pred_shape: Any, loss: Any = None) -> Metric:
    """Keras's "accuracy"/"acc" (and "crossentropy"/"ce") shortcut: pick the binary, sparse categorical
    or categorical variant from the loss and the label/prediction shapes; the metric is named `name`."""
    key = name.lower()
    if key not in ("accuracy", "acc", "crossentropy", "ce"):
        raise ValueError(f"resolve_accuracy handles 'accuracy', 'acc', 'crossentropy' and 'ce', "
                         f"got {name!r}.")
    kind = _loss_kind(loss)
    binary, sparse = _losses.binary_or_sparse(y_true_shape, y_pred_shape)
    if kind == "binary" or (kind is None and binary):
        chosen = "binary"
    elif kind == "sparse" or (kind is None and sparse):
        chosen = "sparse"
    else:
        chosen = "categorical"
    if key in ("accuracy", "acc"):
        cls = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
               "categorical": CategoricalAccuracy}[chosen]
        return cls(name=name)
    cls = {"binary": BinaryCrossentropy, "sparse": SparseCategoricalCrossentropy,
           "categorical": CategoricalCrossentropy}[chosen]
    return cls(name=name)


def get_for_compile(identifier: Any, y_true_shape: Any, y_pred_shape: Any, loss: Any = None) -> Metric | None:
    """What compile(metrics=[...]) makes of one entry: the accuracy/crossentropy shortcuts, else `get`."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc", "crossentropy", "ce"):
        return resolve_accuracy(identifier, y_true_shape, y_pred_shape, loss)
    return get(identifier)


__all__ = [name for name in dir() if not name.startswith("_")]


register_catalogue(Catalogue("keras.metrics", base=Metric, deserialize=deserialize,
                             find_function={fn.__name__: fn for fn in _FUNCTIONS}.get))
