"""Reverse-mode differentiation over the nodes ops attach while a tape records.

`GradientTape` is the tf.keras-style entry point; `gradient` is the walk itself, which
the training loop calls directly. Backward rules live with the ops (gpukeras.ops) and
compute with backend primitives only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.tensor import Node, Tensor

_recording = 0


def is_recording() -> bool:
    """True while some tape records (ops then build the graph)."""
    return _recording > 0


class recording:
    """Context manager that turns graph building on (nested uses count)."""

    def __enter__(self) -> recording:
        global _recording
        _recording += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        global _recording
        _recording -= 1


class stop_recording:
    """Context manager that pauses graph building (e.g. metric updates inside a tape)."""

    def __enter__(self) -> stop_recording:
        global _recording
        self._saved = _recording
        _recording = 0
        return self

    def __exit__(self, *exc: Any) -> None:
        global _recording
        _recording = self._saved


def attach(out: Any, inputs: Sequence[Any], backward) -> Tensor:
    """Wrap a backend array as the output of an op; keep a node when gradients may flow."""
    if _recording:
        for x in inputs:
            if isinstance(x, Tensor) and (x.node is not None or x.watched):
                return Tensor(out, Node(backward, inputs))
    return Tensor(out)


def gradient(target: Tensor, sources: Sequence[Tensor], output_gradient: Any = None,
             on_ready: Callable[[int, Any], None] | None = None) -> list[Any]:
    """dtarget/dsource for each source (None where unconnected), as backend arrays.

    A non-scalar target is differentiated as the sum of its elements (TF's rule). `on_ready(i, g)` is
    told each source's gradient as soon as it is final (data-parallel training sums it meanwhile).
    """
    ops = _backend.active
    order = _topological_order(target)
    if output_gradient is None:
        seed = ops.ones(target.shape, dtype=target.data.dtype)
    else:
        seed = output_gradient.data if isinstance(output_gradient, Tensor) else ops.asarray(output_gradient)
    wanted = {id(s): i for i, s in enumerate(sources)}
    results: list[Any] = [None] * len(sources)
    grads = {id(target): seed}
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if id(t) in wanted:
            results[wanted[id(t)]] = g
            if on_ready is not None:
                on_ready(wanted[id(t)], g)
        if t.node is None:
            continue
        for x, gx in zip(t.node.inputs, t.node.backward(g)):
            if gx is None or not isinstance(x, Tensor) or not (x.node is not None or x.watched):
                continue
            prev = grads.get(id(x))
            grads[id(x)] = gx if prev is None else ops.add(prev, gx)
    return results


def _topological_order(target: Tensor) -> list[Tensor]:
    """Tensors reachable from `target` through nodes, inputs before the tensors they feed."""
    # Iterative DFS post-order. A tensor is marked when it is expanded (not when pushed), so
    # it is appended only after every tensor it depends on: marking at push time let a
    # shared input be emitted before a consumer, losing that consumer's gradient.
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(target, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t.node is not None:
            for x in t.node.inputs:
                if isinstance(x, Tensor) and id(x) not in seen and (x.node is not None or x.watched):
                    stack.append((x, False))
    return order


class GradientTape:
    """Records ops on trainable variables (and watched tensors) for `gradient`.

    Usage as in tf.keras: `with GradientTape() as tape: loss = ...` then
    `tape.gradient(loss, model.trainable_weights)`; gradients come back as Tensors.
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._scope = recording()
        self._used = False

    def __enter__(self) -> GradientTape:
        self._scope.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._scope.__exit__(*exc)

    def watch(self, tensor: Any) -> None:
        """Differentiate with respect to `tensor` (or each tensor in a list)."""
        for t in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch expects gpukeras Tensors, got {type(t).__name__}.")
            t.watched = True

    def stop_recording(self) -> stop_recording:
        return stop_recording()

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None) -> Any:
        """Gradients of `target` w.r.t. `sources` (same nesting: one tensor or a list)."""
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can compute gradients only once; "
                               "use GradientTape(persistent=True).")
        self._used = True
        if not isinstance(target, Tensor):
            raise TypeError(f"GradientTape.gradient: target must be a Tensor, got {type(target).__name__}.")
        single = isinstance(sources, Tensor)
        flat = [sources] if single else list(sources)
        grads = gradient(target, flat, output_gradients)
        wrapped = [None if g is None else Tensor(g) for g in grads]
        return wrapped[0] if single else wrapped
