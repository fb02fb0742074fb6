"""NumPy backend: the reference implementation of every primitive, and the CPU fast path.

Each CUDA kernel in `kernels/` has its NumPy twin here (or in `base.Ops`): the GPU tests
compare the two. Hot ops write into their outputs in place to avoid per-step allocations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras.backend.base import Array, Ops, adam_step_size


class NumpyOps(Ops):
    """Primitive ops on NumPy arrays (host memory)."""

    name = "numpy"
    xp = np

    def to_numpy(self, x: Array) -> np.ndarray:
        return np.asarray(x)

    def _act_relu(self, x, negative_slope=0.0, max_value=None, threshold=0.0):
        if negative_slope == 0.0 and max_value is None and threshold == 0.0:
            return np.maximum(x, 0, out=np.empty_like(x))
        return super()._act_relu(x, negative_slope, max_value, threshold)

    def dense(self, x, kernel, bias, activation, params=()):
        z = np.matmul(x, kernel)
        if bias is not None:
            np.add(z, bias, out=z)
        if activation == "linear":
            return z, z
        if activation == "relu" and not params:
            return np.maximum(z, 0), z
        return self.activation(activation, z, params), z

    def adam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                    vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                    step: int, vhats: Sequence[Array] | None = None) -> None:
        """Adam with in-place ufuncs and one scratch buffer per weight (twin of the fused CUDA update).

        Rounds like Keras 3: alpha in the weights' precision, then w -= (m * alpha) / (sqrt(v) + eps).
        """
        alphas: dict[Any, Any] = {}
        for i, (w, g) in enumerate(zip(params, grads)):
            alpha = alphas.get(w.dtype)
            if alpha is None:
                alpha = alphas[w.dtype] = adam_step_size(lr, beta_1, beta_2, step, w.dtype)
            m, v = ms[i], vs[i]
            tmp = np.subtract(g, m)
            tmp *= 1.0 - beta_1
            m += tmp
            np.multiply(g, g, out=tmp)
            tmp -= v
            tmp *= 1.0 - beta_2
            v += tmp
            denom = v
            if vhats is not None:
                np.maximum(vhats[i], v, out=vhats[i])
                denom = vhats[i]
            np.sqrt(denom, out=tmp)
            tmp += epsilon
            np.divide(np.multiply(m, alpha), tmp, out=tmp)
            w -= tmp

    def _add_at(self, out: Array, idx: Any, values: Array) -> None:
        np.add.at(out, idx, values)
