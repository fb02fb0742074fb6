"""Adagrad and Adadelta: per-parameter step sizes from accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


class Adagrad(Optimizer):
    """acc += g^2; w -= lr * g / sqrt(acc + eps), the accumulator starting at `initial_accumulator_value`."""

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        from gpukeras.initializers import Constant

        init = Constant(self.initial_accumulator_value)
        self._accumulators = [self.add_variable_from_reference(v, "accumulator", init)
                              for v in self._trainable_variables]
        self._acc = [x.data for x in self._accumulators]

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        _backend.active.adagrad_update(self._params(positions), grads, self._select(self._acc, positions), lr,
                                       self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Step sizes from running averages of squared gradients and squared updates (Keras 3's rule)."""

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7,
                 name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        self._accumulated_grads, self._accumulated_delta_vars = [], []
        for v in self._trainable_variables:
            self._accumulated_grads.append(self.add_variable_from_reference(v, "accumulated_grad"))
            self._accumulated_delta_vars.append(self.add_variable_from_reference(v, "accumulated_delta_var"))
        self._acc_g = [x.data for x in self._accumulated_grads]
        self._acc_d = [x.data for x in self._accumulated_delta_vars]

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        sel = self._select
        _backend.active.adadelta_update(self._params(positions), grads, sel(self._acc_g, positions),
                                        sel(self._acc_d, positions), lr, self.rho, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
