"""Regularizers (differentiable penalties) and constraints (projections), closed form, plus lookup."""

from __future__ import annotations

import numpy as np
import pytest

from gpukeras import constraints, ops, regularizers
from gpukeras.autodiff import GradientTape
from gpukeras.tensor import Variable

W = np.array([[1.0, -2.0, 0.5], [-0.5, 3.0, -1.5]], dtype="float32")


def test_penalties_and_gradients():
    w = Variable(W, name="w")
    for reg, value, grad in (
        (regularizers.L1(0.1), 0.1 * np.abs(W).sum(), 0.1 * np.sign(W)),
        (regularizers.L2(0.2), 0.2 * (W ** 2).sum(), 0.4 * W),
        (regularizers.L1L2(l1=0.1, l2=0.2), 0.1 * np.abs(W).sum() + 0.2 * (W ** 2).sum(),
         0.1 * np.sign(W) + 0.4 * W),
        (regularizers.L1L2(), 0.0, np.zeros_like(W)),
    ):
        with GradientTape() as tape:
            penalty = reg(w)
        assert float(penalty) == pytest.approx(value, rel=1e-6)
        g = tape.gradient(penalty, w)
        np.testing.assert_allclose(np.zeros_like(W) if g is None else g.numpy(), grad, rtol=1e-6)


def test_default_factors_and_validation():
    assert regularizers.L1().l1 == 0.01 and regularizers.L2().l2 == 0.01
    assert regularizers.get("l2").l2 == 0.01
    l1l2 = regularizers.get("l1_l2")
    assert (l1l2.l1, l1l2.l2) == (0.0, 0.0)
    assert (regularizers.l1_l2().l1, regularizers.l1_l2().l2) == (0.01, 0.01)
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="l1"):
        regularizers.L1("big")


def test_orthogonal_regularizer():
    reg = regularizers.OrthogonalRegularizer(factor=0.5)
    unit = W / np.linalg.norm(W, axis=1, keepdims=True)
    gram = unit @ unit.T
    off = np.abs(gram - np.diag(np.diag(gram))).sum() / 2
    assert float(reg(W)) == pytest.approx(0.5 * off, rel=1e-5)


def test_regularizer_lookup_and_config():
    for name, cls in (("l1", regularizers.L1), ("L2", regularizers.L2), ("L1L2", regularizers.L1L2)):
        assert type(regularizers.get(name)) is cls
    reg = regularizers.L2(0.3)
    assert regularizers.get(reg) is reg
    assert regularizers.get(None) is None
    config = regularizers.serialize(reg)
    assert config["class_name"] == "L2" and config["config"] == {"l2": 0.3}
    assert regularizers.get(config).l2 == 0.3
    with pytest.raises(ValueError, match="l1_l2") as info:
        regularizers.get("l3")
    assert "'l3'" in str(info.value)


def _col_norms(x, axis=0):
    return np.sqrt((x ** 2).sum(axis=axis, keepdims=True))


def test_constraints():
    eps = 1e-7
    n0 = _col_norms(W)
    np.testing.assert_allclose(ops.convert_to_numpy(constraints.MaxNorm(2.0)(W)),
                               W * np.clip(n0, 0, 2.0) / (n0 + eps), rtol=1e-6)
    n1 = _col_norms(W, 1)
    np.testing.assert_allclose(ops.convert_to_numpy(constraints.MaxNorm(1.0, axis=1)(W)),
                               W * np.clip(n1, 0, 1.0) / (n1 + eps), rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(constraints.UnitNorm()(W)), W / (n0 + eps), rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(constraints.NonNeg()(W)), np.maximum(W, 0))
    desired = 0.5 * np.clip(n0, 1.0, 2.0) + 0.5 * n0
    np.testing.assert_allclose(ops.convert_to_numpy(constraints.MinMaxNorm(1.0, 2.0, rate=0.5)(W)),
                               W * desired / (n0 + eps), rtol=1e-6)


def test_constraint_lookup_and_config():
    for name, cls in (("max_norm", constraints.MaxNorm), ("non_neg", constraints.NonNeg),
                      ("unit_norm", constraints.UnitNorm), ("MinMaxNorm", constraints.MinMaxNorm)):
        assert type(constraints.get(name)) is cls
    c = constraints.MaxNorm(3.0, axis=1)
    assert constraints.get(c) is c and constraints.get(None) is None
    clone = constraints.get(constraints.serialize(c))
    assert (clone.max_value, clone.axis) == (3.0, 1)
    with pytest.raises(ValueError, match="max_norm") as info:
        constraints.get("maxnorm2")
    assert "'maxnorm2'" in str(info.value)
