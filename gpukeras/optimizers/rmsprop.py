"""RMSprop (optionally centered, with momentum): Keras 3's update rule, and the optimizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


def rmsprop_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place: v = rho v + (1-rho) g^2; step = lr g / sqrt(v [- avg_g^2] + eps);
    with momentum, mo = momentum mo + step and w -= mo, else w -= step."""
    v, average, mo = slots
    rho, epsilon = s["rho"], s["epsilon"]
    v[...] = rho * v + (1 - rho) * xp.square(g)
    if average is not None:
        average[...] = rho * average + (1 - rho) * g
        denominator = v - xp.square(average) + epsilon
    else:
        denominator = v + epsilon
    increment = (s["lr"] * g) / xp.sqrt(denominator)
    if mo is not None:
        mo[...] = s["momentum"] * mo + increment
        w -= mo
    else:
        w -= increment


def rmsprop_kernel_args(s: Scalars) -> tuple:
    """gk_rmsprop_multi: (lr, rho, 1 - rho, momentum, epsilon, centered, use_momentum)."""
    return (s["lr"], s["rho"], 1.0 - s["rho"], s["momentum"], s["epsilon"], int(bool(s["centered"])),
            int(s["momentum"] > 0))


RMSPROP_RULE = UpdateRule("rmsprop", ("velocity", "average_gradient", "momentum"), rmsprop_formula,
                          kernel="rmsprop", kernel_args=rmsprop_kernel_args)


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients (Keras 3's update rule)."""

    update_rule = RMSPROP_RULE

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

    def _slot_lists(self) -> list[list[Any] | None]:
        return [self._vel, self._avg if self.centered else None, self._mom if self.momentum > 0 else None]

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
