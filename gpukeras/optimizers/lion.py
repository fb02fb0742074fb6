"""Lion: sign-of-momentum updates (Keras 3's rule), one fused backend call per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


class Lion(Optimizer):
    """w -= lr * sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g."""

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

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        _backend.active.lion_update(self._params(positions), grads, self._select(self._m, positions), lr,
                                    self.beta_1, self.beta_2)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
