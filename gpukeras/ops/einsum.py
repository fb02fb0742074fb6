"""`einsum`, differentiable: one batched GEMM between transposes and reshapes.

An equation is parsed once (cached): `...` is expanded to letters, an axis that only one operand
has and the output lacks is summed away first, and the remaining axes are sorted into batch
(both operands and the output), contracted (both operands, not the output) and free (one operand
and the output). The product is then `matmul` over (batch, free, contracted) layouts, so the
gradient is the one of transpose / reshape / matmul / sum, each already differentiable.
"""

from __future__ import annotations

import functools
import math
import string
from typing import Any

from gpukeras.ops.core import convert_to_tensor
from gpukeras.ops.numpy import broadcast_to, matmul, reshape, sum, transpose
from gpukeras.tensor import Tensor

_SPARE_LETTERS = string.ascii_uppercase + string.ascii_lowercase


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Keras's `ops.einsum`: the Einstein summation `subscripts` over `operands` (two or more are
    multiplied left to right). `...` broadcasts; an axis repeated within one operand is refused."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: `subscripts` must be a string, got {type(subscripts).__name__}.")
    if not operands:
        raise ValueError("einsum: needs at least one operand.")
    tensors = [x if isinstance(x, Tensor) else convert_to_tensor(x) for x in operands]
    inputs, output = parse_equation(subscripts.replace(" ", ""), tuple(t.ndim for t in tensors))
    for spec, t in zip(inputs, tensors):
        _check_sizes(subscripts, spec, t.shape)
    if len(tensors) == 1:
        return _unary(inputs[0], output, tensors[0])
    result, spec = tensors[0], inputs[0]
    for i in range(1, len(tensors)):
        later = "".join(inputs[i + 1:]) + output
        keep = "".join(c for c in dict.fromkeys(spec + inputs[i]) if c in later)
        target = output if i == len(tensors) - 1 else keep
        result, spec = _pair(spec, inputs[i], target, result, tensors[i]), target
    return result


@functools.lru_cache(maxsize=512)
def parse_equation(equation: str, ranks: tuple[int, ...]) -> tuple[tuple[str, ...], str]:
    """(input specs, output spec) with `...` expanded to letters for operands of these ranks."""
    if equation.count("->") > 1:
        raise ValueError(f"einsum: invalid equation {equation!r}: more than one '->'.")
    lhs, arrow, rhs = equation.partition("->")
    specs = lhs.split(",")
    if len(specs) != len(ranks):
        raise ValueError(f"einsum: equation {equation!r} names {len(specs)} operands, got {len(ranks)}.")
    used = set(c for c in equation if c.isalpha())
    spare = [c for c in _SPARE_LETTERS if c not in used]
    ellipsis_rank = 0
    for spec, rank in zip(specs, ranks):
        if "..." in spec:
            ellipsis_rank = max(ellipsis_rank, rank - (len(spec) - 3))
    if len(spare) < ellipsis_rank:
        raise ValueError(f"einsum: equation {equation!r} leaves too few letters for its '...' axes.")
    broadcast = "".join(spare[:ellipsis_rank])
    expanded = tuple(_expand(equation, spec, rank, broadcast) for spec, rank in zip(specs, ranks))
    if arrow:
        output = _expand(equation, rhs, None, broadcast)
    else:  # NumPy's implicit output: the '...' axes, then the letters used once, alphabetically
        counts = {c: "".join(specs).count(c) for c in used}
        output = broadcast + "".join(sorted(c for c, n in counts.items() if n == 1))
    for spec in expanded + (output,):
        if len(set(spec)) != len(spec):
            raise NotImplementedError(f"einsum: {equation!r} repeats an axis within one operand (a diagonal); "
                                      "gpukeras's einsum does not take diagonals.")
    missing = set(output) - set("".join(expanded))
    if missing:
        raise ValueError(f"einsum: output axes {sorted(missing)} of {equation!r} appear in no operand.")
    return expanded, output


def _expand(equation: str, spec: str, rank: int | None, broadcast: str) -> str:
    """`spec` with its '...' replaced by the trailing letters of `broadcast` (its own rank of them)."""
    if not all(c.isalpha() or c == "." for c in spec) or spec.count(".") not in (0, 3) or (
            spec.count(".") == 3 and "..." not in spec):
        raise ValueError(f"einsum: invalid equation {equation!r}: subscripts must be letters and at most "
                         "one '...' per operand.")
    if "..." not in spec:
        if rank is not None and len(spec) != rank:
            raise ValueError(f"einsum: {equation!r}: operand subscripts {spec!r} name {len(spec)} axes, but the "
                             f"operand has {rank}.")
        return spec
    own = len(broadcast) if rank is None else rank - (len(spec) - 3)
    if own < 0:
        raise ValueError(f"einsum: {equation!r}: operand subscripts {spec!r} name more axes than its {rank}.")
    return spec.replace("...", broadcast[len(broadcast) - own:])


def _check_sizes(equation: str, spec: str, shape: tuple[int, ...]) -> None:
    if len(spec) != len(shape):
        raise ValueError(f"einsum: {equation!r}: subscripts {spec!r} do not fit an operand of shape {shape}.")


def _unary(spec: str, output: str, x: Tensor) -> Tensor:
    """One operand: sum the axes the output lacks, then order the rest as the output."""
    x, spec = _sum_away(x, spec, output)
    return transpose(x, [spec.index(c) for c in output]) if spec != output else x


def _sum_away(x: Tensor, spec: str, keep: str) -> tuple[Tensor, str]:
    """`x` summed over the axes whose letters are not in `keep`."""
    gone = tuple(i for i, c in enumerate(spec) if c not in keep)
    if not gone:
        return x, spec
    return sum(x, axis=gone), "".join(c for c in spec if c in keep)


def _pair(a_spec: str, b_spec: str, out_spec: str, a: Tensor, b: Tensor) -> Tensor:
    """Two operands as one batched matmul: a -> (batch, M, K), b -> (batch, K, N)."""
    a, a_spec = _sum_away(a, a_spec, b_spec + out_spec)
    b, b_spec = _sum_away(b, b_spec, a_spec + out_spec)
    batch = [c for c in out_spec if c in a_spec and c in b_spec]
    contracted = [c for c in a_spec if c in b_spec and c not in out_spec]
    a_free = [c for c in out_spec if c in a_spec and c not in b_spec]
    b_free = [c for c in out_spec if c in b_spec and c not in a_spec]
    # Put the operand whose free axes come first in the output on the left: no final transpose
    # when the output reads (batch, left free, right free).
    if a_free and b_free and out_spec.index(b_free[0]) < out_spec.index(a_free[0]):
        a, b, a_spec, b_spec, a_free, b_free = b, a, b_spec, a_spec, b_free, a_free
    sizes = {c: n for spec, t in ((a_spec, a), (b_spec, b)) for c, n in zip(spec, t.shape)}
    for c in batch:  # '...' axes of size 1 broadcast against the other operand's
        sizes[c] = max(a.shape[a_spec.index(c)], b.shape[b_spec.index(c)])
    a = _arrange(a, a_spec, batch, a_free, contracted, sizes, left=True)
    b = _arrange(b, b_spec, batch, b_free, contracted, sizes, left=False)
    product = matmul(a, b)
    done = batch + a_free + b_free
    product = reshape(product, [sizes[c] for c in done])
    return transpose(product, [done.index(c) for c in out_spec]) if "".join(done) != out_spec else product


def _arrange(x: Tensor, spec: str, batch: list[str], free: list[str], contracted: list[str],
             sizes: dict[str, int], left: bool) -> Tensor:
    """`x` as (B, M, K) when `left`, else (B, K, N); 2-D when there are no batch axes."""
    order = batch + (free + contracted if left else contracted + free)
    if "".join(order) != spec:
        x = transpose(x, [spec.index(c) for c in order])
    batch_shape = [sizes[c] for c in batch]
    if tuple(x.shape[:len(batch)]) != tuple(batch_shape):
        x = broadcast_to(x, batch_shape + list(x.shape[len(batch):]))
    free_size = math.prod(sizes[c] for c in free)
    contracted_size = math.prod(sizes[c] for c in contracted)
    inner = [free_size, contracted_size] if left else [contracted_size, free_size]
    shape = ([math.prod(batch_shape)] if batch else []) + inner
    return reshape(x, shape) if tuple(x.shape) != tuple(shape) else x
