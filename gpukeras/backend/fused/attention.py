"""Fused fast path: scaled dot-product attention forward and backward, with the generic code.

The generic code is the NumPy twin of kernels/attention.cu: it computes the whole (B, N, T, S) weight
matrix (the kernel never stores it), in the same order of operations: logits = (q . k) * scale
(+ bias), masked, softmax over the keys (float32, or float64 for float64 inputs), times the dropout
factors, times v. Layouts: q (B, T, N, H), k (B, S, K, H), v (B, S, K, Hv), out (B, T, N, Hv);
query head n reads key/value head n // (N / K).

A masked entry (False in `mask`, or above the diagonal with `causal`) gets weight 0. A query row with
no allowed key attends uniformly to all S keys (JAX's dot_product_attention, whose masked logits all
equal -0.7 * float32 max) unless `zero_masked_rows`, where it gets zeros (Keras's masked Softmax).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Array = Any
_HALF = ("float16", "bfloat16")


@dataclass
class AttentionResiduals:
    """What the backward needs from the forward: the generic code keeps the weights (and the dropout
    factors); a kernel keeps the log-sum-exp of each row (-inf: no key allowed) and its dropout's rate and
    Philox seed."""

    probs: Array | None = None  # (B, N, T, S) softmax weights, before dropout
    dropout_mask: Array | None = None  # (B, N, T, S) factors 1 / (1 - rate) or 0
    lse: Array | None = None  # (B, N, T) float32
    seed: int = 0
    rate: float = 0.0  # the kernel's dropout rate (its factors come from `seed`)


class AttentionFusion:
    """attention and attention_backward, generic over `self.xp` and the required primitives."""

    xp: Any = None

    def attention(self, q: Array, k: Array, v: Array, bias: Array | None = None, mask: Array | None = None,
                  causal: bool = False, scale: float = 1.0, zero_masked_rows: bool = False, dropout: float = 0.0,
                  rng: np.random.Generator | None = None) -> tuple[Array, AttentionResiduals]:
        """(out, residuals) of softmax(q . k * scale + bias, masked) [* dropout factors] . v.

        `mask` is a boolean array broadcastable to (B, N, T, S), True where a query may attend a key;
        the dropout factors come from `dropout_mask(..., rng)` over the (B, N, T, S) weights.
        """
        probs = self._attention_probs(q, k, bias, mask, causal, scale, zero_masked_rows)
        drop = self.dropout_mask(probs.shape, dropout, rng, dtype=probs.dtype) if dropout > 0 else None
        return self._attention_output(probs, drop, v), AttentionResiduals(probs, drop)

    def attention_backward(self, dout: Array, q: Array, k: Array, v: Array, out: Array,
                           residuals: AttentionResiduals, bias: Array | None = None, mask: Array | None = None,
                           causal: bool = False, scale: float = 1.0, zero_masked_rows: bool = False
                           ) -> tuple[Array, Array, Array, Array | None]:
        """(dq, dk, dv, dbias) of `attention` (dbias None without bias; summed to bias's shape)."""
        xp = self.xp
        probs, drop = residuals.probs, residuals.dropout_mask
        b, t, n, _ = q.shape
        s, kh = k.shape[1], k.shape[2]
        g = n // kh
        weights = probs if drop is None else probs * drop
        dout_g = _grouped(dout.astype(probs.dtype, copy=False), kh)  # (B, K, G*T, Hv)
        v_t = xp.swapaxes(v, 1, 2).astype(probs.dtype, copy=False)  # (B, K, S, Hv)
        dv = xp.matmul(xp.swapaxes(weights.reshape(b, kh, g * t, s), -1, -2), dout_g)  # (B, K, S, Hv)
        dp = xp.matmul(dout_g, xp.swapaxes(v_t, -1, -2)).reshape(b, n, t, s)
        if drop is not None:
            dp *= drop
        row = xp.sum(dp * probs, axis=-1, keepdims=True)  # = dout . out per row
        dp -= row
        dp *= probs  # dS, the logits' gradient
        keep = _keep(xp, mask, causal, t, s)
        if keep is not None and not zero_masked_rows:  # rows with no allowed key: their logits are constants
            xp.copyto(dp, 0, where=~keep)
        # a copy (astype without copy=False): sum_to_shape may hand back dp itself, which is scaled next
        dbias = None if bias is None else self.sum_to_shape(dp, bias.shape).astype(bias.dtype)
        dp *= scale
        ds = dp.reshape(b, kh, g * t, s)
        qf, kf = (x.astype(probs.dtype, copy=False) for x in (q, k))
        dq = xp.matmul(ds, xp.swapaxes(kf, 1, 2))  # (B, K, G*T, H)
        dq = dq.reshape(b, kh, g, t, -1).transpose(0, 3, 1, 2, 4).reshape(q.shape)
        dk = xp.swapaxes(xp.matmul(xp.swapaxes(ds, -1, -2), _grouped(qf, kh)), 1, 2)  # (B, S, K, H)
        return (dq.astype(q.dtype, copy=False), dk.astype(k.dtype, copy=False),
                xp.swapaxes(dv, 1, 2).astype(v.dtype, copy=False), dbias)

    def flash_attention_available(self, q: Array, k: Array, v: Array, bias: Array | None = None,
                                  mask: Array | None = None) -> bool:
        """Whether `attention` runs a kernel that never stores the weight matrix (the generic code does)."""
        return False

    def _attention_output(self, probs: Array, drop: Array | None, v: Array) -> Array:
        """(B, T, N, Hv) from the weights (times the dropout factors) and v."""
        weights = probs if drop is None else probs * drop
        return _attend(self.xp, weights.astype(v.dtype, copy=False), v)

    def _attention_probs(self, q: Array, k: Array, bias: Array | None, mask: Array | None, causal: bool,
                         scale: float, zero_masked_rows: bool) -> Array:
        """The (B, N, T, S) softmax weights."""
        xp = self.xp
        b, t, n, _ = q.shape
        s, kh = k.shape[1], k.shape[2]
        if q.dtype.name in _HALF:
            q, k = q.astype(np.float32), k.astype(np.float32)
        logits = xp.matmul(_grouped(q, kh), xp.transpose(k, (0, 2, 3, 1))).reshape(b, n, t, s)
        logits *= scale
        if bias is not None:
            logits += bias
        keep = _keep(xp, mask, causal, t, s)
        if keep is not None:
            xp.copyto(logits, -np.inf if zero_masked_rows else -0.7 * np.finfo(np.float32).max, where=~keep)
        top = xp.max(logits, axis=-1, keepdims=True)
        if keep is not None and zero_masked_rows:
            top = xp.where(xp.isfinite(top), top, 0)  # a row with no key allowed: all weights 0
        logits -= top
        xp.exp(logits, out=logits)
        total = xp.sum(logits, axis=-1, keepdims=True)
        if keep is not None and zero_masked_rows:
            total = xp.where(total == 0, 1, total)
        logits /= total
        return logits


def _grouped(x: Array, kv_heads: int) -> Array:
    """(B, T, N, D) as (B, K, G*T, D): the rows of the G query heads that share key/value head k."""
    b, t, n, d = x.shape
    g = n // kv_heads
    return x.reshape(b, t, kv_heads, g, d).transpose(0, 2, 3, 1, 4).reshape(b, kv_heads, g * t, d)


def _attend(xp: Any, weights: Array, v: Array) -> Array:
    """(B, T, N, Hv) = weights (B, N, T, S) . v (B, S, K, Hv), grouped by key/value head."""
    b, n, t, s = weights.shape
    kh, hv = v.shape[2], v.shape[3]
    out = xp.matmul(weights.reshape(b, kh, (n // kh) * t, s), xp.swapaxes(v, 1, 2))
    return out.reshape(b, kh, n // kh, t, hv).transpose(0, 3, 1, 2, 4).reshape(b, t, n, hv)


def _keep(xp: Any, mask: Array | None, causal: bool, t: int, s: int) -> Array | None:
    """Where a query may attend a key: `mask` AND the causal lower triangle (None: everywhere)."""
    keep = mask
    if causal:
        tri = xp.arange(t).reshape(t, 1) >= xp.arange(s).reshape(1, s)
        keep = tri if keep is None else xp.logical_and(keep, tri)
    return keep
