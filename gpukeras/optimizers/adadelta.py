"""Adadelta: step sizes from running averages of squared gradients and squared updates (Keras 3's rule)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


def adadelta_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place: acc_g = rho acc_g + (1-rho) g^2; delta = -sqrt(acc_d + eps) g / sqrt(acc_g + eps);
    acc_d = rho acc_d + (1-rho) delta^2; w += lr delta."""
    acc_g, acc_d = slots
    rho, epsilon = s["rho"], s["epsilon"]
    acc_g[...] = rho * acc_g + (1 - rho) * xp.square(g)
    delta = -((xp.sqrt(acc_d + epsilon) * g) / xp.sqrt(acc_g + epsilon))
    acc_d[...] = rho * acc_d + (1 - rho) * xp.square(delta)
    w += s["lr"] * delta


ADADELTA_RULE = UpdateRule("adadelta", ("accumulated_grad", "accumulated_delta_var"), adadelta_formula,
                           kernel="adadelta", kernel_args=lambda s: (s["lr"], s["rho"], 1 - s["rho"], s["epsilon"]))


class Adadelta(Optimizer):
    """Step sizes from running averages of squared gradients and squared updates (Keras 3's rule)."""

    update_rule = ADADELTA_RULE

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

    def _slot_lists(self) -> list[list[Any] | None]:
        return [self._acc_g, self._acc_d]

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        return {"rho": self.rho, "epsilon": self.epsilon}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
