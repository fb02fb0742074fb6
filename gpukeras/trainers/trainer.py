"""The Keras training API on Model: compile, fit, evaluate, predict, the *_on_batch calls, and the
public hooks a subclass overrides (Keras 3's `train_step`, `test_step`, `predict_step`,
`compute_loss`, `compute_metrics`).

One default training step = forward under a recording tape, `compute_loss` (+ regularization),
`optimizer.scale_loss`, one backward walk, one fused optimizer call, metric updates on device
values. Nothing is read back to the host per step unless a callback or the progress bar asks;
when no hook is overridden fit runs that step without building the logs dict a hook returns.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras import distribution
from gpukeras import metrics as metrics_module
from gpukeras import optimizers as optimizers_module
from gpukeras import random as _random
from gpukeras.autodiff import gradient, recording, stop_recording
from gpukeras.callbacks.callback_list import CallbackList
from gpukeras.layers.layer import framework_attributes, method_takes
from gpukeras.losses import target_kind
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object
from gpukeras.tensor import Tensor, get_keras_mask, set_keras_mask
from gpukeras.trainers import arrays, data_parallel
from gpukeras.trainers.compile_utils import CompiledLoss, CompiledMetrics, per_output
from gpukeras.trainers.compiled_step import CompiledStep, compiles
from gpukeras.trainers.data_sources import ArraySource, StreamSource, is_batch_stream
from gpukeras.trainers.logs import LazyLogs, PredictBatchLogs, host_logs
from gpukeras.trainers.target_checks import check_targets
from gpukeras.tree import flatten, pack_sequence_as
from gpukeras.utils.batches import pack_x_y_sample_weight, unpack_x_y_sample_weight

_TF2_COMPILE_ARGS = {"sample_weight_mode", "target_tensors", "distribute", "experimental_run_tf_function"}


def _batch_size(x: Any) -> int:
    return int(flatten(x)[0].shape[0])


class Trainer:
    """Mixed into Model; relies on Model's `__call__`, `trainable_weights`, `losses`, input/output names."""

    def _init_training_state(self) -> None:
        """Everything compile and fit set later, present from the start: a fresh model then shows every
        attribute the framework owns, which is how saving tells them from the user's sub-layers."""
        self.compiled = False
        self.optimizer: Any = None
        self.loss: Any = None
        self._compiled_loss: CompiledLoss | None = None
        self._compiled_metrics: CompiledMetrics | None = None
        self._loss_tracker: Any = None
        self._compile_args: dict[str, Any] = {}
        self.run_eagerly = False
        self.jit_compile: Any = "auto"
        self.steps_per_execution = 1
        self.stop_training = False
        self.history: Any = None
        self._in_fit = False
        self._initial_epoch: int | None = None
        self._group: Any = None  # the data-parallel process group while fit/evaluate runs across processes
        self._trainable_cache: list[Any] = []
        self._layers_cache: list[Any] = []
        self._regularized: list[Any] = []
        self._step_caches_ready = False
        self._probed_output_shapes: list[tuple] | None = None
        self._warned_no_trainable = False
        self._compiled_steps: dict[str, CompiledStep] = {}

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True,
                **kwargs: Any) -> None:
        """Configure training; every name is resolved here so typos fail before `fit`.

        `jit_compile`: True compiles the fit/evaluate/predict steps (traced once per input signature,
        then replayed: ARCHITECTURE.md, "How a compiled step runs") and raises where a step cannot be
        traced; "auto" (Keras 3's default) compiles the default steps and runs a step that cannot be
        traced eagerly, with one warning, and an overridden train/test/predict_step eagerly; False or
        `run_eagerly=True` run every step eagerly. With `steps_per_execution=k` callbacks see one batch
        begin and end per k steps (the end named by the k-th step), as in Keras 3.
        `auto_scale_loss`: under a mixed_float16 policy the optimizer is wrapped in a LossScaleOptimizer
        (dynamic loss scaling), as Keras 3 does.
        """
        unknown = set(kwargs) - _TF2_COMPILE_ARGS
        if unknown:
            raise TypeError(f"compile() got unexpected keyword argument(s): {sorted(unknown)}.")
        if kwargs.get("sample_weight_mode") not in (None, "temporal") and not isinstance(
                kwargs.get("sample_weight_mode"), (dict, list)):
            raise ValueError(f"sample_weight_mode must be None or 'temporal', got {kwargs['sample_weight_mode']!r}.")
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, int) or \
                steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be a positive integer, got {steps_per_execution!r}.")
        if jit_compile not in ("auto", True, False):
            raise ValueError(f"jit_compile must be 'auto', True or False, got {jit_compile!r}.")
        if not isinstance(auto_scale_loss, bool):
            raise ValueError(f"auto_scale_loss must be True or False, got {auto_scale_loss!r}.")
        opt = optimizers_module.get(optimizer)
        if auto_scale_loss and self.dtype_policy.name == "mixed_float16" and \
                not isinstance(opt, optimizers_module.LossScaleOptimizer):
            opt = optimizers_module.LossScaleOptimizer(opt, name="loss_scale_optimizer")
        names = self._compile_output_names()
        compiled_loss = None if loss is None else CompiledLoss(loss, loss_weights, names)
        compiled_metrics = CompiledMetrics(metrics, weighted_metrics, names,
                                           [None] * len(names) if compiled_loss is None else compiled_loss.losses)
        self.optimizer = opt
        self.loss = loss
        self._compiled_loss = compiled_loss
        self._compiled_metrics = compiled_metrics
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._compile_args = {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
                              "metrics": metrics, "weighted_metrics": weighted_metrics,
                              "run_eagerly": run_eagerly, "steps_per_execution": steps_per_execution,
                              "jit_compile": jit_compile, **kwargs}
        self.run_eagerly = run_eagerly
        self.jit_compile = jit_compile
        self.steps_per_execution = steps_per_execution
        self.stop_training = False
        self._compiled_steps = {}
        self.compiled = True

    def _compile_output_names(self) -> list[str]:
        return self.output_names if self.output_names else ["output"]

    def get_compile_config(self) -> dict[str, Any] | None:
        """Keras 3's compile config: the resolved optimizer and the loss/metrics as they were passed."""
        if not self.compiled:
            return None
        args = self._compile_args
        jit = args.get("jit_compile", "auto")
        return {
            "optimizer": serialize_keras_object(self.optimizer),
            "loss": serialize_keras_object(args.get("loss")),
            "loss_weights": serialize_keras_object(args.get("loss_weights")),
            "metrics": serialize_keras_object(args.get("metrics")),
            "weighted_metrics": serialize_keras_object(args.get("weighted_metrics")),
            "run_eagerly": bool(args.get("run_eagerly", False)),
            "steps_per_execution": int(args.get("steps_per_execution", 1)),
            "jit_compile": jit if isinstance(jit, bool) else True,
        }

    def compile_from_config(self, config: Mapping[str, Any]) -> None:
        """Compile from `get_compile_config()`'s output and build the optimizer (so its state can load).

        A saved `jit_compile=True` loads as "auto": files record "auto" as True (as Keras 3 does), so a
        loaded model whose step cannot be traced runs eagerly with a warning instead of raising."""
        config = deserialize_keras_object(dict(config))
        known = {"optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly",
                 "steps_per_execution", "jit_compile"}
        args = {k: v for k, v in config.items() if k in known}
        if args.get("jit_compile") is True:
            args["jit_compile"] = "auto"
        self.compile(**args)
        if self.built and self.trainable_weights:
            self.optimizer.build(self.trainable_weights)

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self) -> list[Any]:
        """Keras 3's order: the loss tracker, "compile_metrics", per-output losses, then the model's own metrics."""
        out: list[Any] = []
        if self.compiled:
            out += [self._loss_tracker, self._compiled_metrics]
            if self._compiled_loss is not None:
                out += self._compiled_loss.metrics
        skip = framework_attributes(type(self))
        out += [v for k, v in vars(self).items() if isinstance(v, metrics_module.Metric) and k not in skip]
        return out

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict[str, Any]:
        """Every metric's current value (device scalars), "compile_metrics" spread into the top level."""
        out: dict[str, Any] = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                out.update(result)
            else:
                out[metric.name] = result
        return out

    def _metric_results(self) -> dict[str, float]:
        """Current values of the loss and metrics, read back to the host (over every rank in a data-parallel
        fit or evaluate: a collective call)."""
        if self._group is not None:
            return data_parallel.global_results(self, self._group)
        return host_logs(self.get_metrics_result())

    def _flatten_metrics_in_order(self, logs: Mapping[str, float]) -> Any:
        """Logs as a list in `metrics` order (compiled metrics spread out), unknown keys sorted after."""
        names: list[str] = []
        for metric in self.metrics:
            names += [m.name for m in metric.metrics] if isinstance(metric, CompiledMetrics) else [metric.name]
        values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ public hooks (Keras 3)
    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> Tensor:
        """The compiled loss plus the model's losses (activity and weight regularization), summed."""
        parts = []
        if self._compiled_loss is not None:
            names = self._compiled_loss.output_names
            parts.append(self._compiled_loss(per_output(y, names), per_output(y_pred, names),
                                             per_output(sample_weight, names)))
        parts += self._step_losses() if self._step_caches_ready else self.losses
        if not parts:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`, or add losses with "
                             "add_loss().")
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, Any]:
        """Update the compiled metrics with this batch and return every metric's current value."""
        names = self._compiled_metrics.output_names
        self._update_compiled_metrics(per_output(y, names), per_output(y_pred, names),
                                      per_output(sample_weight, names))
        return self.get_metrics_result()

    def train_step(self, data: Any) -> dict[str, Any]:
        """One optimization step on `data` (`x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`); returns the logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self._train_batch(x, y, sample_weight, _batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data: Any) -> dict[str, Any]:
        """Loss and metric updates for one evaluation batch; returns the logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self._test_batch(x, y, sample_weight, _batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for one batch of inputs."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ------------------------------------------------------------------ the default steps' work
    def _train_batch(self, x: Any, y: Any, sample_weight: Any, batch_size: int) -> Any:
        """Forward, loss, scaled backward, optimizer update and loss tracking; returns the predictions."""
        variables = self._trainable_cache if self._step_caches_ready else self.trainable_weights
        with recording():
            y_pred = self(x, training=True)
            loss = self._compute_loss(x, y, y_pred, sample_weight, training=True)
            scaled = self.optimizer.scale_loss(loss)
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        if variables and self._group is not None:  # data parallel: buckets summed while backward runs
            reduction = data_parallel.reducer(self, self._group, variables)
            data_parallel.begin_reduction(reduction)
            gradient(scaled, variables, on_ready=lambda i, g: data_parallel.gradient_ready(reduction, i, g))
            data_parallel.apply_reduced(reduction, self.optimizer, variables)
        elif variables:
            # The optimizer skips (and warns about) weights the loss does not reach.
            self.optimizer.apply(gradient(scaled, variables), variables)
        elif not self._warned_no_trainable:
            self._warned_no_trainable = True
            warnings.warn("The model does not have any trainable weights.", stacklevel=3)
        return y_pred

    def _test_batch(self, x: Any, y: Any, sample_weight: Any, batch_size: int) -> Any:
        with stop_recording():
            y_pred = self(x, training=False)
            loss = self._compute_loss(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        return y_pred

    def _compute_loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> Tensor:
        """`compute_loss`, also when an override predates its `training` argument (Keras calls those too)."""
        if method_takes(type(self), "compute_loss", "training"):
            return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)

    def _update_compiled_metrics(self, ys: list[Any], y_preds: list[Any], sample_weights: list[Any] | None) -> None:
        """Compiled metric updates from per-output lists, outside the tape (predictions detached)."""
        with stop_recording():
            detached = [_detached(p) for p in y_preds]
            self._compiled_metrics.update_per_output(ys, detached, sample_weights)

    def _step_losses(self) -> list[Any]:
        """`model.losses` for one step, from lists cached when training began (it runs every step)."""
        out = [loss for layer in self._layers_cache for loss in layer._losses]
        out.extend(regularizer(var) for var, regularizer in self._regularized)
        return out

    def _overridden(self, *hooks: str) -> bool:
        return any(getattr(type(self), hook) is not getattr(Trainer, hook) for hook in hooks)

    def _structured(self, x: list[Tensor], y: list[Tensor] | None, sw: list[Tensor] | None) -> tuple:
        """Flat batch lists in the model's input and output structures (what steps and hooks receive)."""
        return (self._pack_inputs(x), None if y is None else self._unflatten_outputs(y),
                None if sw is None else self._unflatten_outputs(sw))

    def _compiled(self, kind: str, custom: bool) -> CompiledStep | None:
        """The compiled `kind` step ("train", "test", "predict") when compile() asks for one, else None (eager).

        Under jit_compile="auto" a step the subclass overrides (`custom`) runs eagerly: its Python (counters,
        prints, host reads) then runs at every step as written; jit_compile=True compiles it too."""
        if not compiles(self.jit_compile, self.run_eagerly) or (custom and self.jit_compile is not True):
            return None
        step = self._compiled_steps.get(kind)
        if step is None:
            step = self._compiled_steps[kind] = CompiledStep(kind, strict=self.jit_compile is True)
        return step

    def _run_train_step(self, x: list[Tensor], y: list[Tensor] | None, sw: list[Tensor] | None, n: int,
                        custom: bool) -> Any:
        """One training batch: the subclass's train_step (its logs returned), or the default step (None);
        compiled (traced once per signature, then replayed) unless compile() asked for eager steps."""
        compiled = self._compiled("train", custom)
        if compiled is None:
            return self._train_step_eagerly(x, y, sw, n, custom)
        return compiled(lambda bx, by, bsw: self._train_step_eagerly(bx, by, bsw, n, custom), x, y, sw,
                        (n, custom, id(self.optimizer)))

    def _train_step_eagerly(self, x: list[Tensor], y: list[Tensor] | None, sw: list[Tensor] | None, n: int,
                            custom: bool) -> Any:
        packed, y_struct, sw_struct = self._structured(x, y, sw)
        if custom:
            return self.train_step(pack_x_y_sample_weight(packed, y_struct, sw_struct))
        y_pred = self._train_batch(packed, y_struct, sw_struct, n)
        self._update_compiled_metrics(y, self._flat_outputs(y_pred), sw)
        return None

    def _run_test_step(self, x: list[Tensor], y: list[Tensor] | None, sw: list[Tensor] | None, n: int,
                       custom: bool) -> Any:
        """One evaluation batch: the subclass's test_step (its logs returned), or the default step (None)."""
        compiled = self._compiled("test", custom)
        if compiled is None:
            return self._test_step_eagerly(x, y, sw, n, custom)
        return compiled(lambda bx, by, bsw: self._test_step_eagerly(bx, by, bsw, n, custom), x, y, sw, (n, custom))

    def _test_step_eagerly(self, x: list[Tensor], y: list[Tensor] | None, sw: list[Tensor] | None, n: int,
                           custom: bool) -> Any:
        packed, y_struct, sw_struct = self._structured(x, y, sw)
        if custom:
            return self.test_step(pack_x_y_sample_weight(packed, y_struct, sw_struct))
        if y is None and self._compiled_loss is not None:
            raise ValueError("Evaluation batches need labels: got batches with only x.")
        y_pred = self._test_batch(packed, y_struct, sw_struct, n)
        self._update_compiled_metrics(y, self._flat_outputs(y_pred), sw)
        return None

    def _batch_logs(self, step_logs: Any, training: bool = False) -> Any:
        """A batch end's logs, read only if a callback looks: the metrics, or a custom step's own logs.
        Across processes the metrics are summed over ranks now, on every rank (a collective)."""
        if self._group is not None and step_logs is None:
            return self._with_loss_scale(self._metric_results(), training)
        if step_logs is not None:
            return LazyLogs(lambda: step_logs)
        return LazyLogs(lambda: self._with_loss_scale(self.get_metrics_result(), training))

    def _logs_after(self, last_logs: Any, training: bool = False) -> dict[str, float]:
        """Epoch or evaluation logs: the metrics, or a custom step's own last logs when they name others."""
        results = self._metric_results()
        if last_logs is None or set(host_logs(last_logs)) == set(results):
            return self._with_loss_scale(results, training)
        return host_logs(last_logs)

    def _with_loss_scale(self, logs: dict[str, Any], training: bool) -> dict[str, Any]:
        """Training logs under a LossScaleOptimizer also carry its current `loss_scale`: a halving is a skipped
        step (non-finite gradients), so both show in the progress bar and History."""
        optimizer = getattr(self, "optimizer", None)
        if training and isinstance(optimizer, optimizers_module.LossScaleOptimizer):
            logs["loss_scale"] = float(optimizer.dynamic_scale.host)
        return logs

    # ------------------------------------------------------------------ data preparation
    def _prepare(self, x: Any, y: Any, sample_weight: Any, class_weight: Any, what: str) -> tuple:
        """Validate and flatten one data set; returns (xs, ys, sws, n) as host arrays."""
        if x is None:
            raise ValueError(f"{what}: `x` is required.")
        xs = arrays.flatten_data(x, self._known_input_names(), "x", self._input_dtypes())
        ys = arrays.flatten_data(y, self._known_output_names(), "y")
        sws = arrays.flatten_data(sample_weight, self._known_output_names(), "sample_weight")
        names = [f"x[{i}]" for i in range(len(xs))] + [f"y[{i}]" for i in range(len(ys or []))] + \
            [f"sample_weight[{i}]" for i in range(len(sws or []))]
        n = arrays.num_samples(xs + (ys or []) + (sws or []), names)
        if class_weight is not None:
            if sws is not None:
                raise ValueError("Pass either `class_weight` or `sample_weight`, not both.")
            if ys is None or len(ys) != 1:
                raise ValueError("`class_weight` is only supported for models with a single output and labels y.")
            if not isinstance(class_weight, dict):
                raise ValueError(f"`class_weight` must be a dict {{class: weight}}, got {type(class_weight).__name__}.")
        return xs, self._targets_for_losses(ys, n), sws, n

    def _targets_for_losses(self, ys: list[np.ndarray] | None, n: int) -> list[np.ndarray] | None:
        """Keras 3 lets y hold only the targets of the outputs that have a loss (`loss=[fn, None]` with one y
        array); the outputs without one get an empty (n, 0) placeholder that no loss reads."""
        losses = self._compiled_loss.losses if self._compiled_loss is not None else None
        if ys is None or losses is None or len(ys) == len(losses):
            return ys
        used = [i for i, fn in enumerate(losses) if fn is not None]
        if len(ys) != len(used):
            return ys  # the count check in _begin names the mismatch
        full = [np.zeros((n, 0), dtype="float32")] * len(losses)
        for y, i in zip(ys, used):
            full[i] = y
        return full

    def _check_batch_size(self, batch_size: Any, name: str = "batch_size") -> int:
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"`{name}` must be a positive integer, got {batch_size!r}.")
        return int(batch_size)

    def _check_ready(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}().")

    def _input_dtypes(self) -> list[str] | None:
        """The dtype each input is cast to before a step (the Input's dtype), when the model declares one."""
        return None

    def _to_backend(self, batch: list[np.ndarray] | None, dtypes: list[str] | None = None) -> list[Tensor] | None:
        """Host arrays as backend Tensors, cast on the host to `dtypes` (Keras casts int x to the Input dtype);
        data of a "string" input stays a host array of text inside its Tensor (strings never go to a device)."""
        if batch is None:
            return None
        B = _backend.active
        if dtypes is not None and len(dtypes) == len(batch):
            return [Tensor(a) if d == arrays.TEXT_DTYPE else Tensor(B.asarray(a if a.dtype == d else a.astype(d)))
                    for a, d in zip(batch, dtypes)]
        return [Tensor(B.asarray(a)) for a in batch]

    @contextlib.contextmanager
    def _session(self, xs: list[np.ndarray], ys: list[np.ndarray] | None) -> Iterator[None]:
        """`_begin`, then steps may use its caches until the block ends (a hook called outside fit,
        evaluate or *_on_batch reads the model afresh, so it never sees a stale weight list)."""
        outer = self._step_caches_ready
        self._begin(xs, ys)
        self._step_caches_ready = True
        try:
            yield
        finally:
            self._step_caches_ready = outer

    @contextlib.contextmanager
    def _across(self, group: Any) -> Iterator[None]:
        """Evaluate across the processes of `group` (None: in this process only) for the block."""
        outer, self._group = self._group, group
        try:
            yield
        finally:
            self._group = outer

    def _begin(self, xs: list[np.ndarray], ys: list[np.ndarray] | None) -> None:
        """Build on first data, check feature and target shapes, and cache the trainable weights."""
        self._build_from_data(xs)
        self._check_input_shapes(xs)
        if ys is not None and len(ys) != len(self._compile_output_names()):
            raise ValueError(f"y has {len(ys)} arrays but the model has {len(self._compile_output_names())} "
                             f"outputs {self._compile_output_names()}.")
        self._check_targets(xs, ys)
        self._trainable_cache = self.trainable_weights
        self._layers_cache = self._flatten_layers()
        self._regularized = [(v, v.regularizer) for v in self.weights if v.regularizer is not None]

    def _check_targets(self, xs: list[np.ndarray], ys: list[np.ndarray] | None, what: str = "y") -> None:
        """Refuse targets that do not fit the outputs under their built-in losses (host arrays, no sync)."""
        if ys is None or self._compiled_loss is None:
            return
        fns = self._compiled_loss.losses
        if all(fn is None or target_kind(fn) is None for fn in fns):
            return
        shapes = self._outputs_for_checks(xs)
        check_targets(ys, shapes, fns, self._compile_output_names(), what)

    def _outputs_for_checks(self, xs: list[np.ndarray]) -> list[tuple]:
        """Per-output shapes (batch None): from the graph, or from one probe call on a single sample."""
        shapes = self._symbolic_output_shapes()
        if shapes is None:
            if self._probed_output_shapes is None:
                with stop_recording():
                    out = self(self._pack_inputs(self._to_backend([x[:1] for x in xs], self._input_dtypes())),
                               training=False)
                self._probed_output_shapes = [(None,) + tuple(t.shape[1:]) for t in self._flat_outputs(out)]
            shapes = self._probed_output_shapes
        return shapes

    def _source(self, x: Any, y: Any, sample_weight: Any, class_weight: Any, batch_size: int, shuffle: Any,
                loading: tuple[int, bool, int], what: str, split: float = 0.0) -> tuple[Any, Any]:
        """The batch source for `x` (and, for `validation_split`, the validation source)."""
        if is_batch_stream(x):
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ValueError(f"{what}: `{name}` must not be given when `x` is a PyDataset or generator "
                                     "(the batches carry it).")
            if split:
                raise ValueError(f"{what}: `validation_split` needs arrays; pass `validation_data` instead.")
            return StreamSource(x, self._known_input_names(), self._known_output_names(), class_weight,
                                *loading, input_dtypes=self._input_dtypes()), None
        xs, ys, sws, n = self._prepare(x, y, sample_weight, class_weight, what)
        if n == 0:
            raise ValueError(f"{what}: the data is empty (0 samples).")
        val = None
        if split:
            (xs, ys, sws), (vx, vy, vsw) = arrays.split_validation([xs, ys, sws], split, n)
            n = len(xs[0])
            val = ArraySource(vx, vy, vsw, len(vx[0]), batch_size, False, _random.generator())
        if class_weight is not None:  # weights the training rows only, never validation
            sws = [arrays.class_weights_to_sample_weights(ys[0], class_weight)]
        return ArraySource(xs, ys, sws, n, batch_size, shuffle, _random.generator()), val

    def _validation_source(self, data: Any, batch_size: int, loading: tuple[int, bool, int]) -> Any:
        if is_batch_stream(data):
            return self._source(data, None, None, None, batch_size, False, loading, "validation_data")[0]
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, val_sample_weight), "
                             "a PyDataset or a generator.")
        sw = data[2] if len(data) == 3 else None
        return self._source(data[0], data[1], sw, None, batch_size, False, loading, "validation_data")[0]

    def _check_validation(self, val: Any) -> None:
        """Refuse validation data that does not fit the model before the first epoch, not after it."""
        vx, vy, _ = val.first()
        try:
            self._check_input_shapes(vx)
            if vy is not None and len(vy) != len(self._compile_output_names()):
                raise ValueError(f"it has {len(vy)} target arrays but the model has "
                                 f"{len(self._compile_output_names())} outputs")
            self._check_targets(vx, vy, "validation y")
        except ValueError as e:
            raise ValueError(f"validation data does not fit the model: {e}") from None

    # ------------------------------------------------------------------ fit
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: Any = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: Any = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: Any = 1, max_queue_size: int = 10, workers: int = 1,
            use_multiprocessing: bool = False, **kwargs: Any) -> Any:
        """Train for `epochs - initial_epoch` epochs; returns the History callback."""
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword argument(s): {sorted(kwargs)}.")
        self._check_ready("fit")
        batch_size = self._check_batch_size(batch_size)
        val_batch_size = self._check_batch_size(validation_batch_size or batch_size, "validation_batch_size")
        if not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
            raise ValueError(f"`validation_split` must be a number in [0, 1), got {validation_split!r}.")
        if not isinstance(epochs, numbers.Integral) or not isinstance(initial_epoch, numbers.Integral):
            raise ValueError(f"`epochs` and `initial_epoch` must be integers, got {epochs!r}, {initial_epoch!r}.")
        for name, value in (("steps_per_epoch", steps_per_epoch), ("validation_steps", validation_steps)):
            if value is not None and (not isinstance(value, numbers.Integral) or value <= 0):
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        verbose = _resolve_verbose(verbose)
        loading = _check_loading(workers, use_multiprocessing, max_queue_size)
        group = distribution.process_group()
        if group is not None and batch_size < group.size:
            raise ValueError(f"batch_size={batch_size} is smaller than the {group.size} processes of the job: "
                             "each process needs at least one row of every global batch.")
        source, val = self._source(x, y, sample_weight, class_weight, batch_size, shuffle, loading, "fit",
                                   validation_split)
        if validation_data is not None:
            val = self._validation_source(validation_data, val_batch_size, loading)
        first_x, first_y, _ = source.first()
        self._begin(first_x, first_y)
        if val is not None:
            self._check_validation(val)
        steps = steps_per_epoch or source.steps
        cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps)
        want_begin = cbs.wants_batch_logs("on_train_batch_begin") or cbs.wants_batch_logs("on_batch_begin")
        want_end = True if verbose == 1 else (
            cbs.wants_batch_logs("on_train_batch_end") or cbs.wants_batch_logs("on_batch_end"))
        if group is not None:  # every rank must compute batch logs at the same steps
            want_end = data_parallel.agree(group, want_end)
        custom = self._overridden("train_step", "compute_metrics")
        dtypes = self._input_dtypes()
        check_batches = isinstance(source, StreamSource)
        k = self.steps_per_execution
        self.stop_training = False
        self._in_fit = True
        self._initial_epoch = None
        cbs.on_train_begin()
        if group is not None:  # after a BackupAndRestore resume: rank 0's state is everyone's
            self._initial_epoch = data_parallel.begin(self, group, [source, val])
            self._group = group
        if self._initial_epoch is not None:  # a callback (BackupAndRestore) resumed an interrupted run
            initial_epoch = self._initial_epoch
        epoch_logs: dict[str, float] = {}
        outer_caches, self._step_caches_ready = self._step_caches_ready, True
        try:
            for epoch in range(int(initial_epoch), int(epochs)):
                self.reset_metrics()
                cbs.on_epoch_begin(epoch)
                last_logs = None
                begun = None  # first step of the execution (steps_per_execution steps) under way
                for step, batch in enumerate(data_parallel.batches(group, source, steps_per_epoch)):
                    if group is not None and (batch := data_parallel.shard(group, batch)) is None:
                        continue
                    bx, by, bsw = batch
                    if step % k == 0:
                        begun = step
                        if want_begin:
                            cbs.on_train_batch_begin(step)
                    if check_batches:
                        self._check_targets(bx, by)
                    last_logs = self._run_train_step(self._to_backend(bx, dtypes), self._to_backend(by),
                                                     self._to_backend(bsw), len(bx[0]), custom)
                    if step % k == k - 1:
                        begun = None
                        if want_end:
                            cbs.on_train_batch_end(step, self._batch_logs(last_logs, training=True))
                        if self.stop_training:
                            break
                if begun is not None and want_end:  # a last, shorter execution: Keras names its full end
                    cbs.on_train_batch_end(begun + k - 1, self._batch_logs(last_logs, training=True))
                source.end_epoch()
                if group is not None:
                    data_parallel.average_non_trainable(self, group)
                epoch_logs = self._logs_after(last_logs, training=True)
                if val is not None and _should_validate(epoch, validation_freq):
                    val_logs = self._run_evaluation(val, validation_steps, cbs)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, epoch_logs)
                if group is not None:  # a callback on one rank may stop: all stop
                    self.stop_training = data_parallel.agree(group, self.stop_training)
                if self.stop_training:
                    break
        finally:
            self._in_fit = False
            self._group = None
            if group is not None:
                group.share = 1.0 / group.size
            self._step_caches_ready = outer_caches
            if epochs > initial_epoch:  # EMA optimizers copy their averages into the model now
                self.optimizer.finalize_variable_values(self._trainable_cache)
        cbs.on_train_end(epoch_logs)
        return cbs.history

    # ------------------------------------------------------------------ evaluate
    def _run_evaluation(self, source: Any, steps: int | None, cbs: CallbackList) -> dict[str, float]:
        self.reset_metrics()
        cbs.on_test_begin()
        want_end = cbs.wants_batch_logs("on_test_batch_end")
        if self._group is not None:
            want_end = data_parallel.agree(self._group, want_end)
        want_begin = cbs.wants_batch_logs("on_test_batch_begin")
        custom = self._overridden("test_step", "compute_metrics")
        dtypes = self._input_dtypes()
        check_batches = isinstance(source, StreamSource)
        last_logs = None
        k, begun = self.steps_per_execution, None
        for step, batch in enumerate(data_parallel.batches(self._group, source, steps)):
            if self._group is not None:
                batch = data_parallel.shard(self._group, batch, training=False)
            bx, by, bsw = batch
            if step % k == 0:
                begun = step
                if want_begin:
                    cbs.on_test_batch_begin(step)
            if check_batches:
                self._check_targets(bx, by)
            if len(bx[0]):  # a rank's slice of a short last batch may be empty
                last_logs = self._run_test_step(self._to_backend(bx, dtypes), self._to_backend(by),
                                                self._to_backend(bsw), len(bx[0]), custom)
            if step % k == k - 1:
                begun = None
                if want_end:
                    cbs.on_test_batch_end(step, self._batch_logs(last_logs))
        if begun is not None and want_end:
            cbs.on_test_batch_end(begun + k - 1, self._batch_logs(last_logs))
        source.end_epoch()
        logs = self._logs_after(last_logs)
        cbs.on_test_end(logs)
        return logs

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: Any = "auto",
                 sample_weight: Any = None, steps: int | None = None, callbacks: Any = None,
                 max_queue_size: int = 10, workers: int = 1, use_multiprocessing: bool = False,
                 return_dict: bool = False, **kwargs: Any) -> Any:
        """Loss and metrics on (x, y): a scalar, a list [loss, *metrics], or a dict."""
        if kwargs:
            raise TypeError(f"evaluate() got unexpected keyword argument(s): {sorted(kwargs)}.")
        self._check_ready("evaluate")
        batch_size = self._check_batch_size(batch_size)
        verbose = _resolve_verbose(verbose)
        loading = _check_loading(workers, use_multiprocessing, max_queue_size)
        source, _ = self._source(x, y, sample_weight, None, batch_size, False, loading, "evaluate")
        first_x, first_y, _ = source.first()
        with self._session(first_x, first_y), self._across(distribution.process_group()):
            cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                               steps=steps or source.steps)
            logs = self._run_evaluation(source, steps, cbs)
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    # ------------------------------------------------------------------ predict
    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: int | None = None,
                callbacks: Any = None, max_queue_size: int = 10, workers: int = 1,
                use_multiprocessing: bool = False) -> Any:
        """Model outputs for `x` as host NumPy arrays, concatenated over batches.

        Batch outputs stay on the device and are joined there: one copy to the host at the end,
        not a synchronising copy per batch.
        """
        batch_size = self._check_batch_size(batch_size)
        verbose = _resolve_verbose(verbose)
        loading = _check_loading(workers, use_multiprocessing, max_queue_size)
        source, _ = self._source(x, None, None, None, batch_size, False, loading, "predict")
        first_x = source.first()[0]
        self._build_from_data(first_x)
        self._check_input_shapes(first_x)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=steps or source.steps)
        cbs.on_predict_begin()
        chunks: list[list[Any]] = []
        structure: Any = None
        dtypes = self._input_dtypes()
        with stop_recording():
            for step, (bx, _, _) in enumerate(source.epoch(steps)):
                cbs.on_predict_batch_begin(step)
                outputs = self._predict_batch(self._to_backend(bx, dtypes))
                structure = outputs if structure is None else structure
                chunks.append([_array_of(o) for o in flatten(outputs)])
                cbs.on_predict_batch_end(step, PredictBatchLogs(chunks[-1]))
        source.end_epoch()
        cbs.on_predict_end()
        return self._join_predictions(chunks, structure)

    def _predict_batch(self, xs: list[Tensor]) -> Any:
        compiled = self._compiled("predict", self._overridden("predict_step"))
        if compiled is None:
            return self._predict_batch_eagerly(xs)
        return compiled(lambda bx, by, bsw: self._predict_batch_eagerly(bx), xs, None, None)

    def _predict_batch_eagerly(self, xs: list[Tensor]) -> Any:
        packed = self._pack_inputs(xs)
        if self._overridden("predict_step"):
            return self.predict_step(pack_x_y_sample_weight(packed))
        return self(packed, training=False)

    def _join_predictions(self, chunks: list[list[Any]], structure: Any) -> Any:
        """Concatenate each output over the batches on the device, copy once, restore the output structure."""
        B = _backend.active
        joined = [B.to_numpy(B.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]) for parts in zip(*chunks)]
        return pack_sequence_as(structure, joined)

    # ------------------------------------------------------------------ single batches
    def train_on_batch(self, x: Any = None, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                       reset_metrics: bool = True, return_dict: bool = False) -> Any:
        """One gradient update on exactly this batch; returns its loss (and metrics)."""
        self._check_ready("train_on_batch")
        xs, ys, sws, n = self._prepare(x, y, sample_weight, class_weight, "train_on_batch")
        if class_weight is not None:
            sws = [arrays.class_weights_to_sample_weights(ys[0], class_weight)]
        if n == 0:
            raise ValueError("train_on_batch: the batch is empty.")
        with self._session(xs, ys):
            if reset_metrics:
                self.reset_metrics()
            logs = self._run_train_step(self._to_backend(xs, self._input_dtypes()), self._to_backend(ys),
                                        self._to_backend(sws), n, self._overridden("train_step", "compute_metrics"))
        return self._batch_result(logs, return_dict)

    def test_on_batch(self, x: Any = None, y: Any = None, sample_weight: Any = None,
                      reset_metrics: bool = True, return_dict: bool = False) -> Any:
        """Loss (and metrics) on exactly this batch, without updating weights."""
        self._check_ready("test_on_batch")
        xs, ys, sws, n = self._prepare(x, y, sample_weight, None, "test_on_batch")
        if n == 0:
            raise ValueError("test_on_batch: the batch is empty.")
        with self._session(xs, ys):
            if reset_metrics:
                self.reset_metrics()
            logs = self._run_test_step(self._to_backend(xs, self._input_dtypes()), self._to_backend(ys),
                                       self._to_backend(sws), n, self._overridden("test_step", "compute_metrics"))
        return self._batch_result(logs, return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        xs = arrays.flatten_data(x, self._known_input_names(), "x", self._input_dtypes())
        self._build_from_data(xs)
        self._check_input_shapes(xs)
        with stop_recording():
            outputs = self._predict_batch(self._to_backend(xs, self._input_dtypes()))
        return self._join_predictions([[_array_of(o) for o in flatten(outputs)]], outputs)

    def _batch_result(self, step_logs: Any, return_dict: bool) -> Any:
        """A *_on_batch result; the metrics' own logs are already in `metrics` order, a custom step's may not be."""
        if step_logs is not None:
            logs = host_logs(step_logs)
            return logs if return_dict else self._flatten_metrics_in_order(logs)
        logs = self._metric_results()
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values


def _detached(x: Any) -> Any:
    """A prediction without its tape node (metrics do not differentiate), keeping its mask."""
    if not isinstance(x, Tensor):
        return x
    out = Tensor(x.data)
    mask = get_keras_mask(x)
    if mask is not None:
        set_keras_mask(out, mask)
    return out


def _array_of(x: Any) -> Any:
    """The backend array of a step's output (a Tensor, or an array a custom predict_step returned)."""
    return x.data if isinstance(x, Tensor) else _backend.active.asarray(x)


def _check_loading(workers: Any, use_multiprocessing: Any, max_queue_size: Any) -> tuple[int, bool, int]:
    """tf.keras 2's loading arguments, validated (they matter for PyDatasets and generators)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"`workers` must be a non-negative integer, got {workers!r}.")
    if isinstance(max_queue_size, bool) or not isinstance(max_queue_size, int) or max_queue_size < 1:
        raise ValueError(f"`max_queue_size` must be a positive integer, got {max_queue_size!r}.")
    return workers, bool(use_multiprocessing), max_queue_size


def _resolve_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto', got {verbose!r}.")
    return int(verbose)


def _should_validate(epoch: int, freq: Any) -> bool:
    if isinstance(freq, int):
        if freq < 1:
            raise ValueError(f"`validation_freq` must be a positive integer or a list of epochs, got {freq}.")
        return (epoch + 1) % freq == 0
    if isinstance(freq, (list, tuple, set)):
        return epoch + 1 in freq
    raise ValueError(f"`validation_freq` must be an int or a list of epochs, got {freq!r}.")
