"""Ops.multi_tensor_apply: a new optimizer needs only an UpdateRule; decay and slots as documented."""

from __future__ import annotations

import numpy as np
import pytest

from gpukeras import backend, ops
from gpukeras.backend.fused.multi_tensor import UpdateRule
from gpukeras.optimizers.optimizer import Optimizer
from gpukeras.tensor import Variable


def _sign_formula(xp, w, g, slots, s):
    """A made-up rule: count the steps in a slot, move by lr * sign(g)."""
    (count,) = slots
    count += 1.0
    w -= s["lr"] * xp.sign(g)


SIGN_RULE = UpdateRule("sign", ("count",), _sign_formula)


class SignSGD(Optimizer):
    """An optimizer written from outside the backend: a rule, its slots, nothing else."""

    update_rule = SIGN_RULE

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._count = [self.add_variable_from_reference(v, "count").data for v in self._trainable_variables]

    def _slot_lists(self):
        return [self._count]


def test_a_rule_without_kernels_runs_on_every_backend_with_weight_decay_and_exclusion():
    w0 = [np.float32([[1.0, -2.0], [3.0, 0.5]]), np.float32([4.0, -1.0])]
    ws = [Variable(w.copy(), name=n) for w, n in zip(w0, ("kernel", "bias"), strict=True)]
    opt = SignSGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    grads = [np.float32([[0.3, -0.2], [0.0, 1.0]]), np.float32([-5.0, 2.0])]
    for _ in range(2):
        opt.apply([ops.convert_to_tensor(g).data for g in grads], ws)
    want_kernel = w0[0].astype(np.float64)
    for _ in range(2):
        want_kernel = want_kernel - want_kernel * 0.5 * 0.1 - 0.1 * np.sign(grads[0])
    np.testing.assert_allclose(ws[0].numpy(), want_kernel, rtol=1e-6)
    np.testing.assert_allclose(ws[1].numpy(), w0[1] - 2 * 0.1 * np.sign(grads[1]), rtol=1e-6)
    np.testing.assert_array_equal(backend.active.to_numpy(opt._count[1]), [2.0, 2.0])


def test_slot_lists_must_match_the_rule():
    B = backend.active
    w = B.asarray(np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"sign takes the slots \('count',\); got 2"):
        B.multi_tensor_apply(SIGN_RULE, [[w], [w], [w], [w]], {"lr": 0.1, "weight_decay": 0.0})


def test_a_fused_kernel_needs_its_arguments_and_at_most_three_slots():
    with pytest.raises(ValueError, match="kernel_args"):
        UpdateRule("x", ("a",), _sign_formula, kernel="x")
    with pytest.raises(ValueError, match="at most 3 slots"):
        UpdateRule("x", ("a", "b", "c", "d"), _sign_formula, kernel="x", kernel_args=lambda s: ())
