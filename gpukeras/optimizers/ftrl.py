"""FTRL-proximal (Keras 3's Ftrl), one fused backend call per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


class Ftrl(Optimizer):
    """Follow-the-regularized-leader with L1/L2 (and shrinkage) regularization."""

    def __init__(self, learning_rate: Any = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, name=name, **kwargs)
        checks = (("initial_accumulator_value", initial_accumulator_value),
                  ("l1_regularization_strength", l1_regularization_strength),
                  ("l2_regularization_strength", l2_regularization_strength),
                  ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength))
        for arg, value in checks:
            if value < 0.0:
                raise ValueError(f"`{arg}` needs to be positive or zero. Received: {arg}={value}.")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. "
                             f"Received: learning_rate_power={learning_rate_power}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        from gpukeras.initializers import Constant

        init = Constant(self.initial_accumulator_value)
        self._accumulators, self._linears = [], []
        for v in self._trainable_variables:
            self._accumulators.append(self.add_variable_from_reference(v, "accumulator", init))
            self._linears.append(self.add_variable_from_reference(v, "linear"))
        self._acc = [x.data for x in self._accumulators]
        self._lin = [x.data for x in self._linears]

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        sel = self._select
        _backend.active.ftrl_update(self._params(positions), grads, sel(self._acc, positions),
                                    sel(self._lin, positions), lr, self.learning_rate_power,
                                    self.l1_regularization_strength, self.l2_regularization_strength,
                                    self.l2_shrinkage_regularization_strength, self.beta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
