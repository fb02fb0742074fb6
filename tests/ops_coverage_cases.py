"""Inputs for keras.ops calls whose results are recorded from Keras 3 (tests/reference/record_keras3_ops.py)
and replayed on gpukeras (tests/test_ops_coverage.py). Shared by both, so the two call the same op the same way.

Each case: (id, op name, positional args, keyword args, compare), args as NumPy arrays or Python values;
`compare` is "values" or "abs" (an eigenvector's sign is arbitrary: compare magnitudes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_rng = np.random.default_rng(31)


def _f(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return _rng.uniform(lo, hi, size=shape).astype(np.float32)


def _i(*shape: int, lo: int = -5, hi: int = 6) -> np.ndarray:
    return _rng.integers(lo, hi, size=shape).astype(np.int32)


X = _f(3, 4)
X3 = _f(2, 3, 4)
XI = _i(3, 4)
POS = _f(3, 4, lo=0.5, hi=3.0)
UNIT = _f(3, 4, lo=-0.9, hi=0.9)
BIG = _f(3, 4, lo=1.2, hi=3.0)
TIES = np.float32([[1.0, 3.0, 3.0, 0.5], [2.0, 2.0, -1.0, 2.0], [0.0, -1.0, 4.0, 4.0]])
NANS = np.float32([0.5, np.nan, np.inf, -np.inf, -2.0])
HALVES = np.float32([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1.2345, -3.7])
SPD = (lambda a: (a @ a.T + 4 * np.eye(4)).astype(np.float32))(_f(4, 4))
SQ = _f(4, 4) + 3 * np.eye(4, dtype=np.float32)
RHS = _f(4, 2)
TALL = _f(5, 3)
PROBS = (lambda p: (p / p.sum(-1, keepdims=True)).astype(np.float32))(_f(3, 5, lo=0.05, hi=1.0))
ONEHOT = np.eye(5, dtype=np.float32)[[1, 4, 0]]
LABELS = np.array([1, 4, 0], dtype=np.int32)
BINARY_T = (_f(3, 4) > 0).astype(np.float32)
BINARY_P = _f(3, 4, lo=0.02, hi=0.98)

CASES: list[tuple[str, str, list[Any], dict[str, Any], str]] = []


def _c(case_id: str, name: str, *args: Any, compare: str = "values", **kwargs: Any) -> None:
    CASES.append((case_id, name, list(args), kwargs, compare))


# --- elementwise
for _n in ("floor", "ceil", "trunc", "tan", "sinh", "cosh", "arctan", "arcsinh", "expm1", "exp2", "reciprocal",
           "erf", "sign"):
    _c(_n, _n, X)
for _n in ("floor", "ceil", "trunc", "reciprocal", "log2", "exp2"):
    _c(f"{_n}-int32", _n, np.abs(XI) + 1)
for _n in ("log2", "log10", "rsqrt", "arccosh"):
    _c(_n, _n, BIG if _n == "arccosh" else POS)
for _n in ("arcsin", "arccos", "arctanh", "erfinv"):
    _c(_n, _n, UNIT)
_c("round", "round", HALVES)
_c("round-decimals", "round", HALVES, decimals=1)
_c("round-int32", "round", XI)
_c("isinf", "isinf", NANS)
_c("nan_to_num", "nan_to_num", NANS)
_c("nan_to_num-values", "nan_to_num", NANS, nan=1.5, posinf=9.0, neginf=-9.0)
for _n in ("arctan2", "hypot", "logaddexp", "floor_divide", "mod", "fmod"):
    _c(_n, _n, X, POS if _n in ("floor_divide", "mod", "fmod") else _f(3, 4))
for _n in ("floor_divide", "mod", "fmod"):
    _c(f"{_n}-negative", _n, X, -POS)
    _c(f"{_n}-int32", _n, XI, np.int32([3, -2, 4, 5]))
_c("divide_no_nan", "divide_no_nan", X, np.float32([0.0, 2.0, -1.0, 0.0]))
_c("isclose", "isclose", np.float32([1.0, 1.0, np.nan, np.inf, 0.0]),
   np.float32([1.0 + 1e-6, 1.1, np.nan, np.inf, 1e-9]))
_c("isclose-equal_nan", "isclose", np.float32([np.nan, 1.0]), np.float32([np.nan, 1.0]), equal_nan=True)
_c("allclose", "allclose", X, X + 1e-7)
_c("allclose-false", "allclose", X, X + 1e-2)

# --- reductions and scans
for _axis in (None, 0, 1, -1):
    _c(f"cumsum-axis{_axis}", "cumsum", X, axis=_axis)
    _c(f"cumprod-axis{_axis}", "cumprod", X, axis=_axis)
_c("cumsum-int32", "cumsum", XI, axis=1)
_c("cumsum-bool", "cumsum", XI > 0, axis=0)
_c("cumprod-int32", "cumprod", XI, axis=0)
for _axis, _kd in ((None, False), (1, False), (0, True), ((0, 2), False)):
    _c(f"prod-axis{_axis}-kd{_kd}".replace(" ", ""), "prod", X3, axis=_axis, keepdims=_kd)
_c("prod-int32", "prod", XI, axis=1)
_c("count_nonzero", "count_nonzero", XI)
_c("count_nonzero-axis", "count_nonzero", XI, axis=0)
_c("ptp", "ptp", X, axis=1)
_c("ptp-int32", "ptp", XI)
_c("average", "average", X)
_c("average-weights", "average", X, axis=1, weights=np.float32([1.0, 2.0, 0.5, 3.0]))
_c("average-int32", "average", XI, axis=0)
for _axis in (None, 0, -1, (0, 2)):
    _c(f"median-axis{_axis}".replace(" ", ""), "median", X3, axis=_axis)
_c("median-keepdims", "median", X3, axis=1, keepdims=True)
_c("median-int32", "median", XI, axis=1)
_c("quantile", "quantile", X3, 0.3, axis=-1)
_c("quantile-vector", "quantile", X3, np.float32([0.1, 0.5, 0.95]), axis=1, keepdims=True)
for _m in ("lower", "higher", "nearest", "midpoint"):
    _c(f"quantile-{_m}", "quantile", X, 0.4, axis=1, method=_m)
_c("percentile", "percentile", X, 37.0)
_c("percentile-vector", "percentile", X, np.float32([25.0, 75.0]), axis=0)
_c("logsumexp", "logsumexp", X)
_c("logsumexp-axis", "logsumexp", X3 * 40, axis=-1, keepdims=True)

# --- sorting and searching
for _axis in (-1, 0):
    _c(f"sort-axis{_axis}", "sort", TIES, axis=_axis)
    _c(f"argsort-axis{_axis}", "argsort", TIES, axis=_axis)
_c("sort-int32", "sort", XI)
_c("argsort-None", "argsort", X, axis=None)
_c("top_k", "top_k", TIES, 2)
_c("top_k-int32", "top_k", XI, 3)
_c("in_top_k", "in_top_k", np.int32([1, 0, 2]), TIES, 1)
_c("in_top_k-2", "in_top_k", np.int32([3, 2, 3]), TIES, 2)
_c("searchsorted", "searchsorted", np.float32([-1.0, 0.0, 0.5, 2.0]), np.float32([-3.0, 0.0, 0.7, 5.0]))
_c("searchsorted-right", "searchsorted", np.float32([-1.0, 0.0, 0.5, 2.0]), np.float32([0.0, 2.0]), side="right")
_c("digitize", "digitize", X, np.float32([-1.0, 0.0, 1.0]))
_c("bincount", "bincount", np.int32([0, 3, 3, 1, 5]))
_c("bincount-weights-minlength", "bincount", np.int32([0, 3, 3, 1]), weights=np.float32([0.5, 1.0, 2.0, 3.0]),
   minlength=6)
_c("nonzero", "nonzero", XI)
_c("unique", "unique", np.int32([3, 1, 3, 0, 1, 7]))
_c("unique-all", "unique", np.int32([3, 1, 3, 0, 1, 7]), return_inverse=True, return_counts=True)
_c("isin", "isin", XI, np.int32([0, 2, -3]))
_c("isin-invert", "isin", XI, np.int32([0, 2, -3]), invert=True)
_c("unravel_index", "unravel_index", np.int32([0, 5, 11, 7]), (3, 4))
_c("take_along_axis", "take_along_axis", X, np.int32([[0, 3], [1, 1], [2, 0]]), axis=1)
_c("take_along_axis-axis0", "take_along_axis", X, np.int32([[2, 0, 1, 1]]), axis=0)
_c("take_along_axis-None", "take_along_axis", X, np.int32([11, 0, 5]), axis=None)

# --- shapes and rearranging
_c("ravel", "ravel", X3)
_c("moveaxis", "moveaxis", X3, 0, -1)
_c("moveaxis-pairs", "moveaxis", X3, [0, 1], [2, 0])
_c("swapaxes", "swapaxes", X3, 0, 2)
for _axis in (None, 0, (1, 2), -1):
    _c(f"flip-axis{_axis}".replace(" ", ""), "flip", X3, axis=_axis)
_c("roll", "roll", X, 2, axis=1)
_c("roll-flat", "roll", X, -5)
_c("roll-pair", "roll", X, (1, -1), axis=(0, 1))
_c("tile", "tile", X, 2)
_c("tile-pair", "tile", X, (2, 1))
_c("tile-3", "tile", X, (2, 1, 3))
_c("repeat", "repeat", X, 2)
_c("repeat-axis", "repeat", X, 3, axis=1)
_c("repeat-counts", "repeat", X, np.int32([1, 0, 2]), axis=0)
_c("pad-constant", "pad", X, ((1, 2), (0, 3)))
_c("pad-constant-values", "pad", X, 1, constant_values=2.5)
for _m in ("edge", "reflect", "symmetric", "wrap"):
    _c(f"pad-{_m}", "pad", X, ((2, 1), (1, 3)), mode=_m)
_c("pad-int32", "pad", XI, ((0, 1), (2, 0)))
_c("split", "split", X3, 2, axis=0)
_c("split-sections", "split", X, 2, axis=1)
_c("split-indices", "split", X, [1, 3], axis=1)
_c("array_split", "array_split", X, 3, axis=1)
_c("unstack", "unstack", X3, axis=1)
_c("hstack", "hstack", [X, POS])
_c("hstack-1d", "hstack", [X[0], POS[1]])
_c("vstack", "vstack", [X, POS])
_c("vstack-1d", "vstack", [X[0], POS[1]])
_c("size", "size", X3)
_c("ndim", "ndim", X3)
_c("copy", "copy", X)

# --- creation
_c("full_like", "full_like", X, 1.5)
_c("full_like-int", "full_like", XI, 3)
_c("full_like-dtype", "full_like", X, 2, dtype="int32")
_c("identity", "identity", 3)
_c("identity-int", "identity", 2, dtype="int32")
_c("tri", "tri", 3, 4, k=1)
_c("tri-default", "tri", 3)
for _k in (0, 1, -1):
    _c(f"tril-k{_k}", "tril", X, k=_k)
    _c(f"triu-k{_k}", "triu", X3, k=_k)
_c("linspace", "linspace", 0.0, 1.0, 5)
_c("linspace-no-endpoint", "linspace", -2.0, 3.0, 7, endpoint=False)
_c("linspace-arrays", "linspace", np.float32([0.0, 1.0]), np.float32([1.0, -3.0]), 4, axis=1)
_c("logspace", "logspace", 0.0, 2.0, 5)
_c("logspace-base2", "logspace", 1.0, 4.0, 4, base=2)
_c("meshgrid", "meshgrid", np.float32([1.0, 2.0, 3.0]), np.float32([-1.0, 5.0]))
_c("meshgrid-ij", "meshgrid", np.float32([1.0, 2.0, 3.0]), np.float32([-1.0, 5.0]), indexing="ij")

# --- diagonals and products
_c("diag-vector", "diag", np.float32([1.0, -2.0, 3.0]))
_c("diag-vector-k", "diag", np.float32([1.0, -2.0]), k=-1)
_c("diag-matrix", "diag", X)
_c("diag-matrix-k", "diag", X, k=1)
_c("diagonal", "diagonal", X3)
_c("diagonal-offset-axes", "diagonal", X3, offset=1, axis1=1, axis2=2)
_c("trace", "trace", X)
_c("trace-3d", "trace", X3, offset=-1, axis1=1, axis2=2)
_c("trace-int32", "trace", XI)
_c("tensordot", "tensordot", X3, _f(4, 5), axes=1)
_c("tensordot-2", "tensordot", X3, _f(3, 4, 2), axes=2)
_c("tensordot-pairs", "tensordot", X3, _f(4, 2, 3), axes=([1, 2], [2, 0]))
_c("outer", "outer", np.float32([1.0, 2.0, -1.0]), np.float32([0.5, 3.0]))
_c("inner", "inner", X, POS)
_c("inner-vectors", "inner", X[0], POS[0])

# --- indexing and updates
_c("get_item", "get_item", X, 1)
_c("slice", "slice", X3, (0, 1, 1), (2, 2, 3))
_c("slice_update", "slice_update", X, (1, 1), np.float32([[9.0, 8.0], [7.0, 6.0]]))
_c("scatter", "scatter", np.int32([[0, 1], [2, 3], [0, 1]]), np.float32([1.0, 2.0, 3.0]), (3, 4))
_c("scatter-rows", "scatter", np.int32([[2], [0]]), np.float32([[1, 2, 3, 4], [5, 6, 7, 8]]), (3, 4))
_c("scatter_update", "scatter_update", X, np.int32([[0, 1], [2, 3]]), np.float32([10.0, 20.0]))
_c("scatter_update-rows", "scatter_update", X, np.int32([[1]]), np.float32([[1.0, 2.0, 3.0, 4.0]]))
_c("segment_sum", "segment_sum", X, np.int32([0, 2, 0]), num_segments=3)
_c("segment_max", "segment_max", X, np.int32([1, 1, 0]), num_segments=2)
_c("segment_max-empty", "segment_max", X, np.int32([0, 2, 0]), num_segments=3)

# --- nn
for _n in ("log_sigmoid", "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink", "squareplus", "sparse_plus",
           "celu", "glu"):
    _c(_n, _n, X * 1.5)
_c("celu-alpha", "celu", X, alpha=0.5)
_c("glu-axis0", "glu", _f(4, 3), axis=0)
_c("hard_shrink-threshold", "hard_shrink", X, threshold=1.0)
_c("soft_shrink-threshold", "soft_shrink", X, threshold=1.0)
_c("squareplus-b", "squareplus", X, b=1)
_c("threshold", "threshold", X, 0.3, -1.0)
_c("normalize", "normalize", X)
_c("normalize-axis0-order1", "normalize", X, axis=0, order=1)
_c("normalize-tiny", "normalize", np.float32([[1e-5, -1e-5, 0.0]]))
_c("multi_hot", "multi_hot", np.int32([[0, 2], [3, 3]]), 5)
_c("multi_hot-1d", "multi_hot", np.int32([1, 4]), 6)
_c("layer_normalization", "layer_normalization", X, np.float32([1.0, 2.0, 0.5, -1.0]),
   np.float32([0.0, 0.1, 0.2, 0.3]))
_c("layer_normalization-tiny", "layer_normalization", np.float32([[1e-3, 2e-3, 0.0]]))
_c("rms_normalization", "rms_normalization", X, np.float32([1.0, 2.0, 0.5, -1.0]))
_c("rms_normalization-tiny", "rms_normalization", np.float32([[1e-3, 2e-3, 0.0]]))
_c("psnr", "psnr", X, X + 0.1 * POS, 2.0)
_c("categorical_crossentropy", "categorical_crossentropy", ONEHOT, PROBS)
_c("categorical_crossentropy-unnormalized", "categorical_crossentropy", ONEHOT, PROBS * 2.0)
_c("categorical_crossentropy-logits", "categorical_crossentropy", ONEHOT, _f(3, 5), from_logits=True)
_c("categorical_crossentropy-axis0", "categorical_crossentropy", ONEHOT.T, PROBS.T, axis=0)
_c("categorical_crossentropy-clip", "categorical_crossentropy", ONEHOT, np.eye(5, dtype=np.float32)[[0, 1, 2]])
_c("sparse_categorical_crossentropy", "sparse_categorical_crossentropy", LABELS, PROBS)
_c("sparse_categorical_crossentropy-logits", "sparse_categorical_crossentropy", LABELS, _f(3, 5), from_logits=True)
_c("sparse_categorical_crossentropy-column", "sparse_categorical_crossentropy", LABELS[:, None], PROBS)
_c("binary_crossentropy", "binary_crossentropy", BINARY_T, BINARY_P)
_c("binary_crossentropy-logits", "binary_crossentropy", BINARY_T, X * 3, from_logits=True)
_c("binary_crossentropy-clip", "binary_crossentropy", np.float32([1.0, 0.0, 1.0]), np.float32([1.0, 1.0, 0.0]))

# --- linear algebra
for _n in ("inv", "det", "logdet", "slogdet", "cholesky"):
    _c(_n, _n, SPD)
_c("inv-batch", "inv", np.stack([SQ, SPD]))
_c("det-batch", "det", np.stack([SQ, SPD]))
_c("cholesky-upper", "cholesky", SPD, upper=True)
_c("solve", "solve", SQ, RHS)
_c("solve-batch", "solve", np.stack([SQ, SPD]), np.stack([RHS, RHS * 2]))
_c("solve_triangular", "solve_triangular", SQ, RHS)
_c("solve_triangular-lower", "solve_triangular", SQ, RHS, lower=True)
_c("qr", "qr", TALL, compare="abs")
_c("qr-complete", "qr", TALL, mode="complete", compare="abs")
_c("svd-values", "svd", TALL, compute_uv=False)
_c("eigh-values", "eigh", SPD, compare="abs")
_c("pinv", "pinv", TALL)
_c("lstsq", "lstsq", TALL, _f(5, 2))
_c("matrix_rank", "matrix_rank", np.float32([[1, 2, 3], [2, 4, 6], [0, 1, 1]]))
_c("norm", "norm", X)
_c("norm-int32", "norm", XI)
for _ord in (None, 1, 2, np.inf, -np.inf, 0, 3):
    _c(f"norm-vector-ord{_ord}", "norm", X, ord=_ord, axis=1)
for _ord in ("fro", 1, -1, np.inf, -np.inf, "nuc", 2, -2):
    _c(f"norm-matrix-ord{_ord}", "norm", X3, ord=_ord, axis=(1, 2))
_c("norm-keepdims", "norm", X3, axis=(0, 2), keepdims=True)
_c("norm-vector-keepdims", "norm", X, ord=1, axis=0, keepdims=True)


def flatten(out: Any) -> list[np.ndarray]:
    """An op's result as a list of host arrays (one per output)."""
    parts = list(out) if isinstance(out, (tuple, list)) else [out]
    return [np.asarray(p) for p in parts]


# --- second batch: more elementwise, NaN-ignoring reductions, rearranging, math, nn, control flow
WITH_NAN = np.float32([[1.0, np.nan, -2.0, 4.0], [np.nan, np.nan, np.nan, np.nan], [0.5, 3.0, np.nan, -1.0]])
for _n in ("cbrt", "sinc", "deg2rad", "rad2deg", "fabs", "signbit"):
    _c(_n, _n, X)
    _c(f"{_n}-int32", _n, XI)
_c("sinc-zero", "sinc", np.float32([0.0, 0.5, -1.0]))
_c("isposinf", "isposinf", NANS)
_c("isneginf", "isneginf", NANS)
_c("heaviside", "heaviside", np.float32([-1.0, 0.0, 2.0, 0.0]), np.float32([5.0, 0.5, 5.0, 0.25]))
_c("heaviside-int32", "heaviside", np.int32([-1, 0, 2]), np.int32([7, 7, 7]))
_c("fmax", "fmax", np.float32([1.0, np.nan, 3.0, np.nan]), np.float32([2.0, 1.0, np.nan, np.nan]))
_c("fmin", "fmin", np.float32([1.0, np.nan, 3.0, np.nan]), np.float32([2.0, 1.0, np.nan, np.nan]))
_c("logaddexp2", "logaddexp2", X, _f(3, 4))
_c("ldexp", "ldexp", X, np.int32([0, 1, -2, 3]))
_c("gcd", "gcd", np.int32([12, -18, 7, 0]), np.int32([8, 12, 5, 4]))
_c("lcm", "lcm", np.int32([4, -6, 7, 3]), np.int32([6, 4, 5, 0]))
_c("select", "select", [X > 1, X < -1], [X, -X], 0.5)
_c("saturate_cast", "saturate_cast", np.float32([-300.0, 12.7, 300.0, 255.9]), "uint8")
_c("saturate_cast-int32", "saturate_cast", np.float32([-3e10, 5.5, 3e10]), "int32")
_c("saturate_cast-int-narrow", "saturate_cast", np.int32([-200, 5, 200]), "int8")
for _n in ("nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanvar", "nanstd"):
    _c(f"{_n}", _n, WITH_NAN)
    _c(f"{_n}-axis1", _n, WITH_NAN, axis=1)
    _c(f"{_n}-axis0-keepdims", _n, WITH_NAN, axis=0, keepdims=True)
_c("nansum-int32", "nansum", XI, axis=1)
_c("nanmax-int32", "nanmax", XI)
for _n in ("nanargmax", "nanargmin"):
    _c(_n, _n, np.float32([[1.0, np.nan, 4.0], [np.nan, -2.0, 0.0]]))
    _c(f"{_n}-axis1", _n, np.float32([[1.0, np.nan, 4.0], [np.nan, -2.0, 0.0]]), axis=1)
    _c(f"{_n}-keepdims", _n, np.float32([[1.0, np.nan, 4.0], [np.nan, -2.0, 0.0]]), axis=0, keepdims=True)
for _n in ("nancumsum", "nancumprod"):
    _c(_n, _n, WITH_NAN)
    _c(f"{_n}-axis1", _n, WITH_NAN, axis=1)
_c("fliplr", "fliplr", X3)
_c("flipud", "flipud", X3)
for _k in (0, 1, 2, 3, -1, 5):
    _c(f"rot90-k{_k}", "rot90", X3, k=_k)
_c("rot90-axes", "rot90", X3, k=1, axes=(1, 2))
_c("diff", "diff", X3)
_c("diff-n2-axis0", "diff", X, n=2, axis=0)
_c("diff-int32", "diff", XI)
_c("append", "append", X, POS)
_c("append-axis", "append", X, POS, axis=1)
_c("dstack", "dstack", [X, POS])
_c("dstack-1d", "dstack", [X[0], POS[0]])
_c("hsplit", "hsplit", X, 2)
_c("vsplit", "vsplit", X3, [1])
_c("dsplit", "dsplit", X3, 2)
_c("diagflat", "diagflat", np.float32([[1.0, 2.0], [3.0, 4.0]]), k=1)
_c("vdot", "vdot", X, POS)
_c("vdot-int32", "vdot", XI, XI)
_c("kron", "kron", np.float32([[1.0, 2.0], [3.0, 4.0]]), np.float32([[0.5, 1.0, -1.0]]))
_c("kron-int32", "kron", np.int32([1, 2]), np.int32([[1], [10]]))
_c("cross", "cross", _f(4, 3), _f(4, 3))
_c("cross-2d", "cross", _f(4, 2), _f(4, 2))
_c("cross-mixed", "cross", _f(4, 3), _f(4, 2))
_c("cross-axis", "cross", _f(3, 4), _f(3, 4), axis=0)
_c("trapezoid", "trapezoid", X)
_c("trapezoid-x", "trapezoid", X, np.float32([0.0, 1.0, 3.0, 3.5]))
_c("trapezoid-dx-axis0", "trapezoid", X, dx=0.5, axis=0)
_c("vander", "vander", np.float32([1.0, 2.0, -0.5]))
_c("vander-N-increasing", "vander", np.float32([1.0, 2.0, -0.5]), N=4, increasing=True)
_c("corrcoef", "corrcoef", X)
_c("geomspace", "geomspace", 1.0, 1000.0, 4)
_c("geomspace-no-endpoint", "geomspace", 2.0, 32.0, 4, endpoint=False)
_c("correlate", "correlate", np.float32([1.0, 2.0, 3.0, 4.0, 5.0]), np.float32([0.0, 1.0, 0.5]))
_c("correlate-same", "correlate", np.float32([1.0, 2.0, 3.0, 4.0, 5.0]), np.float32([0.0, 1.0, 0.5]), mode="same")
_c("correlate-full", "correlate", np.float32([1.0, 2.0, 3.0, 4.0]), np.float32([0.0, 1.0, 0.5, 2.0]), mode="full")
_c("segment_min", "segment_min", X, np.int32([1, 1, 0]), num_segments=3)
_c("segment_prod", "segment_prod", X, np.int32([1, 1, 0]), num_segments=3)
_c("extract_sequences", "extract_sequences", _f(2, 10), 4, 3)
_c("histogram", "histogram", np.float32([1.0, 2.0, 2.0, 3.0, 9.0]), bins=4)
_c("histogram-range", "histogram", X.ravel(), bins=3, range=(-1.0, 1.0))
_c("hard_swish", "hard_swish", X * 3)
_c("sparse_sigmoid", "sparse_sigmoid", X)
_c("depth_to_space", "depth_to_space", _f(2, 2, 3, 8), 2)
_c("depth_to_space-channels_first", "depth_to_space", _f(1, 8, 2, 3), 2, data_format="channels_first")
_c("space_to_depth", "space_to_depth", _f(2, 4, 6, 3), 2)
_c("space_to_depth-channels_first", "space_to_depth", _f(1, 3, 4, 2), 2, data_format="channels_first")
_c("cond", "cond", X[0, 0] > 0, lambda: X * 2, lambda: X - 1)
_c("switch", "switch", 1, [lambda a: a + 1, lambda a: a * 10], X)
_c("switch-clipped", "switch", 7, [lambda a: a + 1, lambda a: a * 10], X)
_c("fori_loop", "fori_loop", 0, 4, lambda i, v: v * 0.5 + i, X)
_c("while_loop", "while_loop", lambda v: v < 5, lambda v: v + 2, 0)
_c("while_loop-tuple", "while_loop", lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0), (0, X))
_c("while_loop-maximum", "while_loop", lambda v: v < 100, lambda v: v + 1, 0, maximum_iterations=7)
_c("scan", "scan", lambda c, x: (c + x, c * x), np.zeros(4, np.float32), X)
_c("scan-reverse", "scan", lambda c, x: (c * 0.5 + x, c), np.zeros(4, np.float32), X, reverse=True)
_c("map", "map", lambda v: v * 2.0 + 1.0, X)
_c("map-tuple", "map", lambda v: v[0] * v[1], (X, POS))
_c("vectorized_map", "vectorized_map", lambda v: v[::-1] * 3.0, X3)
_c("associative_scan", "associative_scan", lambda a, b: a + b, X)
_c("associative_scan-reverse-axis", "associative_scan", lambda a, b: a * b, X, reverse=True, axis=1)

# --- third batch: bits, windows, NaN-ignoring quantiles, odds and ends
for _n in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    _c(_n, _n, XI, np.int32([3, -2, 7, 0]))
_c("bitwise_left_shift", "bitwise_left_shift", np.abs(XI), np.int32([0, 1, 2, 3]))
_c("left_shift", "left_shift", np.abs(XI), 2)
_c("bitwise_right_shift", "bitwise_right_shift", XI, np.int32([0, 1, 2, 3]))
_c("right_shift", "right_shift", XI * 5, 1)
_c("bitwise_invert", "bitwise_invert", XI)
_c("bitwise_not", "bitwise_not", XI)
_c("nextafter", "nextafter", X, np.float32(0.0))
_c("i0", "i0", X)
_c("i0-int32", "i0", XI)
for _n in ("hanning", "hamming", "blackman", "bartlett"):
    _c(_n, _n, 7)
    _c(f"{_n}-1", _n, 1)
_c("kaiser", "kaiser", 6, 3.5)
_c("cdist", "cdist", _f(3, 2), _f(4, 2))
_c("cdist-batch", "cdist", _f(2, 3, 2), _f(2, 4, 2))
_c("dtype", "dtype", X)
_c("dtype-int32", "dtype", XI)
_c("array", "array", [[1.0, 2.0], [3.0, 4.0]])
_c("array-dtype", "array", [1, 2, 3], dtype="float32")
_c("cholesky_inverse", "cholesky_inverse", np.linalg.cholesky(SPD).astype(np.float32))
_c("cholesky_inverse-upper", "cholesky_inverse", np.linalg.cholesky(SPD).T.astype(np.float32), upper=True)
_c("nanmedian", "nanmedian", WITH_NAN, axis=1)
_c("nanmedian-all", "nanmedian", WITH_NAN)
_c("nanquantile", "nanquantile", WITH_NAN, np.float32([0.3, 0.8]), axis=1)
_c("nanquantile-axis0-keepdims", "nanquantile", WITH_NAN, 0.25, axis=0, keepdims=True)
for _m in ("lower", "higher", "nearest", "midpoint"):
    _c(f"nanquantile-{_m}", "nanquantile", WITH_NAN, 0.4, axis=1, method=_m)
_c("nanpercentile", "nanpercentile", WITH_NAN, 40.0, axis=1)

# --- CTC
CTC_LOGITS = _f(3, 6, 5)
CTC_TARGET = np.int32([[1, 2, 2], [3, 4, 0], [4, 0, 0]])
_c("ctc_loss", "ctc_loss", CTC_TARGET, CTC_LOGITS, np.int32([3, 2, 1]), np.int32([6, 5, 3]))
_c("ctc_loss-blank4", "ctc_loss", np.int32([[1, 2, 2], [3, 0, 1], [0, 0, 0]]), CTC_LOGITS, np.int32([3, 3, 1]),
   np.int32([6, 6, 2]), mask_index=4)
_c("ctc_decode", "ctc_decode", CTC_LOGITS, np.int32([6, 4, 2]))
_c("ctc_decode-no-merge", "ctc_decode", CTC_LOGITS, np.int32([6, 5, 1]), merge_repeated=False, mask_index=2)

# --- adaptive pooling
_c("adaptive_average_pool-2d", "adaptive_average_pool", _f(2, 5, 7, 3), (2, 3))
_c("adaptive_average_pool-1d", "adaptive_average_pool", _f(2, 10, 2), 3)
_c("adaptive_average_pool-channels_first", "adaptive_average_pool", _f(1, 2, 7, 5), (3, 4),
   data_format="channels_first")
_c("adaptive_max_pool-2d", "adaptive_max_pool", _f(2, 5, 7, 3), (4, 2))
_c("adaptive_max_pool-3d", "adaptive_max_pool", _f(1, 4, 5, 6, 2), 2)

# --- sliding blocks
_c("unfold", "unfold", _f(2, 2, 4, 5), 2)
_c("unfold-options", "unfold", _f(1, 3, 6, 5), (2, 3), dilation=(2, 1), padding=1, stride=(2, 1))
_c("fold", "fold", _f(2, 8, 12), (4, 5), 2)
_c("fold-options", "fold", _f(1, 18, 15), (6, 5), (2, 3), dilation=(2, 1), padding=1, stride=(2, 1))

# --- parts of (real) numbers; complex inputs are checked against NumPy in tests/test_ops_coverage.py
for _n in ("real", "imag", "conj", "conjugate", "angle", "isreal"):
    _c(_n, _n, X)
    _c(f"{_n}-int32", _n, XI)

# --- Fourier transforms and complex views
_c("fft", "fft", (X, POS))
_c("fft2", "fft2", (X3, _f(2, 3, 4)))
_c("ifft2", "ifft2", (X3, _f(2, 3, 4)))
_c("rfft", "rfft", X)
_c("rfft-length", "rfft", X, fft_length=6)
_c("irfft", "irfft", (X, POS))
_c("irfft-length", "irfft", (X, POS), fft_length=5)
_c("polar", "polar", POS, X)
_c("view_as_complex", "view_as_complex", _f(3, 2))
_c("view_as_real", "view_as_real", np.complex64([1 + 2j, -0.5j, 3]))
_c("erfc", "erfc", np.float32([-3.0, -1.0, -0.3, 0.0, 0.2, 0.49, 0.5, 1.0, 3.0, 5.0, 9.0]))
_c("erfc-matrix", "erfc", X * 2)
