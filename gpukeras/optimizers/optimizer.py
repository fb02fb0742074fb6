"""The Optimizer base: Keras 3's apply() pipeline with one fused backend update call per step.

apply(): drop missing gradients, unscale, accumulate, clip, then one `multi_tensor_apply` of the
subclass's update rule over all weights at once (decoupled weight decay fused into it), update the
EMA, count the step, then apply weight constraints. Each optimizer's rule (formula and kernels) is
in its own file.
Hyperparameters that the host needs each step (learning rate, step count) are mirrored on the host
so a GPU never syncs to read them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras import distribution
from gpukeras.autodiff import stop_recording
from gpukeras.backend.fused.multi_tensor import UpdateRule
from gpukeras.backend.graphs import StepScalars
from gpukeras.optimizers import schedules as _schedules
from gpukeras.optimizers.schedules import LearningRateSchedule
from gpukeras.tensor import Tensor, Variable
from gpukeras.tracing import host_step


class HostMirroredVariable(Variable):
    """A scalar Variable with a host copy of its value, kept in sync by assign (no device reads per step)."""

    __slots__ = ("host",)

    def __init__(self, value: Any, dtype: str, name: str, path: str):
        super().__init__(value, dtype=dtype, trainable=False, name=name, path=path)
        self.host = self._read()

    def _read(self) -> Any:
        value = self.numpy()
        return int(value) if value.dtype.kind in "iu" else float(value)

    def assign(self, value: Any) -> HostMirroredVariable:
        super().assign(value)
        self.host = self._read()
        return self

    def set_host(self, value: Any) -> None:
        """Write a host-computed value to the device copy without reading it back."""
        _backend.active.assign(self.data, value)
        self.host = value

    def increment(self) -> None:
        """Add one on the device and on the host (the step counter's per-step update; a step graph counts on
        the host before each launch)."""
        _backend.active.add_inplace(self.data, 1)
        _backend.active.host_effect(self._count)

    def _count(self) -> None:
        self.host += 1


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Optimizer:
    """Base optimizer with Keras 3's constructor arguments.

    A subclass sets `update_rule` (its formula and kernels) and implements `build` (its slots),
    `_slot_lists` (their arrays, in the rule's order) and `_step_scalars` (its hyperparameters).
    """

    update_rule: UpdateRule | None = None

    def __init__(self, learning_rate: Any, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = None, **kwargs: Any):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=2)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             "Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        if gradient_accumulation_steps is not None and (
                not isinstance(gradient_accumulation_steps, int) or gradient_accumulation_steps < 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. "
                             f"Received: gradient_accumulation_steps={gradient_accumulation_steps}")
        if use_ema:
            if not 0 <= ema_momentum <= 1:
                raise ValueError("`ema_momentum` must be in the range [0, 1]. "
                                 f"Received: ema_momentum={ema_momentum}")
            if ema_overwrite_frequency is not None and (
                    not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                                 f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        self.name = name or _snake(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._variables: list[Variable] = []
        self._trainable_variables: list[Variable] = []
        self._index: dict[int, int] = {}
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: Any = None
        self._decay_mask: list[bool] = []
        self._iterations = HostMirroredVariable(0, "int64", "iteration", f"{self.name}/iteration")
        self._variables.append(self._iterations)
        self._learning_rate: Any = None
        self._set_learning_rate(learning_rate, initial=True)

    # ------------------------------------------------------------------ learning rate and step
    def _set_learning_rate(self, learning_rate: Any, initial: bool = False) -> None:
        if isinstance(learning_rate, LearningRateSchedule) or (
                callable(learning_rate) and not isinstance(learning_rate, (Tensor, int, float))):
            if isinstance(self._learning_rate, HostMirroredVariable):
                self._variables.remove(self._learning_rate)
            self._learning_rate = learning_rate
            return
        if isinstance(learning_rate, Tensor):
            learning_rate = float(learning_rate.numpy())
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
            raise ValueError("Argument `learning_rate` should be a float, a LearningRateSchedule, or a "
                             "callable returning the learning rate. "
                             f"Received instead: learning_rate={learning_rate!r}")
        if isinstance(self._learning_rate, HostMirroredVariable):
            self._learning_rate.assign(float(learning_rate))
            return
        if isinstance(self._learning_rate, LearningRateSchedule) and not initial:
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. "
                            "Instantiate the optimizer with a float `learning_rate` to make it settable.")
        self._learning_rate = HostMirroredVariable(float(learning_rate), "float32", "learning_rate",
                                                   f"{self.name}/learning_rate")
        self._variables.insert(1, self._learning_rate)

    @property
    def learning_rate(self) -> Any:
        """The learning-rate Variable, or the schedule's value at the current iteration (a Tensor)."""
        if isinstance(self._learning_rate, HostMirroredVariable):
            return self._learning_rate
        return Tensor(_backend.active.asarray(self._current_learning_rate(), "float32"))

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self._set_learning_rate(value)

    def current_learning_rate(self) -> float:
        """The learning rate the next step will use, as a host float (for logs: never reads the device)."""
        return self._current_learning_rate()

    def _current_learning_rate(self) -> float:
        """The learning rate for this step as a host float (schedules see the raw iteration count)."""
        lr = self._learning_rate
        if isinstance(lr, HostMirroredVariable):
            return lr.host
        if isinstance(lr, LearningRateSchedule):
            return lr.value_at(self._iterations.host)
        return float(lr())

    @property
    def iterations(self) -> Any:
        """Step counter (an int64 Variable); with gradient accumulation, the number of applied updates."""
        if self.gradient_accumulation_steps:
            return Tensor(_backend.active.asarray(self._iterations.host // self.gradient_accumulation_steps,
                                                  "int64"))
        return self._iterations

    def _local_step(self) -> int:
        """1-based index of the update being applied (what Adam's bias correction uses)."""
        steps = self.gradient_accumulation_steps
        return (self._iterations.host // steps if steps else self._iterations.host) + 1

    # ------------------------------------------------------------------ variables
    @property
    def variables(self) -> list[Variable]:
        return list(self._variables)

    def add_variable(self, shape: Sequence[int], initializer: Any = "zeros", dtype: Any = None,
                     name: str | None = None) -> Variable:
        """A non-trainable optimizer variable (slot)."""
        from gpukeras import initializers

        name = name or f"variable_{len(self._variables)}"
        init = initializers.get(initializer)
        dtype = dtype or "float32"
        var = Variable(init(tuple(shape), dtype=dtype), dtype=dtype, trainable=False, name=name,
                       path=f"{self.name}/{name}")
        self._variables.append(var)
        return var

    def add_variable_from_reference(self, reference: Variable, name: str | None = None,
                                    initializer: Any = "zeros") -> Variable:
        """A slot shaped like `reference`, named after its path (Keras's naming)."""
        base = getattr(reference, "path", None) or getattr(reference, "name", "var")
        return self.add_variable(reference.shape, initializer, reference.dtype,
                                 f"{str(base).replace('/', '_')}_{name or 'var'}")

    def build(self, variables: Sequence[Variable]) -> None:
        """Create the EMA/accumulator slots; subclasses add theirs (after calling this) and cache arrays."""
        variables = list(variables)
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        self._averages = ([self.add_variable_from_reference(v, "average") for v in variables]
                          if self.use_ema else [])
        self._accumulators = ([self.add_variable_from_reference(v, "gradient_accumulator") for v in variables]
                              if self.gradient_accumulation_steps else [])
        self._decay_mask = [self._use_weight_decay(v) for v in variables]
        self.built = True

    def exclude_from_weight_decay(self, var_list: Sequence[Variable] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Skip weight decay for these variables, or those whose name contains one of `var_names`."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer "
                             "is built.")
        self._exclude_ids = {id(v) for v in var_list or ()}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _use_weight_decay(self, variable: Variable) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        return not (self._exclude_pattern is not None and self._exclude_pattern.search(variable.name))

    # ------------------------------------------------------------------ applying gradients
    def apply_gradients(self, grads_and_vars: Any) -> Variable:
        """tf.keras spelling of `apply`: takes (gradient, variable) pairs; returns `iterations`."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self._iterations

    @host_step(graph_safe=True)
    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Variable] | None = None) -> None:
        """Update the variables from their gradients (Tensors or backend arrays), in place.

        A compiled step replays this call as one host entry: learning rate, schedule and step count are
        read afresh at every step. Under a multi-process DataParallel distribution the gradients are
        first summed over the ranks (each weighted by its share of the global batch)."""
        if len(grads) == 0:
            return
        if self.use_ema or self.gradient_accumulation_steps:
            _backend.active.refuse_capture("EMA and gradient accumulation choose the step's device work on the host")
        if distribution.process_group() is not None:
            _backend.active.refuse_capture("the gradients are summed over processes at every step")
        self._apply_local(distribution.reduce_gradients(grads), trainable_variables)

    def _apply_local(self, grads: Sequence[Any], trainable_variables: Sequence[Variable] | None) -> None:
        """`apply` on gradients that are already this step's final ones (summed over ranks)."""
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be "
                                 "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                                 "first.")
            if len(grads) != len(self._trainable_variables):
                raise ValueError(f"Received {len(grads)} gradients, but the optimizer tracks "
                                 f"{len(self._trainable_variables)} trainable variables.")
            positions = None
        else:
            if not self.built:
                self.build(trainable_variables)
            positions = self._positions(trainable_variables, len(grads))
        with stop_recording():
            self._apply(grads, positions)

    def _positions(self, variables: Sequence[Variable], n_grads: int) -> list[int] | None:
        """Indices of `variables` among the built ones; None when they are exactly those, in order."""
        if len(variables) != n_grads:
            raise ValueError(f"Received {n_grads} gradients for {len(variables)} variables.")
        built = self._trainable_variables
        if len(variables) == len(built) and all(a is b for a, b in zip(variables, built)):
            return None
        try:
            return [self._index[id(v)] for v in variables]
        except KeyError:
            unknown = [getattr(v, "path", v) for v in variables if id(v) not in self._index]
            raise ValueError(f"Unknown variable(s) {unknown}: this optimizer can only update the variables "
                             "it was built with; create a new optimizer for new variables.") from None

    def _apply(self, grads: Sequence[Any], positions: list[int] | None) -> None:
        B = _backend.active
        variables = self._trainable_variables
        if positions is None:
            positions_list = range(len(variables))
        else:
            positions_list = positions
        arrays, kept, missing = [], [], []
        for g, i in zip(grads, positions_list):
            if g is None:
                missing.append(variables[i].name)
                continue
            a = g.data if isinstance(g, Tensor) else (g if B.is_array(g) else B.asarray(g))
            w = variables[i].data
            if a.dtype != w.dtype:
                a = B.cast(a, w.dtype)
            arrays.append(a)
            kept.append(i)
        if not arrays:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss. "
                          "If using `model.compile()`, did you forget to provide a `loss` argument?",
                          stacklevel=3)
            positions = kept
        elif positions is not None:
            positions = kept
        if self.loss_scale_factor is not None:
            arrays = [B.divide(a, self.loss_scale_factor) for a in arrays]
        steps = self.gradient_accumulation_steps
        if steps:
            accs = [self._accumulators[i].data for i in kept]
            if (self._iterations.host + 1) % steps == 0:
                arrays = [B.divide(B.add(a, acc), steps) for a, acc in zip(arrays, accs)]
                self._clip_decay_update(arrays, positions)
                for acc in accs:
                    B.assign(acc, 0)
            else:
                for a, acc in zip(arrays, accs):
                    B.add_inplace(acc, a)
        else:
            self._clip_decay_update(arrays, positions)
        if self.use_ema:
            self._update_ema()
        self._iterations.increment()
        for i in kept:
            var = variables[i]
            if var.constraint is not None:
                var.assign(var.constraint(var))

    def _clip_decay_update(self, arrays: list[Any], positions: list[int] | None) -> None:
        """Clip, then decay and update in one fused call (`_update`)."""
        self._update(self._clip_gradients(arrays), positions)

    def _clip_gradients(self, grads: list[Any]) -> list[Any]:
        """Keras's clipnorm (per tensor), global_clipnorm and clipvalue, all on the device."""
        B = _backend.active
        if self.clipnorm and self.clipnorm > 0:
            c = self.clipnorm
            return [B.divide(B.multiply(g, c), B.maximum(B.sqrt(B.sum(B.square(g))), c)) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            c = self.global_clipnorm
            norm = B.global_norm(grads)
            inv = B.divide_no_nan(B.full((), 1.0, norm.dtype), norm)  # made on the device: a step graph captures it
            scale = B.add(B.multiply(B.minimum(inv, 1.0 / c), c), B.subtract(norm, norm))
            return [B.multiply(g, scale) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [B.clip(g, -v, v) for g in grads]
        return grads

    def _update_ema(self) -> None:
        B = _backend.active
        steps = self.gradient_accumulation_steps
        step = self._iterations.host // steps if steps else self._iterations.host
        momentum = self.ema_momentum if step != 0 else 0.0
        for var, avg in zip(self._trainable_variables, self._averages):
            B.assign(avg.data, B.add(B.multiply(avg.data, momentum), B.multiply(var.data, 1.0 - momentum)))
        freq = self.ema_overwrite_frequency
        if freq and (step + 1) % freq == 0:
            self._overwrite_with_averages(self._trainable_variables)

    def _overwrite_with_averages(self, variables: Sequence[Variable]) -> None:
        if len(variables) != len(self._averages):
            raise ValueError(f"Got {len(variables)} variables to overwrite, but the optimizer holds "
                             f"{len(self._averages)} moving averages.")
        for var, avg in zip(variables, self._averages):
            var.assign(avg.data)

    def finalize_variable_values(self, var_list: Sequence[Variable]) -> None:
        """At the end of fit: replace the weights by their moving averages when EMA is on."""
        if self.use_ema:
            self._overwrite_with_averages(list(var_list))

    def scale_loss(self, loss: Any) -> Any:
        """Multiply the loss by `loss_scale_factor` (if set) before differentiating."""
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def _update(self, grads: list[Any], positions: list[int] | None) -> None:
        """Decoupled weight decay (where not excluded) and the update rule, on all (or the `positions` subset
        of) weights, in one backend call. The hyperparameters are `StepScalars`: a step graph computes them
        again (learning rate, schedule, bias corrections) before each launch."""
        if self.update_rule is None:
            raise NotImplementedError(f"{type(self).__name__} must set update_rule (or implement _update()).")
        slots = [None if s is None else self._select(s, positions) for s in self._slot_lists()]
        scalars = StepScalars(self._scalars_now)
        mask = self._select(self._decay_mask, positions) if self.weight_decay else None
        _backend.active.multi_tensor_apply(self.update_rule, [self._params(positions), grads, *slots], scalars, mask)

    def _scalars_now(self) -> dict[str, Any]:
        """This step's hyperparameters, from the host's step count and learning rate."""
        lr = self._current_learning_rate()
        return {**self._step_scalars(lr), "lr": lr, "weight_decay": self.weight_decay or 0.0}

    def _slot_lists(self) -> list[list[Any] | None]:
        """The slot arrays per weight, one list per name in `update_rule.slots` (None: unused in this setup)."""
        return []

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        """The hyperparameters the rule needs this step (besides lr and weight_decay, which the base adds)."""
        return {}

    @staticmethod
    def _select(items: list[Any], positions: list[int] | None) -> list[Any]:
        return items if positions is None else [items[i] for i in positions]

    def _params(self, positions: list[int] | None) -> list[Any]:
        """Current backend arrays of the weights (read each step, so replaced buffers are honoured)."""
        variables = self._trainable_variables
        if positions is None:
            return [v.data for v in variables]
        return [variables[i].data for i in positions]

    # ------------------------------------------------------------------ state and config
    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set the optimizer variables (iteration, learning rate, slots) from arrays."""
        if not self.built:
            raise ValueError("You are calling `set_weights()` on an optimizer that has not yet been built. "
                             "Call `optimizer.build(trainable_variables)` first.")
        for variable, weight in zip(self._variables, weights):
            if tuple(variable.shape) != tuple(getattr(weight, "shape", ())):
                raise ValueError(f"Optimizer variable {variable.path} has shape {variable.shape}, not "
                                 f"compatible with the provided weight shape {tuple(weight.shape)}.")
            variable.assign(weight)

    def get_weights(self) -> list[Any]:
        return [v.numpy() for v in self._variables]

    def save_own_variables(self, store: dict[str, Any]) -> None:
        for i, variable in enumerate(self._variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store: Any) -> None:
        if len(store.keys()) != len(self._variables):
            warnings.warn(f"Skipping variable loading for optimizer '{self.name}', because it has "
                          f"{len(self._variables)} variables whereas the saved optimizer has "
                          f"{len(store.keys())}.",
                          stacklevel=2)
            return
        for i, variable in enumerate(self._variables):
            variable.assign(store[str(i)])

    def get_config(self) -> dict[str, Any]:
        lr = self._learning_rate
        if isinstance(lr, HostMirroredVariable):
            learning_rate: Any = lr.host
        elif isinstance(lr, LearningRateSchedule):
            learning_rate = _schedules.serialize(lr)
        else:
            learning_rate = getattr(lr, "__name__", repr(lr))
        return {
            "name": self.name, "learning_rate": learning_rate, "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
            "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"

