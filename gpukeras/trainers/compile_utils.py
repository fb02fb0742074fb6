"""What `compile` resolves: the loss per output with its weight, and the metrics per output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import losses as losses_module
from gpukeras import metrics as metrics_module
from gpukeras import ops
from gpukeras.tensor import Tensor

_ACCURACY_NAMES = ("accuracy", "acc", "crossentropy", "ce")


def losses_per_output(loss: Any, names: Sequence[str]) -> list[Any]:
    """One loss for every output, a list (one per output) or a dict by output name."""
    if isinstance(loss, dict):
        _check_keys(loss, names, "loss")
        return [loss.get(n) for n in names]
    if isinstance(loss, (list, tuple)):
        if len(loss) != len(names):
            raise ValueError(f"`loss` has {len(loss)} entries but the model has {len(names)} outputs {list(names)}.")
        return list(loss)
    return [loss] * len(names)


def weights_per_output(loss_weights: Any, names: Sequence[str]) -> list[float]:
    if loss_weights is None:
        return [1.0] * len(names)
    if isinstance(loss_weights, dict):
        _check_keys(loss_weights, names, "loss_weights")
        return [float(loss_weights.get(n, 1.0)) for n in names]
    if isinstance(loss_weights, (list, tuple)) and len(loss_weights) == len(names):
        return [float(w) for w in loss_weights]
    raise ValueError(f"loss_weights must be a list of {len(names)} numbers or a dict by output name "
                     f"{list(names)}, got {loss_weights!r}.")


def metrics_per_output(metrics: Any, names: Sequence[str]) -> list[list[Any]]:
    """A flat list applies to every output; a list of lists or a dict is per output."""
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        _check_keys(metrics, names, "metrics")
        return [_as_list(metrics.get(n)) for n in names]
    if not isinstance(metrics, (list, tuple)):
        raise ValueError(f"`metrics` must be a list or a dict, got {metrics!r}.")
    if len(names) > 1 and len(metrics) == len(names) and all(isinstance(m, (list, tuple)) or m is None
                                                             for m in metrics):
        return [_as_list(m) for m in metrics]
    return [list(metrics) for _ in names]


def per_output(value: Any, names: Sequence[str]) -> list[Any] | None:
    """A target, prediction or sample weight structured like the model's outputs, as a list in output order."""
    if value is None:
        return None
    if isinstance(value, dict):
        return [value[n] for n in names]
    if isinstance(value, (list, tuple)) and (len(names) > 1 or (len(value) == 1 and hasattr(value[0], "shape"))):
        return list(value)
    return [value]


def _check_keys(mapping: dict, names: Sequence[str], what: str) -> None:
    unknown = set(mapping) - set(names)
    if unknown:
        raise ValueError(f"`{what}` names unknown outputs {sorted(unknown)}; the model's outputs are {list(names)}.")


class CompiledLoss:
    """Sum over outputs of weight * loss(y_true, y_pred, sample_weight).

    With several outputs that have a loss it also tracks each one's loss (`metrics`: `<output>_loss` means,
    weighted by batch size), as Keras 3's CompileLoss does.
    """

    def __init__(self, loss: Any, loss_weights: Any, output_names: Sequence[str]):
        self.output_names = list(output_names)
        self.losses = [None if item is None else losses_module.get(item)
                       for item in losses_per_output(loss, output_names)]
        if all(fn is None for fn in self.losses):
            raise ValueError("compile(loss=...) resolved to no loss for any output.")
        self.weights = weights_per_output(loss_weights, output_names)
        # per-output trackers only when two or more outputs have a loss (Keras 3 counts the non-None ones)
        self.metrics = [] if sum(fn is not None for fn in self.losses) < 2 else [
            metrics_module.Mean(name=f"{n}_loss") for n, fn in zip(self.output_names, self.losses) if fn is not None]

    def __call__(self, y_true: list[Any], y_pred: list[Any], sample_weight: list[Any] | None) -> Tensor:
        total = None
        trackers = iter(self.metrics)
        for i, fn in enumerate(self.losses):
            if fn is None:
                continue
            sw = None if sample_weight is None else sample_weight[i if len(sample_weight) > 1 else 0]
            value = fn(y_true[i], y_pred[i], sample_weight=sw)
            tracker = next(trackers, None)
            if tracker is not None:
                tracker.update_state(value, sample_weight=int(y_pred[i].shape[0]))
            if self.weights[i] != 1.0:
                value = ops.multiply(value, self.weights[i])
            total = value if total is None else ops.add(total, value)
        return total


class CompiledMetrics:
    """Metrics per output, resolved on the first batch (when label shapes are known).

    To a training step it is one metric named "compile_metrics" (Keras 3's CompileMetrics):
    `update_state(y, y_pred, sample_weight)` updates every compiled metric, `result()` returns
    their values as a dict.
    """

    name = "compile_metrics"

    def __init__(self, metrics: Any, weighted_metrics: Any, output_names: Sequence[str], losses: list[Any]):
        self.output_names = list(output_names)
        self.spec = metrics_per_output(metrics, output_names)
        self.weighted_spec = metrics_per_output(weighted_metrics, output_names)
        self.losses = losses
        self.unweighted: list[list[Any]] = []
        self.weighted: list[list[Any]] = []
        self.built = False
        for items in self.spec + self.weighted_spec:
            for item in items:
                if not (isinstance(item, str) and item.lower() in _ACCURACY_NAMES):
                    metrics_module.get(item)  # unknown names fail here, at compile time

    def build(self, y_true: list[Any], y_pred: list[Any]) -> None:
        multi = len(self.output_names) > 1
        for spec_list, target in ((self.spec, self.unweighted), (self.weighted_spec, self.weighted)):
            target.clear()
            for i, items in enumerate(spec_list):
                made = []
                for item in items:
                    metric = metrics_module.get_for_compile(item, tuple(y_true[i].shape), tuple(y_pred[i].shape),
                                                            self.losses[i])
                    if multi:
                        metric.name = f"{self.output_names[i]}_{metric.name}"
                    made.append(metric)
                target.append(made)
        if self.weighted:
            taken = {m.name for ms in self.unweighted for m in ms}
            for ms in self.weighted:
                for m in ms:
                    if m.name in taken:
                        m.name = "weighted_" + m.name
        self.built = True

    @property
    def metrics(self) -> list[Any]:
        return [m for ms in self.unweighted for m in ms] + [m for ms in self.weighted for m in ms]

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Update every compiled metric; values are per output (a list or dict) or one value for one output."""
        names = self.output_names
        self.update_per_output(per_output(y_true, names), per_output(y_pred, names), per_output(sample_weight, names))

    def update_per_output(self, y_true: list[Any], y_pred: list[Any], sample_weight: list[Any] | None) -> None:
        """`update_state` with values already listed per output (the training loop's call)."""
        if not self.built:
            self.build(y_true, y_pred)
        for i, ms in enumerate(self.unweighted):
            for m in ms:
                m.update_state(y_true[i], y_pred[i])
        for i, ms in enumerate(self.weighted):
            sw = None if sample_weight is None else sample_weight[i if len(sample_weight) > 1 else 0]
            for m in ms:
                m.update_state(y_true[i], y_pred[i], sample_weight=sw)

    def reset_state(self) -> None:
        for m in self.metrics:
            m.reset_state()

    @property
    def variables(self) -> list[Any]:
        return [v for m in self.metrics for v in m.variables]

    def result(self) -> dict[str, Tensor]:
        return {m.name: m.result() for m in self.metrics}


def _as_list(spec: Any) -> list[Any]:
    if spec is None:
        return []
    return list(spec) if isinstance(spec, (list, tuple)) else [spec]
