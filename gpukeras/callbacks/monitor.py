"""MonitorCallback: the monitor/mode/min_delta logic shared by EarlyStopping, ModelCheckpoint, ReduceLROnPlateau."""

from __future__ import annotations

import warnings
from typing import Any

from gpukeras.callbacks.callback import Callback

# Metric names (after stripping `val_` and an output prefix) whose direction Keras 3 knows; "up" = higher is better.
_UP_WORDS = ("accuracy", "acc", "auc", "precision", "recall", "f1_score", "fbeta_score", "iou", "r2_score",
             "cosine_similarity", "true_positives", "true_negatives", "specificity", "sensitivity")
_DOWN_WORDS = ("loss", "error", "crossentropy", "hinge", "poisson", "divergence", "logcosh", "mse", "mae", "mape",
               "msle", "false_positives", "false_negatives", "kld")


def metric_direction(name: str, model: Any = None) -> str | None:
    """'up', 'down' or None (unknown) for a logged metric name such as `val_accuracy`."""
    base = name.removeprefix("val_")
    if base == "loss" or base.endswith("_loss"):
        return "down"
    for metric in getattr(model, "metrics", None) or []:
        direction = getattr(metric, "_direction", None)
        if getattr(metric, "name", None) == base and direction in ("up", "down"):
            return direction
    if any(base == w or base.endswith("_" + w) or base.startswith(w + "_") for w in _UP_WORDS):
        return "up"
    if any(base == w or base.endswith("_" + w) or base.startswith(w + "_") for w in _DOWN_WORDS):
        return "down"
    return None


def learning_rate_of(optimizer: Any) -> float:
    """The optimizer's current learning rate as a Python float (host mirror when there is one)."""
    lr = optimizer.learning_rate
    if hasattr(lr, "host"):
        return float(lr.host)
    if hasattr(lr, "numpy"):
        return float(lr.numpy())
    return float(lr)


class MonitorCallback(Callback):
    """Base for callbacks that watch one logged quantity; `mode` auto/min/max picks the comparison."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
                 min_delta: float = 0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self._sign: int | None = None  # +1: higher is better, -1: lower is better

    @property
    def monitor_op(self) -> Any:
        """None until the direction is known, then `operator.gt` or `operator.lt` (as Keras's ops.greater/less)."""
        import operator

        if self._sign is None:
            return None
        return operator.gt if self._sign > 0 else operator.lt

    def _set_monitor_op(self) -> None:
        """Resolve the direction from `mode`, or from the metric's name in auto mode (ValueError if unknown)."""
        if self.mode == "min":
            self._sign = -1
        elif self.mode == "max":
            self._sign = 1
        else:
            direction = metric_direction(self.monitor, self.model)
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but gpukeras isn't able to "
                    "automatically determine whether that metric should be maximized or minimized. Pass "
                    "`mode='max'` in order to monitor based on the highest metric value, or pass `mode='min'` in "
                    "order to use the lowest value.")
            self._sign = 1 if direction == "up" else -1

    def _is_improvement(self, monitor_value: Any, reference_value: Any) -> bool:
        """True when `monitor_value` beats `reference_value` by more than `min_delta` (always, if no reference)."""
        if reference_value is None:
            return True
        if self._sign is None:
            self._set_monitor_op()
        value = float(monitor_value)
        reference = float(reference_value)
        if self._sign > 0:
            return value - self.min_delta > reference
        return value + self.min_delta < reference
