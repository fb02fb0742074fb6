"""GroupedQueryAttention (Ainslie et al., 2023): `num_query_heads` query heads sharing
`num_key_value_heads` key/value heads, Keras 3's layer (`layers.GroupedQueryAttention`).

Query head n reads key/value head n // (num_query_heads / num_key_value_heads), exactly what Keras 3
computes by repeating the key/value heads; here the heads are grouped instead of copied.
"""

from __future__ import annotations

import math
from typing import Any

from gpukeras import ops
from gpukeras.layers.attention.base import ProjectedAttention, check_positive_int
from gpukeras.layers.attention.masks import both, causal_mask, expand_to, masked_softmax
from gpukeras.layers.dropout import Dropout
from gpukeras.layers.einsum_dense import EinsumDense
from gpukeras.ops.attention import dot_product_attention, fused_attention
from gpukeras.ops.einsum import einsum
from gpukeras.tensor import Tensor


class GroupedQueryAttention(ProjectedAttention):
    """Grouped-query attention; `num_key_value_heads=1` is multi-query attention, equal head counts MHA.

    Call: `layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)`; padding masks as MultiHeadAttention. Weights: query
    (dim, num_query_heads, head_dim), key and value (dim, num_key_value_heads, head_dim),
    attention_output (num_query_heads, head_dim, dim), each with its bias.
    """

    def __init__(self, head_dim: int, num_query_heads: int, num_key_value_heads: int, dropout: float = 0.0,
                 use_bias: bool = True, sliding_window: int | None = None, flash_attention: bool | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, use_gate: bool = False,
                 seed: int | None = None, **kwargs: Any):
        check_positive_int(head_dim, "head_dim")
        check_positive_int(num_query_heads, "num_query_heads")
        check_positive_int(num_key_value_heads, "num_key_value_heads")
        if num_query_heads % num_key_value_heads != 0:
            raise ValueError("`num_query_heads` must be divisible by `num_key_value_heads`.")
        super().__init__(kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, sliding_window, flash_attention,
                         dropout, seed, **kwargs)
        self.head_dim = head_dim
        self.num_query_heads = num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.num_repeats = num_query_heads // num_key_value_heads
        self.use_bias = bool(use_bias)
        self.use_gate = bool(use_gate)
        self._inverse_sqrt_head_dim = 1.0 / math.sqrt(float(head_dim))

    dropout = property(lambda self: self._dropout)
    sliding_window = property(lambda self: self._sliding_window)

    def build(self, query_shape: Any, value_shape: Any, key_shape: Any = None) -> None:
        key_shape = value_shape if key_shape is None else key_shape
        self.feature_dim = query_shape[-1]
        u, v, h = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self._query_dense = self._projection("bqm,muh->bquh", (None, u, h), "uh", "query", query_shape)
        self._key_dense = self._projection("bkm,mvh->bkvh", (None, v, h), "vh", "key", key_shape)
        if self.use_gate:
            self._gate_dense = self._projection("bqm,muh->bquh", (None, u, h), "uh", "gate", query_shape, "sigmoid")
        self._value_dense = self._projection("bkm,mvh->bkvh", (None, v, h), "vh", "value", value_shape)
        self._dropout_layer = Dropout(rate=self._dropout, seed=self.seed, dtype=self.dtype)
        self._output_dense = self._projection("bquh,uhm->bqm", (None, self.feature_dim), "m", "attention_output",
                                              (None, None, u, h))
        self.built = True

    def _projection(self, equation: str, output_shape: tuple, bias_axes: str, name: str, input_shape: Any,
                    activation: Any = None) -> EinsumDense:
        layer = EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes if self.use_bias else None,
                            activation=activation, name=name, **self._sublayer_kwargs())
        layer._build_for(tuple(input_shape))
        return layer

    def call(self, query: Tensor, value: Tensor, key: Tensor | None = None, query_mask: Any = None,
             value_mask: Any = None, key_mask: Any = None, attention_mask: Any = None,
             return_attention_scores: bool = False, training: bool | None = None,
             use_causal_mask: bool = False) -> Any:
        query_mask, value_mask, key_mask = self._input_masks(query, value, key, query_mask, value_mask, key_mask)
        key = value if key is None else key
        causal_only = (use_causal_mask and query_mask is None and value_mask is None and key_mask is None
                       and attention_mask is None and self._sliding_window is None)
        mask = None if causal_only else self._attention_mask(query, value, query_mask, value_mask, key_mask,
                                                             attention_mask, use_causal_mask)
        gate = self._gate_dense(query) if self.use_gate else None
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        output, scores = self._compute_attention(q, k, v, mask, training, return_attention_scores, causal_only)
        output = self._output_dense(output if gate is None else ops.multiply(output, gate))
        return (output, scores) if return_attention_scores else output

    def _compute_attention(self, query: Tensor, key: Tensor, value: Tensor, attention_mask: Any = None,
                           training: bool | None = None, return_attention_scores: bool = False,
                           use_causal_mask: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attention over the projected query (B, T, N, H) and key/value (B, S, K, H): (output, scores or None)."""
        self._check_flash(return_attention_scores)
        if not return_attention_scores:
            if attention_mask is not None:
                attention_mask = expand_to(attention_mask, 4, -3)
            if self._dropout > 0.0:  # Keras 3's masked-Softmax rows and dropout, fused
                output = fused_attention(query, key, value, mask=attention_mask, scale=self._inverse_sqrt_head_dim,
                                         is_causal=use_causal_mask, zero_masked_rows=True,
                                         dropout=self._dropout if training else 0.0,
                                         rng=self._dropout_layer.seed_generator.rng)
            else:
                output = dot_product_attention(query, key, value, mask=attention_mask,
                                               scale=self._inverse_sqrt_head_dim, is_causal=use_causal_mask,
                                               flash_attention=self._flash_attention or None)
            return output, None
        if use_causal_mask:
            attention_mask = both(attention_mask, causal_mask(query.shape[1], value.shape[1]))
        b, t, n, h = query.shape
        kv, g = self.num_key_value_heads, self.num_repeats
        grouped = ops.reshape(ops.multiply(query, self._inverse_sqrt_head_dim), (b, t, kv, g, h))
        scores = ops.reshape(einsum("bqvgh,bkvh->bvgqk", grouped, key), (b, n, t, key.shape[1]))
        if attention_mask is not None:
            attention_mask = expand_to(attention_mask, 4, -3)
        scores = masked_softmax(scores, attention_mask, -1)
        dropped = self._dropout_layer(scores, training=training) if self._dropout > 0.0 else scores
        dropped = ops.reshape(dropped, (b, kv, g, t, key.shape[1]))
        return ops.reshape(einsum("bvgqk,bkvh->bqvgh", dropped, value), (b, t, n, value.shape[-1])), scores

    def compute_output_shape(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> tuple:
        if value_shape is not None and query_shape[-1] != value_shape[-1]:
            raise ValueError(f"The last dimension of `query_shape` and `value_shape` must be equal, but are "
                             f"{query_shape[-1]}, {value_shape[-1]}. Received: query_shape={query_shape}, "
                             f"value_shape={value_shape}")
        if value_shape is not None and key_shape is not None and tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be equal. Received: "
                             f"value_shape={value_shape} and key_shape={key_shape}")
        return tuple(query_shape)

    def _scores_shape(self, query_shape: tuple, value_shape: tuple, key_shape: tuple | None) -> tuple:
        kv_length = value_shape[1] if key_shape is None else key_shape[1]
        return (query_shape[0], self.num_query_heads, query_shape[1], kv_length)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "sliding_window": self._sliding_window,
            "dropout": self._dropout,
            **self._common_config(),
        }
