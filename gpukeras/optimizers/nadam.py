"""Nadam (Adam with Nesterov momentum and Keras's momentum schedule): Keras 3's update rule, and the optimizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.backend.fused.multi_tensor import Scalars, UpdateRule
from gpukeras.optimizers.moments import TwoMomentOptimizer
from gpukeras.optimizers.optimizer import HostMirroredVariable
from gpukeras.tensor import Variable


def nadam_formula(xp: Any, w: Any, g: Any, slots: tuple, s: Scalars) -> None:
    """One weight in place, with the momentum-schedule scalars u_t, u_{t+1} and their running product."""
    m, v = slots
    u_t, u_t_1, u_product_t = s["u_t"], s["u_t_1"], s["u_product_t"]
    u_product_t_1 = u_product_t * u_t_1
    m += (g - m) * (1 - s["beta_1"])
    v += (xp.square(g) - v) * (1 - s["beta_2"])
    m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g) / (1 - u_product_t)
    v_hat = v / (1 - s["beta_2_power"])
    w -= (m_hat * s["lr"]) / (xp.sqrt(v_hat) + s["epsilon"])


def nadam_kernel_args(s: Scalars) -> tuple:
    """gk_nadam_multi: the schedule folded on the host as the formula folds it."""
    u_t, u_t_1, u_product_t = s["u_t"], s["u_t_1"], s["u_product_t"]
    return (s["lr"], 1 - s["beta_1"], 1 - s["beta_2"], s["epsilon"], u_t_1, 1 - u_product_t * u_t_1, 1 - u_t,
            1 - u_product_t, 1 - s["beta_2_power"])


NADAM_RULE = UpdateRule("nadam", ("momentum", "velocity"), nadam_formula, kernel="nadam",
                        kernel_args=nadam_kernel_args)


class Nadam(TwoMomentOptimizer):
    """Adam with Nesterov momentum and Keras's 0.96-decay momentum schedule."""

    update_rule = NADAM_RULE

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        dtype = self._trainable_variables[0].dtype if self._trainable_variables else "float32"
        self._u_product = HostMirroredVariable(1.0, dtype, "u_product", f"{self.name}/u_product")
        self._variables.append(self._u_product)

    def _u(self, step: int) -> float:
        """The momentum schedule's u at `step`."""
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** step)

    def _step_scalars(self, lr: float) -> dict[str, Any]:
        """This step's hyperparameters (no side effect: a step graph computes them again before each launch)."""
        step = self._local_step()
        u_t = self._u(step)
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "u_t": u_t,
                "u_t_1": self._u(step + 1), "u_product_t": self._u_product.host * u_t,
                "beta_2_power": self.beta_2 ** step}

    def _update(self, grads: list[Any], positions: list[int] | None) -> None:
        """The update, then the schedule's running product advanced (host work of the step: once per launch
        under a step graph)."""
        super()._update(grads, positions)
        _backend.active.host_effect(self._advance_product)

    def _advance_product(self) -> None:
        self._u_product.set_host(self._u_product.host * self._u(self._local_step()))
