"""Adam (and AdamW, which is Adam with decoupled weight decay), one fused backend call per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


class Adam(Optimizer):
    """Keras 3 Adam: bias correction folded into alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); AMSGrad option."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, bool(amsgrad)

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = [], []
        for v in self._trainable_variables:
            self._momentums.append(self.add_variable_from_reference(v, "momentum"))
            self._velocities.append(self.add_variable_from_reference(v, "velocity"))
        self._velocity_hats = ([self.add_variable_from_reference(v, "velocity_hat")
                                for v in self._trainable_variables] if self.amsgrad else [])
        self._m = [x.data for x in self._momentums]
        self._v = [x.data for x in self._velocities]
        self._vhat = [x.data for x in self._velocity_hats]

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        sel = self._select
        _backend.active.adam_update(self._params(positions), grads, sel(self._m, positions),
                                    sel(self._v, positions), lr, self.beta_1, self.beta_2, self.epsilon,
                                    self._local_step(), sel(self._vhat, positions) if self.amsgrad else None)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004), applied before each update as Keras 3 does."""

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, name: str | None = None,
                 **kwargs: Any):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         name=name, weight_decay=weight_decay, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
