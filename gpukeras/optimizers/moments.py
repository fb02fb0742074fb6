"""The part Adamax and Nadam share: beta_1/beta_2/epsilon, two slots per weight (interleaved, as Keras
orders them) and their config."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


class TwoMomentOptimizer(Optimizer):
    """Base of Adamax and Nadam: a first and a second moment slot per weight, named by `_slot_names`."""

    _slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        first, second = [], []
        for v in self._trainable_variables:
            first.append(self.add_variable_from_reference(v, self._slot_names[0]))
            second.append(self.add_variable_from_reference(v, self._slot_names[1]))
        self._first, self._second = first, second
        self._a = [x.data for x in first]
        self._b = [x.data for x in second]

    def _slot_lists(self) -> list[list[Any] | None]:
        return [self._a, self._b]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
