"""SGD with optional (Nesterov) momentum, Keras 3's update rule, one fused backend call per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


class SGD(Optimizer):
    """m = momentum * m - lr * g; w += m (Nesterov: w += momentum * m - lr * g); plain: w -= lr * g."""

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, name=name, **kwargs)
        if not isinstance(momentum, (int, float)) or isinstance(momentum, bool) or not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        self.momentums = ([self.add_variable_from_reference(v, "momentum") for v in self._trainable_variables]
                          if self.momentum != 0 else [])
        self._m = [m.data for m in self.momentums]

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        moments = self._select(self._m, positions) if self.momentum else None
        _backend.active.sgd_update(self._params(positions), grads, moments, lr, self.momentum, self.nesterov)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
