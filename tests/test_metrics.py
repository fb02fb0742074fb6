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
        (metrics.CategoricalAccuracy(), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
         [0.7, 0.3], 0.5, 0.3),
        (metrics.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], [0.7, 0.3],
         0.5, 0.3),
        (metrics.TopKCategoricalAccuracy(k=1), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
         [0.7, 0.3], 0.5, 0.3),
        (metrics.SparseTopKCategoricalAccuracy(k=1), [2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3],
         0.5, 0.3),
    ]
    for metric, y_true, y_pred, sw, plain, weighted in cases:
        metric.update_state(np.array(y_true), np.array(y_pred, "float32"))
        assert _val(metric) == pytest.approx(plain), metric.name
        metric.reset_state()
        metric.update_state(np.array(y_true), np.array(y_pred, "float32"),
                            sample_weight=np.array(sw, "float32"))
        assert _val(metric) == pytest.approx(weighted), metric.name


def test_sparse_accuracy_with_flat_labels_and_top_k():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([2, 1, 0]),
                   np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0], [0.5, 0.2, 0.3]], "float32"))
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
    expected = float(losses.categorical_crossentropy(t, p, from_logits=True).numpy().mean())
    assert _val(scce) == pytest.approx(expected, rel=1e-5)


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


# ------------------------------------------------------------------------ threshold, F-score and R2 metrics
T2 = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1]], "float32")
P2 = np.array([[0.9, 0.2, 0.4], [0.6, 0.1, 0.8], [0.7, 0.55, 0.3], [0.2, 0.45, 0.95]], "float32")
SW2 = np.array([1.0, 2.0, 0.5, 1.5], "float32")


def test_precision_recall_and_counts():
    w = np.broadcast_to(SW2[:, None], P2.shape)
    for thr in (0.5, 0.3):
        pos = P2 > thr
        tp, fp = (w * (pos & (T2 == 1))).sum(), (w * (pos & (T2 == 0))).sum()
        fn, tn = (w * (~pos & (T2 == 1))).sum(), (w * (~pos & (T2 == 0))).sum()
        prec, rec = metrics.Precision(thresholds=thr), metrics.Recall(thresholds=thr)
        prec.update_state(T2, P2, sample_weight=SW2)
        rec.update_state(T2, P2, sample_weight=SW2)
        assert _val(prec) == pytest.approx(tp / (tp + fp), rel=1e-6)
        assert _val(rec) == pytest.approx(tp / (tp + fn), rel=1e-6)
        for cls, expected in ((metrics.TruePositives, tp), (metrics.FalsePositives, fp),
                              (metrics.TrueNegatives, tn), (metrics.FalseNegatives, fn)):
            m = cls(thresholds=thr)
            m.update_state(T2, P2, sample_weight=SW2)
            assert _val(m) == pytest.approx(expected, rel=1e-6)
    multi = metrics.Precision(thresholds=[0.3, 0.5, 0.8])
    multi.update_state(T2, P2)
    assert multi.result().shape == (3,)


def test_precision_top_k_and_class_id():
    m = metrics.Precision(top_k=1)
    m.update_state(T2, P2)
    top = P2.argmax(-1)
    assert _val(m) == pytest.approx(T2[np.arange(4), top].mean())
    m = metrics.Recall(class_id=2)
    m.update_state(T2, P2)
    assert _val(m) == pytest.approx(((P2[:, 2] > 0.5) & (T2[:, 2] == 1)).sum() / T2[:, 2].sum())


def _roc_auc_reference(t, p, n=200):
    thr = np.array([-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7])
    pos = p.reshape(1, -1) > thr[:, None]
    lab = t.reshape(1, -1) == 1
    tp, fp = (pos & lab).sum(1), (pos & ~lab).sum(1)
    fn, tn = (~pos & lab).sum(1), (~pos & ~lab).sum(1)
    tpr, fpr = tp / (tp + fn), fp / (fp + tn)
    return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


def test_auc_roc_and_pr():
    m = metrics.AUC()
    m.update_state(T2, P2)
    assert _val(m) == pytest.approx(_roc_auc_reference(T2, P2), rel=1e-5)
    perfect = metrics.AUC()
    perfect.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert _val(perfect) == pytest.approx(1.0, rel=1e-6)
    pr = metrics.AUC(curve="PR", summation_method="majoring")
    pr.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert _val(pr) == pytest.approx(1.0, rel=1e-5)
    multi = metrics.AUC(multi_label=True)
    multi.update_state(T2, P2)
    per_label = [_roc_auc_reference(T2[:, j], P2[:, j]) for j in range(3)]
    assert _val(multi) == pytest.approx(np.mean(per_label), rel=1e-5)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XYZ")


def test_f1_and_fbeta():
    pred = (P2 > 0.5).astype("float32")
    tp, fp, fn = (pred * T2).sum(0), (pred * (1 - T2)).sum(0), ((1 - pred) * T2).sum(0)
    p, r = tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)
    f1 = 2 * p * r / (p + r + 1e-7)
    m = metrics.F1Score(threshold=0.5)
    m.update_state(T2, P2)
    np.testing.assert_allclose(m.result().numpy(), f1, rtol=1e-5)
    macro = metrics.F1Score(average="macro", threshold=0.5)
    macro.update_state(T2, P2)
    assert _val(macro) == pytest.approx(f1.mean(), rel=1e-5)
    f2 = metrics.FBetaScore(beta=2.0, threshold=0.5, average="micro")
    f2.update_state(T2, P2)
    P, R = tp.sum() / (tp.sum() + fp.sum() + 1e-7), tp.sum() / (tp.sum() + fn.sum() + 1e-7)
    assert _val(f2) == pytest.approx(5 * P * R / (4 * P + R + 1e-7), rel=1e-5)
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="mean")


def test_r2_and_rmse():
    y, p = P2, P2 * 0.8 + 0.1
    m = metrics.R2Score()
    m.update_state(y, p)
    per = 1 - ((y - p) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    assert _val(m) == pytest.approx(per.mean(), rel=1e-5)
    raw = metrics.R2Score(class_aggregation=None)
    raw.update_state(y, p)
    np.testing.assert_allclose(raw.result().numpy(), per, rtol=1e-5)
    rmse = metrics.RootMeanSquaredError()
    rmse.update_state(y, p, sample_weight=SW2)
    expected = np.sqrt((((y - p) ** 2).mean(-1) * SW2).sum() / SW2.sum())
    assert _val(rmse) == pytest.approx(expected, rel=1e-5)


def test_keras_snake_case_names():
    for name, cls in (("auc", metrics.AUC), ("precision", metrics.Precision), ("recall", metrics.Recall),
                      ("f1_score", metrics.F1Score), ("r2_score", metrics.R2Score),
                      ("root_mean_squared_error", metrics.RootMeanSquaredError),
                      ("mse", metrics.MeanSquaredError)):
        m = metrics.get(name)
        assert type(m) is cls and m.name == name
