"""MultiHeadAttention (Vaswani et al., 2017) with Keras 3's arguments, sub-layers and numbers.

query, key and value are projected by EinsumDense layers named "query", "key", "value" (kernels
(dim, heads, key_dim) for sequences), attention runs over `attention_axes`, and an EinsumDense
"attention_output" projects the heads back. As in Keras 3, a 4-D projection with no dropout and
no returned scores goes through `ops.dot_product_attention` (a fully masked query row then attends
uniformly); otherwise Keras 3 computes the scores with einsums and its masked Softmax (such a row
gets zeros), with dropout on the attention probabilities: here that is one fused op too unless
the scores are returned (or the attention runs over several axes), when the einsums run.
"""

from __future__ import annotations

import math
import string
from typing import Any

from gpukeras import ops
from gpukeras.layers.attention.base import ProjectedAttention, check_positive_int
from gpukeras.layers.attention.masks import both, causal_mask, expand_to, masked_softmax
from gpukeras.layers.dropout import Dropout
from gpukeras.layers.einsum_dense import EinsumDense
from gpukeras.ops.attention import dot_product_attention, fused_attention
from gpukeras.ops.einsum import einsum
from gpukeras.tensor import Tensor, set_keras_mask


def projection_equation(free_dims: int, bound_dims: int, output_dims: int) -> tuple[str, str, int]:
    """(equation, bias axes, output rank) of a projection: `free_dims` input axes kept, `bound_dims`
    contracted with the kernel, `output_dims` new axes from the kernel (which get the bias)."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims:free_dims + bound_dims]
    new = letters[free_dims + bound_dims:free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{new}->{free}{new}", new, free_dims + output_dims


def attention_equations(rank: int, attention_axes: tuple[int, ...]) -> tuple[str, str, int]:
    """(key . query equation, scores . value equation, scores rank) for projected tensors of `rank`
    laid out (batch, <other axes>, <attention axes>, heads, channels)."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch_axes = [i for i in range(rank - 1) if i not in attention_axes]  # includes the heads axis
    source, spare = "", rank
    for i in range(rank):
        if i in batch_axes or i == rank - 1:
            source += target[i]
        else:
            source += letters[spare]
            spare += 1
    product = ("".join(target[i] for i in batch_axes) + "".join(target[i] for i in attention_axes)
               + "".join(source[i] for i in attention_axes))
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def _output_shape_arg(output_shape: Any) -> tuple[int, ...] | None:
    if not output_shape:
        return None
    if isinstance(output_shape, int) and not isinstance(output_shape, bool):
        return (output_shape,)
    try:
        shape = tuple(output_shape)
    except TypeError:
        raise ValueError(f"Invalid `output_shape`: {output_shape}. When specified, the `output_shape` should be "
                         "of type tuple, list, or int.") from None
    for d in shape:
        check_positive_int(d, "output_shape")
    return shape


def _attention_axes_arg(attention_axes: Any) -> tuple[int, ...] | None:
    if attention_axes is None:
        return None
    if isinstance(attention_axes, int) and not isinstance(attention_axes, bool):
        return (attention_axes,)
    if not isinstance(attention_axes, (list, tuple)) or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in attention_axes):
        raise ValueError(f"`attention_axes` must be an int, list, or tuple.Received: attention_axes={attention_axes}")
    return tuple(attention_axes)


class MultiHeadAttention(ProjectedAttention):
    """Multi-head attention: `num_heads` heads of size `key_dim` (values `value_dim`), Keras 3's layer.

    Call: `layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)`; padding masks come from the masks attached to query,
    value and key (or `query_mask=` / `value_mask=` / `key_mask=`). `flash_attention=True` needs a
    backend with a flash attention kernel. Weights: query, key, [gate,] value, attention_output
    (kernel then bias each).
    """

    _DENSE_ATTRIBUTES = (("query_dense", "_query_dense"), ("key_dense", "_key_dense"),
                         ("value_dense", "_value_dense"), ("output_dense", "_output_dense"))

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: Any = None, attention_axes: Any = None,
                 sliding_window: int | None = None, flash_attention: bool | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, use_gate: bool = False,
                 seed: int | None = None, **kwargs: Any):
        check_positive_int(num_heads, "num_heads")
        check_positive_int(key_dim, "key_dim")
        check_positive_int(value_dim, "value_dim", allow_none=True)
        output_shape = _output_shape_arg(output_shape)
        attention_axes = _attention_axes_arg(attention_axes)
        super().__init__(kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, sliding_window, flash_attention,
                         dropout, seed, **kwargs)
        self._num_heads = num_heads
        self._key_dim = key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._use_bias = bool(use_bias)
        self._use_gate = bool(use_gate)
        self._output_shape = output_shape
        self._attention_axes = attention_axes
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(key_dim))

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    # ------------------------------------------------------------------ build
    def build(self, query_shape: Any, value_shape: Any, key_shape: Any = None) -> None:
        key_shape = value_shape if key_shape is None else key_shape
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be equal. Received: "
                             f"value_shape={value_shape} and key_shape={key_shape}")
        heads = [self._num_heads, self._key_dim]
        self._query_dense = self._projection(query_shape, heads, "query")
        self._key_dense = self._projection(key_shape, heads, "key")
        if self._use_gate:
            self._gate_dense = self._projection(query_shape, [self._num_heads, self._value_dim], "gate", "sigmoid")
        self._value_dense = self._projection(value_shape, [self._num_heads, self._value_dim], "value")
        rank = len(query_shape) + 1
        self._build_attention(rank)
        out = list(self._output_shape) if self._output_shape else [query_shape[-1]]
        equation, bias_axes, out_rank = projection_equation(len(query_shape) - 1, 2, len(out))
        self._output_dense = EinsumDense(equation, output_shape=[None] * (out_rank - 1 - len(out)) + out,
                                         bias_axes=bias_axes if self._use_bias else None, name="attention_output",
                                         **self._sublayer_kwargs())
        projected = list(self._query_dense.compute_output_shape(tuple(query_shape)))
        projected[-1] = self._value_dim
        self._output_dense._build_for(tuple(projected))
        self.built = True

    def _projection(self, input_shape: Any, heads: list[int], name: str, activation: Any = None) -> EinsumDense:
        """An EinsumDense (dim) -> (heads, size) over the last axis of `input_shape`, built."""
        equation, bias_axes, out_rank = projection_equation(len(input_shape) - 1, 1, 2)
        layer = EinsumDense(equation, output_shape=[None] * (out_rank - 1 - 2) + heads, activation=activation,
                            bias_axes=bias_axes if self._use_bias else None, name=name, **self._sublayer_kwargs())
        layer._build_for(tuple(input_shape))
        return layer

    def _build_attention(self, rank: int) -> None:
        """The attention axes (resolved, as Keras 3 then reports them in its config), equations, softmax
        axes and the dropout sub-layer."""
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(a if a >= 0 else (rank - 1) + a for a in self._attention_axes)
        for a in self._attention_axes:
            if not 1 <= a < rank - 2:
                raise ValueError(f"MultiHeadAttention: attention axis {a} is not one of the inputs' inner axes "
                                 f"1..{rank - 3}.")
        self._dot_product_equation, self._combine_equation, scores_rank = attention_equations(
            rank, self._attention_axes)
        self._softmax_axes = tuple(range(scores_rank - len(self._attention_axes), scores_rank))
        self._dropout_layer = Dropout(rate=self._dropout, seed=self.seed, dtype=self.dtype)

    # ------------------------------------------------------------------ call
    def call(self, query: Tensor, value: Tensor, key: Tensor | None = None, query_mask: Any = None,
             value_mask: Any = None, key_mask: Any = None, attention_mask: Any = None,
             return_attention_scores: bool = False, training: bool | None = None,
             use_causal_mask: bool = False) -> Any:
        query_mask, value_mask, key_mask = self._input_masks(query, value, key, query_mask, value_mask, key_mask)
        key = value if key is None else key
        for x in (query, value, key):  # handled here, not by the projections (Keras 3 drops them too)
            set_keras_mask(x, None)
        causal_only = (use_causal_mask and query_mask is None and value_mask is None and key_mask is None
                       and attention_mask is None and self._sliding_window is None)
        mask = None if causal_only else self._attention_mask(query, value, query_mask, value_mask, key_mask,
                                                             attention_mask, use_causal_mask)
        gate = self._gate_dense(query) if self._use_gate else None
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        output, scores = self._compute_attention(q, k, v, mask, training, return_attention_scores, causal_only)
        output = self._output_dense(output if gate is None else ops.multiply(output, gate))
        if query_mask is not None:
            set_keras_mask(output, query_mask)
        return (output, scores) if return_attention_scores else output

    def _compute_attention(self, query: Tensor, key: Tensor, value: Tensor, attention_mask: Any = None,
                           training: bool | None = None, return_attention_scores: bool = False,
                           use_causal_mask: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attention over the projected (B, T, N, H) tensors: (output, scores or None)."""
        self._check_flash(return_attention_scores)
        if not return_attention_scores and query.ndim == 4:
            if attention_mask is not None:
                attention_mask = expand_to(attention_mask, 4, -len(self._attention_axes) * 2 - 1)
            if self._dropout > 0.0:  # Keras 3's masked-Softmax rows and dropout, fused
                rate = self._dropout if training else 0.0
                output = fused_attention(query, key, value, mask=attention_mask, scale=self._inverse_sqrt_key_dim,
                                         is_causal=use_causal_mask, zero_masked_rows=True, dropout=rate,
                                         rng=self._dropout_layer.seed_generator.rng)
            else:
                output = dot_product_attention(query, key, value, mask=attention_mask,
                                               scale=self._inverse_sqrt_key_dim, is_causal=use_causal_mask,
                                               flash_attention=self._flash_attention or None)
            return output, None
        if use_causal_mask:
            attention_mask = both(attention_mask, causal_mask(query.shape[1], value.shape[1]))
        query = ops.multiply(query, self._inverse_sqrt_key_dim)
        scores = einsum(self._dot_product_equation, key, query)
        if attention_mask is not None:
            attention_mask = expand_to(attention_mask, scores.ndim, -len(self._attention_axes) * 2 - 1)
        scores = masked_softmax(scores, attention_mask, self._softmax_axes)
        dropped = self._dropout_layer(scores, training=training) if self._dropout > 0.0 else scores
        return einsum(self._combine_equation, dropped, value), scores

    # ------------------------------------------------------------------ shapes and config
    def compute_output_shape(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> tuple:
        query_shape = tuple(query_shape)
        if value_shape is not None and key_shape is not None and tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be equal. Received: "
                             f"value_shape={value_shape} and key_shape={key_shape}")
        return query_shape[:-1] + self._output_shape if self._output_shape else query_shape

    def _scores_shape(self, query_shape: tuple, value_shape: tuple, key_shape: tuple | None) -> tuple:
        """(batch, <other axes>, heads, <query attention axes>, <key attention axes>)."""
        rank = len(query_shape) + 1
        axes = self._attention_axes or tuple(range(1, rank - 2))
        others = [query_shape[i] for i in range(1, rank - 2) if i not in axes]
        return (query_shape[0], *others, self._num_heads, *(query_shape[a] for a in axes),
                *(value_shape[a] for a in axes))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self._num_heads,
            "key_dim": self._key_dim,
            "value_dim": self._value_dim,
            "dropout": self._dropout,
            "use_bias": self._use_bias,
            "use_gate": self._use_gate,
            "output_shape": self._output_shape,
            "attention_axes": self._attention_axes,
            "sliding_window": self._sliding_window,
            **self._common_config(),
        }
