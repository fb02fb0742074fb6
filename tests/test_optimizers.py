"""Optimizers: 5 steps from fixed weights/gradients against Keras 3's closed-form update rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpukeras import backend, constraints, ops, optimizers
from gpukeras.optimizers import schedules
from gpukeras.tensor import Tensor, Variable

RNG = np.random.default_rng(11)
W0 = [RNG.normal(size=(3, 2)).astype("float32"), RNG.normal(size=(2,)).astype("float32")]
GRADS = [[RNG.normal(size=w.shape).astype("float32") for w in W0] for _ in range(5)]


def _run(opt, steps=5, as_tensors=False):
    ws = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(W0)]
    for grads in GRADS[:steps]:
        gs = [ops.convert_to_tensor(g).data for g in grads]
        if as_tensors:
            gs = [Tensor(g) for g in gs]
        opt.apply(gs, ws)
    return [w.numpy() for w in ws]


def _sgd_ref(lr, momentum=0.0, nesterov=False, grads=GRADS):
    ws = [w.astype("float64") for w in W0]
    ms = [np.zeros_like(w) for w in ws]
    for step in grads:
        for i, g in enumerate(step):
            if momentum:
                ms[i] = momentum * ms[i] - lr * g
                ws[i] = ws[i] + (momentum * ms[i] - lr * g if nesterov else ms[i])
            else:
                ws[i] = ws[i] - lr * g
    return ws


def _adam_ref(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, grads=GRADS, decay=0.0, lr_at=None,
              decayed=(True, True)):
    ws = [w.astype("float64") for w in W0]
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    vh = [np.zeros_like(w) for w in ws]
    for t, step in enumerate(grads, start=1):
        rate = lr_at(t - 1) if lr_at else lr
        alpha = rate * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i, g in enumerate(step):
            ws[i] = ws[i] - ws[i] * decay * rate * decayed[i]
            ms[i] += (g - ms[i]) * (1 - b1)
            vs[i] += (g * g - vs[i]) * (1 - b2)
            v = vs[i]
            if amsgrad:
                vh[i] = np.maximum(vh[i], vs[i])
                v = vh[i]
            ws[i] = ws[i] - alpha * ms[i] / (np.sqrt(v) + eps)
    return ws


def _close(actual, expected, rtol=2e-6):
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd(momentum, nesterov):
    _close(_run(optimizers.SGD(0.1, momentum=momentum, nesterov=nesterov)), _sgd_ref(0.1, momentum, nesterov))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(amsgrad):
    _close(_run(optimizers.Adam(0.01, amsgrad=amsgrad)), _adam_ref(0.01, amsgrad=amsgrad))
    _close(_run(optimizers.Adam(amsgrad=amsgrad, beta_1=0.8, beta_2=0.99, epsilon=1e-3), as_tensors=True),
           _adam_ref(0.001, 0.8, 0.99, 1e-3, amsgrad))


def test_adamw_decays_before_the_update():
    _close(_run(optimizers.AdamW(0.01, weight_decay=0.1)), _adam_ref(0.01, decay=0.1))


def test_adamw_honours_exclude_from_weight_decay_in_the_fused_update():
    opt = optimizers.AdamW(0.01, weight_decay=0.1)
    ws = [Variable(w.copy(), name=n) for w, n in zip(W0, ("kernel", "bias"), strict=True)]
    opt.exclude_from_weight_decay(var_names=["bias"])
    for grads in GRADS:
        opt.apply(grads, ws)
    _close([w.numpy() for w in ws], _adam_ref(0.01, decay=0.1, decayed=(True, False)))


def test_weight_decay_runs_inside_the_one_backend_update_per_step(monkeypatch):
    """No per-weight decay loop: each step is one multi_tensor_apply carrying the decay and its mask."""
    ops_type = type(backend.active)
    calls = []
    original = ops_type.multi_tensor_apply

    def spy(self, rule, lists, scalars, decay_mask=None):
        calls.append((rule.name, scalars["weight_decay"], decay_mask))
        return original(self, rule, lists, scalars, decay_mask)

    monkeypatch.setattr(ops_type, "multi_tensor_apply", spy)
    opt = optimizers.AdamW(0.01, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["w1"])
    _run(opt, steps=2)
    assert calls == [("adam", 0.1, [True, False])] * 2
    assert not hasattr(optimizers.Optimizer, "_apply_weight_decay")


def test_each_optimizer_and_its_update_rule_live_in_its_own_module():
    for cls in (optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.RMSprop, optimizers.Adagrad,
                optimizers.Adadelta, optimizers.Adamax, optimizers.Nadam, optimizers.Lion, optimizers.Ftrl):
        module = f"gpukeras.optimizers.{cls.__name__.lower()}"
        assert cls.__module__ == module
        assert cls.update_rule.formula.__module__ == (module if cls is not optimizers.AdamW
                                                      else "gpukeras.optimizers.adam")


def test_learning_rate_is_float32_and_settable():
    opt = optimizers.SGD(0.1)
    assert opt.learning_rate.dtype == "float32"
    assert float(opt.learning_rate) == pytest.approx(0.1)
    opt.learning_rate = 0.5
    assert float(opt.learning_rate) == 0.5
    opt.learning_rate.assign(0.25)
    assert opt._current_learning_rate() == 0.25
    _close(_run(opt, steps=2), _sgd_ref(0.25, grads=GRADS[:2]))
    assert int(opt.iterations) == 2 and opt.iterations.dtype == "int64"
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD("fast")


def test_schedule_sees_iterations():
    sched = schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)
    opt = optimizers.Adam(sched)
    _close(_run(opt), _adam_ref(lr_at=lambda s: 0.01 * 0.5 ** (s / 2)))
    assert float(opt.learning_rate) == pytest.approx(0.01 * 0.5 ** 2.5)
    assert opt.current_learning_rate() == pytest.approx(0.01 * 0.5 ** 2.5)
    with pytest.raises(TypeError):
        opt.learning_rate = 0.1
    assert opt.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"


def test_clipnorm_clipvalue_global_clipnorm():
    def clipped(fn):
        return [[fn(g, step) for g in step] for step in GRADS]

    per_norm = clipped(lambda g, s: g * 0.5 / max(np.linalg.norm(g), 0.5))
    _close(_run(optimizers.SGD(0.1, clipnorm=0.5)), _sgd_ref(0.1, grads=per_norm))
    by_value = clipped(lambda g, s: np.clip(g, -0.3, 0.3))
    _close(_run(optimizers.SGD(0.1, clipvalue=0.3)), _sgd_ref(0.1, grads=by_value))
    glob = clipped(lambda g, s: g * 0.7 * min(1 / np.sqrt(sum((x ** 2).sum() for x in s)), 1 / 0.7))
    _close(_run(optimizers.SGD(0.1, global_clipnorm=0.7)), _sgd_ref(0.1, grads=glob))
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_weight_decay_on_sgd_with_exclusion():
    opt = optimizers.SGD(0.1, weight_decay=0.2)
    ws = [Variable(w.copy(), name=n) for w, n in zip(W0, ("kernel", "bias"), strict=True)]
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply(GRADS[0], ws)
    np.testing.assert_allclose(ws[0].numpy(), W0[0] - W0[0] * 0.2 * 0.1 - 0.1 * GRADS[0][0], rtol=1e-6)
    np.testing.assert_allclose(ws[1].numpy(), W0[1] - 0.1 * GRADS[0][1], rtol=1e-6)


def test_ema_and_finalize():
    opt = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9)
    ws = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(W0)]
    ref = [w.astype("float64") for w in W0]
    avg = [np.zeros_like(w) for w in ref]
    for t, grads in enumerate(GRADS):
        opt.apply(grads, ws)
        ref = [w - 0.1 * g for w, g in zip(ref, grads, strict=True)]
        m = 0.9 if t else 0.0
        avg = [m * a + (1 - m) * w for a, w in zip(avg, ref, strict=True)]
    _close([w.numpy() for w in ws], ref)
    opt.finalize_variable_values(ws)
    _close([w.numpy() for w in ws], avg)


def test_gradient_accumulation():
    opt = optimizers.Adam(0.01, gradient_accumulation_steps=2)
    out = _run(opt, steps=4)
    averaged = [[(a + b) / 2 for a, b in zip(GRADS[i], GRADS[i + 1], strict=True)] for i in (0, 2)]
    _close(out, _adam_ref(0.01, grads=averaged))
    assert int(opt.iterations) == 2 and int(opt._iterations) == 4


def test_constraints_applied_after_update():
    ws = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(W0)]
    ws[0].constraint = constraints.NonNeg()
    optimizers.SGD(0.1).apply(GRADS[0], ws)
    np.testing.assert_allclose(ws[0].numpy(), np.maximum(W0[0] - 0.1 * GRADS[0][0], 0), rtol=1e-6)


def test_missing_gradients_skip_variables():
    ws = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(W0)]
    opt = optimizers.SGD(0.1, momentum=0.9)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply([GRADS[0][0], None], ws)
    np.testing.assert_allclose(ws[1].numpy(), W0[1])
    np.testing.assert_allclose(ws[0].numpy(), W0[0] - 0.1 * GRADS[0][0], rtol=1e-6)
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply([None, None], ws)


def test_apply_gradients_subset_and_unknown_variables():
    ws = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(W0)]
    opt = optimizers.Adam(0.01)
    opt.build(ws)
    assert [v.path for v in opt.variables][:4] == ["adam/iteration", "adam/learning_rate", "adam/w0_momentum",
                                                   "adam/w0_velocity"]
    opt.apply_gradients([(GRADS[0][1], ws[1])])
    _close([ws[1].numpy()], [_adam_ref(0.01, grads=[GRADS[0]])[1]])
    np.testing.assert_array_equal(ws[0].numpy(), W0[0])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply([GRADS[0][0]], [Variable(W0[0].copy(), name="stranger")])
    opt.apply(GRADS[1])  # grads only: the built variables
    assert int(opt.iterations) == 2


def test_slots_are_non_trainable_and_config_round_trips():
    opt = optimizers.SGD(0.05, momentum=0.5, nesterov=True, clipnorm=1.0, name="my_sgd")
    _run(opt, steps=1)
    assert all(not v.trainable for v in opt.variables)
    clone = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(clone, optimizers.SGD) and clone.get_config() == opt.get_config()
    assert clone.name == "my_sgd"


def test_get():
    assert type(optimizers.get("sgd")) is optimizers.SGD
    assert type(optimizers.get("adam")) is optimizers.Adam
    assert type(optimizers.get("Adam")) is optimizers.Adam
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    assert float(optimizers.get("sgd").learning_rate) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="adam") as info:
        optimizers.get("adagradx")
    assert "adagradx" in str(info.value)
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.SGD(bogus=1)


SCHEDULES = [
    (schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True), lambda s: 0.1 * 0.5 ** (s // 10)),
    (schedules.PiecewiseConstantDecay([5, 15], [1.0, 0.5, 0.1]),
     lambda s: 1.0 if s <= 5 else 0.5 if s <= 15 else 0.1),
    (schedules.PolynomialDecay(0.1, 20, 0.01, power=2.0), lambda s: 0.09 * (1 - min(s, 20) / 20) ** 2 + 0.01),
    (schedules.PolynomialDecay(0.1, 10, 0.0, cycle=True),
     lambda s: 0.1 * (1 - s / (10 * max(1, math.ceil(s / 10)))) if s else 0.1),
    (schedules.InverseTimeDecay(0.1, 5, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 5)),
    (schedules.CosineDecay(0.1, 20, alpha=0.1),
     lambda s: 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 20) / 20)) + 0.1)),
    (schedules.CosineDecay(0.0, 20, warmup_target=0.2, warmup_steps=5),
     lambda s: 0.2 * s / 5 if s < 5 else 0.2 * 0.5 * (1 + math.cos(math.pi * min(s - 5, 20) / 20))),
    (schedules.CosineDecayRestarts(0.1, 5, t_mul=1.0, m_mul=0.5),
     lambda s: 0.1 * 0.5 ** (s // 5) * 0.5 * (1 + math.cos(math.pi * (s % 5) / 5))),
]


@pytest.mark.parametrize("index", range(len(SCHEDULES)))
def test_schedules(index):
    sched, ref = SCHEDULES[index]
    for step in range(0, 40, 3):
        assert sched.value_at(step) == pytest.approx(ref(step), rel=1e-9, abs=1e-12)
        assert float(sched(step)) == pytest.approx(ref(step), rel=1e-6, abs=1e-9)
    clone = schedules.deserialize(schedules.serialize(sched))
    assert clone.get_config() == sched.get_config()


def test_cosine_restarts_geometric_periods():
    sched = schedules.CosineDecayRestarts(1.0, 4, t_mul=2.0)
    # periods of 4, 8, 16 steps: restart at steps 4 and 12
    assert sched.value_at(4) == pytest.approx(1.0)
    assert sched.value_at(12) == pytest.approx(1.0)
    assert sched.value_at(8) == pytest.approx(0.5)


def test_schedule_validation():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])


# ---------------------------------------------------------------------------- the rest of the catalogue
def _reference(step_fn, inits):
    """Run `step_fn(w, g, state, t)` (t from 1) over GRADS in float64, one state slot per initial value."""
    ws = [w.astype("float64") for w in W0]
    states = [[np.full_like(w, init) for init in inits] for w in ws]
    for t, step in enumerate(GRADS, start=1):
        for i, g in enumerate(step):
            ws[i] = step_fn(ws[i], g.astype("float64"), states[i], t)
    return ws


def _rmsprop(lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    def step(w, g, s, t):
        s[0] = rho * s[0] + (1 - rho) * g * g
        denom = s[0] + eps
        if centered:
            s[1] = rho * s[1] + (1 - rho) * g
            denom = s[0] - s[1] ** 2 + eps
        inc = lr * g / np.sqrt(denom)
        if momentum:
            s[2] = momentum * s[2] + inc
            return w - s[2]
        return w - inc
    return step


def _adagrad(lr, eps=1e-7):
    def step(w, g, s, t):
        s[0] += g * g
        return w - lr * g / np.sqrt(s[0] + eps)
    return step


def _adadelta(lr, rho=0.95, eps=1e-7):
    def step(w, g, s, t):
        s[0] = rho * s[0] + (1 - rho) * g * g
        delta = -np.sqrt(s[1] + eps) * g / np.sqrt(s[0] + eps)
        s[1] = rho * s[1] + (1 - rho) * delta * delta
        return w + lr * delta
    return step


def _adamax(lr, b1=0.9, b2=0.999, eps=1e-7):
    def step(w, g, s, t):
        s[0] += (g - s[0]) * (1 - b1)
        s[1] = np.maximum(b2 * s[1], np.abs(g))
        return w - lr * s[0] / ((1 - b1 ** t) * (s[1] + eps))
    return step


def _nadam(lr, b1=0.9, b2=0.999, eps=1e-7):
    def u(t):
        return b1 * (1 - 0.5 * 0.96 ** t)

    def step(w, g, s, t):
        prod_t = np.prod([u(k) for k in range(1, t + 1)])
        s[0] += (g - s[0]) * (1 - b1)
        s[1] += (g * g - s[1]) * (1 - b2)
        m_hat = u(t + 1) * s[0] / (1 - prod_t * u(t + 1)) + (1 - u(t)) * g / (1 - prod_t)
        v_hat = s[1] / (1 - b2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return step


def _lion(lr, b1=0.9, b2=0.99, wd=0.0):
    def step(w, g, s, t):
        w = w - w * wd * lr
        w = w - lr * np.sign(b1 * s[0] + (1 - b1) * g)
        s[0] = b2 * s[0] + (1 - b2) * g
        return w
    return step


def _ftrl(lr, power=-0.5, l1=0.0, l2=0.0, shrink=0.0, beta=0.0):
    def step(w, g, s, t):
        acc, lin = s
        new_acc = acc + g * g
        lin += g + 2 * shrink * w - (new_acc ** -power - acc ** -power) / lr * w
        quad = new_acc ** -power / lr + 2 * (l2 + beta / (2 * lr))
        s[0] = new_acc
        return (np.clip(lin, -l1, l1) - lin) / quad
    return step


CATALOGUE = [
    (lambda: optimizers.RMSprop(0.01), _rmsprop(0.01), (0.0,)),
    (lambda: optimizers.RMSprop(0.01, momentum=0.9, centered=True),
     _rmsprop(0.01, momentum=0.9, centered=True), (0.0, 0.0, 0.0)),
    (lambda: optimizers.Adagrad(0.1), _adagrad(0.1), (0.1,)),
    (lambda: optimizers.Adadelta(1.0), _adadelta(1.0), (0.0, 0.0)),
    (lambda: optimizers.Adamax(0.01), _adamax(0.01), (0.0, 0.0)),
    (lambda: optimizers.Nadam(0.01), _nadam(0.01), (0.0, 0.0)),
    (lambda: optimizers.Lion(0.01), _lion(0.01), (0.0,)),
    (lambda: optimizers.Lion(0.01, weight_decay=0.1), _lion(0.01, wd=0.1), (0.0,)),
    (lambda: optimizers.Adamax(0.01, weight_decay=0.05),
     lambda w, g, s, t: _adamax(0.01)(w - w * 0.05 * 0.01, g, s, t), (0.0, 0.0)),
    (lambda: optimizers.Ftrl(0.1, weight_decay=0.05),
     lambda w, g, s, t: _ftrl(0.1)(w - w * 0.05 * 0.1, g, s, t), (0.1, 0.0)),
    (lambda: optimizers.Ftrl(0.1), _ftrl(0.1), (0.1, 0.0)),
    (lambda: optimizers.Ftrl(0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.02,
                             l2_shrinkage_regularization_strength=0.01, beta=0.1),
     _ftrl(0.1, l1=0.01, l2=0.02, shrink=0.01, beta=0.1), (0.1, 0.0)),
]


@pytest.mark.parametrize("index", range(len(CATALOGUE)))
def test_catalogue_against_closed_form(index):
    make, step, inits = CATALOGUE[index]
    _close(_run(make()), _reference(step, inits), rtol=1e-5)


def test_catalogue_get_and_config():
    for name in ("rmsprop", "adagrad", "adadelta", "adamax", "nadam", "lion", "ftrl", "adamw", "RMSprop"):
        opt = optimizers.get(name)
        clone = type(opt).from_config(opt.get_config())
        assert clone.get_config() == opt.get_config()
    nadam = optimizers.Nadam()
    _run(nadam, steps=2)
    assert nadam.variables[-1].path == "nadam/u_product"
    with pytest.raises(ValueError, match="learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
