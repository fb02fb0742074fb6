"""Fused fast path: batch and layer normalization (statistics, normalize, affine) with the generic code.

On the host, float32 batch normalization of channels_last data (statistics over every axis but the
last, one gamma/beta per channel) runs as C loops (_cpu_normalization.c: three passes forward, two
backward) that compute the generic code's bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.backend.fused.host import host_kernel

Array = Any


def _per_channel(shape: Sequence[int], axes: Sequence[int], *params: Array | None) -> bool:
    """Statistics over every axis but the last and parameters (if any) of one value per channel: the
    (rows, channels) case of the C loops."""
    if len(shape) < 2 or tuple(axes) != tuple(range(len(shape) - 1)):
        return False
    return all(p is None or p.size == shape[-1] for p in params)


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
        kernel = host_kernel("batch_norm_fwd", xp, x, gamma, beta) if _per_channel(x.shape, axes, gamma, beta) \
            else None
        if kernel is not None:
            return self._host_normalize(kernel, x, epsilon, gamma, beta)
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
        kernel = host_kernel("batch_norm_bwd", xp, dy, xhat, inv_std, gamma)
        if kernel is not None and param_shape[-1] == dy.shape[-1] and _per_channel(dy.shape, axes, inv_std, gamma):
            return self._host_normalize_backward(kernel, dy, xhat, inv_std, tuple(param_shape), gamma, has_beta)
        bcast = tuple(i for i, n in enumerate(param_shape) if n == 1 and dy.shape[i] != 1)
        dbeta = xp.sum(dy, axis=bcast, keepdims=True) if has_beta else None
        dgamma = xp.sum(dy * xhat, axis=bcast, keepdims=True) if gamma is not None else None
        dxhat = dy * gamma if gamma is not None else dy
        dx = dxhat - xp.mean(dxhat, axis=axes, keepdims=True)
        dx -= xhat * xp.mean(dxhat * xhat, axis=axes, keepdims=True)
        dx *= inv_std
        return dx, dgamma, dbeta


    def _host_normalize(self, kernel: Any, x: Array, epsilon: float, gamma: Array | None,
                        beta: Array | None) -> tuple[Array, Array, Array, Array, Array]:
        """`normalize` through _cpu_kernels.batch_norm_fwd (NumPy float32, per channel)."""
        xp = self.xp
        x = xp.ascontiguousarray(x)
        y, xhat = xp.empty_like(x), xp.empty_like(x)
        mean, var, inv = xp.empty((3,) + (1,) * (x.ndim - 1) + (x.shape[-1],), dtype=x.dtype)
        kernel(x, _flat(xp, gamma), _flat(xp, beta), y, xhat, mean, var, inv, epsilon)
        return y, mean, var, xhat, inv

    def _host_normalize_backward(self, kernel: Any, dy: Array, xhat: Array, inv_std: Array,
                                 param_shape: tuple[int, ...], gamma: Array | None,
                                 has_beta: bool) -> tuple[Array, Array | None, Array | None]:
        """`normalize_backward` through _cpu_kernels.batch_norm_bwd (NumPy float32, per channel)."""
        xp = self.xp
        dx = xp.empty(dy.shape, dtype=dy.dtype)
        dgamma = xp.empty(param_shape, dtype=dy.dtype) if gamma is not None else None
        dbeta = xp.empty(param_shape, dtype=dy.dtype) if has_beta else None
        kernel(xp.ascontiguousarray(dy), xp.ascontiguousarray(xhat), xp.ascontiguousarray(inv_std),
               _flat(xp, gamma), dx, dgamma, dbeta)
        return dx, dgamma, dbeta


def _flat(xp: Any, a: Array | None) -> Array | None:
    """A per-channel parameter as the contiguous vector the C loops take (None stays None)."""
    return None if a is None else xp.ascontiguousarray(a).reshape(-1)
