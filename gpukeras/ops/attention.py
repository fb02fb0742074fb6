"""`dot_product_attention`: Keras 3's scaled dot-product attention over (batch, seq, heads, head_dim).

softmax(query . key * scale + bias, masked) . value, with grouped-query attention when `key` and
`value` have fewer heads than `query` (query head n reads key/value head n // (N / K)). Masked logits
become -0.7 * float32 max before the softmax, as JAX (Keras 3's reference backend) does, so a fully
masked row attends uniformly. The logits and softmax are float32 even for half inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.ops.core import convert_to_tensor
from gpukeras.ops.nn import softmax
from gpukeras.ops.numpy import add, cast, matmul, multiply, reshape, transpose, where
from gpukeras.tensor import Tensor

# What JAX writes into masked logits (jax.nn.dot_product_attention's large negative number).
MASKED_LOGIT = float(-0.7 * np.finfo(np.float32).max)
_HALF = ("float16", "bfloat16")


def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None,
                          scale: float | None = None, is_causal: bool = False, flash_attention: bool | None = None,
                          attn_logits_soft_cap: float | None = None) -> Tensor:
    """Keras's `ops.dot_product_attention`: query (B, T, N, H), key (B, S, K, H), value (B, S, K, Hv) ->
    (B, T, N, Hv). `bias` is added to and `mask` (True = attend) filters the (B, N, T, S) logits;
    `scale` defaults to 1 / sqrt(H); `is_causal` lets query t attend keys s <= t."""
    if attn_logits_soft_cap is not None:
        raise ValueError("attn_logits_soft_cap is only supported for JAX on TPU. Set attn_logits_soft_cap=None.")
    if flash_attention:
        raise ValueError(f"dot_product_attention(flash_attention=True): the {_backend.backend()} backend has no "
                         "flash attention kernel; pass flash_attention=None or False.")
    q, k, v = (x if isinstance(x, Tensor) else convert_to_tensor(x) for x in (query, key, value))
    groups = _check_shapes(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    logits = attention_logits(q, k, groups, scale, bias)
    logits = mask_logits(logits, attention_mask(mask, is_causal, logits.shape), MASKED_LOGIT)
    probs = softmax(logits, axis=-1)
    if probs.dtype != v.dtype:
        probs = cast(probs, v.dtype)
    return attend(probs, v, groups)


def _check_shapes(q: Tensor, k: Tensor, v: Tensor) -> int:
    """Validate the (B, T, N, H) / (B, S, K, H) / (B, S, K, Hv) layouts; return N // K."""
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("`dot_product_attention` only supports 4D inputs. Received: "
                         f"query.shape={q.shape}, key.shape={k.shape}, value.shape={v.shape}.")
    b, _, n, h = q.shape
    kb, s, kh, kd = k.shape
    if kb != b or kd != h:
        raise ValueError(f"dot_product_attention: key shape {k.shape} does not fit query shape {q.shape}: "
                         "batch and head size must match.")
    if v.shape[:3] != (kb, s, kh):
        raise ValueError(f"dot_product_attention: value shape {v.shape} does not fit key shape {k.shape}: "
                         "batch, length and heads must match.")
    if n % kh:
        raise ValueError(f"The number of query heads must be a multiple of key/value heads, but got {n} vs {kh}.")
    return n // kh


def attention_logits(q: Tensor, k: Tensor, groups: int, scale: float, bias: Any = None) -> Tensor:
    """(B, N, T, S) float32 logits q . k * scale (+ bias); head n of q meets head n // groups of k."""
    b, t, n, h = q.shape
    s, kh = k.shape[1], k.shape[2]
    if q.dtype in _HALF:
        q, k = cast(q, "float32"), cast(k, "float32")
    q = reshape(transpose(reshape(q, (b, t, kh, groups, h)), (0, 2, 3, 1, 4)), (b, kh, groups * t, h))
    logits = reshape(matmul(q, transpose(k, (0, 2, 3, 1))), (b, n, t, s))
    logits = multiply(logits, scale)
    if bias is not None:
        logits = add(logits, cast(bias, logits.dtype))
    return logits


def attend(probs: Tensor, v: Tensor, groups: int) -> Tensor:
    """(B, T, N, Hv) = probs (B, N, T, S) . v (B, S, K, Hv), head n reading value head n // groups."""
    b, n, t, s = probs.shape
    kh, hv = v.shape[2], v.shape[3]
    out = matmul(reshape(probs, (b, kh, groups * t, s)), transpose(v, (0, 2, 1, 3)))
    return reshape(transpose(reshape(out, (b, kh, groups, t, hv)), (0, 3, 1, 2, 4)), (b, t, n, hv))


def attention_mask(mask: Any, is_causal: bool, logits_shape: tuple[int, ...]) -> Tensor | None:
    """The boolean mask the logits keep (True = attend): `mask` (cast to bool), and the causal
    lower triangle over the last two axes when `is_causal`; None when neither is given."""
    B = _backend.active
    keep = None
    if mask is not None:
        m = mask.data if isinstance(mask, Tensor) else B.asarray(mask)
        keep = m if m.dtype == np.bool_ else B.compare("not_equal", m, 0)
    if is_causal:
        causal = causal_mask(logits_shape[-2], logits_shape[-1])
        keep = causal if keep is None else B.logical("and", keep, causal)
    return None if keep is None else Tensor(keep)


def causal_mask(rows: int, cols: int) -> Any:
    """Backend bool array (rows, cols): True where col <= row (Keras's lower-triangular causal mask)."""
    B = _backend.active
    return B.compare("greater_equal", B.reshape(B.arange(rows), (rows, 1)), B.reshape(B.arange(cols), (1, cols)))


def mask_logits(logits: Tensor, keep: Tensor | None, fill: float) -> Tensor:
    """`logits` where `keep`, else `fill` (no gradient reaches the filled entries)."""
    return logits if keep is None else where(keep, logits, fill)
