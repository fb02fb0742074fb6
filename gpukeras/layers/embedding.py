"""Embedding: integer indices → rows of a trainable (input_dim, output_dim) table; optional LoRA."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from gpukeras import constraints, initializers, ops, regularizers
from gpukeras.layers.layer import Layer
from gpukeras.tensor import Variable


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Embedding: `{name}` must be a positive integer, got {value!r}.")
    return value


class Embedding(Layer):
    """Keras 3's Embedding. `mask_zero=True` makes index 0 padding: the outputs carry a mask that is
    False there, which RNNs, attention, pooling, losses and metrics downstream respect.

    tf.keras 2's `input_length` declares the input's length (so a Sequential builds from it), as it
    did there. LoRA: `lora_rank`/`enable_lora` freeze the table and train `lora_embeddings_a @
    lora_embeddings_b` scaled by lora_alpha / lora_rank; as in Keras 3.15, building with
    `lora_rank=r` calls `enable_lora(r)`, which sets `lora_alpha` to r.
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, embeddings_constraint: Any = None, mask_zero: bool = False,
                 weights: Any = None, lora_rank: int | None = None, lora_alpha: float | None = None,
                 **kwargs: Any):
        input_dim = _positive_int(input_dim, "input_dim")
        output_dim = _positive_int(output_dim, "output_dim")
        input_length = kwargs.pop("input_length", None)
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        if lora_rank is not None:
            _positive_int(lora_rank, "lora_rank")
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.autocast = False  # indices stay integers
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        self._embeddings: Variable | None = None
        if weights is not None:
            self.build()
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape: Any = None) -> None:
        if self._embeddings is not None:
            return
        self._embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                                           name="embeddings", regularizer=self.embeddings_regularizer,
                                           constraint=self.embeddings_constraint)
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank)

    @property
    def embeddings(self) -> Any:
        """The table; with LoRA on, the table plus the scaled low-rank update (differentiable)."""
        if self._embeddings is None:
            raise AttributeError(f"Embedding {self.name!r}: build the layer before reading `embeddings`.")
        if not self.lora_enabled:
            return self._embeddings
        update = ops.matmul(self.lora_embeddings_a, self.lora_embeddings_b)
        return ops.add(self._embeddings, ops.multiply(update, self.lora_alpha / self.lora_rank))

    def enable_lora(self, rank: int, lora_alpha: float | None = None, a_initializer: Any = "he_uniform",
                    b_initializer: Any = "zeros") -> None:
        """Freeze the table and train a rank-`rank` update `lora_embeddings_a @ lora_embeddings_b`."""
        if self.embeddings_constraint is not None:
            raise ValueError(f"Embedding {self.name!r}: LoRA is incompatible with an embeddings constraint.")
        if not self.built:
            raise ValueError(f"Embedding {self.name!r}: cannot enable LoRA on a layer that isn't built yet.")
        if self.lora_enabled:
            raise ValueError(f"Embedding {self.name!r}: LoRA is already enabled; this can only be done once.")
        _positive_int(rank, "rank")
        self.lora_embeddings_a = self.add_weight((self.input_dim, rank), initializers.get(a_initializer),
                                                 dtype="float32", name="lora_embeddings_a",
                                                 regularizer=self.embeddings_regularizer)
        self.lora_embeddings_b = self.add_weight((rank, self.output_dim), initializers.get(b_initializer),
                                                 dtype="float32", name="lora_embeddings_b",
                                                 regularizer=self.embeddings_regularizer)
        self._embeddings.trainable = False
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def call(self, inputs: Any) -> Any:
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        outputs = ops.take(self.embeddings, inputs, axis=0)
        # Under a mixed policy the float32 table is read as is and the rows given in the compute dtype.
        return outputs if outputs.dtype == self.compute_dtype else ops.cast(outputs, self.compute_dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """False where the index is 0 (padding), when `mask_zero`."""
        return ops.not_equal(inputs, 0) if self.mask_zero else None

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (*tuple(input_shape), self.output_dim)

    def save_own_variables(self, store: MutableMapping[str, Any]) -> None:
        """The table; with LoRA the merged table (the factors are not saved, as in Keras 3)."""
        if not self.lora_enabled:
            return super().save_own_variables(store)
        store["0"] = ops.convert_to_numpy(self.embeddings)

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        """The table; with LoRA the loaded table is the whole update, so the factors restart at zero."""
        if not self.lora_enabled:
            return super().load_own_variables(store)
        if len(store) != 1:
            raise ValueError(f"Layer {self.name!r} expects 1 variable (the merged embeddings), but the file holds "
                             f"{len(store)}.")
        self._embeddings.assign(store["0"])
        for factor in (self.lora_embeddings_a, self.lora_embeddings_b):
            factor.assign(ops.zeros(factor.shape, factor.dtype))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            **({"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha} if self.lora_rank else {}),
        }


class Masking(Layer):
    """Masks time steps whose features all equal `mask_value`: their outputs become 0 and the mask
    (False there) goes to the layers downstream."""

    def __init__(self, mask_value: Any = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise ValueError(f"Masking: `mask_value` must be a number, got {mask_value!r}.")
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs: Any) -> Any:
        keep = ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return ops.where(keep, inputs, ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}
