"""Attention (Luong-style dot-product attention) and AdditiveAttention (Bahdanau-style), Keras 3's layers.

Both take `[query, value]` or `[query, value, key]` and optional masks `[query_mask, value_mask]`:
scores (B, Tq, Tv) from query and key, masked keys pushed to score - 1e9 (65504 in float16), a
softmax over the keys, dropout on the weights when training, weights . value, and the output
zeroed where the query is masked.
"""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.keras_tensor import KerasTensor
from gpukeras.layers.attention.base import check_rate
from gpukeras.layers.attention.masks import as_bool, both, causal_mask
from gpukeras.layers.layer import Layer
from gpukeras.random import SeedGenerator
from gpukeras.tensor import Tensor

_SCORE_MODES = ("dot", "concat")


class Attention(Layer):
    """Dot-product attention: scores = query . key (times a trainable `scale` when `use_scale`), or with
    `score_mode="concat"` sum(tanh(query + key)) times `concat_score_weight`.

    Call: `layer([query, value(, key)], mask=None, training=False, return_attention_scores=False,
    use_causal_mask=False)`. `causal=True` (tf.keras 2's constructor argument) makes every call causal.
    """

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, causal: bool = False, **kwargs: Any):
        if score_mode not in _SCORE_MODES:
            raise ValueError(f"Invalid value for argument score_mode. Expected one of {{'dot', 'concat'}}. "
                             f"Received: score_mode={score_mode}")
        rate = check_rate(dropout)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"{type(self).__name__}: `seed` must be an integer or None, got {seed!r}.")
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = rate
        self.seed = seed
        self.causal = bool(causal)
        self.seed_generator = SeedGenerator(seed) if rate > 0 else None
        self.scale = None
        self.concat_score_weight = None

    def build(self, input_shape: Any) -> None:
        self._validate_inputs(input_shape)
        if self.use_scale:
            self.scale = self.add_weight((), "ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight")
        self.built = True

    def _calculate_scores(self, query: Tensor, key: Tensor) -> Tensor:
        """(B, Tq, Tv) scores."""
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.transpose(key, _swap_last_two(key.ndim)))
            return scores if self.scale is None else ops.multiply(scores, self.scale)
        pairs = ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3))
        if self.scale is not None:
            pairs = ops.multiply(self.scale, pairs)
        return ops.multiply(self.concat_score_weight, ops.sum(ops.tanh(pairs), axis=-1))

    def _apply_scores(self, scores: Tensor, value: Tensor, scores_mask: Tensor | None = None,
                      training: bool | None = False) -> tuple[Tensor, Tensor]:
        """(weights . value, weights): softmax over the keys of the masked scores, dropout when training."""
        if scores_mask is not None:
            if scores_mask.ndim == 2:
                scores_mask = ops.expand_dims(scores_mask, -2)
            max_value = 65504.0 if scores.dtype == "float16" else 1.0e9
            scores = ops.where(scores_mask, scores, ops.subtract(scores, max_value))
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = ops.dropout(weights, self.dropout, self.seed_generator.rng)
        return ops.matmul(weights, value), weights

    def _calculate_score_mask(self, scores: Tensor, value_mask: Tensor | None, use_causal_mask: bool) -> Any:
        if not use_causal_mask:
            return value_mask
        causal = causal_mask(scores.shape[-2], scores.shape[-1])
        return causal if value_mask is None else both(ops.expand_dims(value_mask, -2), causal)

    def call(self, inputs: list, mask: Any = None, training: bool | None = False,
             return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        self._validate_inputs(inputs, mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask = as_bool(mask[0]) if mask and mask[0] is not None else None
        value_mask = as_bool(mask[1]) if mask and mask[1] is not None else None
        scores = self._calculate_scores(query, key)
        scores_mask = self._calculate_score_mask(scores, value_mask, use_causal_mask or self.causal)
        output, weights = self._apply_scores(scores, value, scores_mask, training)
        if query_mask is not None:
            output = ops.where(ops.expand_dims(query_mask, -1), output, 0.0)
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The query's mask (or None)."""
        self._validate_inputs(inputs, mask)
        return None if mask is None or mask[0] is None else as_bool(mask[0])

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (*tuple(input_shape[0])[:-1], tuple(input_shape[1])[-1])

    def _symbolic_call(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        """A functional call; with `return_attention_scores`, also the (..., Tq, Tv) scores tensor."""
        output = super()._symbolic_call(inputs, args, kwargs)
        if not kwargs.get("return_attention_scores"):
            return output
        query_shape, key_shape = tuple(inputs[0].shape), tuple(inputs[-1].shape)
        scores = KerasTensor((*query_shape[:-1], key_shape[-2]), self.dtype, name=self.name, node=output.node)
        output.node.outputs = (output, scores)
        return output.node.outputs

    def _validate_inputs(self, inputs: Any, mask: Any = None) -> None:
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or _is_shape(inputs):
            raise ValueError(f"{name} layer must be called on a list of inputs, namely [query, value] or "
                             f"[query, value, key]. Received: inputs={inputs}.")
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely [query, value] or "
                             f"[query, value, key]. Received length: {len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{name} layer mask must be a list, namely [query_mask, value_mask]. "
                                 f"Received: mask={mask}.")
            if not 2 <= len(mask) <= 3:
                raise ValueError(f"{name} layer accepts mask list of length 2 or 3. Received: inputs={inputs}, "
                                 f"mask={mask}.")

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                  "dropout": self.dropout, "seed": self.seed}
        if self.causal:
            config["causal"] = True
        return config


class AdditiveAttention(Attention):
    """Additive attention: scores = sum(scale * tanh(query + key)) over the features, `scale` a trainable
    (dim,) vector when `use_scale` (the default)."""

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: Any) -> None:
        self._validate_inputs(input_shape)
        if self.use_scale:
            self.scale = self.add_weight((input_shape[0][-1],), "glorot_uniform", name="scale")
        self.built = True

    def _calculate_scores(self, query: Tensor, key: Tensor) -> Tensor:
        pairs = ops.tanh(ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3)))
        return ops.sum(pairs if self.scale is None else ops.multiply(self.scale, pairs), axis=-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config


def _swap_last_two(ndim: int) -> list[int]:
    return list(range(ndim - 2)) + [ndim - 1, ndim - 2]


def _is_shape(x: Any) -> bool:
    """A single shape tuple (ints / None), not a list of inputs or shapes."""
    return isinstance(x, tuple) and all(d is None or isinstance(d, int) for d in x)
