"""LossScaleOptimizer: Keras 3's dynamic loss scaling around another optimizer, for float16 training.

The loss is multiplied by the scale before differentiating, so small float16 gradients do not flush to
zero; the gradients are divided by it before the inner optimizer's update. A step whose gradients hold
an inf or a NaN is skipped and the scale halved; after `dynamic_growth_steps` finite steps in a row the
scale doubles. The check reads one flag per step on the host (the update is a host entry of a compiled
step, so it runs at every replay).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras import distribution
from gpukeras.optimizers.optimizer import HostMirroredVariable, Optimizer
from gpukeras.saving.serialization import serialize_object
from gpukeras.tensor import Tensor, Variable
from gpukeras.tracing import host_step

# Arguments an older LossScaleOptimizer config may carry at their defaults (Keras 3 accepts them so).
_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                  "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                  "loss_scale_factor": None, "gradient_accumulation_steps": None}


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling (initial scale 2**15, halve and skip on a non-finite gradient, double after
    `dynamic_growth_steps` finite steps) around `inner_optimizer`."""

    # Set by gpukeras.optimizers when it loads: rebuilds the inner optimizer from its config.
    deserialize_inner: Callable[..., Optimizer] | None = None

    def __init__(self, inner_optimizer: Optimizer, initial_scale: float = 2.0 ** 15,
                 dynamic_growth_steps: int = 2000, name: str | None = None, **kwargs: Any):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                             "`loss_scale_factor` directly on the `inner_optimizer`.")
        for arg, default in _BASE_DEFAULTS.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set `{arg}` on the "
                                 "`inner_optimizer`.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(f"LossScaleOptimizer wraps an Optimizer, got {inner_optimizer!r}.")
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, (int, float)) or initial_scale <= 0:
            raise ValueError(f"initial_scale must be a positive number, got {initial_scale!r}.")
        if isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, int) or \
                dynamic_growth_steps < 1:
            raise ValueError(f"dynamic_growth_steps must be a positive integer, got {dynamic_growth_steps!r}.")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        inner_optimizer.loss_scale_factor = None  # scaled once, here
        # Made now rather than at build: a compiled step multiplies the loss by this variable, read at
        # every replay, so the scale's changes reach the plan.
        self.step_counter = HostMirroredVariable(0, "int64", "step_counter", f"{self.name}/step_counter")
        self.dynamic_scale = HostMirroredVariable(self.initial_scale, "float32", "dynamic_scale",
                                                  f"{self.name}/dynamic_scale")
        self._variables += [self.step_counter, self.dynamic_scale]

    # ------------------------------------------------------------------ what the inner optimizer owns
    def build(self, variables: Sequence[Variable]) -> None:
        self.inner_optimizer.build(variables)
        self._trainable_variables = list(variables)
        self.built = True

    @property
    def variables(self) -> list[Variable]:
        return list(self._variables) + self.inner_optimizer.variables

    @property
    def learning_rate(self) -> Any:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.inner_optimizer.learning_rate = value

    def current_learning_rate(self) -> float:
        return self.inner_optimizer.current_learning_rate()

    @property
    def iterations(self) -> Any:
        return self.inner_optimizer.iterations

    def finalize_variable_values(self, var_list: Sequence[Variable]) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    # ------------------------------------------------------------------ scaling
    def scale_loss(self, loss: Any) -> Any:
        """The loss times the current scale (a variable, so a compiled step reads it at every replay)."""
        return loss * self.dynamic_scale

    @host_step
    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Variable] | None = None) -> None:
        """Unscale and apply the gradients when all are finite (then maybe double the scale), else skip the
        step and halve the scale."""
        if not self.built:
            if trainable_variables is None:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be "
                                 "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                                 "first.")
            self.build(trainable_variables)
        B = _backend.active
        # Summed over ranks first: every rank then sees the same finiteness and skips the same steps.
        arrays = [g.data if isinstance(g, Tensor) else g for g in distribution.reduce_gradients(grads)]
        scale = self.dynamic_scale.host
        if not all_finite(arrays):
            self.step_counter.set_host(0)
            self.dynamic_scale.set_host(scale * 0.5)
            return
        unscaled = [None if g is None else B.divide(g, B.asarray(scale, g.dtype)) for g in arrays]
        self.inner_optimizer._apply_local(unscaled, trainable_variables)
        if self.step_counter.host == self.dynamic_growth_steps - 1:
            self.step_counter.set_host(0)
            self.dynamic_scale.set_host(scale * 2.0)
        else:
            self.step_counter.increment()

    # ------------------------------------------------------------------ state and config
    def get_weights(self) -> list[Any]:
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights: Sequence[Any]) -> None:
        for variable, weight in zip(self.variables, weights):
            variable.assign(weight)

    def save_own_variables(self, store: dict[str, Any]) -> None:
        for i, variable in enumerate(self.variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store: Any) -> None:
        variables = self.variables
        if len(store.keys()) != len(variables):
            raise ValueError(f"Optimizer {self.name!r} has {len(variables)} variables, but the saved one has "
                             f"{len(store.keys())}.")
        for i, variable in enumerate(variables):
            variable.assign(store[str(i)])

    def _saveable_children(self) -> Iterator[tuple[str, Any]]:
        """The inner optimizer, saved under `inner_optimizer` too (Keras 3's layout; its values also appear
        among this optimizer's own variables)."""
        yield "inner_optimizer", self.inner_optimizer

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "inner_optimizer": serialize_object(self.inner_optimizer, "keras.optimizers"),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            inner = cls.deserialize_inner(inner, custom_objects)
        return cls(inner, **config)


def all_finite(arrays: Sequence[Any]) -> bool:
    """Whether every given array (None entries skipped) holds only finite numbers: one host read."""
    B = _backend.active
    counts = [B.sum(B.logical("not", B.isfinite(a))) for a in arrays if a is not None]
    return not B.to_numpy(B.stack(counts)).any() if counts else True
