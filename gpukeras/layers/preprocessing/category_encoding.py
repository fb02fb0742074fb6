"""CategoryEncoding: integer features as one-hot, multi-hot or count vectors (Keras 3's arguments and shapes)."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.layer import Layer

_MODES = ("one_hot", "multi_hot", "count")


class CategoryEncoding(Layer):
    """Encodes integer features in [0, num_tokens): a 1-D input is one sample, a 2-D input one sample per row;
    values outside the range encode to nothing (as Keras 3 on JAX)."""

    def __init__(self, num_tokens: int | None = None, output_mode: str = "multi_hot", sparse: bool = False,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in _MODES:
            raise ValueError(f"CategoryEncoding: unknown `output_mode` {output_mode!r}; expected one of "
                             f"{list(_MODES)}.")
        if num_tokens is None:
            raise ValueError("CategoryEncoding: `num_tokens` must be set. If the number of tokens is not known "
                             "beforehand, use the IntegerLookup layer instead.")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1:
            raise ValueError(f"CategoryEncoding: `num_tokens` must be an integer >= 1, got {num_tokens!r}.")
        if sparse:
            raise ValueError("CategoryEncoding: `sparse=True` is not supported (gpukeras has no sparse tensors).")
        self.num_tokens = num_tokens
        self.output_mode = output_mode
        self.sparse = False
        self.autocast = False

    def call(self, inputs: Any, count_weights: Any = None) -> Any:
        if count_weights is not None and self.output_mode != "count":
            raise ValueError("CategoryEncoding: `count_weights` is only used when output_mode is 'count', got "
                             f"output_mode={self.output_mode!r}.")
        x = ops.convert_to_tensor(inputs)
        if x.ndim == 0:
            x = ops.expand_dims(x, -1)
        if self.output_mode == "one_hot":
            if x.ndim > 1 and x.shape[-1] == 1:
                x = ops.squeeze(x, -1)
            return ops.one_hot(x, self.num_tokens, dtype=self.dtype)
        if x.ndim > 2:
            raise ValueError(f"CategoryEncoding {self.name!r}: multi_hot and count take inputs of rank 1 or 2, got "
                             f"shape {x.shape}.")
        axis = 1 if x.ndim > 1 else 0
        encoded = ops.one_hot(x, self.num_tokens, dtype=self.dtype)
        if self.output_mode == "multi_hot":
            return ops.max(encoded, axis=axis)
        if count_weights is not None:
            weights = ops.convert_to_tensor(count_weights, dtype=self.dtype)
            encoded = ops.multiply(encoded, ops.expand_dims(weights, -1))
        return ops.sum(encoded, axis=axis)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        input_shape = tuple(input_shape)
        if not input_shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
            return input_shape + (self.num_tokens,)
        return input_shape[:-1] + (self.num_tokens,)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}
