"""Adam (with AMSGrad): Keras 3's update rule, its bias-corrected step size, and the optimizer."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


def adam_step_size(lr: float, beta_1: float, beta_2: float, step: int, dtype: Any) -> Any:
    """alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), rounded in `dtype` op by op as Keras 3 does."""
    f = np.dtype(dtype).type
    one, t = f(1), f(step)
    return f(lr) * np.sqrt(one - np.power(f(beta_2), t)) / (one - np.power(f(beta_1), t))


_step_size_per_dtype = functools.lru_cache(maxsize=64)(adam_step_size)  # the formula asks once per weight


def adam_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); [vhat = max(vhat, v)];
    w -= alpha m / (sqrt(v or vhat) + eps), the bias correction folded into alpha."""
    m, v, vhat = slots
    beta_1, beta_2 = s["beta_1"], s["beta_2"]
    alpha = _step_size_per_dtype(s["lr"], beta_1, beta_2, s["step"], w.dtype)
    m += (g - m) * (1.0 - beta_1)
    v += (g * g - v) * (1.0 - beta_2)
    denom_v = v
    if vhat is not None:
        xp.maximum(vhat, v, out=vhat)
        denom_v = vhat
    w -= (m * alpha) / (xp.sqrt(denom_v) + s["epsilon"])


def adam_kernel_args(s: Scalars) -> tuple:
    """gk_adam_multi / _cpu_kernels.adam: (alpha in float32, 1 - beta_1, 1 - beta_2, epsilon, amsgrad)."""
    alpha = adam_step_size(s["lr"], s["beta_1"], s["beta_2"], s["step"], np.float32)
    return alpha, 1.0 - s["beta_1"], 1.0 - s["beta_2"], s["epsilon"], int(bool(s["amsgrad"]))


ADAM_RULE = UpdateRule("adam", ("momentum", "velocity", "velocity_hat"), adam_formula, kernel="adam",
                       kernel_args=adam_kernel_args)


class Adam(Optimizer):
    """Keras 3 Adam: bias correction folded into alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); AMSGrad option."""

    update_rule = ADAM_RULE

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

    def _slot_lists(self) -> list[list[Any] | None]:
        return [self._m, self._v, self._vhat if self.amsgrad else None]

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad,
                "step": self._local_step()}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
