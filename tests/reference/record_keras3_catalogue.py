"""Record reference numbers for the catalogue (losses, metrics, optimizers, schedules, activations) from Keras 3.

``tests/test_keras3_catalogue.py`` replays every case here on gpukeras and compares with these numbers.
All inputs are generated deterministically with ``np.random.RandomState`` in float32 and written into the
JSON file, so the consuming test never regenerates (or needs) anything from Keras.

How to re-record (from the repository root, with a side venv that has Keras 3 + JAX, CPU is fine)::

    python3 -m venv /tmp/k3venv
    /tmp/k3venv/bin/pip install keras jax numpy
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_catalogue.py

Output: ``tests/fixtures/keras3_catalogue.json`` (one top-level entry per line).  Top-level keys:

* ``versions`` / ``recorded_on``: what produced the numbers.
* ``inputs``: named float32 (or int) arrays used by the cases below.
* ``losses``: list of ``{"id", "class", "kwargs", "y_true", "y_pred", "results"}``; ``y_true``/``y_pred`` name
  arrays in ``inputs``; ``results`` maps ``"<reduction>"`` and ``"<reduction>+sw"`` (with
  ``inputs["loss_sample_weight"]``) to the value Keras returned.
* ``metrics``: list of ``{"id", "class", "kwargs", "updates", "results"}``; ``updates`` is a list of argument
  lists (names in ``inputs``; the second update also passes ``sample_weight``); ``results`` holds
  ``result()`` after each update.
* ``optimizers``: list of ``{"id", "class", "kwargs", "steps"}`` (plus ``"finalized"`` for use_ema); all start
  from ``inputs["opt_w0"]``/``["opt_w1"]`` and apply ``inputs["opt_grads"][step]``; ``steps`` holds both
  variables after each of the 5 ``apply`` calls, ``iterations`` the counter after the last.
* ``schedules``: list of ``{"id", "class", "kwargs", "values"}``; ``values[s]`` is ``schedule(s)`` for s = 0..50.
* ``activations``: list of ``{"id", "name", "kwargs", "x", "forward", "grad"}``: ``forward = act(x, **kwargs)``
  and ``grad = jax.grad(lambda x: sum(act(x, **kwargs) * inputs["act_w"]))(x)``.
"""

import datetime
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "keras3_catalogue.json")
F32 = np.float32


def f32list(a):
    return np.asarray(a, dtype=F32).tolist()


def make_inputs():
    rs = np.random.RandomState(2024)
    d = {}
    # losses: batch of 4
    d["reg_true"] = rs.uniform(0.1, 2.0, size=(4, 3)).astype(F32)
    d["reg_pred"] = rs.uniform(0.1, 2.0, size=(4, 3)).astype(F32)
    d["bin_true"] = rs.randint(0, 2, size=(4, 3)).astype(F32)
    d["bin_prob"] = rs.uniform(0.05, 0.95, size=(4, 3)).astype(F32)
    d["bin_logits"] = rs.normal(0, 2, size=(4, 3)).astype(F32)
    labels = rs.randint(0, 5, size=4)
    labels[1] = 2  # make sure the ignored class (2) occurs
    d["sparse_true"] = labels.astype(np.int64)
    d["cat_true"] = np.eye(5, dtype=F32)[labels]
    d["cat_logits"] = rs.normal(0, 2, size=(4, 5)).astype(F32)
    e = np.exp(d["cat_logits"] - d["cat_logits"].max(-1, keepdims=True))
    d["cat_prob"] = (e / e.sum(-1, keepdims=True)).astype(F32)
    p = rs.uniform(0.05, 1.0, size=(4, 5))
    d["dist_true"] = (p / p.sum(-1, keepdims=True)).astype(F32)
    d["real_pred"] = rs.normal(0, 1.5, size=(4, 3)).astype(F32)
    d["real_true"] = rs.normal(0, 1.5, size=(4, 3)).astype(F32)
    d["loss_sample_weight"] = rs.uniform(0.5, 1.5, size=(4,)).astype(F32)
    # metrics: two batches of 8
    for k in (1, 2):
        d[f"m_bin_true{k}"] = rs.randint(0, 2, size=(8, 1)).astype(F32)
        d[f"m_bin_prob{k}"] = rs.uniform(0, 1, size=(8, 1)).astype(F32)
        lab = rs.randint(0, 4, size=8)
        d[f"m_sparse_true{k}"] = lab.astype(np.int64)
        d[f"m_cat_true{k}"] = np.eye(4, dtype=F32)[lab]
        d[f"m_cat_prob{k}"] = rs.dirichlet(np.ones(4), size=8).astype(F32)
        d[f"m_int_true{k}"] = rs.randint(0, 3, size=(8,)).astype(F32)
        d[f"m_int_pred{k}"] = rs.randint(0, 3, size=(8,)).astype(F32)
        d[f"m_reg_true{k}"] = rs.uniform(0.2, 3.0, size=(8, 2)).astype(F32)
        d[f"m_reg_pred{k}"] = rs.uniform(0.2, 3.0, size=(8, 2)).astype(F32)
        d[f"m_multi_true{k}"] = rs.randint(0, 2, size=(8, 3)).astype(F32)
        d[f"m_multi_prob{k}"] = rs.uniform(0, 1, size=(8, 3)).astype(F32)
        d[f"m_values{k}"] = rs.normal(size=(8,)).astype(F32)
    d["m_sample_weight"] = rs.uniform(0.0, 2.0, size=(8,)).astype(F32)
    # optimizers
    d["opt_w0"] = rs.normal(size=(3, 2)).astype(F32)
    d["opt_w1"] = rs.normal(size=(2,)).astype(F32)
    d["opt_grads"] = [[rs.normal(size=(3, 2)).astype(F32), rs.normal(size=(2,)).astype(F32)] for _ in range(5)]
    # activations: values spread over [-7, 7], none exactly on a kink (0, thresholds, 6, max_value)
    x = rs.uniform(-7, 7, size=(4, 6)).astype(F32)
    d["act_x"] = x
    d["act_w"] = rs.normal(size=(4, 6)).astype(F32)
    return d


def loss_cases():
    reg = ("reg_true", "reg_pred")
    out = []

    def add(cid, cls, kwargs, y_true, y_pred):
        out.append(dict(id=cid, cls=cls, kwargs=kwargs, y_true=y_true, y_pred=y_pred))

    add("mse", "MeanSquaredError", {}, *reg)
    add("mae", "MeanAbsoluteError", {}, *reg)
    add("mape", "MeanAbsolutePercentageError", {}, *reg)
    add("msle", "MeanSquaredLogarithmicError", {}, *reg)
    add("huber", "Huber", {}, "real_true", "real_pred")
    add("huber_delta", "Huber", {"delta": 0.5}, "real_true", "real_pred")
    add("log_cosh", "LogCosh", {}, "real_true", "real_pred")
    add("bce", "BinaryCrossentropy", {}, "bin_true", "bin_prob")
    add("bce_logits", "BinaryCrossentropy", {"from_logits": True}, "bin_true", "bin_logits")
    add("bce_smooth", "BinaryCrossentropy", {"label_smoothing": 0.2}, "bin_true", "bin_prob")
    add("bce_logits_smooth", "BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1},
        "bin_true", "bin_logits")
    add("cce", "CategoricalCrossentropy", {}, "cat_true", "cat_prob")
    add("cce_logits", "CategoricalCrossentropy", {"from_logits": True}, "cat_true", "cat_logits")
    add("cce_smooth", "CategoricalCrossentropy", {"label_smoothing": 0.2}, "cat_true", "cat_prob")
    add("cce_logits_smooth", "CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1},
        "cat_true", "cat_logits")
    add("scce", "SparseCategoricalCrossentropy", {}, "sparse_true", "cat_prob")
    add("scce_logits", "SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_true", "cat_logits")
    add("scce_ignore", "SparseCategoricalCrossentropy", {"ignore_class": 2}, "sparse_true", "cat_prob")
    add("scce_logits_ignore", "SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 2},
        "sparse_true", "cat_logits")
    add("bfce", "BinaryFocalCrossentropy", {}, "bin_true", "bin_prob")
    add("bfce_balanced", "BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5},
        "bin_true", "bin_prob")
    add("bfce_logits_smooth", "BinaryFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.1},
        "bin_true", "bin_logits")
    add("cfce", "CategoricalFocalCrossentropy", {}, "cat_true", "cat_prob")
    add("cfce_logits_smooth", "CategoricalFocalCrossentropy",
        {"from_logits": True, "label_smoothing": 0.1, "alpha": 0.5, "gamma": 1.0}, "cat_true", "cat_logits")
    add("kld", "KLDivergence", {}, "dist_true", "cat_prob")
    add("poisson", "Poisson", {}, *reg)
    add("hinge", "Hinge", {}, "bin_true", "real_pred")
    add("squared_hinge", "SquaredHinge", {}, "bin_true", "real_pred")
    add("categorical_hinge", "CategoricalHinge", {}, "cat_true", "cat_logits")
    add("cosine", "CosineSimilarity", {}, "real_true", "real_pred")
    return out


def metric_cases():
    out = []

    def add(cid, cls, kwargs, a, b=None):
        u1 = [a + "1"] if b is None else [a + "1", b + "1"]
        u2 = [a + "2"] if b is None else [a + "2", b + "2"]
        out.append(dict(id=cid, cls=cls, kwargs=kwargs, updates=[u1, u2]))

    add("accuracy", "Accuracy", {}, "m_int_true", "m_int_pred")
    add("binary_accuracy", "BinaryAccuracy", {}, "m_bin_true", "m_bin_prob")
    add("binary_accuracy_t07", "BinaryAccuracy", {"threshold": 0.7}, "m_bin_true", "m_bin_prob")
    add("categorical_accuracy", "CategoricalAccuracy", {}, "m_cat_true", "m_cat_prob")
    add("sparse_categorical_accuracy", "SparseCategoricalAccuracy", {}, "m_sparse_true", "m_cat_prob")
    add("top_k", "TopKCategoricalAccuracy", {"k": 2}, "m_cat_true", "m_cat_prob")
    add("sparse_top_k", "SparseTopKCategoricalAccuracy", {"k": 2}, "m_sparse_true", "m_cat_prob")
    add("mean", "Mean", {}, "m_values")
    add("sum", "Sum", {}, "m_values")
    add("mse", "MeanSquaredError", {}, "m_reg_true", "m_reg_pred")
    add("mae", "MeanAbsoluteError", {}, "m_reg_true", "m_reg_pred")
    add("rmse", "RootMeanSquaredError", {}, "m_reg_true", "m_reg_pred")
    add("mape", "MeanAbsolutePercentageError", {}, "m_reg_true", "m_reg_pred")
    add("precision", "Precision", {}, "m_bin_true", "m_bin_prob")
    add("precision_t03", "Precision", {"thresholds": 0.3}, "m_bin_true", "m_bin_prob")
    add("recall", "Recall", {}, "m_bin_true", "m_bin_prob")
    add("recall_t07", "Recall", {"thresholds": 0.7}, "m_bin_true", "m_bin_prob")
    add("auc_roc", "AUC", {}, "m_bin_true", "m_bin_prob")
    add("auc_pr", "AUC", {"curve": "PR"}, "m_bin_true", "m_bin_prob")
    add("auc_roc_multilabel", "AUC", {"multi_label": True, "num_thresholds": 50}, "m_multi_true", "m_multi_prob")
    add("f1_macro", "F1Score", {"average": "macro", "threshold": 0.5}, "m_multi_true", "m_multi_prob")
    add("f1_micro", "F1Score", {"average": "micro", "threshold": 0.4}, "m_multi_true", "m_multi_prob")
    add("f1_none", "F1Score", {"threshold": 0.5}, "m_multi_true", "m_multi_prob")
    add("f1_weighted", "F1Score", {"average": "weighted", "threshold": 0.5}, "m_multi_true", "m_multi_prob")
    add("r2", "R2Score", {}, "m_reg_true", "m_reg_pred")
    add("r2_raw", "R2Score", {"class_aggregation": None}, "m_reg_true", "m_reg_pred")
    add("r2_var_weighted", "R2Score", {"class_aggregation": "variance_weighted_average"},
        "m_reg_true", "m_reg_pred")
    # losses used as metrics
    add("m_bce", "BinaryCrossentropy", {}, "m_bin_true", "m_bin_prob")
    add("m_bce_smooth", "BinaryCrossentropy", {"label_smoothing": 0.1}, "m_multi_true", "m_multi_prob")
    add("m_cce", "CategoricalCrossentropy", {}, "m_cat_true", "m_cat_prob")
    add("m_scce", "SparseCategoricalCrossentropy", {}, "m_sparse_true", "m_cat_prob")
    add("m_kld", "KLDivergence", {}, "m_cat_true", "m_cat_prob")
    add("m_poisson", "Poisson", {}, "m_reg_true", "m_reg_pred")
    add("m_msle", "MeanSquaredLogarithmicError", {}, "m_reg_true", "m_reg_pred")
    add("m_logcosh", "LogCoshError", {}, "m_reg_true", "m_reg_pred")
    add("m_hinge", "Hinge", {}, "m_multi_true", "m_multi_prob")
    add("m_squared_hinge", "SquaredHinge", {}, "m_multi_true", "m_multi_prob")
    add("m_categorical_hinge", "CategoricalHinge", {}, "m_cat_true", "m_cat_prob")
    add("m_cosine", "CosineSimilarity", {}, "m_reg_true", "m_reg_pred")
    return out


def optimizer_cases():
    out = []

    def add(cid, cls, **kwargs):
        out.append(dict(id=cid, cls=cls, kwargs=kwargs))

    add("sgd", "SGD", learning_rate=0.1)
    add("sgd_momentum", "SGD", learning_rate=0.1, momentum=0.9)
    add("sgd_nesterov", "SGD", learning_rate=0.1, momentum=0.8, nesterov=True)
    add("adam", "Adam", learning_rate=0.05)
    add("adam_amsgrad", "Adam", learning_rate=0.05, amsgrad=True, beta_1=0.8, beta_2=0.95, epsilon=1e-4)
    add("adamw", "AdamW", learning_rate=0.05, weight_decay=0.1)
    add("rmsprop", "RMSprop", learning_rate=0.02)
    add("rmsprop_rho_momentum", "RMSprop", learning_rate=0.02, rho=0.8, momentum=0.5)
    add("rmsprop_centered", "RMSprop", learning_rate=0.02, momentum=0.3, centered=True)
    add("adagrad", "Adagrad", learning_rate=0.1)
    add("adadelta", "Adadelta", learning_rate=1.0, rho=0.9)
    add("adamax", "Adamax", learning_rate=0.05)
    add("nadam", "Nadam", learning_rate=0.05)
    add("lion", "Lion", learning_rate=0.02)
    add("lion_betas", "Lion", learning_rate=0.02, beta_1=0.5, beta_2=0.9)
    add("sgd_clipnorm", "SGD", learning_rate=0.1, momentum=0.5, clipnorm=0.5)
    add("adam_clipvalue", "Adam", learning_rate=0.05, clipvalue=0.3)
    add("sgd_global_clipnorm", "SGD", learning_rate=0.1, global_clipnorm=1.0)
    add("adam_weight_decay", "Adam", learning_rate=0.05, weight_decay=0.2)
    add("sgd_weight_decay", "SGD", learning_rate=0.1, weight_decay=0.3)
    add("sgd_ema", "SGD", learning_rate=0.1, use_ema=True, ema_momentum=0.9)
    add("adam_ema", "Adam", learning_rate=0.05, use_ema=True, ema_momentum=0.8)
    add("sgd_grad_accum", "SGD", learning_rate=0.1, momentum=0.5, gradient_accumulation_steps=2)
    add("adam_grad_accum", "Adam", learning_rate=0.05, gradient_accumulation_steps=2)
    return out


def schedule_cases():
    s = keras.optimizers.schedules
    return [
        ("exponential", s.ExponentialDecay, dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.8)),
        ("exponential_staircase", s.ExponentialDecay,
         dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.8, staircase=True)),
        ("piecewise", s.PiecewiseConstantDecay, dict(boundaries=[10, 25, 40], values=[1.0, 0.5, 0.1, 0.01])),
        ("polynomial", s.PolynomialDecay,
         dict(initial_learning_rate=0.1, decay_steps=30, end_learning_rate=0.01, power=2.0)),
        ("polynomial_cycle", s.PolynomialDecay,
         dict(initial_learning_rate=0.1, decay_steps=12, end_learning_rate=0.01, power=0.5, cycle=True)),
        ("inverse_time", s.InverseTimeDecay, dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5)),
        ("inverse_time_staircase", s.InverseTimeDecay,
         dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5, staircase=True)),
        ("cosine", s.CosineDecay, dict(initial_learning_rate=0.1, decay_steps=40, alpha=0.1)),
        ("cosine_warmup", s.CosineDecay,
         dict(initial_learning_rate=0.0, decay_steps=30, alpha=0.05, warmup_target=0.2, warmup_steps=10)),
        ("cosine_restarts", s.CosineDecayRestarts,
         dict(initial_learning_rate=0.1, first_decay_steps=8, t_mul=2.0, m_mul=0.7, alpha=0.05)),
        ("cosine_restarts_tmul1", s.CosineDecayRestarts,
         dict(initial_learning_rate=0.1, first_decay_steps=6, t_mul=1.0, m_mul=1.0, alpha=0.0)),
    ]


ACTIVATIONS = [
    ("relu", {}), ("relu", {"negative_slope": 0.1}), ("relu", {"max_value": 2.5}),
    ("relu", {"threshold": 0.5}),
    ("relu", {"negative_slope": 0.1, "max_value": 2.5, "threshold": 0.5}),
    ("relu6", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.05}),
    ("elu", {}), ("elu", {"alpha": 1.7}), ("selu", {}), ("gelu", {}), ("gelu", {"approximate": True}),
    ("silu", {}), ("swish", {}), ("sigmoid", {}), ("hard_sigmoid", {}), ("hard_silu", {}), ("hard_swish", {}),
    ("tanh", {}), ("softplus", {}), ("softsign", {}), ("exponential", {}), ("mish", {}), ("linear", {}),
    ("softmax", {}), ("softmax", {"axis": 0}), ("log_softmax", {}), ("log_softmax", {"axis": 0}),
    ("log_sigmoid", {}), ("hard_tanh", {}), ("tanh_shrink", {}), ("celu", {}), ("celu", {"alpha": 0.5}),
    ("squareplus", {}), ("squareplus", {"b": 2.0}), ("soft_shrink", {}), ("soft_shrink", {"threshold": 1.0}),
    ("hard_shrink", {}), ("hard_shrink", {"threshold": 1.0}), ("glu", {}), ("glu", {"axis": 0}),
]


def record_losses(d):
    res = []
    sw = d["loss_sample_weight"]
    for c in loss_cases():
        results = {}
        for red in ("sum_over_batch_size", "sum", "none"):
            loss = getattr(keras.losses, c["cls"])(reduction=red, **c["kwargs"])
            results[red] = f32list(loss(d[c["y_true"]], d[c["y_pred"]]))
            results[red + "+sw"] = f32list(loss(d[c["y_true"]], d[c["y_pred"]], sample_weight=sw))
        res.append({"id": c["id"], "class": c["cls"], "kwargs": c["kwargs"], "y_true": c["y_true"],
                    "y_pred": c["y_pred"], "results": results})
    return res


def record_metrics(d):
    res = []
    for c in metric_cases():
        m = getattr(keras.metrics, c["cls"])(**c["kwargs"])
        results = []
        for i, args in enumerate(c["updates"]):
            kw = {"sample_weight": d["m_sample_weight"]} if i == 1 else {}
            m.update_state(*[d[a] for a in args], **kw)
            results.append(f32list(m.result()))
        res.append({"id": c["id"], "class": c["cls"], "kwargs": c["kwargs"], "updates": c["updates"],
                    "results": results})
    return res


def record_optimizers(d):
    res = []
    for c in optimizer_cases():
        opt = getattr(keras.optimizers, c["cls"])(**c["kwargs"])
        vs = [keras.Variable(d["opt_w0"], name="w0"), keras.Variable(d["opt_w1"], name="w1")]
        steps = []
        for g in d["opt_grads"]:
            opt.apply([jnp.asarray(x) for x in g], vs)
            steps.append([f32list(v.numpy()) for v in vs])
        entry = {"id": c["id"], "class": c["cls"], "kwargs": c["kwargs"], "steps": steps,
                 "iterations": int(np.asarray(opt.iterations))}
        if c["kwargs"].get("use_ema"):
            opt.finalize_variable_values(vs)
            entry["finalized"] = [f32list(v.numpy()) for v in vs]
        res.append(entry)
    return res


def record_schedules():
    res = []
    for cid, cls, kwargs in schedule_cases():
        sched = cls(**kwargs)
        values = [float(F32(np.asarray(sched(step)))) for step in range(51)]
        res.append({"id": cid, "class": cls.__name__, "kwargs": kwargs, "values": values})
    return res


def record_activations(d):
    res = []
    x = jnp.asarray(d["act_x"])
    w = jnp.asarray(d["act_w"])
    for name, kwargs in ACTIVATIONS:
        fn = getattr(keras.activations, name)

        def act(v, fn=fn, kwargs=kwargs):
            return fn(v, **kwargs)

        fwd = act(x)
        wv = w[: fwd.shape[0], : fwd.shape[1]]
        grad = jax.grad(lambda v, act=act, wv=wv: jnp.sum(act(v) * wv))(x)
        cid = name + "".join(f"_{k}={v}" for k, v in kwargs.items())
        res.append({"id": cid, "name": name, "kwargs": kwargs, "forward": f32list(fwd), "grad": f32list(grad)})
    return res


def main():
    d = make_inputs()
    inputs = {k: (v.tolist() if isinstance(v, np.ndarray) else [[f32list(a) for a in g] for g in v])
              for k, v in d.items()}
    result = {
        "versions": {"keras": keras.__version__, "keras_backend": keras.backend.backend(), "jax": jax.__version__,
                     "numpy": np.__version__},
        "recorded_on": datetime.date.today().isoformat(),
        "inputs": inputs,
        "losses": record_losses(d),
        "metrics": record_metrics(d),
        "optimizers": record_optimizers(d),
        "schedules": record_schedules(),
        "activations": record_activations(d),
    }
    with open(OUT_PATH, "w") as f:
        f.write("{\n")
        items = list(result.items())
        for i, (key, val) in enumerate(items):
            f.write(json.dumps(key) + ": " + json.dumps(val) + ("," if i < len(items) - 1 else "") + "\n")
        f.write("}\n")
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
