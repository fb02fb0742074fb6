"""The image input of an application: a new `Input`, or the caller's `input_tensor`, and the model inputs
that tensor comes from (Keras 3's `get_source_inputs`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras.keras_tensor import KerasTensor
from gpukeras.layers import Input, InputLayer


def image_input(input_tensor: Any, input_shape: Sequence[int | None]) -> KerasTensor:
    """`input_tensor` when given (a KerasTensor: `keras.Input(...)` or a layer's output), else a new
    `Input(shape=input_shape)`."""
    if input_tensor is None:
        return Input(shape=tuple(input_shape))
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError("Argument `input_tensor` must be a KerasTensor (from `keras.Input(...)` or a layer "
                         f"called on one). Received: input_tensor={input_tensor!r} of type "
                         f"{type(input_tensor).__name__}")
    return input_tensor


def model_inputs(input_tensor: KerasTensor | None, image: KerasTensor) -> Any:
    """What the Functional model starts from: `image`, or the list of `Input`s `input_tensor` is computed
    from (a list even of one, as Keras 3 writes it in the model's config)."""
    if input_tensor is None:
        return image
    return source_inputs(input_tensor)


def source_inputs(tensor: KerasTensor) -> list[KerasTensor]:
    """The `Input` tensors upstream of `tensor`, each once, in the order a depth-first walk meets them."""
    found: list[KerasTensor] = []
    seen: set[int] = set()
    stack = [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen or not isinstance(t, KerasTensor):
            continue
        seen.add(id(t))
        node = t.node
        if node is None or isinstance(node.layer, InputLayer):
            found.append(t)
            continue
        stack.extend(reversed(node.input_tensors()))
    return found
