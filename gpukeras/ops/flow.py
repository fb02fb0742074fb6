"""keras.ops' control flow (Keras 3's keras.src.ops.core: cond, switch, loops, scan, map).

Eager Python: a loop runs its body once per step and the tape records every step, so gradients flow
through all of them. A compiled step (gpukeras/tracing.py) that reads a tensor's value on the host to
decide a branch or a loop's end is refused at trace time and the step runs eagerly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpukeras import tree
from gpukeras.autodiff import attach
from gpukeras.ops import numpy as _np_ops
from gpukeras.ops.core import convert_to_numpy, convert_to_tensor, data_of
from gpukeras.tensor import Tensor


def _tensors(nest: Any) -> Any:
    """Python numbers in a nest of loop values as tensors (int32, float32), as Keras 3 makes them."""
    return tree.map_structure(lambda v: convert_to_tensor(v) if v is not None else v, nest)


def _host_bool(value: Any) -> bool:
    return bool(convert_to_numpy(value))


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    return true_fn() if _host_bool(pred) else false_fn()


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """branches[index](*operands), the index clipped into range (as JAX's lax.switch does)."""
    i = min(max(int(convert_to_numpy(index)), 0), len(branches) - 1)
    return branches[i](*operands)


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    value = _tensors(init_val)
    for i in range(int(convert_to_numpy(lower)), int(convert_to_numpy(upper))):
        value = body_fun(i, value)
    return value


def while_loop(cond: Callable[..., Any], body: Callable[..., Any], loop_vars: Any,  # noqa: A002 - Keras's names
               maximum_iterations: int | None = None) -> Any:
    """Run `body` while `cond` holds; a tuple or list of loop variables is passed unpacked."""
    several = isinstance(loop_vars, (tuple, list))
    values = tuple(_tensors(list(loop_vars))) if several else (_tensors(loop_vars),)
    steps = 0
    while (maximum_iterations is None or steps < maximum_iterations) and _host_bool(cond(*values)):
        out = body(*values)
        values = tuple(out) if several else (out,)
        steps += 1
    return type(loop_vars)(values) if several else values[0]


def _slices(xs: Any, length: int | None) -> tuple[list[Any], int]:
    """Each leading-axis slice of every tensor in the nest `xs`, as nests; and their count."""
    if xs is None:
        return [None] * int(length), int(length)
    flat = [convert_to_tensor(x) for x in tree.flatten(xs)]
    n = flat[0].shape[0] if length is None else int(length)
    return [tree.pack_sequence_as(xs, [x[i] for x in flat]) for i in range(n)], n


def _stack_nests(outs: list[Any]) -> Any:
    if not outs or outs[0] is None:
        return None
    columns = zip(*[tree.flatten(o) for o in outs])
    return tree.pack_sequence_as(outs[0], [_np_ops.stack(list(c), axis=0) for c in columns])


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int = 1) -> tuple[Any, Any]:
    """carry, y = f(carry, x) over the leading axis of xs; returns the last carry and the stacked ys."""
    items, _ = _slices(xs, length)
    carry, ys = _tensors(init), []
    for x in (reversed(items) if reverse else items):
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, _stack_nests(ys)


def map(f: Callable[[Any], Any], xs: Any) -> Any:  # noqa: A001 - Keras's name
    """f applied to each leading-axis slice of xs, the results stacked."""
    items, _ = _slices(xs, None)
    return _stack_nests([f(x) for x in items])


def vectorized_map(function: Callable[[Any], Any], elements: Any) -> Any:
    """`map`: Keras batches it on JAX and TensorFlow; here it loops over the leading axis."""
    return map(function, elements)


def associative_scan(f: Callable[[Any, Any], Any], elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """Running f (associative) along `axis`: out[i] = f(out[i - 1], elems[i]), from the end when reversed."""
    flat = [_np_ops.moveaxis(convert_to_tensor(e), axis, 0) for e in tree.flatten(elems)]
    n = flat[0].shape[0]
    order = range(n - 1, -1, -1) if reverse else range(n)
    outs: list[Any] = []
    for i in order:
        item = tree.pack_sequence_as(elems, [e[i] for e in flat])
        outs.append(item if not outs else f(outs[-1], item))
    if reverse:
        outs.reverse()
    stacked = _stack_nests(outs)
    return tree.pack_sequence_as(elems, [_np_ops.moveaxis(s, 0, axis) for s in tree.flatten(stacked)])


def custom_gradient(f: Callable[..., tuple[Any, Callable[..., Any]]]) -> Callable[..., Any]:
    """Decorator: `f(*args)` returns `(output, grad_fn)`; the wrapped function returns `output` and its
    gradient is `grad_fn(upstream)` (one value per argument), as under Keras 3's JAX backend."""

    def wrapped(*args: Any) -> Tensor:
        output, grad_fn = f(*args)

        def backward(upstream: Any) -> tuple[Any, ...]:
            grads = grad_fn(Tensor(upstream))
            grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
            return tuple(None if g is None else data_of(g) for g in grads)

        return attach(data_of(output), args, backward)

    wrapped.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapped.__doc__ = f.__doc__
    return wrapped


def _core_dims(signature: str | None, count: int) -> tuple[list[int], int]:
    """Core dimensions per input and of the output in a gufunc signature like "(n),(n,m)->(m)"."""
    if signature is None:
        return [0] * count, 0
    inputs, output = signature.replace(" ", "").split("->")
    groups = [g for g in inputs[1:-1].split("),(")] if inputs not in ("", "()") else [""]
    return [len([d for d in g.split(",") if d]) for g in groups], len([d for d in output.strip("()").split(",") if d])


def vectorize(pyfunc: Callable[..., Any], *, excluded: Any = None, signature: str | None = None) -> Callable[..., Any]:
    """`pyfunc` mapped over the broadcast leading (loop) axes of its arguments, one call per loop index,
    the results stacked; `signature` names the trailing core axes each call receives (as np.vectorize)."""
    skipped = set(excluded or ())

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        mapped = [i for i in range(len(args)) if i not in skipped]
        tensors = [convert_to_tensor(args[i]) for i in mapped]
        core, out_core = _core_dims(signature, len(tensors))
        loops = [t.shape[:len(t.shape) - c] for t, c in zip(tensors, core)]
        loop_shape = tuple(np.broadcast_shapes(*loops)) if loops else ()
        full = [_np_ops.broadcast_to(t, loop_shape + tuple(t.shape[len(t.shape) - c:])) for t, c in zip(tensors, core)]
        results = []
        for index in np.ndindex(*loop_shape):
            call = list(args)
            for i, t in zip(mapped, full):
                call[i] = t[index] if index else t
            results.append(convert_to_tensor(pyfunc(*call, **kwargs)))
        if not loop_shape:
            return results[0]
        stacked = _np_ops.stack(results, axis=0)
        return _np_ops.reshape(stacked, loop_shape + tuple(stacked.shape[1:1 + out_core]) if out_core else loop_shape)

    return wrapped
