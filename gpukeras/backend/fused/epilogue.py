"""Fused fast path: the Dense/Conv epilogue (bias + activation) and Dense, with the generic code.

A backend fuses `bias_activation` and its backward into one pass over the GEMM output (C on the
host, CUDA on the GPU); `dense` is a GEMM plus that epilogue, so overriding the epilogue is enough.
"""

from __future__ import annotations

from typing import Any

Array = Any


class EpilogueFusions:
    """bias_activation, dense and their backwards, generic over the required primitives and `self.xp`."""

    xp: Any = None

    def bias_activation(self, z: Array, bias: Array | None, activation: str,
                        params: tuple = ()) -> tuple[Array, Array]:
        """The epilogue of Dense and Conv: z += bias (in place, last axis), y = activation(z); (y, z).

        Backends fuse it into one pass over z (C on the host, CUDA on the GPU).
        """
        if bias is not None:
            z += bias
        if activation == "linear":
            return z, z
        return self.activation(activation, z, params), z

    def bias_activation_backward(self, dy: Array, z: Array, y: Array, activation: str, params: tuple = (),
                                 has_bias: bool = True) -> tuple[Array, Array | None]:
        """(dz, dbias) of `bias_activation`: the activation gradient and its sum over all but the last axis."""
        dz = dy if activation == "linear" else self.activation_backward(activation, dy, z, y, params)
        dbias = self.xp.sum(dz.reshape(-1, dz.shape[-1]), axis=0) if has_bias else None
        return dz, dbias

    def dense(self, x: Array, kernel: Array, bias: Array | None, activation: str,
              params: tuple = ()) -> tuple[Array, Array]:
        """y = activation(x @ kernel + bias); returns (y, z) where z is the pre-activation."""
        return self.bias_activation(self._row_matmul(x, kernel), bias, activation, params)

    def _row_matmul(self, x: Array, w: Array) -> Array:
        """x (..., k) @ w (k, n) as one GEMM over all of x's rows: NumPy's stacked matmul runs one small
        GEMM per leading index (an LSTM's (200, 32, 128) time-major view @ (128, 256): 3.2 ms against
        2.5 ms folded; its (200, 32, 256) @ w.T: 5.2 against 2.2 ms)."""
        if x.ndim <= 2:
            return self.xp.matmul(x, w)
        return self.xp.matmul(x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[-1])

    def dense_backward(self, dy: Array, x: Array, kernel: Array, z: Array, y: Array,
                       activation: str, params: tuple = (), has_bias: bool = True,
                       need_dx: bool = True) -> tuple[Array | None, Array, Array | None]:
        """(dx, dkernel, dbias) of `dense` from the upstream gradient dy."""
        dz, dbias = self.bias_activation_backward(dy, z, y, activation, params, has_bias)
        x2 = x.reshape(-1, x.shape[-1])
        dkernel = self.xp.matmul(x2.T, dz.reshape(-1, dz.shape[-1]))
        dx = self._row_matmul(dz, kernel.T) if need_dx else None
        return dx, dkernel, dbias

