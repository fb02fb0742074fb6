"""Lion: sign-of-momentum updates (Keras 3's rule), and the optimizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


def lion_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place: w -= lr sign(b1 m + (1-b1) g); m = b2 m + (1-b2) g."""
    (m,) = slots
    beta_1, beta_2 = s["beta_1"], s["beta_2"]
    w -= s["lr"] * xp.sign(m * beta_1 + g * (1.0 - beta_1))
    m[...] = m * beta_2 + g * (1.0 - beta_2)


LION_RULE = UpdateRule("lion", ("momentum",), lion_formula, kernel="lion", kernel_args=lambda s: (
    s["lr"], s["beta_1"], 1.0 - s["beta_1"], s["beta_2"], 1.0 - s["beta_2"]))


class Lion(Optimizer):
    """w -= lr * sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g."""

    update_rule = LION_RULE

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, name=name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Argument `beta_1` must be in the [0, 1] range. Received: beta_1={beta_1}.")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        self._momentums = [self.add_variable_from_reference(v, "momentum") for v in self._trainable_variables]
        self._m = [x.data for x in self._momentums]

    def _slot_lists(self) -> list[list[Any] | None]:
        return [self._m]

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
