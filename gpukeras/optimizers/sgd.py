"""SGD with optional (Nesterov) momentum: Keras 3's update rule, and the optimizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


def sgd_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place: m = momentum*m - lr*g; w += m (Nesterov: w += momentum*m - lr*g); plain: w -= lr*g."""
    lr, momentum = s["lr"], s["momentum"]
    if not momentum:
        w -= lr * g
        return
    (m,) = slots
    m *= momentum
    m -= lr * g
    if s["nesterov"]:
        w += momentum * m - lr * g
    else:
        w += m


def sgd_kernel_args(s: Scalars) -> tuple:
    """gk_sgd_multi / _cpu_kernels.sgd: (lr, momentum, use_momentum, nesterov)."""
    return s["lr"], s["momentum"], int(bool(s["momentum"])), int(bool(s["nesterov"]))


SGD_RULE = UpdateRule("sgd", ("momentum",), sgd_formula, kernel="sgd", kernel_args=sgd_kernel_args)


class SGD(Optimizer):
    """m = momentum * m - lr * g; w += m (Nesterov: w += momentum * m - lr * g); plain: w -= lr * g."""

    update_rule = SGD_RULE

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

    def _slot_lists(self) -> list[list[Any] | None]:
        return [self._m if self.momentum else None]

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
