"""Adamax (Adam with an infinity norm) and Nadam (Adam with Nesterov momentum)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.optimizers.optimizer import HostMirroredVariable, Optimizer
from gpukeras.tensor import Variable


class _AdamFamily(Optimizer):
    """Shared constructor, slots (interleaved per weight, as Keras orders them) and config."""

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

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adamax(_AdamFamily):
    """m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps))."""

    _slot_names = ("momentum", "norm")

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        sel = self._select
        _backend.active.adamax_update(self._params(positions), grads, sel(self._a, positions),
                                      sel(self._b, positions), lr, self.beta_1, self.beta_2, self.epsilon,
                                      self._local_step())


class Nadam(_AdamFamily):
    """Adam with Nesterov momentum and Keras's 0.96-decay momentum schedule."""

    def build(self, variables: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        dtype = self._trainable_variables[0].dtype if self._trainable_variables else "float32"
        self._u_product = HostMirroredVariable(1.0, dtype, "u_product", f"{self.name}/u_product")
        self._variables.append(self._u_product)

    def _update(self, grads: list[Any], positions: list[int] | None, lr: float) -> None:
        step = self._local_step()
        u_t = self.beta_1 * (1.0 - 0.5 * 0.96 ** step)
        u_t_1 = self.beta_1 * (1.0 - 0.5 * 0.96 ** (step + 1))
        u_product = self._u_product.host * u_t
        self._u_product.set_host(u_product)
        sel = self._select
        _backend.active.nadam_update(self._params(positions), grads, sel(self._a, positions),
                                     sel(self._b, positions), lr, self.beta_1, self.beta_2, self.epsilon, u_t,
                                     u_t_1, u_product, self.beta_2 ** step)
