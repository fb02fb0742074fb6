"""Conversions between user values and backend tensors."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.tensor import Tensor, Variable

_FLOAT_KINDS = "fc"


def data_of(x: Any) -> Any:
    """The backend array behind `x`; Python scalars stay scalars (NumPy's weak typing keeps float32)."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (int, float, bool)):
        return x
    return to_backend_array(x)


def to_backend_array(x: Any, dtype: Any = None) -> Any:
    """Any array-like as an array of the active backend; Python floats become float32 (floatx).

    NumPy arrays keep their dtype on every backend, so both backends compute the same thing. Text
    (arrays of str or bytes) stays a host NumPy array: devices hold numbers, and the layers that read
    text (TextVectorization, StringLookup, Hashing) work on the host.
    """
    ops = _backend.active
    if isinstance(x, Tensor):
        x = x.data
    if ops.is_array(x):
        return x if dtype is None else ops.cast(x, dtype)
    if dtype is None:
        host = np.asarray(x)
        if host.dtype.kind in "US":
            return host
        if host.dtype == np.float64 and not isinstance(x, np.ndarray):  # Python floats: floatx
            host = host.astype(np.float32)
        elif host.dtype.kind == "i" and host.dtype.itemsize == 8 and not isinstance(x, np.ndarray):
            host = host.astype(np.int32)
        return ops.asarray(host)
    return ops.asarray(np.asarray(x), dtype=dtype)


def promote_to(a: Any, float_dtype: Any) -> Any:
    """`a` cast to `float_dtype` when it holds integers or booleans (Keras's rule for int x with a
    float32 kernel: compute in float32; NumPy's promotion would give float64)."""
    return _backend.active.cast(a, float_dtype) if a.dtype.kind in "biu" else a


def convert_to_tensor(x: Any, dtype: Any = None, sparse: Any = None) -> Tensor:
    """A Tensor holding `x` (a Tensor is returned as is when the dtype already matches); sparse=True is refused."""
    if sparse:
        raise ValueError("convert_to_tensor(sparse=True): gpukeras has no sparse tensors.")
    if isinstance(x, Tensor) and (dtype is None or x.dtype == str(np.dtype(dtype))):
        return x
    return Tensor(to_backend_array(x, dtype))


def convert_to_numpy(x: Any) -> np.ndarray:
    """A host NumPy copy of a tensor, variable or array-like."""
    if isinstance(x, Tensor):
        return x.numpy()
    ops = _backend.active
    return ops.to_numpy(x) if ops.is_array(x) else np.asarray(x)


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


def is_variable(x: Any) -> bool:
    return isinstance(x, Variable)


def is_float_dtype(dtype: Any) -> bool:
    return np.dtype(dtype).kind in _FLOAT_KINDS
