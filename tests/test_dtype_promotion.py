"""Integers mixed with floats take the float's dtype, as in Keras 3 (NumPy's own rule makes an int64 plus a
float32 a float64, which would silently double every later computation's cost); integer division gives
floatx. The expected dtypes are what Keras 3.15 answers for the same calls on its torch backend (JAX's
agrees except that it narrows every 64-bit result to 32 bits: int64 + 1 is int32 there)."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import ops


def _t(dtype: str):
    return ops.convert_to_tensor(np.ones((2, 3), dtype=dtype))


@pytest.mark.parametrize("call, want", [
    (lambda: _t("float32") + _t("int64"), "float32"),
    (lambda: _t("int32") * _t("float16"), "float16"),
    (lambda: ops.subtract(_t("bool"), _t("float32")), "float32"),
    (lambda: ops.concatenate([_t("float32"), _t("int64")], axis=-1), "float32"),
    (lambda: ops.stack([_t("int64"), _t("float32")]), "float32"),
    (lambda: ops.where(_t("int64") > 0, _t("float32"), _t("int64")), "float32"),
    (lambda: ops.maximum(_t("int64"), _t("float32")), "float32"),
    (lambda: _t("int64") * 2.5, "float32"),
    (lambda: _t("int64") / 2, "float32"),
    (lambda: 2 / _t("int32"), "float32"),
    (lambda: _t("int64") + 1, "int64"),
    (lambda: _t("float32") * 2, "float32"),
    (lambda: _t("float16") + 1.5, "float16"),
])
def test_mixed_dtypes_promote_as_keras3(call, want):
    assert str(call().dtype) == want


def test_gradients_still_reach_the_float_operand():
    x = keras.Variable(np.float32([1.0, 2.0]))
    with keras.GradientTape() as tape:
        y = ops.sum(x * ops.convert_to_tensor(np.array([3, 4], dtype="int64")))
    (g,) = tape.gradient(y, [x])
    assert str(g.dtype) == "float32"
    np.testing.assert_array_equal(g.numpy(), [3.0, 4.0])
