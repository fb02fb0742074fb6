"""Metrics: running weighted means over batches, accuracy variants, lookup and the accuracy shortcut."""

from __future__ import annotations

import numpy as np
import pytest

from gpukeras import losses, metrics, ops
from gpukeras.autodiff import GradientTape
from gpukeras.tensor import Variable


def _val(metric):
    return float(ops.convert_to_numpy(metric.result()))


def test_mean_weighted_and_reset():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state([4.0], sample_weight=[3.0])
    assert _val(m) == pytest.approx((6 + 12) / 6)
    assert len(m.variables) == 2
    m.reset_state()
    assert _val(m) == 0.0  # no NaN on an empty state
    m.update_state(np.array([[1.0, 3.0], [5.0, 7.0]]), sample_weight=np.array([1.0, 0.0]))
    assert _val(m) == pytest.approx(2.0)


def test_sum():
    m = metrics.Sum()
    m.update_state([1.0, 2.0])
    m.update_state([[1.0, 1.0]], sample_weight=[2.0])
    assert _val(m) == pytest.approx(7.0)


def test_keras_doc_examples():
    cases = [
        (metrics.Accuracy(), [[1], [2], [3], [4]], [[0], [2], [3], [4]], [1, 1, 0, 0], 0.75, 0.5),
        (metrics.BinaryAccuracy(), [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], [1, 0, 0, 1], 0.75, 0.5),
        (metrics.CategoricalAccuracy(), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3],
         0.5, 0.3),
        (metrics.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], [0.7, 0.3], 0.5, 0.3),
        (metrics.TopKCategoricalAccuracy(k=1), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
         [0.7, 0.3], 0.5, 0.3),
        (metrics.SparseTopKCategoricalAccuracy(k=1), [2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3],
         0.5, 0.3),
    ]
    for metric, y_true, y_pred, sw, plain, weighted in cases:
        metric.update_state(np.array(y_true), np.array(y_pred, "float32"))
        assert _val(metric) == pytest.approx(plain), metric.name
        metric.reset_state()
        metric.update_state(np.array(y_true), np.array(y_pred, "float32"), sample_weight=np.array(sw, "float32"))
        assert _val(metric) == pytest.approx(weighted), metric.name


def test_sparse_accuracy_with_flat_labels_and_top_k():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([2, 1, 0]), np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0], [0.5, 0.2, 0.3]], "float32"))
    assert _val(m) == pytest.approx(2 / 3)
    top2 = metrics.SparseTopKCategoricalAccuracy(k=2)
    top2.update_state(np.array([2, 0]), np.array([[0.1, 0.6, 0.3], [0.1, 0.6, 0.3]], "float32"))
    assert _val(top2) == pytest.approx(0.5)


def test_binary_accuracy_rank1_labels_and_threshold():
    m = metrics.BinaryAccuracy(threshold=0.7)
    m.update_state(np.array([1, 0, 1, 1]), np.array([[0.8], [0.75], [0.6], [0.9]], "float32"))
    assert _val(m) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="threshold"):
        metrics.BinaryAccuracy(threshold=1.5)


def test_running_mean_over_batches_weighted_by_size():
    m = metrics.MeanSquaredError()
    rng = np.random.default_rng(3)
    a_t, a_p = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    b_t, b_p = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    m.update_state(a_t, a_p)
    m.update_state(b_t, b_p)
    per = np.concatenate([((a_t - a_p) ** 2).mean(-1), ((b_t - b_p) ** 2).mean(-1)])
    assert _val(m) == pytest.approx(per.mean(), rel=1e-5)
    mae = metrics.MeanAbsoluteError()
    mae.update_state(a_t, a_p, sample_weight=[1, 2, 3, 4])
    assert _val(mae) == pytest.approx((np.abs(a_t - a_p).mean(-1) * [1, 2, 3, 4]).sum() / 10, rel=1e-5)


def test_loss_based_metrics_match_losses():
    rng = np.random.default_rng(4)
    t = np.eye(3, dtype="float32")[[0, 1, 2, 1]]
    p = rng.uniform(0.1, 1, size=(4, 3)).astype("float32")
    for metric, fn in ((metrics.CategoricalCrossentropy(), losses.categorical_crossentropy),
                       (metrics.BinaryCrossentropy(), losses.binary_crossentropy),
                       (metrics.KLDivergence(), losses.kl_divergence), (metrics.Poisson(), losses.poisson),
                       (metrics.Hinge(), losses.hinge), (metrics.SquaredHinge(), losses.squared_hinge),
                       (metrics.CategoricalHinge(), losses.categorical_hinge),
                       (metrics.LogCoshError(), losses.log_cosh),
                       (metrics.MeanAbsolutePercentageError(), losses.mean_absolute_percentage_error),
                       (metrics.MeanSquaredLogarithmicError(), losses.mean_squared_logarithmic_error)):
        metric.update_state(t, p)
        assert _val(metric) == pytest.approx(float(fn(t, p).numpy().mean()), rel=1e-5), metric.name
    cos = metrics.CosineSimilarity()
    cos.update_state(t, p)
    assert _val(cos) == pytest.approx(-float(losses.cosine_similarity(t, p).numpy().mean()), rel=1e-5)
    scce = metrics.SparseCategoricalCrossentropy(from_logits=True)
    scce.update_state(np.array([0, 1, 2, 1]), p)
    assert _val(scce) == pytest.approx(float(losses.categorical_crossentropy(t, p, from_logits=True).numpy().mean()),
                                       rel=1e-5)


def test_update_inside_tape_builds_no_graph():
    w = Variable(np.array([[0.2, 0.8], [0.9, 0.1]], "float32"), name="w")
    m = metrics.CategoricalAccuracy()
    with GradientTape():
        m.update_state(np.array([[0, 1], [1, 0]]), w * 1.0)
        result = m.result()
    assert result.node is None and m.total.node is None
    assert _val(m) == 1.0


def test_get_uses_string_as_name():
    for name, cls in (("mae", metrics.MeanMetricWrapper), ("mse", metrics.MeanMetricWrapper),
                      ("accuracy", metrics.MeanMetricWrapper), ("MeanSquaredError", metrics.MeanSquaredError),
                      ("categorical_accuracy", metrics.MeanMetricWrapper),
                      ("SparseCategoricalAccuracy", metrics.SparseCategoricalAccuracy)):
        m = metrics.get(name)
        assert isinstance(m, cls) and m.name == name
    inst = metrics.Mean(name="x")
    assert metrics.get(inst) is inst
    assert metrics.get(metrics.BinaryAccuracy).name == "binary_accuracy"

    def my_metric(y_true, y_pred):
        return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)

    m = metrics.get(my_metric)
    assert m.name == "my_metric"
    m.update_state(np.ones((2, 2)), np.zeros((2, 2)))
    assert _val(m) == 1.0
    with pytest.raises(ValueError, match="MeanSquaredError") as info:
        metrics.get("not_a_metric")
    assert "not_a_metric" in str(info.value)


def test_resolve_accuracy_rule():
    cases = [
        (("accuracy", (8, 1), (8, 1), None), metrics.BinaryAccuracy),
        (("acc", (8,), (8, 1), None), metrics.BinaryAccuracy),
        (("accuracy", (8,), (8, 5), None), metrics.SparseCategoricalAccuracy),
        (("accuracy", (8, 1), (8, 5), None), metrics.SparseCategoricalAccuracy),
        (("accuracy", (8, 5), (8, 5), None), metrics.CategoricalAccuracy),
        (("accuracy", (8, 5), (8, 5), "binary_crossentropy"), metrics.BinaryAccuracy),
        (("accuracy", (8, 5), (8, 5), losses.BinaryCrossentropy(from_logits=True)), metrics.BinaryAccuracy),
        (("accuracy", (8, 5), (8, 5), "sparse_categorical_crossentropy"), metrics.SparseCategoricalAccuracy),
        (("accuracy", (8, 5), (8, 5), losses.get("mse")), metrics.CategoricalAccuracy),
        (("crossentropy", (8,), (8, 5), None), metrics.SparseCategoricalCrossentropy),
        (("ce", (8, 1), (8, 1), None), metrics.BinaryCrossentropy),
    ]
    for args, cls in cases:
        m = metrics.resolve_accuracy(*args)
        assert type(m) is cls and m.name == args[0], args
    assert isinstance(metrics.get_for_compile("acc", (4,), (4, 3)), metrics.SparseCategoricalAccuracy)
    assert metrics.get_for_compile("mae", (4,), (4, 1)).name == "mae"
    with pytest.raises(ValueError, match="accuracy"):
        metrics.resolve_accuracy("precision", (1,), (1,))


def test_config_round_trip():
    m = metrics.BinaryAccuracy(name="ba", threshold=0.3)
    clone = metrics.deserialize(metrics.serialize(m))
    assert isinstance(clone, metrics.BinaryAccuracy) and clone.name == "ba" and clone.threshold == 0.3
    assert metrics.CategoricalCrossentropy(from_logits=True).get_config()["from_logits"] is True
