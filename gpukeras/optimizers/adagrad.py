"""Adagrad: per-parameter step sizes from accumulated squared gradients (Keras 3's rule), and the optimizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


def adagrad_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place: acc += g^2; w -= lr g / sqrt(acc + eps)."""
    (acc,) = slots
    acc += xp.square(g)
    w -= (s["lr"] * g) / xp.sqrt(acc + s["epsilon"])


ADAGRAD_RULE = UpdateRule("adagrad", ("accumulator",), adagrad_formula, kernel="adagrad",
                          kernel_args=lambda s: (s["lr"], s["epsilon"]))


class Adagrad(Optimizer):
    """acc += g^2; w -= lr * g / sqrt(acc + eps), the accumulator starting at `initial_accumulator_value`."""

    update_rule = ADAGRAD_RULE

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

    def _slot_lists(self) -> list[list[Any] | None]:
        return [self._acc]

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        return {"epsilon": self.epsilon}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
