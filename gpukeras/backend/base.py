"""The backend interface: `Ops` = the required primitives + the optional fused fast paths.

A backend subclasses `Ops`, sets `name` and `xp` (an array module with NumPy's API), and
registers itself (`gpukeras.backend.register_backend`). It inherits a complete implementation:
the required primitives (primitives.py, activations.py) written over `xp`, and the fused fast
paths (fused/) whose generic code needs nothing more. It overrides what it can do better.
Layers, models, losses and optimizers call only these methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras.backend.activations import ACTIVATIONS
from gpukeras.backend.fused import FusedOps, fused_fast_paths
from gpukeras.backend.primitives import Array, Primitives, Shape, normalize_axes, required_primitives


class Ops(Primitives, FusedOps):
    """Every op gpukeras computes with, generic over one array module; subclasses set `name` and `xp`."""

    name = "base"
    xp: Any = None

    # ------------------------------------------------------------------ optimizer updates
    def sgd_update(self, params: Sequence[Array], grads: Sequence[Array], moments: Sequence[Array] | None,
                   lr: float, momentum: float, nesterov: bool) -> None:
        """Keras SGD in place: m = momentum*m - lr*g; w += m (or momentum*m - lr*g if nesterov)."""
        for i, (w, g) in enumerate(zip(params, grads)):
            if not momentum:
                w -= lr * g
                continue
            m = moments[i]
            m *= momentum
            m -= lr * g
            if nesterov:
                w += momentum * m - lr * g
            else:
                w += m

    def adam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                    vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                    step: int, vhats: Sequence[Array] | None = None) -> None:
        """Keras Adam in place: bias correction folded into the step size alpha."""
        alphas: dict[Any, Any] = {}
        for i, (w, g) in enumerate(zip(params, grads)):
            alpha = alphas.get(w.dtype)
            if alpha is None:
                alpha = alphas[w.dtype] = adam_step_size(lr, beta_1, beta_2, step, w.dtype)
            m, v = ms[i], vs[i]
            m += (g - m) * (1.0 - beta_1)
            v += (g * g - v) * (1.0 - beta_2)
            denom_v = v
            if vhats is not None:
                self.xp.maximum(vhats[i], v, out=vhats[i])
                denom_v = vhats[i]
            w -= (m * alpha) / (self.xp.sqrt(denom_v) + epsilon)

    # ------------------------------------------------------------------ more optimizer updates
    # Each applies Keras 3's update rule to every weight in place, in one call per step; the
    # arithmetic follows Keras's operation order so float32 results round the same way.
    def rmsprop_update(self, params: Sequence[Array], grads: Sequence[Array], velocities: Sequence[Array],
                       momentums: Sequence[Array] | None, average_grads: Sequence[Array] | None, lr: float,
                       rho: float, momentum: float, epsilon: float) -> None:
        """v = rho v + (1-rho) g^2; step = lr g / sqrt(v [- avg_g^2] + eps); optional momentum on the step."""
        xp = self.xp
        for i, (w, g) in enumerate(zip(params, grads)):
            v = velocities[i]
            v[...] = rho * v + (1 - rho) * xp.square(g)
            if average_grads is not None:
                a = average_grads[i]
                a[...] = rho * a + (1 - rho) * g
                denominator = v - xp.square(a) + epsilon
            else:
                denominator = v + epsilon
            increment = (lr * g) / xp.sqrt(denominator)
            if momentums is not None:
                m = momentums[i]
                m[...] = momentum * m + increment
                w -= m
            else:
                w -= increment

    def adagrad_update(self, params: Sequence[Array], grads: Sequence[Array], accumulators: Sequence[Array],
                       lr: float, epsilon: float) -> None:
        """acc += g^2; w -= lr g / sqrt(acc + eps)."""
        xp = self.xp
        for w, g, acc in zip(params, grads, accumulators):
            acc += xp.square(g)
            w -= (lr * g) / xp.sqrt(acc + epsilon)

    def adadelta_update(self, params: Sequence[Array], grads: Sequence[Array],
                        accumulated_grads: Sequence[Array], accumulated_deltas: Sequence[Array], lr: float,
                        rho: float, epsilon: float) -> None:
        """Adadelta: delta = -sqrt(acc_delta + eps) g / sqrt(acc_g + eps); w += lr delta."""
        xp = self.xp
        for w, g, acc_g, acc_d in zip(params, grads, accumulated_grads, accumulated_deltas):
            acc_g[...] = rho * acc_g + (1 - rho) * xp.square(g)
            delta = -((xp.sqrt(acc_d + epsilon) * g) / xp.sqrt(acc_g + epsilon))
            acc_d[...] = rho * acc_d + (1 - rho) * xp.square(delta)
            w += lr * delta

    def adamax_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                      us: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                      step: int) -> None:
        """m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps))."""
        xp = self.xp
        for w, g, m, u in zip(params, grads, ms, us):
            correction = 1 - xp.power(xp.asarray(beta_1, dtype=w.dtype), xp.asarray(step, dtype=w.dtype))
            m += (g - m) * (1 - beta_1)
            xp.maximum(beta_2 * u, xp.abs(g), out=u)
            w -= (lr * m) / (correction * (u + epsilon))

    def nadam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                     vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                     u_t: float, u_t_1: float, u_product_t: float, beta_2_power: float) -> None:
        """Nadam with the momentum-schedule scalars (u_t, u_{t+1}, their running product) from the caller."""
        xp = self.xp
        u_product_t_1 = u_product_t * u_t_1
        for w, g, m, v in zip(params, grads, ms, vs):
            m += (g - m) * (1 - beta_1)
            v += (xp.square(g) - v) * (1 - beta_2)
            m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g) / (1 - u_product_t)
            v_hat = v / (1 - beta_2_power)
            w -= (m_hat * lr) / (xp.sqrt(v_hat) + epsilon)

    def lion_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array], lr: float,
                    beta_1: float, beta_2: float) -> None:
        """w -= lr sign(b1 m + (1-b1) g); m = b2 m + (1-b2) g."""
        xp = self.xp
        for w, g, m in zip(params, grads, ms):
            w -= lr * xp.sign(m * beta_1 + g * (1.0 - beta_1))
            m[...] = m * beta_2 + g * (1.0 - beta_2)

    def ftrl_update(self, params: Sequence[Array], grads: Sequence[Array], accumulators: Sequence[Array],
                    linears: Sequence[Array], lr: float, lr_power: float, l1: float, l2: float,
                    l2_shrinkage: float, beta: float) -> None:
        """Follow-the-regularized-leader (Keras 3's Ftrl)."""
        xp = self.xp
        l2_total = l2 + beta / (2.0 * lr)
        for w, g, accum, linear in zip(params, grads, accumulators, linears):
            grad_to_use = g + 2 * l2_shrinkage * w
            new_accum = accum + xp.square(g)
            linear += grad_to_use - ((xp.power(new_accum, -lr_power) - xp.power(accum, -lr_power)) / lr) * w
            quadratic = xp.power(new_accum, -lr_power) / lr + 2 * l2_total
            w[...] = (xp.clip(linear, -l1, l1) - linear) / quadratic
            accum[...] = new_accum


def adam_step_size(lr: float, beta_1: float, beta_2: float, step: int, dtype: Any) -> Any:
    """alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), rounded in `dtype` op by op as Keras 3 does."""
    f = np.dtype(dtype).type
    one, t = f(1), f(step)
    return f(lr) * np.sqrt(one - np.power(f(beta_2), t)) / (one - np.power(f(beta_1), t))




__all__ = ["ACTIVATIONS", "Array", "Ops", "Shape", "adam_step_size", "fused_fast_paths", "normalize_axes",
           "required_primitives"]
