"""Fused fast path: bilinear up-sampling by whole factors, forward and backward, with the generic code.

Keras 3's UpSampling2D(interpolation="bilinear") is jax.image.resize: half-pixel centres, each output
the distance-weighted mean of the two nearest inputs along each axis, the edge input standing in for
its missing neighbour. For a whole factor f, output i*f + p along an axis mixes inputs i-1, i, i+1 with
weights that depend on the phase p only (`bilinear_phase_weights`), so the generic code is a few
whole-array multiply-adds per phase and axis (axes in order; the backward in reverse order). CuPy
overrides both with kernels/upsampling.cu (one thread per output / input element, no atomics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Array = Any


def bilinear_phase_weights(factor: int) -> list[tuple[float, float, float]]:
    """For each output phase p of a `factor`-times up-sampled axis: the weights of the (previous, same,
    next) input. Output i*factor + p samples the input at i + t, t = (p + 0.5) / factor - 0.5."""
    out = []
    for p in range(factor):
        t = (p + 0.5) / factor - 0.5
        out.append((-t, 1.0 + t, 0.0) if t < 0 else (0.0, 1.0 - t, t))
    return out


def _at(ndim: int, axis: int, index: Any) -> tuple:
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


class ResamplingFusions:
    """upsample_bilinear and its backward, generic over `self.xp`."""

    xp: Any = None

    def upsample_bilinear(self, x: Array, factors: Sequence[int], axes: Sequence[int]) -> Array:
        """x up-sampled by factors[i] along axes[i] (any layout: the axes are given), bilinear."""
        for axis, f in zip(axes, factors):
            x = self._bilinear_axis(x, axis, int(f))
        return x

    def upsample_bilinear_backward(self, dy: Array, factors: Sequence[int], axes: Sequence[int]) -> Array:
        """dL/dx of `upsample_bilinear` (dy has the up-sampled shape)."""
        for axis, f in reversed(list(zip(axes, factors))):
            dy = self._bilinear_axis_backward(dy, axis, int(f))
        return dy

    def _bilinear_axis(self, x: Array, axis: int, f: int) -> Array:
        xp = self.xp
        if f == 1:
            return x
        n = x.shape[axis]
        prev = xp.concatenate([x[_at(x.ndim, axis, slice(0, 1))], x[_at(x.ndim, axis, slice(0, n - 1))]], axis)
        nxt = xp.concatenate([x[_at(x.ndim, axis, slice(1, n))], x[_at(x.ndim, axis, slice(n - 1, n))]], axis)
        out = xp.empty(x.shape[:axis + 1] + (f,) + x.shape[axis + 1:], dtype=x.dtype)
        tmp = xp.empty_like(x)
        for p, (w_prev, w_same, w_next) in enumerate(bilinear_phase_weights(f)):
            dst = out[_at(out.ndim, axis + 1, p)]
            xp.multiply(x, w_same, out=dst)
            for neighbour, weight in ((prev, w_prev), (nxt, w_next)):
                if weight:
                    xp.multiply(neighbour, weight, out=tmp)
                    dst += tmp
        return out.reshape(x.shape[:axis] + (n * f,) + x.shape[axis + 1:])

    def _bilinear_axis_backward(self, g: Array, axis: int, f: int) -> Array:
        xp = self.xp
        if f == 1:
            return g
        n = g.shape[axis] // f
        g = g.reshape(g.shape[:axis] + (n, f) + g.shape[axis + 1:])
        shape = g.shape[:axis + 1] + g.shape[axis + 2:]
        dx = xp.zeros(shape, dtype=g.dtype)
        tmp = xp.empty(shape, dtype=g.dtype)
        nd = len(shape)
        head, tail = _at(nd, axis, slice(0, n - 1)), _at(nd, axis, slice(1, n))
        first, last = _at(nd, axis, slice(0, 1)), _at(nd, axis, slice(n - 1, n))
        for p, (w_prev, w_same, w_next) in enumerate(bilinear_phase_weights(f)):
            gp = g[_at(g.ndim, axis + 1, p)]
            xp.multiply(gp, w_same, out=tmp)
            dx += tmp
            if w_prev:  # output i used input max(i - 1, 0)
                xp.multiply(gp, w_prev, out=tmp)
                dx[head] += tmp[tail]
                dx[first] += tmp[first]
            if w_next:  # output i used input min(i + 1, n - 1)
                xp.multiply(gp, w_next, out=tmp)
                dx[tail] += tmp[head]
                dx[last] += tmp[last]
        return dx
