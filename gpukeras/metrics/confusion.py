"""Threshold-based metrics (Keras 3 confusion_metrics): Precision, Recall, TP/FP/TN/FN counts and AUC.

Counts live in backend arrays of shape (num_thresholds,) (or (num_thresholds, num_labels) for a
multi-label AUC); a prediction is positive at a threshold when it is strictly greater than it.
"""

from __future__ import annotations

from typing import Any

from gpukeras import backend as _backend
from gpukeras.metrics.base import Metric, array_of, match_rank
from gpukeras.tensor import Tensor

EPSILON = 1e-7
NEG_INF = -1e10


def _thresholds(thresholds: Any, default: float) -> list[float]:
    values = [default] if thresholds is None else (
        [thresholds] if isinstance(thresholds, (int, float)) else list(thresholds))
    if thresholds is not None and any(not 0 <= t <= 1 for t in values):
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {thresholds}")
    return [float(t) for t in values]


def update_confusion(counts: dict[str, Any], y_true: Any, y_pred: Any, thresholds: list[float],
                     top_k: int | None = None, class_id: int | None = None, sample_weight: Any = None,
                     multi_label: bool = False, label_weights: Any = None) -> None:
    """Add weighted tp/fp/tn/fn counts (keys of `counts`, backend arrays updated in place)."""
    B = _backend.active
    dtype = next(iter(counts.values())).dtype
    p = array_of(y_pred, dtype)
    t = array_of(y_true, dtype)
    p, t = match_rank(p, t)
    w = None
    if sample_weight is not None:
        w = B.expand_dims(array_of(sample_weight, dtype), -1)
        if w.ndim == t.ndim + 1 and w.shape[-1] == 1:
            w = B.squeeze(w, -1)
    if top_k is not None:
        p = B.where(B.top_k_mask(p, top_k), p, NEG_INF)
    if class_id is not None:
        if p.ndim == 1:
            raise ValueError("When class_id is given, y_pred must be 2-D (samples, classes); "
                             f"got shape {p.shape}.")
        t, p = t[..., class_id:class_id + 1], p[..., class_id:class_id + 1]
    weights = None if w is None else B.broadcast_to(w, p.shape)
    if label_weights is not None and not multi_label:
        lw = B.broadcast_to(array_of(label_weights, dtype), p.shape)
        weights = lw if weights is None else B.multiply(weights, lw)
    thr = B.asarray(thresholds, dtype)
    if multi_label:
        thr = B.reshape(thr, (-1, 1, 1))
        pred_pos = B.compare("greater", B.expand_dims(p, 0), thr)  # (T, N, L)
        label_pos = B.expand_dims(B.cast(t, "bool"), 0)
        weights = None if weights is None else B.expand_dims(weights, 0)
    else:
        pred_pos = B.compare("greater", B.reshape(p, (1, -1)), B.reshape(thr, (-1, 1)))  # (T, N)
        label_pos = B.reshape(B.cast(t, "bool"), (1, -1))
        weights = None if weights is None else B.reshape(weights, (1, -1))
    pred_neg = B.logical("not", pred_pos)
    label_neg = B.logical("not", label_pos)
    cases = {"tp": (label_pos, pred_pos), "fp": (label_neg, pred_pos), "tn": (label_neg, pred_neg),
             "fn": (label_pos, pred_neg)}
    for key, target in counts.items():
        hit = B.logical("and", *cases[key])
        values = B.cast(hit, dtype) if weights is None else B.where(hit, weights, 0)
        B.add_inplace(target, B.sum(values, axis=1))


class _ConfusionCounts(Metric):
    """Shared constructor for Precision/Recall/TruePositives...: thresholds, top_k and class_id."""

    _keys: tuple[str, ...] = ()

    def __init__(self, thresholds: Any = None, top_k: int | None = None, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        names = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives",
                 "fn": "false_negatives"}
        self._counts = {}
        for key in self._keys:
            var = self.add_variable((len(self.thresholds),), name=names[key])
            setattr(self, names[key], var)
            self._counts[key] = var

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        update_confusion({k: v.data for k, v in self._counts.items()}, y_true, y_pred, self.thresholds,
                         self.top_k, self.class_id, sample_weight)

    def _single(self, values: Any) -> Tensor:
        return Tensor(values[0] if len(self.thresholds) == 1 else values)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_ConfusionCounts):
    """tp / (tp + fp) at each threshold (default 0.5)."""

    _keys = ("tp", "fp")

    def result(self) -> Tensor:
        B = _backend.active
        tp = self.true_positives.data
        return self._single(B.divide_no_nan(tp, B.add(tp, self.false_positives.data)))


class Recall(_ConfusionCounts):
    """tp / (tp + fn) at each threshold (default 0.5)."""

    _keys = ("tp", "fn")

    def result(self) -> Tensor:
        B = _backend.active
        tp = self.true_positives.data
        return self._single(B.divide_no_nan(tp, B.add(tp, self.false_negatives.data)))


def _count_class(key: str, cls_name: str) -> type:
    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None):
        _ConfusionCounts.__init__(self, thresholds=thresholds, name=name, dtype=dtype)

    def result(self) -> Tensor:
        return self._single(_backend.active.copy(self._counts[key].data))

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}

    cls = type(cls_name, (_ConfusionCounts,), {"_keys": (key,), "__init__": __init__, "result": result,
                                               "get_config": get_config,
                                               "__doc__": f"Weighted count of {cls_name} per threshold."})
    cls.__module__ = __name__
    return cls


TruePositives = _count_class("tp", "TruePositives")
FalsePositives = _count_class("fp", "FalsePositives")
TrueNegatives = _count_class("tn", "TrueNegatives")
FalseNegatives = _count_class("fn", "FalseNegatives")

_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Area under the ROC or PR curve from counts at evenly spaced (or given) thresholds."""

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, dtype: Any = None, thresholds: Any = None,
                 multi_label: bool = False, num_labels: int | None = None, label_weights: Any = None,
                 from_logits: bool = False):
        if str(curve).upper() not in _CURVES:
            raise ValueError(f"Invalid `curve` argument value {curve!r}. "
                             f"Expected one of: {', '.join(_CURVES)}")
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f"Invalid `summation_method` argument value {summation_method!r}. "
                             f"Expected one of: {', '.join(_SUMMATIONS)}")
        super().__init__(name=name, dtype=dtype)
        self._init_thresholds = thresholds
        if thresholds is not None:
            inner = sorted(_thresholds(thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: {num_thresholds}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]
        self.curve = str(curve).upper()
        self.summation_method = str(summation_method).lower()
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = label_weights
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build(num_labels)
        elif num_labels:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        else:
            self._build(None)

    def _build(self, num_labels: int | None) -> None:
        shape = (self.num_thresholds,) if num_labels is None else (self.num_thresholds, num_labels)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.true_negatives = self.add_variable(shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        B = _backend.active
        p = array_of(y_pred, self.dtype)
        if not self._built:
            if p.ndim != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`; got shape {p.shape}.")
            self._build(p.shape[1])
        if self._from_logits:
            p = B.activation("sigmoid", p)
        counts = {"tp": self.true_positives.data, "fp": self.false_positives.data,
                  "tn": self.true_negatives.data, "fn": self.false_negatives.data}
        label_weights = None if self.multi_label else self.label_weights
        update_confusion(counts, y_true, p, self.thresholds, sample_weight=sample_weight,
                         multi_label=self.multi_label, label_weights=label_weights)

    def _aggregate(self, terms: Any) -> Tensor:
        B = _backend.active
        if not self.multi_label:
            return Tensor(B.sum(terms))
        by_label = B.sum(terms, axis=0)
        if self.label_weights is None:
            return Tensor(B.mean(by_label))
        lw = array_of(self.label_weights, self.dtype)
        return Tensor(B.divide_no_nan(B.sum(B.multiply(by_label, lw)), B.sum(lw)))

    def _interpolate_pr_auc(self) -> Tensor:
        B = _backend.active
        tp, fp, fn = self.true_positives.data, self.false_positives.data, self.false_negatives.data
        dtp = B.subtract(tp[:-1], tp[1:])
        p = B.add(tp, fp)
        dp = B.subtract(p[:-1], p[1:])
        slope = B.divide_no_nan(dtp, B.maximum(dp, 0))
        intercept = B.subtract(tp[1:], B.multiply(slope, p[1:]))
        both = B.logical("and", B.compare("greater", p[:-1], 0), B.compare("greater", p[1:], 0))
        ratio = B.where(both, B.divide_no_nan(p[:-1], B.maximum(p[1:], 0)), 1)
        increment = B.divide_no_nan(B.multiply(slope, B.add(dtp, B.multiply(intercept, B.log(ratio)))),
                                    B.maximum(B.add(tp[1:], fn[1:]), 0))
        return self._aggregate(increment)

    def result(self) -> Tensor:
        B = _backend.active
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp = self.true_positives.data, self.false_positives.data
        tn, fn = self.true_negatives.data, self.false_negatives.data
        recall = B.divide_no_nan(tp, B.add(tp, fn))
        if self.curve == "ROC":
            x, y = B.divide_no_nan(fp, B.add(fp, tn)), recall
        elif self.curve == "PR":
            x, y = recall, B.divide_no_nan(tp, B.add(tp, fp))
        else:
            scale = B.divide_no_nan(B.add(tp, fn), B.add(tn, fp))
            zero_tp = B.compare("equal", tp, 0)
            recall_gain = B.where(zero_tp, 0, B.subtract(1, B.multiply(scale, B.divide_no_nan(fn, tp))))
            x = B.maximum(recall_gain, 0)
            y = B.where(zero_tp, 1, B.subtract(1, B.multiply(scale, B.divide_no_nan(fp, tp))))
        if self.summation_method == "interpolation":
            heights = B.divide(B.add(y[:-1], y[1:]), 2.0)
        elif self.summation_method == "minoring":
            heights = B.minimum(y[:-1], y[1:])
        else:
            heights = B.maximum(y[:-1], y[1:])
        return self._aggregate(B.multiply(B.subtract(x[:-1], x[1:]), heights))

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "from_logits": self._from_logits,
                  "label_weights": (None if self.label_weights is None
                                    else [float(w) for w in self.label_weights])}
        if self._init_thresholds is not None:
            config["thresholds"] = self.thresholds[1:-1]
        return config
