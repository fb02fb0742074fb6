"""The Keras training API on Model: compile, fit, evaluate, predict and the *_on_batch calls.

One training step = forward under a recording tape, loss (+ regularization), one backward
walk, one fused optimizer call, metric updates on device values. Nothing is read back to
the host per step unless a callback or the progress bar asks for it.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras import metrics as metrics_module
from gpukeras import optimizers as optimizers_module
from gpukeras import random as _random
from gpukeras.autodiff import gradient, recording, stop_recording
from gpukeras.callbacks.callback_list import CallbackList
from gpukeras.tensor import Tensor
from gpukeras.trainers import arrays
from gpukeras.trainers.compile_utils import CompiledLoss, CompiledMetrics
from gpukeras.trainers.data_sources import ArraySource, StreamSource, is_batch_stream

_TF2_COMPILE_ARGS = {"sample_weight_mode", "target_tensors", "distribute", "experimental_run_tf_function"}


class LazyLogs(Mapping):
    """Batch logs whose values are read from the device only when someone looks at them."""

    def __init__(self, model: Any):
        self._model = model
        self._values: dict[str, float] | None = None

    def _get(self) -> dict[str, float]:
        if self._values is None:
            self._values = self._model._metric_results()
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


class PredictBatchLogs(Mapping):
    """`{"outputs": [host arrays]}` for one predict batch, copied from the device only when read."""

    def __init__(self, outputs: list[Any]):
        self._outputs = outputs
        self._host: list[np.ndarray] | None = None

    def __getitem__(self, key: str) -> list[np.ndarray]:
        if key != "outputs":
            raise KeyError(key)
        if self._host is None:
            self._host = [_backend.active.to_numpy(o) for o in self._outputs]
        return self._host

    def __iter__(self) -> Iterator[str]:
        return iter(("outputs",))

    def __len__(self) -> int:
        return 1


class Trainer:
    """Mixed into Model; relies on Model's `__call__`, `trainable_weights`, `losses`, input/output names."""

    compiled = False

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True,
                **kwargs: Any) -> None:
        """Configure training; every name is resolved here so typos fail before `fit`."""
        unknown = set(kwargs) - _TF2_COMPILE_ARGS
        if unknown:
            raise TypeError(f"compile() got unexpected keyword argument(s): {sorted(unknown)}.")
        if kwargs.get("sample_weight_mode") not in (None, "temporal") and not isinstance(
                kwargs.get("sample_weight_mode"), (dict, list)):
            raise ValueError(f"sample_weight_mode must be None or 'temporal', got {kwargs['sample_weight_mode']!r}.")
        if not isinstance(steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be a positive integer, got {steps_per_execution!r}.")
        opt = optimizers_module.get(optimizer)
        names = self._compile_output_names()
        compiled_loss = None if loss is None else CompiledLoss(loss, loss_weights, names)
        compiled_metrics = CompiledMetrics(metrics, weighted_metrics, names,
                                           [None] * len(names) if compiled_loss is None else compiled_loss.losses)
        self.optimizer = opt
        self.loss = loss
        self._compiled_loss = compiled_loss
        self._compiled_metrics = compiled_metrics
        self._loss_tracker = metrics_module.Mean(name="loss")
        # One per output that has a loss, in the order CompiledLoss returns their values.
        self._output_loss_trackers = [] if compiled_loss is None or len(names) < 2 else [
            metrics_module.Mean(name=f"{n}_loss") for n, fn in zip(names, compiled_loss.losses) if fn is not None]
        self._compile_args = {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
                              "metrics": metrics, "weighted_metrics": weighted_metrics,
                              "run_eagerly": run_eagerly, "steps_per_execution": steps_per_execution,
                              "jit_compile": jit_compile, **kwargs}
        self.run_eagerly = run_eagerly
        self.steps_per_execution = steps_per_execution
        self.stop_training = False
        self.compiled = True

    def _compile_output_names(self) -> list[str]:
        return self.output_names if self.output_names else ["output"]

    @property
    def metrics(self) -> list[Any]:
        if not self.compiled:
            return []
        return [self._loss_tracker] + self._compiled_metrics.metrics

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        self._loss_tracker.reset_state()
        for tracker in self._output_loss_trackers:
            tracker.reset_state()
        self._compiled_metrics.reset_state()

    def _metric_results(self) -> dict[str, float]:
        """Current values of the loss and metrics, read back to the host."""
        logs = {m.name: float(m.result()) for m in [self._loss_tracker, *self._output_loss_trackers]}
        for m in self._compiled_metrics.metrics:
            logs[m.name] = float(m.result())
        return logs

    # ------------------------------------------------------------------ steps
    def _loss_and_outputs(self, x: list[Any], y: list[Any], sw: list[Any] | None, training: bool):
        y_pred = self._flat_outputs(self(self._pack_inputs(x), training=training))
        if self._compiled_loss is None:
            total, parts = None, []
        else:
            total, parts = self._compiled_loss(y, y_pred, sw)
        for extra in self._step_losses():
            total = extra if total is None else total + extra
        if total is None:
            raise ValueError("The model has no loss: pass `loss=` to compile() or add losses with add_loss().")
        return total, parts, y_pred

    def _train_step(self, x: list[Any], y: list[Any], sw: list[Any] | None, batch_size: int) -> None:
        variables = self._trainable_cache
        with recording():
            loss, parts, y_pred = self._loss_and_outputs(x, y, sw, training=True)
        # The optimizer skips (and warns about) weights the loss does not reach.
        self.optimizer.apply(gradient(loss, variables), variables)
        self._update_trackers(loss, parts, y, y_pred, sw, batch_size)

    def _test_step(self, x: list[Any], y: list[Any], sw: list[Any] | None, batch_size: int) -> None:
        with stop_recording():
            loss, parts, y_pred = self._loss_and_outputs(x, y, sw, training=False)
        self._update_trackers(loss, parts, y, y_pred, sw, batch_size)

    def _update_trackers(self, loss, parts, y, y_pred, sw, batch_size: int) -> None:
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        for tracker, part in zip(self._output_loss_trackers, parts):
            tracker.update_state(part, sample_weight=batch_size)
        with stop_recording():
            self._compiled_metrics.update_state(y, [Tensor(p.data) for p in y_pred], sw)

    # ------------------------------------------------------------------ data preparation
    def _prepare(self, x: Any, y: Any, sample_weight: Any, class_weight: Any, what: str) -> tuple:
        """Validate and flatten one data set; returns (xs, ys, sws, n) as host arrays."""
        if x is None:
            raise ValueError(f"{what}: `x` is required.")
        xs = arrays.flatten_data(x, self._known_input_names(), "x")
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
            arrays.class_weights_to_sample_weights(ys[0], class_weight)  # refuse unknown classes up front
        return xs, ys, sws, n

    def _check_batch_size(self, batch_size: Any, name: str = "batch_size") -> int:
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"`{name}` must be a positive integer, got {batch_size!r}.")
        return int(batch_size)

    def _check_ready(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}().")

    def _to_backend(self, batch: list[np.ndarray] | None) -> list[Tensor] | None:
        if batch is None:
            return None
        B = _backend.active
        return [Tensor(B.asarray(a)) for a in batch]

    def _begin(self, xs: list[np.ndarray], ys: list[np.ndarray] | None) -> None:
        """Build on first data, check feature shapes, and cache the trainable weights."""
        self._build_from_data(xs)
        self._check_input_shapes(xs)
        if ys is not None and len(ys) != len(self._compile_output_names()):
            raise ValueError(f"y has {len(ys)} arrays but the model has {len(self._compile_output_names())} "
                             f"outputs {self._compile_output_names()}.")
        self._trainable_cache = self.trainable_weights
        self._layers_cache = self._flatten_layers()
        self._regularized = [(v, v.regularizer) for v in self.weights if v.regularizer is not None]

    def _step_losses(self) -> list[Any]:
        """`model.losses` for one step, from lists cached when training began (it runs every step)."""
        out = [loss for layer in self._layers_cache for loss in layer._losses]
        out.extend(regularizer(var) for var, regularizer in self._regularized)
        return out

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
                                *loading), None
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
        source, val = self._source(x, y, sample_weight, class_weight, batch_size, shuffle, loading, "fit",
                                   validation_split)
        if validation_data is not None:
            val = self._validation_source(validation_data, val_batch_size, loading)
        first_x, first_y, _ = source.first()
        self._begin(first_x, first_y)
        steps = steps_per_epoch or source.steps
        cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps)
        want_begin = cbs.wants_batch_logs("on_train_batch_begin") or cbs.wants_batch_logs("on_batch_begin")
        want_end = True if verbose == 1 else (
            cbs.wants_batch_logs("on_train_batch_end") or cbs.wants_batch_logs("on_batch_end"))
        self.stop_training = False
        self._in_fit = True
        self._initial_epoch = None
        cbs.on_train_begin()
        if self._initial_epoch is not None:  # a callback (BackupAndRestore) resumed an interrupted run
            initial_epoch = self._initial_epoch
        epoch_logs: dict[str, float] = {}
        try:
            for epoch in range(int(initial_epoch), int(epochs)):
                self.reset_metrics()
                cbs.on_epoch_begin(epoch)
                for step, (bx, by, bsw) in enumerate(source.epoch(steps_per_epoch)):
                    if want_begin:
                        cbs.on_train_batch_begin(step)
                    self._train_step(self._to_backend(bx), self._to_backend(by), self._to_backend(bsw), len(bx[0]))
                    if want_end:
                        cbs.on_train_batch_end(step, LazyLogs(self))
                    if self.stop_training:
                        break
                source.end_epoch()
                epoch_logs = self._metric_results()
                if val is not None and _should_validate(epoch, validation_freq):
                    val_logs = self._run_evaluation(val, validation_steps, cbs)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        finally:
            self._in_fit = False
            if epochs > initial_epoch:  # EMA optimizers copy their averages into the model now
                self.optimizer.finalize_variable_values(self._trainable_cache)
        cbs.on_train_end(epoch_logs)
        return cbs.history

    # ------------------------------------------------------------------ evaluate
    def _run_evaluation(self, source: Any, steps: int | None, cbs: CallbackList) -> dict[str, float]:
        self.reset_metrics()
        cbs.on_test_begin()
        want_end = cbs.wants_batch_logs("on_test_batch_end")
        want_begin = cbs.wants_batch_logs("on_test_batch_begin")
        for step, (bx, by, bsw) in enumerate(source.epoch(steps)):
            if want_begin:
                cbs.on_test_batch_begin(step)
            if by is None:
                raise ValueError("Evaluation batches need labels: got batches with only x.")
            self._test_step(self._to_backend(bx), self._to_backend(by), self._to_backend(bsw), len(bx[0]))
            if want_end:
                cbs.on_test_batch_end(step, LazyLogs(self))
        source.end_epoch()
        logs = self._metric_results()
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
        self._begin(first_x, first_y)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=steps or source.steps)
        logs = self._run_evaluation(source, steps, cbs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

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
        B = _backend.active
        with stop_recording():
            for step, (bx, _, _) in enumerate(source.epoch(steps)):
                cbs.on_predict_batch_begin(step)
                outs = self._flat_outputs(self(self._pack_inputs(self._to_backend(bx)), training=False))
                chunks.append([o.data for o in outs])
                cbs.on_predict_batch_end(step, PredictBatchLogs(chunks[-1]))
        source.end_epoch()
        cbs.on_predict_end()
        results = [B.to_numpy(B.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]) for parts in zip(*chunks)]
        return self._unflatten_outputs(results)

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
        self._begin(xs, ys)
        if reset_metrics:
            self.reset_metrics()
        self._train_step(self._to_backend(xs), self._to_backend(ys), self._to_backend(sws), n)
        return self._batch_result(return_dict)

    def test_on_batch(self, x: Any = None, y: Any = None, sample_weight: Any = None,
                      reset_metrics: bool = True, return_dict: bool = False) -> Any:
        """Loss (and metrics) on exactly this batch, without updating weights."""
        self._check_ready("test_on_batch")
        xs, ys, sws, n = self._prepare(x, y, sample_weight, None, "test_on_batch")
        if n == 0:
            raise ValueError("test_on_batch: the batch is empty.")
        self._begin(xs, ys)
        if reset_metrics:
            self.reset_metrics()
        self._test_step(self._to_backend(xs), self._to_backend(ys), self._to_backend(sws), n)
        return self._batch_result(return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        xs = arrays.flatten_data(x, self._known_input_names(), "x")
        self._build_from_data(xs)
        self._check_input_shapes(xs)
        with stop_recording():
            outs = self._flat_outputs(self(self._pack_inputs(self._to_backend(xs)), training=False))
        return self._unflatten_outputs([_backend.active.to_numpy(o.data) for o in outs])

    def _batch_result(self, return_dict: bool) -> Any:
        logs = self._metric_results()
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values


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
