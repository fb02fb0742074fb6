"""`dot_product_attention`: Keras 3's scaled dot-product attention over (batch, seq, heads, head_dim).

softmax(query . key * scale + bias, masked) . value, with grouped-query attention when `key` and
`value` have fewer heads than `query` (query head n reads key/value head n // (N / K)). A fully
masked query row attends uniformly, as JAX (Keras 3's reference backend) computes it. One backend
op, `attention` (a fused CUDA kernel on CuPy, the generic code elsewhere), with one backward.
`fused_attention` is the same op with Keras's masked-Softmax rows and dropout on the weights, which
MultiHeadAttention and GroupedQueryAttention use when Keras 3 would compute the scores explicitly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops.core import convert_to_tensor, data_of
from gpukeras.ops.numpy import cast
from gpukeras.tensor import Tensor


def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None,
                          scale: float | None = None, is_causal: bool = False, flash_attention: bool | None = None,
                          attn_logits_soft_cap: float | None = None) -> Tensor:
    """Keras's `ops.dot_product_attention`: query (B, T, N, H), key (B, S, K, H), value (B, S, K, Hv) ->
    (B, T, N, Hv). `bias` is added to and `mask` (True = attend) filters the (B, N, T, S) logits;
    `scale` defaults to 1 / sqrt(H); `is_causal` lets query t attend keys s <= t.
    `flash_attention=True` insists on a kernel that never stores the (T, S) weights (ValueError where
    there is none); None or False let the backend choose."""
    if attn_logits_soft_cap is not None:
        raise ValueError("attn_logits_soft_cap is only supported for JAX on TPU. Set attn_logits_soft_cap=None.")
    q, k, v = _common_float(*(x if isinstance(x, Tensor) else convert_to_tensor(x) for x in (query, key, value)))
    _check_shapes(q, k, v)
    if flash_attention and not _backend.active.flash_attention_available(
            q.data, k.data, v.data, None if bias is None else data_of(bias), _keep_array(mask)):
        raise ValueError(f"dot_product_attention(flash_attention=True): the {_backend.backend()} backend has no "
                         "flash attention kernel for these inputs; pass flash_attention=None or False.")
    return fused_attention(q, k, v, bias=bias, mask=mask, scale=scale, is_causal=is_causal)


def fused_attention(query: Tensor, key: Tensor, value: Tensor, bias: Any = None, mask: Any = None,
                    scale: float | None = None, is_causal: bool = False, zero_masked_rows: bool = False,
                    dropout: float = 0.0, rng: np.random.Generator | None = None) -> Tensor:
    """Attention as one backend op: `dot_product_attention`'s arguments, plus `zero_masked_rows` (a query row
    with no key allowed gives zeros, as Keras's masked Softmax) and `dropout` on the weights (factors drawn
    with `rng`, over the (B, N, T, S) weights)."""
    B = _backend.active
    q, k, v = query.data, key.data, value.data
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    b = None if bias is None else data_of(bias)
    if b is not None and b.dtype != q.dtype and q.dtype.name not in _HALF:
        b = B.cast(b, q.dtype)
    keep = _keep_array(mask)
    scores_shape = (q.shape[0], q.shape[2], q.shape[1], k.shape[1])
    for name, x in (("mask", keep), ("bias", b)):
        if x is not None and not _broadcasts(tuple(x.shape), scores_shape):
            raise ValueError(f"dot_product_attention: `{name}` of shape {tuple(x.shape)} does not broadcast to the "
                             f"(batch, heads, query length, key length) = {scores_shape} logits.")
    out, saved = B.attention(q, k, v, b, keep, bool(is_causal), scale, zero_masked_rows, float(dropout), rng)

    def backward(g):
        dq, dk, dv, db = B.attention_backward(g, q, k, v, out, saved, b, keep, bool(is_causal), scale,
                                              zero_masked_rows)
        return (dq, dk, dv) if bias is None else (dq, dk, dv, db)

    inputs = (query, key, value) if bias is None else (query, key, value, bias)
    return attach(out, inputs, backward)


_HALF = ("float16", "bfloat16")


def _keep_array(mask: Any) -> Any:
    """`mask` as a backend boolean array (non-zero = True), or None."""
    if mask is None:
        return None
    B = _backend.active
    m = data_of(mask)
    return m if m.dtype == np.bool_ else B.compare("not_equal", m, 0)


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    return len(shape) <= len(target) and all(d in (1, t) for d, t in zip(reversed(shape), reversed(target)))


def _common_float(*xs: Tensor) -> list[Tensor]:
    """The tensors in one floating dtype (their NumPy promotion; integers become float32), as Keras's
    result_type does before attending."""
    dtypes = {x.dtype for x in xs}
    target = np.result_type(*dtypes) if len(dtypes) > 1 else np.dtype(next(iter(dtypes)))
    if target.kind != "f":
        target = np.dtype("float32")
    return [x if x.dtype == target.name else cast(x, target.name) for x in xs]


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


def causal_mask(rows: int, cols: int) -> Any:
    """Backend bool array (rows, cols): True where col <= row (Keras's lower-triangular causal mask)."""
    B = _backend.active
    return B.compare("greater_equal", B.reshape(B.arange(rows), (rows, 1)), B.reshape(B.arange(cols), (1, cols)))


