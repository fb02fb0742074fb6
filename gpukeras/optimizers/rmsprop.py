"""RMSprop (optionally centered, with momentum), one fused backend call per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients (Keras 3's update rule)."""

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        ref = self.add_variable_from_reference
        trainable = self._trainable_variables
        self._velocities = [ref(v, "velocity") for v in trainable]
        self._momentums = [ref(v, "momentum") for v in trainable] if self.momentum > 0 else []
        self._average_gradients = [ref(v, "average_gradient") for v in trainable] if self.centered else []
        self._vel = [x.data for x in self._velocities]
        self._mom = [x.data for x in self._momentums]
        self._avg = [x.data for x in self._average_gradients]

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        sel = self._select
        _backend.active.rmsprop_update(
            self._params(positions), grads, sel(self._vel, positions),
            sel(self._mom, positions) if self.momentum > 0 else None,
            sel(self._avg, positions) if self.centered else None, lr, self.rho, self.momentum, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
