"""FTRL-proximal: Keras 3's Ftrl update rule (no fused kernel: the formula runs per weight), and the optimizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


def ftrl_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place: follow-the-regularized-leader with L1/L2 and shrinkage (Keras 3's Ftrl)."""
    accum, linear = slots
    lr, lr_power, l1 = s["lr"], s["learning_rate_power"], s["l1"]
    l2_total = s["l2"] + s["beta"] / (2.0 * lr)
    grad_to_use = g + 2 * s["l2_shrinkage"] * w
    new_accum = accum + xp.square(g)
    linear += grad_to_use - ((xp.power(new_accum, -lr_power) - xp.power(accum, -lr_power)) / lr) * w
    quadratic = xp.power(new_accum, -lr_power) / lr + 2 * l2_total
    w[...] = (xp.clip(linear, -l1, l1) - linear) / quadratic
    accum[...] = new_accum


FTRL_RULE = UpdateRule("ftrl", ("accumulator", "linear"), ftrl_formula)


class Ftrl(Optimizer):
    """Follow-the-regularized-leader with L1/L2 (and shrinkage) regularization."""

    update_rule = FTRL_RULE

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

    def _slot_lists(self) -> list[list[Any] | None]:
        return [self._acc, self._lin]

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        return {"learning_rate_power": self.learning_rate_power, "l1": self.l1_regularization_strength,
                "l2": self.l2_regularization_strength, "l2_shrinkage": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
