"""Ops with several outputs (the tape's nodes have one): `multi_output`, and `unstack` built on it.

The autodiff walk knows one output per node. An op with several outputs gives each output a node
whose only input is a private *hub* tensor: walking back, each output's rule stores the gradient
it received and hands the hub a scalar 0; the hub, reached after every output (it is their only
input), then calls the op's backward once with all the stored gradients. So a recurrence that
returns a sequence, a last output and its states, or `unstack` feeding T time steps, costs one
backward call instead of one full-size gradient per output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.autodiff import is_recording
from gpukeras.ops.core import data_of
from gpukeras.tensor import Node, Tensor


def needs_grad(inputs: Sequence[Any]) -> bool:
    """Whether a tape records and some input needs a gradient (an op then keeps what its backward needs)."""
    return is_recording() and any(isinstance(x, Tensor) and x.needs_grad for x in inputs)


def multi_output(arrays: Sequence[Any], inputs: Sequence[Any],
                 backward: Callable[[list[Any]], Sequence[Any]]) -> list[Tensor]:
    """Tensors for the outputs `arrays` of one op on `inputs`.

    `backward(grads)` gets one gradient per output (None where none flowed back) and returns one
    gradient per input (None where there is none), as an `attach` rule does.
    """
    if not needs_grad(inputs):
        return [Tensor(a) for a in arrays]
    received: list[Any] = [None] * len(arrays)

    def hub_backward(_: Any) -> Sequence[Any]:
        grads = list(received)
        received[:] = [None] * len(arrays)  # ready for another walk (a persistent tape)
        return backward(grads)

    hub = Tensor(arrays[0], Node(hub_backward, tuple(inputs)))

    def output_rule(i: int) -> Callable[[Any], tuple]:
        def rule(g: Any) -> tuple:
            received[i] = g
            return (0,)  # a token: the walk then visits the hub, after every output
        return rule

    return [Tensor(a, Node(output_rule(i), (hub,))) for i, a in enumerate(arrays)]


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[Tensor]:
    """The slices of `x` along `axis` (keras.ops.unstack); their gradients are stacked back in one pass."""
    B = _backend.active
    a = data_of(x)
    axis = axis % a.ndim
    n = a.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} but axis {axis} of shape {tuple(a.shape)} has {n} entries.")
    index = [slice(None)] * a.ndim
    pieces = []
    for i in range(n):
        index[axis] = i
        pieces.append(B.getitem(a, tuple(index)))

    def backward(grads: list[Any]) -> tuple:
        zero = None
        filled = []
        for g in grads:
            if g is None:
                if zero is None:
                    zero = B.zeros(pieces[0].shape, dtype=a.dtype)
                g = zero
            filled.append(g)
        return (B.stack(filled, axis=axis),)

    return multi_output(pieces, (x,), backward)
