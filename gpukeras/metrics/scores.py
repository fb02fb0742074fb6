"""F-beta/F1 scores, R^2 and root mean squared error (Keras 3's f_score and regression metrics)."""

from __future__ import annotations

import warnings
from typing import Any

from gpukeras import backend as _backend
from gpukeras.metrics.base import Mean, Metric, array_of, match_rank
from gpukeras.tensor import Tensor

EPSILON = 1e-7


class FBetaScore(Metric):
    """F-beta from running per-class tp/fp/fn counts; `average` None, "micro", "macro" or "weighted"."""

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str = "fbeta_score", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError("Invalid `beta` argument value: expected a Python float > 0. "
                             f"Received: beta={beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError("Invalid `threshold` argument value: expected a Python float with "
                             f"0 < threshold <= 1. Received: threshold={threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={y_pred_shape} and "
                             f"y_true.shape={y_true_shape}.")
        shape = (y_pred_shape[-1],) if self.average != "micro" else ()
        for name in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
            setattr(self, name, self.add_variable(shape, name=name))
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        B = _backend.active
        t = array_of(y_true, self.dtype)
        p = array_of(y_pred, self.dtype)
        if not self._built:
            self._build(t.shape, p.shape)
        if self.threshold is None:
            top = B.max(p, axis=-1, keepdims=True)
            pred = B.logical("and", B.compare("greater_equal", p, top), B.compare("greater", B.abs(p), 1e-9))
        else:
            pred = B.compare("greater", p, self.threshold)
        pred = B.cast(pred, self.dtype)
        w = None if sample_weight is None else B.expand_dims(array_of(sample_weight, self.dtype), 1)

        def add(var: Any, values: Any) -> None:
            if w is not None:
                values = B.multiply(values, w)
            B.add_inplace(var.data, B.sum(values, axis=self.axis))

        add(self.true_positives, B.multiply(pred, t))
        add(self.false_positives, B.multiply(pred, B.subtract(1, t)))
        add(self.false_negatives, B.multiply(B.subtract(1, pred), t))
        add(self.intermediate_weights, t)

    def result(self) -> Tensor:
        B = _backend.active
        if not self._built:
            return Tensor(B.zeros((), self.dtype))
        tp = self.true_positives.data
        precision = B.divide(tp, B.add(B.add(tp, self.false_positives.data), EPSILON))
        recall = B.divide(tp, B.add(B.add(tp, self.false_negatives.data), EPSILON))
        b2 = self.beta ** 2
        denominator = B.add(B.add(B.multiply(precision, b2), recall), EPSILON)
        mean = B.divide(B.multiply(precision, recall), denominator)
        f = B.multiply(mean, 1 + b2)
        if self.average == "weighted":
            iw = self.intermediate_weights.data
            f = B.sum(B.multiply(f, B.divide(iw, B.add(B.sum(iw), EPSILON))))
        elif self.average is not None:
            f = B.mean(f)
        return Tensor(f)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta, "average": self.average,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """F-beta with beta = 1: the harmonic mean of precision and recall."""

    def __init__(self, average: str | None = None, threshold: float | None = None, name: str = "f1_score",
                 dtype: Any = None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(Metric):
    """Coefficient of determination per output, averaged uniformly or by variance (optionally adjusted)."""

    _AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")

    def __init__(self, class_aggregation: str | None = "uniform_average", num_regressors: int = 0,
                 name: str = "r2_score", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in self._AGGREGATIONS:
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of "
                             f"{self._AGGREGATIONS}. Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`: expected >= 0, "
                             f"got {num_regressors}.")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_variable((), name="num_samples")
        self._built = False

    def _build(self, shape: tuple) -> None:
        if len(shape) != 2:
            raise ValueError(f"R2Score expects 2D inputs with shape (batch_size, output_dim); got {shape}.")
        for name, attr in (("squared_sum", "squared_sum"), ("sum", "sum"), ("residual", "total_mse"),
                           ("count", "count")):
            setattr(self, attr, self.add_variable((shape[-1],), name=name))
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        B = _backend.active
        t, p = match_rank(array_of(y_true, self.dtype), array_of(y_pred, self.dtype))
        if not self._built:
            self._build(t.shape)
        w = B.ones((), self.dtype) if sample_weight is None else array_of(sample_weight, self.dtype)
        if w.ndim == 1:
            w = B.expand_dims(w, 1)
        w = B.broadcast_to(w, t.shape)
        weighted = B.multiply(t, w)
        B.add_inplace(self.sum.data, B.sum(weighted, axis=0))
        B.add_inplace(self.squared_sum.data, B.sum(B.multiply(t, weighted), axis=0))
        B.add_inplace(self.total_mse.data, B.sum(B.multiply(B.square(B.subtract(t, p)), w), axis=0))
        B.add_inplace(self.count.data, B.sum(w, axis=0))
        B.add_inplace(self.num_samples.data, t.size)

    def result(self) -> Tensor:
        B = _backend.active
        if not self._built:
            return Tensor(B.zeros((), self.dtype))
        s = self.sum.data
        mean = B.divide(s, self.count.data)
        total = B.subtract(self.squared_sum.data, B.multiply(s, mean))
        mse = self.total_mse.data
        # Keras: x/0 gives inf and the score 0; 0/0 gives NaN and stays NaN (computed here without warnings)
        zero = B.compare("equal", total, 0)
        raw = B.subtract(1, B.divide_no_nan(mse, total))
        raw = B.where(zero, B.where(B.compare("equal", mse, 0), B.asarray(float("nan"), raw.dtype), 0), raw)
        if self.class_aggregation == "uniform_average":
            score = B.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = B.divide(B.sum(B.multiply(total, raw)), B.sum(total))
        else:
            score = raw
        if self.num_regressors:
            n = B.item(self.num_samples.data)  # adjusted R2 needs the count on the host
            if self.num_regressors > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. "
                              "Falling back to standard R2 score.", stacklevel=2)
            elif self.num_regressors == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                score = B.subtract(1.0, B.divide(B.multiply(B.subtract(1.0, score), n - 1.0),
                                                 n - self.num_regressors - 1.0))
        return Tensor(score)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


class RootMeanSquaredError(Mean):
    """sqrt of the running weighted mean of squared errors."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        B = _backend.active
        t, p = match_rank(array_of(y_true, self.dtype), array_of(y_pred, self.dtype))
        super().update_state(B.square(B.subtract(p, t)), sample_weight)

    def result(self) -> Tensor:
        return Tensor(_backend.active.sqrt(super().result().data))
