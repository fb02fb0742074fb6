"""Adamax (Adam with an infinity norm): Keras 3's update rule, and the optimizer."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.moments import TwoMomentOptimizer


def adamax_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place: m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps))."""
    m, u = slots
    beta_1 = s["beta_1"]
    correction = 1 - xp.power(xp.asarray(beta_1, dtype=w.dtype), xp.asarray(s["step"], dtype=w.dtype))
    m += (g - m) * (1 - beta_1)
    xp.maximum(s["beta_2"] * u, xp.abs(g), out=u)
    w -= (s["lr"] * m) / (correction * (u + s["epsilon"]))


def adamax_kernel_args(s: Scalars) -> tuple:
    """gk_adamax_multi: (lr, 1 - b1^t in float32 as the formula rounds it, 1 - b1, b2, epsilon)."""
    correction = np.float32(1) - np.power(np.float32(s["beta_1"]), np.float32(s["step"]))
    return s["lr"], correction, 1 - s["beta_1"], s["beta_2"], s["epsilon"]


ADAMAX_RULE = UpdateRule("adamax", ("momentum", "norm"), adamax_formula, kernel="adamax",
                         kernel_args=adamax_kernel_args)


class Adamax(TwoMomentOptimizer):
    """m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps))."""

    update_rule = ADAMAX_RULE
    _slot_names = ("momentum", "norm")

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "step": self._local_step()}
