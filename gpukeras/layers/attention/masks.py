"""Attention masks as Keras 3 builds them (True = may attend), and its masked softmax.

A padding mask is (B, T) for queries and (B, S) for keys/values; they become (B, T, 1) and
(B, 1, S) and are AND-ed with the causal (1, T, S) and sliding-window (1, T, S) masks and with an
explicit `attention_mask` (B, T, S).
"""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.ops.attention import causal_mask as _causal_array
from gpukeras.tensor import Tensor


def as_bool(mask: Any) -> Tensor:
    """`mask` as a boolean Tensor (non-zero = True), as Keras's defensive casts do."""
    mask = mask if isinstance(mask, Tensor) else ops.convert_to_tensor(mask)
    return mask if mask.dtype == "bool" else ops.not_equal(mask, 0)


def both(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    """a AND b, either of which may be absent."""
    if a is None:
        return b
    if b is None:
        return a
    return ops.logical_and(a, b)


def causal_mask(query_length: int, value_length: int) -> Tensor:
    """(1, T, S): query t may attend keys s <= t."""
    return Tensor(_causal_array(query_length, value_length)[None])


def sliding_window_mask(query_length: int, value_length: int, window: int) -> Tensor:
    """(1, T, S): query t may attend keys s with |t - s| < window (a symmetric band)."""
    rows = ops.reshape(ops.arange(query_length, dtype="int32"), (1, query_length, 1))
    cols = ops.reshape(ops.arange(value_length, dtype="int32"), (1, 1, value_length))
    return ops.less(ops.abs(ops.subtract(rows, cols)), window)


def combined_mask(query_length: int, value_length: int, query_mask: Any = None, value_mask: Any = None,
                  key_mask: Any = None, attention_mask: Any = None, use_causal_mask: bool = False,
                  sliding_window: int | None = None) -> Tensor | None:
    """The (B, T, S) mask MultiHeadAttention applies: every given mask AND-ed (None when none is given)."""
    auto = None
    if query_mask is not None:
        auto = ops.expand_dims(as_bool(query_mask), -1)
    if value_mask is not None:
        auto = both(auto, ops.expand_dims(as_bool(value_mask), -2))
    if key_mask is not None:
        auto = both(auto, ops.expand_dims(as_bool(key_mask), -2))
    if use_causal_mask:
        auto = both(auto, causal_mask(query_length, value_length))
    if sliding_window is not None:
        auto = both(auto, sliding_window_mask(query_length, value_length, sliding_window))
    explicit = None if attention_mask is None else as_bool(attention_mask)
    return both(explicit, auto)


def expand_to(mask: Tensor, rank: int, axis: int) -> Tensor:
    """`mask` with size-1 axes inserted at `axis` until it has `rank` axes (the heads axis and friends)."""
    while mask.ndim < rank:
        mask = ops.expand_dims(mask, axis)
    return mask


def large_negative(dtype: str) -> float:
    """What Keras's Softmax layer writes into masked scores: -3e4 in float16, else -1e9."""
    return -3e4 if dtype == "float16" else -1e9


def masked_softmax(scores: Tensor, mask: Tensor | None, axis: Any = -1) -> Tensor:
    """Keras's Softmax layer with a mask: masked scores set to a large negative number, softmax over
    `axis` (one or several axes), then masked entries zeroed (a fully masked row gives zeros)."""
    if mask is None:
        return ops.softmax(scores, axis=axis)
    if mask.ndim > scores.ndim:
        raise ValueError(f"The `mask` must be broadcastable to `inputs` and must not have more dimensions. "
                         f"Received: inputs.shape={scores.shape}, mask.shape={mask.shape}")
    if mask.dtype != "bool":
        mask = ops.greater(mask, 0.5)
    out = ops.softmax(ops.where(mask, scores, large_negative(scores.dtype)), axis=axis)
    return ops.where(mask, out, 0.0)
