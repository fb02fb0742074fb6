"""The compiled step (compile(jit_compile=...)): the same bits as the eager step, re-traced when it must be,
refused or run eagerly (with a warning naming the layer) when it cannot be traced.

Each model is trained twice from the same seed, once with jit_compile=False and once with True, and the
loss history, weights, predictions and evaluation must be equal bit for bit; the plans must have been
replayed (a test that silently ran eagerly would prove nothing).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend, ops
from gpukeras.bench import gpukeras_runner
from gpukeras.tracing import TraceError
from gpukeras.trainers import compiled_step
from gpukeras.trainers.compiled_step import CompiledStepWarning


def _replays(model, kind: str = "train") -> int:
    step = model._compiled_steps.get(kind)
    return 0 if step is None else sum(p.replays for p in step.plans.values())


def _run(build, jit, fit_args, x_eval, y_eval=None, compile_args=None, seed=7):
    """Seed, build, compile, fit, then predict and evaluate; returns everything a user can see."""
    keras.utils.set_random_seed(seed)
    model = build()
    model.compile(**(compile_args or {}), jit_compile=jit)
    history = model.fit(verbose=0, **fit_args).history
    model.predict(x_eval, batch_size=8, verbose=0)  # traces: the second predict replays
    out = {"history": history, "weights": model.get_weights(), "pred": model.predict(x_eval, batch_size=8, verbose=0)}
    if y_eval is not None:
        model.evaluate(x_eval, y_eval, batch_size=8, verbose=0)
        out["eval"] = model.evaluate(x_eval, y_eval, batch_size=8, verbose=0, return_dict=True)
    return out, model


def _assert_same(a, b) -> None:
    """Bit for bit on NumPy. On CuPy to float32 rounding: a plan that became a step graph runs its matrix
    products through our GEMM kernel instead of cuBLAS (tests/test_step_graphs.py), another summation order."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)) and not all(isinstance(v, (int, float)) for v in a):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _assert_same(u, v)
    elif backend.backend() == "numpy":
        np.testing.assert_array_equal(a, b)
    else:  # atol: weights that only rounding noise moves (MultiHeadAttention's key bias) stay near 1e-6
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5)


def _assert_identical(a: dict, b: dict) -> None:
    _assert_same(a["history"], b["history"])
    assert len(a["weights"]) == len(b["weights"])
    _assert_same(a["weights"], b["weights"])
    _assert_same(keras.tree.flatten(a["pred"]), keras.tree.flatten(b["pred"]))
    _assert_same(a.get("eval"), b.get("eval"))


def _check_same(build, fit_args, x_eval, y_eval=None, compile_args=None):
    eager, _ = _run(build, False, fit_args, x_eval, y_eval, compile_args)
    compiled, model = _run(build, True, fit_args, x_eval, y_eval, compile_args)
    _assert_identical(eager, compiled)
    assert _replays(model, "train") > 0 and _replays(model, "predict") > 0
    if y_eval is not None:
        assert _replays(model, "test") > 0
    return model


def _classes(n=96, d=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), rng.integers(0, k, size=n)


# ---------------------------------------------------------------------- the same bits as eager
def test_mlp_softmax_accuracy_with_validation():
    x, y = _classes()

    def build():
        return keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(4, activation="softmax")])

    model = _check_same(build, dict(x=x, y=y, batch_size=16, epochs=3, validation_split=0.25), x, y,
                        dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]))
    # the cross-entropy from probabilities is one fused call each way (it was ~30 primitives)
    for plan in model._compiled_steps["train"].plans.values():  # full batches and the partial last one
        assert plan.calls <= 25, plan.source


def test_convnet_with_batchnorm_and_dropout():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, size=40)

    def build():
        return keras.Sequential([
            keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(2), keras.layers.Flatten(), keras.layers.Dropout(0.4),
            keras.layers.Dense(3, activation="softmax")])

    model = _check_same(build, dict(x=x, y=y, batch_size=16, epochs=3), x, y,
                        dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]))
    # the partial last batch (40 = 2 * 16 + 8) has a plan of its own
    assert len(model._compiled_steps["train"].plans) == 2


def test_lstm_text_model_with_masking():
    rng = np.random.default_rng(2)
    x = rng.integers(1, 30, size=(48, 7))
    x[:, 5:] = 0  # padding: the mask travels through the plan
    y = rng.integers(0, 2, size=(48, 1)).astype("float32")

    def build():
        return keras.Sequential([keras.Input((7,), dtype="int32"), keras.layers.Embedding(30, 8, mask_zero=True),
                                 keras.layers.LSTM(6), keras.layers.Dense(1, activation="sigmoid")])

    _check_same(build, dict(x=x, y=y, batch_size=16, epochs=2), x, y,
                dict(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"]))


def test_functional_multi_input_multi_output():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(32, 5)).astype("float32"), rng.normal(size=(32, 3)).astype("float32")
    y1, y2 = rng.integers(0, 3, size=32), rng.normal(size=(32, 1)).astype("float32")

    def build():
        ia, ib = keras.Input((5,), name="a"), keras.Input((3,), name="b")
        h = keras.layers.Dense(8, activation="tanh")(keras.layers.Concatenate()([ia, ib]))
        return keras.Model([ia, ib], [keras.layers.Dense(3, activation="softmax", name="cls")(h),
                                      keras.layers.Dense(1, name="reg")(h)])

    _check_same(build, dict(x=[a, b], y=[y1, y2], batch_size=8, epochs=2), [a, b], [y1, y2],
                dict(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                     metrics=[["accuracy"], ["mae"]]))


@pytest.mark.parametrize("weighting", ["class_weight", "sample_weight"])
def test_class_and_sample_weights(weighting):
    x, y = _classes(n=64, k=3, seed=4)
    extra = {"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}} if weighting == "class_weight" else \
        {"sample_weight": np.linspace(0.1, 2.0, 64).astype("float32")}

    def build():
        return keras.Sequential([keras.Input((12,)), keras.layers.Dense(3, activation="softmax")])

    _check_same(build, dict(x=x, y=y, batch_size=16, epochs=2, **extra), x, y,
                dict(optimizer="adam", loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"]))


def test_train_on_batch_and_lr_schedule():
    x, y = _classes(n=32, seed=5)
    results = []
    for jit in (False, True):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(4)])
        schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
        model.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=jit,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        losses = [model.train_on_batch(x, y) for _ in range(6)]
        results.append((losses, model.get_weights()))
    _assert_same(results[0], results[1])
    assert _replays(model) == 3  # the first call builds the optimizer, two calls trace, the rest replay


# ---------------------------------------------------------------------- honoured changes
def _session(jit, steps):
    """Train a small model through a sequence of changes between fits; returns the loss and weights log."""
    keras.utils.set_random_seed(11)
    x, y = _classes(n=48, seed=6)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(4, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=jit,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    log = []
    for change in steps:
        change(model, x, y)
        log.append(model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False).history["loss"])
        log.append(model.get_weights())
    return log, model


def _retrain(model, x, y):
    pass


def _freeze(model, x, y):
    model.get_layer("hidden").trainable = False


def _recompile(model, x, y):
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=model.jit_compile,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def _set_weights(model, x, y):
    model.set_weights([w * 0.5 for w in model.get_weights()])


def _set_lr(model, x, y):
    model.optimizer.learning_rate = 0.2


def _new_shape(model, x, y):
    model.predict(x[:5], verbose=0)


@pytest.mark.parametrize("change", [_freeze, _recompile, _set_weights, _set_lr])
def test_changes_between_fits_are_honoured(change):
    eager, _ = _session(False, [_retrain, change, _retrain])
    compiled, model = _session(True, [_retrain, change, _retrain])
    _assert_same(eager, compiled)
    assert _replays(model) > 0
    if change is _freeze:  # the frozen layer kept its weights from the freeze on
        np.testing.assert_array_equal(compiled[3][0], compiled[5][0])


def test_load_weights_is_honoured(tmp_path):
    x, y = _classes(n=32, seed=8)
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    first = [model.train_on_batch(x, y) for _ in range(4)]
    model.load_weights(path)
    model.optimizer.set_weights([np.zeros((), "int64"), np.float32(0.01)])  # step count and lr as at the start
    _assert_same([model.train_on_batch(x, y) for _ in range(4)], first)


def test_new_input_shape_traces_again():
    rng = np.random.default_rng(9)
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    for length in (4, 6, 4, 6, 4, 6, 4):
        x = rng.normal(size=(8, length, 3)).astype("float32")
        model.train_on_batch(x, rng.normal(size=(8, 2)).astype("float32"))
    step = model._compiled_steps["train"]
    # call 1 builds the optimizer; calls 2-5 trace each length twice; calls 6 and 7 replay
    assert len(step.plans) == 2 and _replays(model) == 2


# ---------------------------------------------------------------------- steps_per_execution
class _BatchEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.begins, self.ends = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.begins.append(batch)

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(batch)


@pytest.mark.parametrize("jit", [False, True])
def test_steps_per_execution_groups_callbacks(jit):
    x, y = _classes(n=80, seed=10)  # 10 batches of 8
    weights = []
    for k in (1, 4):
        keras.utils.set_random_seed(4)
        model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(4)])
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      steps_per_execution=k, jit_compile=jit)
        seen = _BatchEnds()
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[seen])
        weights.append(model.get_weights())
    # Keras 3: one begin and one end per execution of k steps, the end naming the execution's last step
    assert seen.begins == [0, 4, 8] and seen.ends == [3, 7, 11]
    _assert_same(weights[0], weights[1])


# ---------------------------------------------------------------------- what cannot be traced
class _BranchOnValue(keras.layers.Layer):
    def call(self, x):
        if ops.sum(x) > 0:  # Python control flow on a tensor's value
            return x * 2.0
        return x


class _ReadsNumpy(keras.layers.Layer):
    def call(self, x):
        scale = float(np.abs(x.numpy()).max())
        return x / scale


class _CountsCalls(keras.layers.Layer):
    """Changes a host constant at every call: two traces disagree."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, x):
        self.calls += 1
        return x * float(self.calls)


@pytest.mark.parametrize("layer_cls, reason", [(_BranchOnValue, "reads a tensor computed in the step on the host"),
                                               (_ReadsNumpy, "reads a tensor computed in the step on the host"),
                                               (_CountsCalls, "gets different host values on two calls")])
def test_untraceable_layers_fall_back_or_raise(layer_cls, reason, monkeypatch):
    monkeypatch.setattr(compiled_step, "AUTO_COMPILES", True)  # "auto" compiles, whatever the default is
    x, y = _classes(n=32, seed=12)

    def build():
        return keras.Sequential([keras.Input((12,)), keras.layers.Dense(4), layer_cls(name="odd")])

    args = dict(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    eager, _ = _run(build, False, dict(x=x, y=y, batch_size=8, epochs=2), x, y, args)
    with pytest.warns(CompiledStepWarning) as caught:
        auto, model = _run(build, "auto", dict(x=x, y=y, batch_size=8, epochs=2), x, y, args)
    messages = [str(w.message) for w in caught if issubclass(w.category, CompiledStepWarning)]
    assert len([m for m in messages if "train step" in m]) == 1  # one warning, not one per batch
    assert reason in messages[0]
    if layer_cls is not _CountsCalls:
        assert "layer 'odd'" in messages[0]
    _assert_identical(eager, auto)
    assert model._compiled_steps["train"].failed is not None
    with pytest.raises(TraceError, match=reason):
        _run(build, True, dict(x=x, y=y, batch_size=8, epochs=2), x, y, args)


def test_custom_train_step_with_host_work(monkeypatch):
    monkeypatch.setattr(compiled_step, "AUTO_COMPILES", True)
    x, y = _classes(n=32, seed=13)
    seen = []

    class Logged(keras.Sequential):
        def train_step(self, data):
            logs = super().train_step(data)
            seen.append(float(logs["loss"]))  # host work at every step
            return logs

    def fit(jit):
        seen.clear()
        keras.utils.set_random_seed(5)
        model = Logged([keras.Input((12,)), keras.layers.Dense(4)])
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        return list(seen)

    eager = fit(False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompiledStepWarning)
        assert fit("auto") == eager  # "auto" runs an overridden train_step as written, every step
    with pytest.raises(TraceError, match=r"Logged.train_step .*reads a tensor computed in the step"):
        fit(True)


def test_run_eagerly_and_jit_false_never_trace():
    x, y = _classes(n=32, seed=14)
    for kwargs in ({"run_eagerly": True}, {"jit_compile": False}):
        model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(4)])
        model.compile(optimizer="adam", loss="mse", **kwargs)
        model.fit(x, keras.utils.to_categorical(y, 4), batch_size=8, epochs=2, verbose=0)
        model.predict(x, verbose=0)
        assert model._compiled_steps == {}


def test_gaussian_noise_draws_fresh_values_each_replay():
    x = np.ones((16, 6), "float32")
    outs = []
    for jit in (False, True):
        keras.utils.set_random_seed(21)
        model = keras.Sequential([keras.Input((6,)), keras.layers.GaussianNoise(1.0, seed=3), keras.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        outs.append([model.train_on_batch(x, np.zeros((16, 2), "float32")) for _ in range(5)])
    assert outs[0] == outs[1] and len(set(outs[1])) == 5


def test_attention_custom_rnn_cell_and_cropping():
    rng = np.random.default_rng(15)
    x = rng.normal(size=(24, 6, 4)).astype("float32")
    y = rng.integers(0, 3, size=24)

    class MinimalCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent = self.add_weight(shape=(self.units, self.units), name="recurrent")

        def call(self, inputs, states):
            h = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent))
            return h, [h]

    def build():
        inputs = keras.Input((6, 4))
        h = keras.layers.MultiHeadAttention(2, 4)(inputs, inputs)
        h = keras.layers.Cropping1D((1, 1))(keras.layers.ZeroPadding1D(2)(h))
        h = keras.layers.RNN(MinimalCell(5))(h)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))

    _check_same(build, dict(x=x, y=y, batch_size=8, epochs=2), x, y,
                dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]))


def test_host_text_layer_falls_back_naming_it(monkeypatch):
    monkeypatch.setattr(compiled_step, "AUTO_COMPILES", True)
    texts = np.array(["a b c", "b c d", "c d e", "d e a"] * 4)
    labels = np.array([0, 1, 0, 1] * 4)
    keras.utils.set_random_seed(1)
    vectorize = keras.layers.TextVectorization(max_tokens=10, output_sequence_length=3)
    vectorize.adapt(texts)
    inputs = keras.Input((1,), dtype="string")
    out = keras.layers.Dense(1, activation="sigmoid")(
        keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 4)(vectorize(inputs))))
    model = keras.Model(inputs, out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.warns(CompiledStepWarning, match=r"layer 'text_vectorization' \(TextVectorization\) cannot be "
                                                 r"compiled: it preprocesses on the host"):
        model.fit(texts[:, None], labels, batch_size=4, epochs=1, verbose=0)


def test_bench_rows_compiled_and_eager_train_the_same(capsys):
    """`python -m gpukeras.bench`'s "gpukeras" row runs the compiled step, "gpukeras-eager" the eager one:
    the same training, so the same final loss to the bit."""
    results = {}
    for step in ("compiled", "eager"):
        assert gpukeras_runner.main(["--workload", "W1", "--quick", "--samples", "64", "--epochs", "1",
                                     "--warmup", "1", "--step", step]) == 0
        line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("GPUKERAS_BENCH_RESULT ")][-1]
        results[step] = json.loads(line.split(" ", 1)[1])
    assert results["compiled"]["framework"] == "gpukeras" and results["eager"]["framework"] == "gpukeras-eager"
    assert results["compiled"]["status"] == results["eager"]["status"] == "ok"
    _assert_same(results["compiled"]["final_loss"], results["eager"]["final_loss"])
