"""keras.ops' linear algebra (Keras 3's keras.src.ops.linalg) over the trailing two axes.

Differentiable: inv, det, logdet, slogdet's log-magnitude, solve, solve_triangular, norm. Forward only (no
gradient is recorded): cholesky, qr, svd, eig, eigh, lstsq, pinv, matrix_rank.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops import numpy as _np_ops
from gpukeras.ops.core import convert_to_numpy, convert_to_tensor, data_of
from gpukeras.tensor import Tensor


def _float(x: Any) -> Any:
    return _np_ops._float_of(data_of(x))


def _mT(a: Any) -> Any:  # noqa: N802 - matrix transpose
    B = _backend.active
    return B.transpose(a, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))


def inv(x: Any) -> Tensor:
    B = _backend.active
    out = B.linalg("inv", _float(x))
    return attach(out, (x,), lambda g: (B.negative(B.matmul(_mT(out), B.matmul(g, _mT(out)))),))


def det(x: Any) -> Tensor:
    """Determinant; its gradient det * inv(x)^T needs an invertible matrix."""
    B = _backend.active
    a = _float(x)
    out = B.linalg("det", a)

    def backward(g):
        scale = B.expand_dims(B.expand_dims(B.multiply(g, out), -1), -1)
        return (B.multiply(scale, _mT(B.linalg("inv", a))),)

    return attach(out, (x,), backward)


def slogdet(x: Any) -> tuple[Tensor, Tensor]:
    """(sign, log|det|); the log-magnitude is differentiable (inv(x)^T)."""
    B = _backend.active
    a = _float(x)
    sign, logabs = B.linalg("slogdet", a)
    logabs = attach(logabs, (x,), lambda g: (B.multiply(B.expand_dims(B.expand_dims(g, -1), -1),
                                                        _mT(B.linalg("inv", a))),))
    return Tensor(sign), logabs


def logdet(x: Any) -> Tensor:
    """log(det(x)) for a positive-definite x (NaN where the determinant is negative)."""
    B = _backend.active
    sign, logabs = slogdet(x)
    return _np_ops.where(Tensor(B.compare("greater", sign.data, 0)), logabs, float("nan"))


def solve(a: Any, b: Any) -> Tensor:
    """x with a @ x = b (b a matrix, or a vector)."""
    B = _backend.active
    aa, bb = _float(a), _float(b)
    vector = bb.ndim == aa.ndim - 1
    b2 = B.expand_dims(bb, -1) if vector else bb
    out2 = B.linalg("solve", aa, b2)

    def backward(g):
        g2 = B.expand_dims(g, -1) if vector else g
        gb = B.linalg("solve", _mT(aa), g2)
        ga = B.negative(B.matmul(gb, _mT(out2)))
        return B.sum_to_shape(ga, aa.shape), B.reshape(B.sum_to_shape(gb, b2.shape), bb.shape)

    return attach(B.squeeze(out2, -1) if vector else out2, (a, b), backward)


def solve_triangular(a: Any, b: Any, lower: bool = False) -> Tensor:
    """solve() with a's other triangle ignored (read as zeros)."""
    return solve(_np_ops.tril(a) if lower else _np_ops.triu(a), b)


def cholesky(x: Any, upper: bool = False) -> Tensor:
    B = _backend.active
    low = B.linalg("cholesky", _float(x))
    return Tensor(_mT(low) if upper else low)


def qr(x: Any, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', not {mode!r}.")
    q, r = _backend.active.linalg("qr", _float(x), mode=mode)
    return Tensor(q), Tensor(r)


def svd(x: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    out = _backend.active.linalg("svd", _float(x), full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(Tensor(t) for t in out) if compute_uv else Tensor(out)


def eigh(x: Any) -> tuple[Tensor, Tensor]:
    w, v = _backend.active.linalg("eigh", _float(x))
    return Tensor(w), Tensor(v)


def eig(x: Any) -> tuple[Tensor, Tensor]:
    """Eigenvalues and vectors of a general matrix, complex64, computed on the host (CuPy has no eig)."""
    w, v = np.linalg.eig(convert_to_numpy(x))
    return convert_to_tensor(w.astype(np.complex64)), convert_to_tensor(v.astype(np.complex64))


def pinv(x: Any, rcond: float | None = None) -> Tensor:
    a = _float(x)
    cutoff = rcond if rcond is not None else 10.0 * max(a.shape[-2:]) * float(np.finfo(np.dtype(a.dtype)).eps)
    return Tensor(_backend.active.linalg("pinv", a, rcond=cutoff))


def lstsq(a: Any, b: Any, rcond: float | None = None) -> Tensor:
    """The least-squares solution of a @ x = b (the minimum-norm one), as pinv(a) @ b."""
    return Tensor(_backend.active.matmul(pinv(a, rcond).data, _float(b)))


def matrix_rank(x: Any, tol: float | None = None) -> Tensor:
    B = _backend.active
    a = _float(x)
    s = B.linalg("svd", a, compute_uv=False)
    limit = tol if tol is not None else B.multiply(
        B.max(s, axis=-1, keepdims=True), max(a.shape[-2:]) * float(np.finfo(np.dtype(a.dtype)).eps))
    return Tensor(B.cast(B.sum(B.cast(B.compare("greater", s, limit), "int32"), axis=-1), "int32"))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Vector norms (ord None/2, 1, inf, -inf, 0, p) and matrix norms ('fro', 1, inf, -1, -inf, 'nuc', 2, -2)."""
    x = _np_ops.cast(x, "float32") if data_of(x).dtype.kind in "biu" else x
    n = _np_ops.ndim(x)
    if axis is None:
        if ord is None:  # every entry as one vector
            return _np_ops.sqrt(_np_ops.sum(_np_ops.square(x), keepdims=keepdims))
        axis = tuple(range(n))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(axes) == 1:
        return _vector_norm(x, axes[0], ord, keepdims)
    return _matrix_norm(x, axes, ord, keepdims)


def _vector_norm(x: Any, axis: int, ord: Any, keepdims: bool) -> Tensor:  # noqa: A002
    absx = _np_ops.abs(x)
    if ord is None or ord == 2:
        return _np_ops.sqrt(_np_ops.sum(_np_ops.square(x), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return _np_ops.max(absx, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _np_ops.min(absx, axis=axis, keepdims=keepdims)
    if ord == 0:
        return _np_ops.cast(_np_ops.sum(_np_ops.cast(_np_ops.not_equal(x, 0), "float32"), axis=axis,
                                        keepdims=keepdims), data_of(x).dtype)
    if ord == 1:
        return _np_ops.sum(absx, axis=axis, keepdims=keepdims)
    return _np_ops.power(_np_ops.sum(_np_ops.power(absx, float(ord)), axis=axis, keepdims=keepdims), 1.0 / ord)


def _matrix_norm(x: Any, axes: tuple[int, ...], ord: Any, keepdims: bool) -> Tensor:  # noqa: A002
    n = _np_ops.ndim(x)
    r, c = (a % n for a in axes)
    if ord in (None, "fro"):
        return _np_ops.sqrt(_np_ops.sum(_np_ops.square(x), axis=(r, c), keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        along, across = (r, c) if ord in (1, -1) else (c, r)
        sums = _np_ops.sum(_np_ops.abs(x), axis=along, keepdims=True)
        pick = _np_ops.max if ord > 0 else _np_ops.min
        out = pick(sums, axis=across, keepdims=True)
        return out if keepdims else _np_ops.squeeze(out, axis=(r, c))
    if ord in ("nuc", 2, -2):
        moved = _np_ops.moveaxis(x, (r, c), (-2, -1))
        s = svd(moved, compute_uv=False)
        out = _np_ops.sum(s, axis=-1) if ord == "nuc" else (_np_ops.max if ord == 2 else _np_ops.min)(s, axis=-1)
        if keepdims:
            out = _np_ops.expand_dims(_np_ops.expand_dims(out, min(r, c)), max(r, c))
        return out
    raise ValueError(f"norm: invalid ord {ord!r} for a matrix norm.")


def cholesky_inverse(x: Any, upper: bool = False) -> Tensor:
    """The inverse of A from its Cholesky factor x (A = x x^T, or x^T x when upper)."""
    factor = _np_ops.swapaxes(x, -1, -2) if upper else x
    return inv(_np_ops.matmul(factor, _np_ops.swapaxes(factor, -1, -2)))
