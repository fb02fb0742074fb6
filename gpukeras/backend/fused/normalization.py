"""Fused fast path: batch and layer normalization (statistics, normalize, affine) with the generic code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Array = Any


class NormalizationFusions:
    """normalize and its backward, generic over `self.xp`."""

    xp: Any = None

    def normalize(self, x: Array, axes: tuple[int, ...], epsilon: float, gamma: Array | None = None,
                  beta: Array | None = None) -> tuple[Array, Array, Array, Array, Array]:
        """(y, mean, variance, xhat, inv_std): y = (x - mean) / sqrt(var + eps) * gamma + beta.

        Statistics over `axes` (keepdims); the variance is the biased one (Keras's moments).
        gamma and beta, when given, have x's rank (size 1 on the axes they are broadcast over).
        """
        xp = self.xp
        mean = xp.mean(x, axis=axes, keepdims=True)
        centered = x - mean
        var = xp.mean(xp.square(centered), axis=axes, keepdims=True)
        inv = 1.0 / xp.sqrt(var + epsilon)
        xhat = centered
        xhat *= inv
        y = xhat * gamma if gamma is not None else xhat.copy()
        if beta is not None:
            y += beta
        return y, mean, var, xhat, inv

    def normalize_backward(self, dy: Array, xhat: Array, inv_std: Array, axes: tuple[int, ...],
                           param_shape: Sequence[int], gamma: Array | None = None, has_beta: bool = False
                           ) -> tuple[Array, Array | None, Array | None]:
        """(dx, dgamma, dbeta) of `normalize`; dgamma/dbeta keep x's rank, size 1 where gamma broadcasts.

        `param_shape` is gamma's/beta's (x-rank) shape.
        """
        xp = self.xp
        bcast = tuple(i for i, n in enumerate(param_shape) if n == 1 and dy.shape[i] != 1)
        dbeta = xp.sum(dy, axis=bcast, keepdims=True) if has_beta else None
        dgamma = xp.sum(dy * xhat, axis=bcast, keepdims=True) if gamma is not None else None
        dxhat = dy * gamma if gamma is not None else dy
        dx = dxhat - xp.mean(dxhat, axis=axes, keepdims=True)
        dx -= xhat * xp.mean(dxhat * xhat, axis=axes, keepdims=True)
        dx *= inv_std
        return dx, dgamma, dbeta

