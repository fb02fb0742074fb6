"""Metrics that average a per-sample loss-like function (Keras's regression/probabilistic/hinge metrics)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpukeras import losses as _losses
from gpukeras import ops
from gpukeras.metrics.base import MeanMetricWrapper
from gpukeras.tensor import Tensor


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Tensor:
    """sum(l2_normalize(y_true) * l2_normalize(y_pred)) along `axis` (the metric's positive sign)."""
    return ops.negative(_losses.cosine_similarity(y_true, y_pred, axis=axis))


def _wrapper(cls_name: str, fn: Callable[..., Any], default_name: str, doc: str, **defaults: Any) -> type:
    """A MeanMetricWrapper subclass with Keras's signature (name, dtype, then the function's options)."""

    def __init__(self, name: str = default_name, dtype: Any = None, **kwargs: Any):
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise ValueError(f"{cls_name}: unknown arguments {sorted(unknown)}; valid ones are "
                             f"{sorted(defaults) + ['dtype', 'name']}.")
        params = {**defaults, **kwargs}
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **params)
        for key, value in params.items():
            setattr(self, key, value)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, **{k: getattr(self, k) for k in defaults}}

    members = {"__init__": __init__, "get_config": get_config, "__doc__": doc}
    cls = type(cls_name, (MeanMetricWrapper,), members)
    cls.__module__ = __name__
    return cls


MeanSquaredError = _wrapper("MeanSquaredError", _losses.mean_squared_error, "mean_squared_error",
                            "Running mean of squared errors.")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", _losses.mean_absolute_error, "mean_absolute_error",
                             "Running mean of absolute errors.")
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError", _losses.mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error",
                                       "Running mean absolute percentage error.")
MeanSquaredLogarithmicError = _wrapper("MeanSquaredLogarithmicError", _losses.mean_squared_logarithmic_error,
                                       "mean_squared_logarithmic_error",
                                       "Running mean squared logarithmic error.")
LogCoshError = _wrapper("LogCoshError", _losses.log_cosh, "logcosh", "Running mean of log(cosh(error)).")
CosineSimilarity = _wrapper("CosineSimilarity", cosine_similarity, "cosine_similarity",
                            "Running mean cosine similarity.", axis=-1)
BinaryCrossentropy = _wrapper("BinaryCrossentropy", _losses.binary_crossentropy, "binary_crossentropy",
                              "Running mean binary cross-entropy.", from_logits=False, label_smoothing=0)
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", _losses.categorical_crossentropy,
                                   "categorical_crossentropy", "Running mean categorical cross-entropy.",
                                   from_logits=False, label_smoothing=0, axis=-1)
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy",
                                         _losses.sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy",
                                         "Running mean sparse categorical cross-entropy.",
                                         from_logits=False, ignore_class=None, axis=-1)
KLDivergence = _wrapper("KLDivergence", _losses.kl_divergence, "kl_divergence", "Running mean KL divergence.")
Poisson = _wrapper("Poisson", _losses.poisson, "poisson", "Running mean Poisson loss.")
Hinge = _wrapper("Hinge", _losses.hinge, "hinge", "Running mean hinge loss.")
SquaredHinge = _wrapper("SquaredHinge", _losses.squared_hinge, "squared_hinge",
                        "Running mean squared hinge loss.")
CategoricalHinge = _wrapper("CategoricalHinge", _losses.categorical_hinge, "categorical_hinge",
                            "Running mean categorical hinge loss.")
