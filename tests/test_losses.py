"""Losses: closed-form values (Keras 3 formulas), sample weights, reductions, rank matching, lookup."""

from __future__ import annotations

import numpy as np
import pytest

from gpukeras import losses, ops
from gpukeras.autodiff import GradientTape
from gpukeras.tensor import Tensor, Variable

EPS = 1e-7
RNG = np.random.default_rng(7)
Y_TRUE = RNG.uniform(0, 1, size=(4, 3)).astype("float32")
Y_PRED = RNG.uniform(0.05, 0.95, size=(4, 3)).astype("float32")
ONE_HOT = np.eye(3, dtype="float32")[[0, 2, 1, 2]]
LABELS = np.array([0, 2, 1, 2])
LOGITS = RNG.normal(size=(4, 3)).astype("float32")
PROBS = (np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)).astype("float32")
BINARY = (RNG.uniform(size=(4, 3)) > 0.5).astype("float32")
SW = np.array([0.5, 1.0, 2.0, 0.0], dtype="float32")


def _log_softmax(z):
    z = z.astype("float64")
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _bce(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)


def _cce(t, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(t * np.log(p)).sum(-1)


def _close(actual, expected, rtol=2e-6):
    np.testing.assert_allclose(ops.convert_to_numpy(actual), expected, rtol=rtol, atol=1e-6)


PER_SAMPLE = {
    "mse": (losses.MeanSquaredError(), Y_TRUE, Y_PRED, lambda t, p: ((t - p) ** 2).mean(-1)),
    "mae": (losses.MeanAbsoluteError(), Y_TRUE, Y_PRED, lambda t, p: np.abs(t - p).mean(-1)),
    "bce": (losses.BinaryCrossentropy(), BINARY, Y_PRED, _bce),
    "bce_logits": (losses.BinaryCrossentropy(from_logits=True), BINARY, LOGITS,
                   lambda t, z: (t * _softplus(-z) + (1 - t) * _softplus(z)).mean(-1)),
    "bce_smooth": (losses.BinaryCrossentropy(label_smoothing=0.2), BINARY, Y_PRED,
                   lambda t, p: _bce(t * 0.8 + 0.1, p)),
    "cce": (losses.CategoricalCrossentropy(), ONE_HOT, Y_PRED, _cce),
    "cce_logits": (losses.CategoricalCrossentropy(from_logits=True), ONE_HOT, LOGITS,
                   lambda t, z: -(t * _log_softmax(z)).sum(-1)),
    "cce_smooth": (losses.CategoricalCrossentropy(label_smoothing=0.3), ONE_HOT, Y_PRED,
                   lambda t, p: _cce(t * 0.7 + 0.1, p)),
    "scce": (losses.SparseCategoricalCrossentropy(), LABELS, Y_PRED, lambda t, p: _cce(ONE_HOT, p)),
    "scce_logits": (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS,
                    lambda t, z: -_log_softmax(z)[np.arange(4), LABELS]),
    "mape": (losses.MeanAbsolutePercentageError(), Y_TRUE, Y_PRED,
             lambda t, p: 100 * np.abs((t - p) / np.maximum(np.abs(t), EPS)).mean(-1)),
    "msle": (losses.MeanSquaredLogarithmicError(), Y_TRUE, Y_PRED,
             lambda t, p: ((np.log1p(np.maximum(p, EPS)) - np.log1p(np.maximum(t, EPS))) ** 2).mean(-1)),
    "huber": (losses.Huber(delta=0.3), Y_TRUE, Y_PRED,
              lambda t, p: np.where(np.abs(p - t) <= 0.3, 0.5 * (p - t) ** 2,
                                    0.3 * np.abs(p - t) - 0.045).mean(-1)),
    "log_cosh": (losses.LogCosh(), Y_TRUE, LOGITS, lambda t, p: np.log(np.cosh(p - t)).mean(-1)),
    "kld": (losses.KLDivergence(), PROBS, Y_PRED,
            lambda t, p: (np.clip(t, EPS, 1) * np.log(np.clip(t, EPS, 1) / np.clip(p, EPS, 1))).sum(-1)),
    "poisson": (losses.Poisson(), Y_TRUE, Y_PRED, lambda t, p: (p - t * np.log(p + EPS)).mean(-1)),
    "hinge": (losses.Hinge(), BINARY, LOGITS, lambda t, p: np.maximum(1 - (2 * t - 1) * p, 0).mean(-1)),
    "squared_hinge": (losses.SquaredHinge(), BINARY, LOGITS,
                      lambda t, p: (np.maximum(1 - (2 * t - 1) * p, 0) ** 2).mean(-1)),
    "categorical_hinge": (losses.CategoricalHinge(), ONE_HOT, LOGITS,
                          lambda t, p: np.maximum(((1 - t) * p).max(-1) - (t * p).sum(-1) + 1, 0)),
    "cosine": (losses.CosineSimilarity(), Y_TRUE, LOGITS,
               lambda t, p: -((t / np.linalg.norm(t, axis=-1, keepdims=True))
                              * (p / np.linalg.norm(p, axis=-1, keepdims=True))).sum(-1)),
    "binary_focal": (losses.BinaryFocalCrossentropy(gamma=2.0), BINARY, Y_PRED,
                     lambda t, p: ((1 - (t * p + (1 - t) * (1 - p))) ** 2
                                   * -(t * np.log(p) + (1 - t) * np.log(1 - p))).mean(-1)),
    "binary_focal_balanced": (losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3),
                              BINARY, Y_PRED,
                              lambda t, p: ((t * 0.3 + (1 - t) * 0.7) * (1 - (t * p + (1 - t) * (1 - p))) ** 2
                                            * -(t * np.log(p) + (1 - t) * np.log(1 - p))).mean(-1)),
    "categorical_focal": (losses.CategoricalFocalCrossentropy(), ONE_HOT, PROBS,
                          lambda t, p: (0.25 * (1 - p) ** 2 * -t * np.log(p)).sum(-1)),
}


@pytest.mark.parametrize("case", sorted(PER_SAMPLE))
def test_reductions_and_sample_weights(case):
    loss, t, p, ref = PER_SAMPLE[case]
    per_sample = ref(t.astype("float64"), p.astype("float64"))
    _close(loss(t, p), per_sample.mean())
    _close(loss(t, p, sample_weight=SW), (per_sample * SW).sum() / 4)  # divided by the element count
    config = loss.get_config()
    for reduction, expected in (("sum", per_sample.sum()), ("none", per_sample),
                                ("mean_with_sample_weight", (per_sample * SW).sum() / SW.sum())):
        other = type(loss).from_config({**config, "reduction": reduction})
        _close(other(t, p, sample_weight=SW if reduction == "mean_with_sample_weight" else None), expected)
    _close(loss.call(ops.convert_to_tensor(t), ops.convert_to_tensor(p)), per_sample)


def test_function_forms_return_per_sample_values():
    _close(losses.mean_squared_error(Y_TRUE, Y_PRED), ((Y_TRUE - Y_PRED) ** 2).mean(-1))
    _close(losses.binary_crossentropy(BINARY, Y_PRED), _bce(BINARY, Y_PRED))
    _close(losses.categorical_crossentropy(ONE_HOT, Y_PRED), _cce(ONE_HOT, Y_PRED))
    _close(losses.sparse_categorical_crossentropy(LABELS, LOGITS, from_logits=True),
           -_log_softmax(LOGITS)[np.arange(4), LABELS])


def test_rank_matching_n_vs_n1():
    t = np.array([1.0, 0.0, 1.0], "float32")
    p = np.array([[0.9], [0.2], [0.6]], "float32")
    expected = ((t - p[:, 0]) ** 2).mean()
    _close(losses.MeanSquaredError()(t, p), expected)
    _close(losses.MeanSquaredError()(t[:, None], p[:, 0]), expected)
    _close(losses.MeanSquaredError(reduction="none")(t, p), (t - p[:, 0]) ** 2)
    _close(losses.BinaryCrossentropy()(t, p), _bce(t[:, None], p).mean())
    # sample weight of shape (n, 1) against per-sample values of shape (n,)
    _close(losses.MeanSquaredError()(t, p, sample_weight=np.array([[1.0], [2.0], [3.0]])),
           (((t - p[:, 0]) ** 2) * [1, 2, 3]).sum() / 3)


def test_sparse_labels_as_column_and_float():
    for labels in (LABELS[:, None], LABELS.astype("float32")):
        _close(losses.SparseCategoricalCrossentropy(from_logits=True)(labels, LOGITS),
               -_log_softmax(LOGITS)[np.arange(4), LABELS].mean())


def test_sparse_ignore_class_averages_over_valid_labels():
    labels = np.array([0, -1, 1, 2])
    per = -_log_softmax(LOGITS)[np.arange(4), np.where(labels < 0, 0, labels)]
    valid = labels != -1
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    _close(loss(labels, LOGITS), per[valid].sum() / valid.sum())
    summed = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="sum")
    _close(summed(labels, LOGITS), per[valid].sum())
    none = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="none")
    _close(none(labels, LOGITS), np.where(valid, per, 0))


def test_sparse_probabilities_are_renormalized_and_clipped():
    p = np.array([[2.0, 2.0, 0.0], [0.2, 0.3, 0.5]], "float32")
    _close(losses.SparseCategoricalCrossentropy()(np.array([2, 1]), p),
           np.mean([-np.log(EPS), -np.log(0.3)]), rtol=1e-5)


def test_bce_clips_probabilities():
    _close(losses.BinaryCrossentropy()(np.array([[1.0]]), np.array([[0.0]])), -np.log(np.float32(EPS)),
           rtol=1e-5)


def test_gradient_flows_to_predictions():
    logits = Variable(LOGITS, name="logits")
    with GradientTape() as tape:
        value = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, logits)
    grad = tape.gradient(value, logits).numpy()
    np.testing.assert_allclose(grad, (PROBS - ONE_HOT) / 4, rtol=1e-5, atol=1e-7)
    with GradientTape() as tape:
        value = losses.MeanSquaredError()(Y_TRUE, logits, sample_weight=SW)
    np.testing.assert_allclose(tape.gradient(value, logits).numpy(),
                               2 * (LOGITS - Y_TRUE) / 3 * SW[:, None] / 4, rtol=1e-5, atol=1e-7)


def test_empty_batch_and_zero_weights_give_zero_not_nan():
    loss = losses.MeanSquaredError(reduction="mean_with_sample_weight")
    out = loss(Y_TRUE, Y_PRED, sample_weight=np.zeros(4))
    assert float(out) == 0.0


def test_get_resolves_keras_names():
    for name, fn in (("mse", losses.mean_squared_error), ("mean_squared_error", losses.mean_squared_error),
                     ("mae", losses.mean_absolute_error), ("binary_crossentropy", losses.binary_crossentropy),
                     ("categorical_crossentropy", losses.categorical_crossentropy),
                     ("sparse_categorical_crossentropy", losses.sparse_categorical_crossentropy)):
        loss = losses.get(name)
        assert isinstance(loss, losses.Loss) and loss.fn is fn and loss.name == name
        _close(loss(ONE_HOT, PROBS) if "sparse" not in name else loss(LABELS, PROBS),
               fn(ONE_HOT if "sparse" not in name else LABELS, PROBS).numpy().mean())
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    inst = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(inst) is inst
    assert losses.get(None) is None
    original = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    restored = losses.get(losses.serialize(original))
    assert isinstance(restored, losses.CategoricalCrossentropy)
    assert restored.from_logits and restored.label_smoothing == 0.1


def test_plain_function_is_wrapped_and_reduced():
    def my_loss(y_true, y_pred):
        return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)

    loss = losses.get(my_loss)
    assert loss.name == "my_loss"
    _close(loss(Y_TRUE, Y_PRED, sample_weight=SW), (np.abs(Y_TRUE - Y_PRED).mean(-1) * SW).sum() / 4)


def test_unknown_names_and_bad_reduction():
    with pytest.raises(ValueError, match="mean_squared_error") as info:
        losses.get("nope")
    assert "'nope'" in str(info.value)
    with pytest.raises(ValueError, match="sum_over_batch_size"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError):
        losses.get(3)
    with pytest.raises(ValueError, match="unknown arguments"):
        losses.MeanSquaredError(from_logits=True)


def test_crossentropy_shortcut():
    assert losses.resolve_crossentropy("ce", (4,), (4, 1)).fn is losses.binary_crossentropy
    assert losses.resolve_crossentropy("ce", (4,), (4, 3)).fn is losses.sparse_categorical_crossentropy
    assert losses.resolve_crossentropy("crossentropy", (4, 3), (4, 3)).fn is losses.categorical_crossentropy


def test_returns_tensors():
    assert isinstance(losses.MeanSquaredError()(Y_TRUE, Y_PRED), Tensor)
