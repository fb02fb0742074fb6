"""What MultiHeadAttention and GroupedQueryAttention share: a call on (query, value, key), building
from three shapes, Keras 3's `shapes_dict` build config, the masks, and the projection sub-layers'
common arguments.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gpukeras import constraints, initializers, ops, regularizers
from gpukeras.keras_tensor import CallNode, KerasTensor, any_symbolic
from gpukeras.layers.attention.masks import combined_mask
from gpukeras.layers.layer import Layer
from gpukeras.tensor import Tensor, get_keras_mask, set_keras_mask
from gpukeras.tree import listify_shapes, tuplify_shapes

_FLOAT_SIZES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


def check_positive_int(value: Any, name: str, allow_none: bool = False) -> None:
    """ValueError unless `value` is a positive int (or None when allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        expected = "a positive integer or `None`" if allow_none else "a positive integer"
        raise ValueError(f"Received an invalid value for argument `{name}`, expected {expected}. "
                         f"Received: {name}={value!r}")


def check_rate(value: Any, name: str = "dropout") -> float:
    """`value` as a float in [0, 1), or ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"Received an invalid value for argument `{name}`, expected a number in [0, 1). "
                         f"Received: {name}={value!r}")
    return float(value)


class ProjectedAttention(Layer):
    """Base of the attention layers that project query, key and value with EinsumDense sub-layers.

    Subclasses define `build(query_shape, value_shape, key_shape=None)`, `call(query, value, key=None,
    ...)`, `compute_output_shape` and `_scores_shape`. Calls take `query`, `value` and `key` like Keras 3:
    the layer builds from all three shapes, and `value_mask` / `key_mask` come from the masks attached to
    `value` / `key` when not passed.
    """

    _DENSE_ATTRIBUTES: tuple[str, ...] = ()  # (public name, attribute) pairs Keras 3 saves sub-layers under

    def __init__(self, kernel_initializer: Any, bias_initializer: Any, kernel_regularizer: Any,
                 bias_regularizer: Any, activity_regularizer: Any, kernel_constraint: Any, bias_constraint: Any,
                 sliding_window: int | None, flash_attention: bool | None, dropout: float, seed: int | None,
                 **kwargs: Any):
        check_positive_int(sliding_window, "sliding_window", allow_none=True)
        rate = check_rate(dropout)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Received an invalid value for argument `seed`, expected an integer or None. "
                             f"Received: seed={seed!r}")
        if flash_attention is not None and not isinstance(flash_attention, bool):
            raise ValueError(f"`flash_attention` must be None, True or False. Received: {flash_attention!r}")
        if flash_attention and rate > 0.0:
            raise ValueError("Dropout is not supported when flash attention is enabled. Please set dropout to 0.0 "
                             "to use flash attention.")
        kernel_initializer = initializers.get(kernel_initializer)
        bias_initializer = initializers.get(bias_initializer)
        regs = [regularizers.get(r) for r in (kernel_regularizer, bias_regularizer, activity_regularizer)]
        cons = [constraints.get(c) for c in (kernel_constraint, bias_constraint)]
        super().__init__(**kwargs)
        self.supports_masking = True
        self._kernel_initializer, self._bias_initializer = kernel_initializer, bias_initializer
        self._kernel_regularizer, self._bias_regularizer, self._activity_regularizer = regs
        self._kernel_constraint, self._bias_constraint = cons
        self._sliding_window = sliding_window
        self._flash_attention = bool(flash_attention)
        self._dropout = rate
        self.seed = seed
        self._build_shapes: dict[str, Any] | None = None

    # ------------------------------------------------------------------ calling on (query, value, key)
    def __call__(self, query: Any, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
        if value is None:
            raise TypeError(f"{type(self).__name__} needs `query` and `value` (and optionally `key`).")
        if any_symbolic([query, value, key]):
            if not isinstance(query, KerasTensor):
                raise TypeError(f"{type(self).__name__} got a symbolic `value` or `key` with a concrete `query`. A "
                                "functional model here feeds only a layer's first argument through the graph: "
                                "call this layer inside a custom layer or a subclassed model instead.")
            return self._symbolic_call_qvk(query, value, key, kwargs)
        query, value, key = (None if x is None else self._as_input(x) for x in (query, value, key))
        if not self.built:
            self._build_from_shapes(query.shape, value.shape, None if key is None else key.shape)
        if key is not None:
            kwargs["key"] = key
        return super().__call__(query, value, **kwargs)

    def _as_input(self, x: Any) -> Tensor:
        """`x` as a Tensor in the layer's float dtype (its mask kept), as Layer.__call__ does for `inputs`."""
        t = x if isinstance(x, Tensor) else ops.convert_to_tensor(x)
        kind = t.data.dtype
        if self.autocast and kind.kind == "f" and kind.itemsize != _FLOAT_SIZES.get(self.dtype, kind.itemsize):
            mask = get_keras_mask(t)
            t = ops.cast(t, self.dtype)
            if mask is not None:
                set_keras_mask(t, mask)
        return t

    def _build_from_shapes(self, query_shape: Any, value_shape: Any, key_shape: Any = None) -> None:
        """Build once from the three input shapes and remember them for `get_build_config`."""
        shapes = {"query_shape": tuple(query_shape), "value_shape": tuple(value_shape)}
        if key_shape is not None:
            shapes["key_shape"] = tuple(key_shape)
        self._build_shapes = shapes
        self.build(**shapes)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def _symbolic_call_qvk(self, query: Any, value: Any, key: Any, kwargs: dict) -> Any:
        """A call on KerasTensors: build, and record the call (query, value[, key=...]) as Keras 3 does."""
        shapes = [None if x is None else tuple(x.shape) for x in (query, value, key)]
        if not self.built:
            self._build_from_shapes(*shapes)
        call_kwargs = dict(kwargs) if key is None else {"key": key, **kwargs}
        node = CallNode(self, query, (value,), call_kwargs, None)
        output = KerasTensor(self.compute_output_shape(*shapes), self.dtype, name=self.name, node=node)
        if kwargs.get("return_attention_scores"):
            scores = KerasTensor(self._scores_shape(*shapes), self.dtype, name=self.name, node=node)
            output = (output, scores)
        node.outputs = output
        return output

    def _scores_shape(self, query_shape: tuple, value_shape: tuple, key_shape: tuple | None) -> tuple:
        raise NotImplementedError

    # ------------------------------------------------------------------ saving
    def get_build_config(self) -> dict[str, Any] | None:
        """Keras 3's `{"shapes_dict": {"query_shape": ..., "value_shape": ...[, "key_shape": ...]}}`."""
        if self._build_shapes is None:
            return None
        return {"shapes_dict": listify_shapes(self._build_shapes)}

    def build_from_config(self, config: Mapping[str, Any]) -> None:
        config = config or {}
        if "shapes_dict" in config:
            self._build_from_shapes(**tuplify_shapes(dict(config["shapes_dict"])))
        elif config.get("input_shape") is not None:
            shape = tuplify_shapes(config["input_shape"])
            self._build_from_shapes(shape, shape)

    def _saveable_children(self) -> Iterator[tuple[str, Any]]:
        """The projections under Keras 3's names first (public properties), then the private rest."""
        for public, attribute in self._DENSE_ATTRIBUTES:
            held = getattr(self, attribute, None)
            if held is not None:
                yield public, held
        yield from super()._saveable_children()

    # ------------------------------------------------------------------ shared pieces
    def _sublayer_kwargs(self) -> dict[str, Any]:
        """The arguments every projection gets; initializers cloned so no two share one (as Keras 3 does)."""
        return {
            "kernel_initializer": _clone(self._kernel_initializer),
            "bias_initializer": _clone(self._bias_initializer),
            "kernel_regularizer": self._kernel_regularizer,
            "bias_regularizer": self._bias_regularizer,
            "activity_regularizer": self._activity_regularizer,
            "kernel_constraint": self._kernel_constraint,
            "bias_constraint": self._bias_constraint,
            "dtype": self.dtype,
        }

    def _input_masks(self, query: Tensor, value: Tensor, key: Tensor | None, query_mask: Any, value_mask: Any,
                     key_mask: Any) -> tuple[Any, Any, Any]:
        """The padding masks: those passed, else those attached to query, value and key."""
        if query_mask is None:
            query_mask = get_keras_mask(query)
        if value_mask is None:
            value_mask = get_keras_mask(value)
        if key_mask is None and key is not None:
            key_mask = get_keras_mask(key)
        return query_mask, value_mask, key_mask

    def _attention_mask(self, query: Tensor, value: Tensor, query_mask: Any, value_mask: Any, key_mask: Any,
                        attention_mask: Any, use_causal_mask: bool) -> Any:
        """The merged (B, T, S) mask, or None."""
        return combined_mask(query.shape[1], value.shape[1], query_mask, value_mask, key_mask, attention_mask,
                             use_causal_mask, self._sliding_window)

    def _check_flash(self, return_attention_scores: bool) -> None:
        if self._flash_attention and return_attention_scores:
            raise ValueError("Returning attention scores is not supported when flash attention is enabled. "
                             "Please disable flash attention to access attention scores.")

    def _common_config(self) -> dict[str, Any]:
        return {
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self._bias_regularizer),
            "activity_regularizer": regularizers.serialize(self._activity_regularizer),
            "kernel_constraint": constraints.serialize(self._kernel_constraint),
            "bias_constraint": constraints.serialize(self._bias_constraint),
            "seed": self.seed,
        }


def _clone(initializer: Any) -> Any:
    """A fresh initializer with the same config (a plain function is returned as is)."""
    if isinstance(initializer, initializers.Initializer):
        return type(initializer).from_config(initializer.get_config())
    return initializer
