"""The attention layers: MultiHeadAttention, GroupedQueryAttention, Attention, AdditiveAttention."""

from gpukeras.layers.attention.attention import AdditiveAttention, Attention
from gpukeras.layers.attention.grouped_query_attention import GroupedQueryAttention
from gpukeras.layers.attention.multi_head_attention import MultiHeadAttention

__all__ = ["AdditiveAttention", "Attention", "GroupedQueryAttention", "MultiHeadAttention"]
