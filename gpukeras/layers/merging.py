"""Layers that merge a list of inputs, with Keras 3's shapes and masks, and their functional helpers.

Element-wise merges (Add, Subtract, Multiply, Average, Maximum, Minimum) broadcast like NumPy
after inputs of lower rank get size-1 axes after the batch axis. Their output mask is the OR of
the input masks (none when an input has none). Multiply, Maximum and Minimum also keep masked
values out of the result: a masked value counts as 1 in a product and is skipped by max/min.
Concatenate joins masks as it joins the inputs; Dot drops them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gpukeras import ops
from gpukeras.layers.layer import Layer
from gpukeras.layers.sample_normalization import l2_normalize
from gpukeras.tensor import get_keras_mask, set_keras_mask

_EPSILON = 1e-7  # Keras's backend epsilon: Dot(normalize=True) divides by max(norm, ~epsilon)


def _check_list(layer: Layer, inputs: Any, at_least: int = 1) -> None:
    if not isinstance(inputs, (list, tuple)) or len(inputs) < at_least:
        raise ValueError(f"{type(layer).__name__} {layer.name!r} must be called on a list of at least {at_least} "
                         f"input{'s' if at_least > 1 else ''}, got {inputs!r}.")


def _is_shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(d is None or isinstance(d, int) for d in value)


def _broadcast_shapes(shape1: tuple | None, shape2: tuple | None) -> tuple | None:
    """The shape of an element-wise op between per-sample shapes (None: unknown rank)."""
    if shape1 is None or shape2 is None:
        return None
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    if not shape2:
        return tuple(shape1)
    out = list(shape1[: len(shape1) - len(shape2)])
    for i, j in zip(shape1[len(shape1) - len(shape2):], shape2):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1:
            out.append(j if i == 1 else i)
        elif i != j:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {shape1} and {shape2}")
        else:
            out.append(i)
    return tuple(out)


def _expanded_mask(mask: Any, x: Any) -> Any:
    """A (batch, ...) mask broadcast over the input's last axis, to the input's shape (Keras's rule)."""
    return ops.broadcast_to(ops.expand_dims(mask, -1), x.shape)


class Merge(Layer):
    """Base of the element-wise merge layers: shape checks, rank alignment and the OR of the masks."""

    _exact_inputs: int | None = None

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._reshape_required = False

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not _is_shape(input_shape[0]):
            raise ValueError(f"A merge layer should be called on a list of inputs. Received: "
                             f"input_shape={input_shape} (not a list of shapes)")
        if self._exact_inputs is not None and len(input_shape) != self._exact_inputs:
            raise ValueError(f"A `{type(self).__name__}` layer should be called on exactly {self._exact_inputs} "
                             f"inputs. Received: input_shape={input_shape}")
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f"Cannot merge tensors with different batch sizes. Received tensors with shapes "
                             f"{input_shape}")
        self.compute_output_shape(input_shape)  # raises on incompatible shapes
        self._reshape_required = len({len(s) for s in input_shape}) != 1
        self.built = True

    def call(self, inputs: Any) -> Any:
        _check_list(self, inputs)
        if self._exact_inputs is not None and len(inputs) != self._exact_inputs:
            raise ValueError(f"A `{type(self).__name__}` layer should be called on exactly {self._exact_inputs} "
                             f"inputs. Received {len(inputs)} inputs.")
        inputs = list(inputs)
        if self._reshape_required or len({x.ndim for x in inputs}) != 1:
            rank = max(x.ndim for x in inputs)
            aligned = []
            for x in inputs:
                for _ in range(rank - x.ndim):
                    x = ops.expand_dims(x, 1)
                aligned.append(x)
            inputs = aligned
        return self._merge_function(inputs)

    def _merge_function(self, inputs: list[Any]) -> Any:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out: tuple | None = tuple(input_shape[0][1:])
        for shape in input_shape[1:]:
            out = _broadcast_shapes(out, tuple(shape[1:]))
        batch_sizes = {s[0] for s in input_shape} - {None}
        return ((batch_sizes.pop() if len(batch_sizes) == 1 else None),) + tuple(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """A step counts when it counts in any input; no mask when some input has none."""
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"`mask` should be a list with one entry per input. Received: mask={mask}")
        if any(m is None for m in mask):
            return None
        out = mask[0]
        for m in mask[1:]:
            out = ops.logical_or(out, m)
        return out

    def _merge_skipping_masked(self, op: Callable[[Any, Any], Any], inputs: list[Any]) -> Any:
        """Fold `op` over the inputs, a masked value taking the other operand's value (Maximum, Minimum)."""
        output = output_mask = None
        for x in inputs:
            mask = get_keras_mask(x)
            if mask is not None:
                mask = _expanded_mask(mask, x)
            if output is None:
                output, output_mask = x, mask
                continue
            if mask is not None:
                x = ops.where(mask, x, output)
            if output_mask is not None:
                output = ops.where(output_mask, output, x)
            output_mask = ops.logical_or(output_mask, mask) if mask is not None and output_mask is not None \
                else None
            output = op(output, x)
        if output_mask is not None:
            set_keras_mask(output, ops.any(output_mask, axis=-1))
        return output


class Add(Merge):
    """Element-wise sum of the inputs."""

    def _merge_function(self, inputs: list[Any]) -> Any:
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out


class Subtract(Merge):
    """inputs[0] - inputs[1] (exactly two inputs)."""

    _exact_inputs = 2

    def _merge_function(self, inputs: list[Any]) -> Any:
        return ops.subtract(inputs[0], inputs[1])


class Multiply(Merge):
    """Element-wise product; a masked value counts as 1, and steps no input counts are 0."""

    def _merge_function(self, inputs: list[Any]) -> Any:
        masks = [get_keras_mask(x) for x in inputs]
        every_input_masked = all(m is not None for m in masks)
        output = output_mask = None
        for x, mask in zip(inputs, masks):
            if mask is not None:
                mask = _expanded_mask(mask, x)
                x = ops.where(mask, x, ops.ones_like(x))
                if every_input_masked:
                    output_mask = mask if output_mask is None else ops.logical_or(output_mask, mask)
            output = x if output is None else ops.multiply(output, x)
        if every_input_masked:
            output = ops.where(output_mask, output, ops.zeros_like(output))
            set_keras_mask(output, ops.any(output_mask, axis=-1))
        return output


class Average(Merge):
    """Element-wise mean of the inputs."""

    def _merge_function(self, inputs: list[Any]) -> Any:
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return ops.divide(out, float(len(inputs)))


class Maximum(Merge):
    """Element-wise maximum; masked values are skipped."""

    def _merge_function(self, inputs: list[Any]) -> Any:
        return self._merge_skipping_masked(ops.maximum, inputs)


class Minimum(Merge):
    """Element-wise minimum; masked values are skipped."""

    def _merge_function(self, inputs: list[Any]) -> Any:
        return self._merge_skipping_masked(ops.minimum, inputs)


class Concatenate(Merge):
    """Join the inputs along `axis` (all other dimensions must match)."""

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Concatenate: `axis` must be an integer, got axis={axis!r}.")
        self.axis = axis

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not _is_shape(input_shape[0]):
            raise ValueError(f"A `Concatenate` layer should be called on a list of at least 1 input. Received: "
                             f"input_shape={input_shape}")
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise ValueError(f"A `Concatenate` layer requires inputs with matching shapes except for the "
                             f"concatenation axis. Received: input_shape={input_shape}")
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate {self.name!r}: axis {self.axis} is out of range for inputs of rank {rank}.")
        axis = self.axis % rank
        for i, dims in enumerate(zip(*input_shape)):
            known = {d for d in dims if d is not None}
            if i != axis and len(known) > 1:
                raise ValueError(f"A `Concatenate` layer requires inputs with matching shapes except for the "
                                 f"concatenation axis. Received: input_shape={input_shape}")
        self.built = True

    def _merge_function(self, inputs: list[Any]) -> Any:
        return ops.concatenate(inputs, axis=self.axis)

    def call(self, inputs: Any) -> Any:
        _check_list(self, inputs)
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The masks joined as the inputs are (an unmasked input counts everywhere), then any over the
        last axis: a step counts when any of its joined values counts (Keras 3)."""
        if mask is None or all(m is None for m in mask):
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"`mask` should be a list with one entry per input. Received: mask={mask}")
        full = []
        for x, m in zip(inputs, mask):
            if m is None:
                full.append(ops.ones_like(x, dtype="bool"))
            elif m.ndim < x.ndim:
                full.append(ops.logical_or(ops.expand_dims(m, -1), ops.zeros_like(x, dtype="bool")))
            else:
                full.append(m)
        return ops.any(ops.concatenate(full, axis=self.axis), axis=-1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out = list(input_shape[0])
        sizes = [s[self.axis] for s in input_shape]
        out[self.axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """Per-sample dot product of two inputs along `axes` (one axis each; never the batch axis).

    `normalize=True` L2-normalizes both along those axes first, giving the cosine similarity.
    """

    _exact_inputs = 2

    def __init__(self, axes: int | Sequence[int], normalize: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(axes, bool) or not isinstance(axes, (int, list, tuple)):
            raise TypeError(f"Invalid type for argument `axes`: it should be a list or an int. Received: axes={axes}")
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: it should contain two elements. "
                                 f"Received: axes={axes}")
            if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"Invalid format for argument `axes`: list elements should be integers. "
                                 f"Received: axes={axes}")
        self.axes = list(axes) if isinstance(axes, tuple) else axes
        self.normalize = bool(normalize)

    def _axes_for(self, rank1: int, rank2: int) -> list[int]:
        if isinstance(self.axes, int):
            return [self.axes % rank1, self.axes % rank2] if self.axes < 0 else [self.axes, self.axes]
        return [a % r if a < 0 else a for a, r in zip(self.axes, (rank1, rank2))]

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not _is_shape(input_shape[0]):
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={input_shape}")
        shape1, shape2 = input_shape
        a1, a2 = self._axes_for(len(shape1), len(shape2))
        if a1 == 0 or a2 == 0:
            raise ValueError("Cannot perform batch_dot over axis 0 (the batch axis).")
        if a1 >= len(shape1) or a2 >= len(shape2):
            raise ValueError(f"Dot {self.name!r}: axes {self.axes} are out of range for shapes {shape1}, {shape2}.")
        if shape1[a1] is not None and shape2[a2] is not None and shape1[a1] != shape2[a2]:
            raise ValueError(f"Incompatible input shapes: axis values {shape1[a1]} (at axis {a1}) != {shape2[a2]} "
                             f"(at axis {a2}). Full input shapes: {shape1}, {shape2}")
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(f"Cannot do batch_dot on inputs with rank < 2. Received shapes {shape1} and {shape2}.")
        self.built = True

    def call(self, inputs: Any) -> Any:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"A `Dot` layer should be called on exactly 2 inputs. Received: inputs={inputs}")
        x1, x2 = inputs
        a1, a2 = self._axes_for(x1.ndim, x2.ndim)
        if self.normalize:
            x1, x2 = l2_normalize(x1, a1, _EPSILON), l2_normalize(x2, a2, _EPSILON)
        return batch_dot(x1, x2, (a1, a2))

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape1, shape2 = list(input_shape[0]), list(input_shape[1])
        a1, a2 = self._axes_for(len(shape1), len(shape2))
        shape1.pop(a1)
        shape2.pop(a2)
        shape2.pop(0)
        out = shape1 + shape2
        return tuple(out + [1] if len(out) == 1 else out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def batch_dot(x: Any, y: Any, axes: tuple[int, int]) -> Any:
    """Keras's batch_dot: contract axis axes[0] of x with axes[1] of y, sample by sample; rank-2 results
    of rank-2 inputs come back as (batch, 1)."""
    a0, a1 = axes
    x_rank, y_rank = x.ndim, y.ndim
    if x_rank == 2:
        x, a0 = ops.expand_dims(x, 1), a0 + 1
    if y_rank == 2:
        y = ops.expand_dims(y, 2)
    # x: contracted axis last; y: contracted axis second (after the batch axis)
    x = ops.transpose(x, [i for i in range(x.ndim) if i != a0] + [a0])
    y = ops.transpose(y, [0, a1] + [i for i in range(1, y.ndim) if i != a1])
    x_mid, y_tail = x.shape[1:-1], y.shape[2:]
    out = ops.matmul(ops.reshape(x, (x.shape[0], -1, x.shape[-1])), ops.reshape(y, (y.shape[0], y.shape[1], -1)))
    out = ops.reshape(out, (out.shape[0],) + tuple(x_mid) + tuple(y_tail))
    if x_rank == 2:
        out = ops.squeeze(out, 1)
    elif y_rank == 2:
        out = ops.squeeze(out, -1)
    return out


# ---------------------------------------------------------------------- functional helpers (keras.layers.add, ...)
def add(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """`Add(**kwargs)(inputs)`."""
    return Add(**kwargs)(inputs)


def subtract(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """`Subtract(**kwargs)(inputs)`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """`Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)


def average(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """`Average(**kwargs)(inputs)`."""
    return Average(**kwargs)(inputs)


def maximum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """`Maximum(**kwargs)(inputs)`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """`Minimum(**kwargs)(inputs)`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: Sequence[Any], axis: int = -1, **kwargs: Any) -> Any:
    """`Concatenate(axis=axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: Sequence[Any], axes: int | Sequence[int] = -1, **kwargs: Any) -> Any:
    """`Dot(axes=axes, **kwargs)(inputs)`."""
    return Dot(axes=axes, **kwargs)(inputs)
