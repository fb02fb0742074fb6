"""Activations: forward values against formulas, gradients against central differences, lookup rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpukeras import activations, backend, ops
from gpukeras.autodiff import GradientTape
from gpukeras.tensor import Tensor

SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805
_erf = np.vectorize(math.erf)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))


FORMULAS = {
    "relu": (activations.relu, lambda x: np.maximum(x, 0)),
    "relu6": (activations.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (activations.leaky_relu, lambda x: np.where(x >= 0, x, 0.2 * x)),
    "elu": (activations.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "selu": (activations.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x))),
    "gelu": (activations.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_approx": (lambda x: activations.gelu(x, approximate=True),
                    lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (activations.silu, lambda x: x * _sig(x)),
    "swish": (activations.swish, lambda x: x * _sig(x)),
    "sigmoid": (activations.sigmoid, _sig),
    "hard_sigmoid": (activations.hard_sigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hard_silu": (activations.hard_silu, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "tanh": (activations.tanh, np.tanh),
    "softplus": (activations.softplus, _softplus),
    "softsign": (activations.softsign, lambda x: x / (1 + np.abs(x))),
    "exponential": (activations.exponential, np.exp),
    "mish": (activations.mish, lambda x: x * np.tanh(_softplus(x))),
    "linear": (activations.linear, lambda x: x),
    "softmax": (activations.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "log_softmax": (activations.log_softmax, lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    "relu_params": (lambda x: activations.relu(x, negative_slope=0.1, max_value=2.0, threshold=0.5),
                    lambda x: np.minimum(np.where(x >= 0.5, x, 0.1 * (x - 0.5)), 2.0)),
    "leaky_relu_0.1": (lambda x: activations.leaky_relu(x, 0.1), lambda x: np.where(x >= 0, x, 0.1 * x)),
    "elu_2": (lambda x: activations.elu(x, 2.0), lambda x: np.where(x > 0, x, 2 * np.expm1(x))),
    "softmax_axis0": (lambda x: activations.softmax(x, axis=0),
                      lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    "log_sigmoid": (activations.log_sigmoid, lambda x: -_softplus(-x)),
    "hard_tanh": (activations.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "tanh_shrink": (activations.tanh_shrink, lambda x: x - np.tanh(x)),
    "celu": (activations.celu, lambda x: np.maximum(x, 0) + np.minimum(0, np.expm1(x))),
    "squareplus": (activations.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2),
    "soft_shrink": (activations.soft_shrink,
                    lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
    "hard_shrink": (activations.hard_shrink, lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    "glu": (activations.glu, lambda x: x[..., :2] * _sig(x[..., 2:])),
}

# Points away from kinks (0, thresholds, ±3, 6) so finite differences are valid.
GRID = np.array([[-4.3, -2.2, -0.7, -0.3], [0.2, 0.9, 1.7, 4.1], [-5.1, 2.6, 7.3, -1.4]])


def _tensor(x):
    return Tensor(backend.active.asarray(x, dtype="float64"))


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_forward_matches_formula(name):
    fn, ref = FORMULAS[name]
    out = fn(_tensor(GRID))
    np.testing.assert_allclose(ops.convert_to_numpy(out), ref(GRID), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(set(FORMULAS) - {"linear"}))
def test_gradient_matches_finite_differences(name):
    fn, _ = FORMULAS[name]
    weights = np.linspace(0.5, 1.5, GRID.size).reshape(GRID.shape)
    x = _tensor(GRID)
    with GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
        w = weights[..., : out.shape[-1]]
        loss = ops.sum(ops.multiply(out, _tensor(w)))
    grad = tape.gradient(loss, x).numpy()
    h = 1e-6
    numeric = np.zeros_like(GRID)
    for idx in np.ndindex(GRID.shape):
        plus, minus = GRID.copy(), GRID.copy()
        plus[idx] += h
        minus[idx] -= h
        f_plus = float(np.sum(ops.convert_to_numpy(fn(_tensor(plus))) * w))
        f_minus = float(np.sum(ops.convert_to_numpy(fn(_tensor(minus))) * w))
        numeric[idx] = (f_plus - f_minus) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


def test_float32_input_stays_float32():
    out = activations.relu(np.array([-1.0, 2.0], dtype="float32"))
    assert out.dtype == "float32"
    np.testing.assert_array_equal(out.numpy(), [0.0, 2.0])


def test_get_resolves_names_none_callables_and_configs():
    assert activations.get(None) is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("swish") is activations.silu
    assert activations.get({"module": "keras.activations", "class_name": "function", "config": "tanh",
                            "registered_name": "tanh"}) is activations.tanh

    def custom(x):
        return x

    assert activations.get(custom) is custom


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="relu") as info:
        activations.get("not_an_activation")
    assert "not_an_activation" in str(info.value) and "softmax" in str(info.value)
    with pytest.raises(ValueError):
        activations.get(42)


def test_serialize_round_trip():
    for name in ("relu", "gelu", "softmax", "linear", "silu"):
        fn = activations.get(name)
        assert activations.serialize(fn) == name
        assert activations.deserialize(activations.serialize(fn)) is fn
    assert activations.serialize(activations.swish) == "silu"


def test_fused_primitive_for_builtins_only():
    assert activations.fused_primitive(activations.relu) == ("relu", ())
    assert activations.fused_primitive(activations.gelu) == ("gelu", ())
    assert activations.fused_primitive(activations.softmax) == ("softmax", ())
    assert activations.fused_primitive(activations.linear) == ("linear", ())
    assert activations.fused_primitive(activations.get(None)) == ("linear", ())
    assert activations.fused_primitive(activations.hard_tanh) is None
    assert activations.fused_primitive(lambda x: x) is None


def test_fused_dense_matches_unfused():
    rng = np.random.default_rng(0)
    x, k, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(5,))
    for name in ("relu", "gelu", "softmax", "sigmoid", "selu"):
        fn = activations.get(name)
        prim, params = activations.fused_primitive(fn)
        fused = ops.dense(_tensor(x), _tensor(k), _tensor(b), prim, params)
        unfused = fn(_tensor(x @ k + b))
        np.testing.assert_allclose(fused.numpy(), unfused.numpy(), rtol=1e-10)


def test_relu_rejects_negative_slope():
    with pytest.raises(ValueError, match="negative_slope"):
        activations.relu(np.zeros(2, "float32"), negative_slope=-1.0)


def test_glu_needs_even_axis():
    with pytest.raises(ValueError, match="even"):
        activations.glu(np.zeros((2, 3), "float32"))
