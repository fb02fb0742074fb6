"""Step graphs: on CuPy a compiled step's plan is captured into one CUDA graph, then each step is one launch.

Each model is trained with graphs (the default) and with plans replayed call by call
(GPUKERAS_STEP_GRAPHS=0, which the compiled-step tests prove equal to the eager step): same seeds, so the
same dropout masks, learning rates and step counts; the numbers agree to float32 rounding (captured matrix
products run our GEMM kernel instead of cuBLAS, another summation order). On the emulated CuPy the counters
show one graph launch per step, no host reads, and no device work outside the graph but the batch's copies.
On NumPy there are no graphs and the plans say why.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras

EMULATED = "cupy-emulated"


def _emulator():
    from emulation import cupy_on_numpy

    return cupy_on_numpy


@pytest.fixture(autouse=True)
def _no_capture_left(backend_name):
    """A test failing mid-capture must not leave the emulator capturing for the tests after it."""
    yield
    if backend_name == EMULATED:
        _emulator().stop_capture()


def _plans(model, kind="train"):
    step = model._compiled_steps.get(kind)
    return [] if step is None else list(step.plans.values())


def _graphs(model, kind="train"):
    return [p.graph for p in _plans(model, kind) if p.graph is not None]


def _classes(n=96, d=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), rng.integers(0, k, size=n)


def _mlp(dropout=0.0):
    layers = [keras.Input((12,)), keras.layers.Dense(16, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, seed=5))
    return keras.Sequential([*layers, keras.layers.Dense(4, activation="softmax")])


def _train(build, graphs, monkeypatch, optimizer="adam", epochs=3, seed=7, **fit):
    """Fit, predict and evaluate one model; returns what a user sees, and the model."""
    monkeypatch.setenv("GPUKERAS_STEP_GRAPHS", "1" if graphs else "0")
    keras.utils.set_random_seed(seed)
    x, y = _classes()
    model = build()
    model.compile(optimizer=optimizer() if callable(optimizer) else optimizer,
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, shuffle=False, **fit).history
    model.predict(x, batch_size=16, verbose=0)  # traces twice, replays, captures: the next call launches
    model.predict(x, batch_size=16, verbose=0)
    out = {"history": history, "weights": model.get_weights(), "pred": model.predict(x, batch_size=16, verbose=0),
           "eval": [model.evaluate(x, y, batch_size=16, verbose=0) for _ in range(4)][-1],
           "iterations": int(model.optimizer.iterations.numpy())}
    return out, model


def _assert_close(a, b):
    assert a["history"].keys() == b["history"].keys()
    for key in a["history"]:
        np.testing.assert_allclose(a["history"][key], b["history"][key], rtol=2e-5, atol=1e-6, err_msg=key)
    for u, v in zip(a["weights"], b["weights"]):
        np.testing.assert_allclose(u, v, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(a["pred"], b["pred"], rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(a["eval"], b["eval"], rtol=2e-5, atol=1e-6)
    assert a["iterations"] == b["iterations"]


def _needs_graphs(backend_name):
    if backend_name == "numpy":
        pytest.skip("NumPy has no step graphs (test_numpy_plans_say_why covers it)")


# ---------------------------------------------------------------------- same numbers as the plan
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "nadam", lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
                                       lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(
                                           0.05, decay_steps=3, decay_rate=0.5))],
                         ids=["adam", "sgd", "nadam", "adamw", "adam-schedule"])
def test_graphs_train_like_plans(optimizer, backend_name, monkeypatch):
    _needs_graphs(backend_name)
    plain, _ = _train(_mlp, False, monkeypatch, optimizer)
    graphed, model = _train(_mlp, True, monkeypatch, optimizer)
    _assert_close(plain, graphed)
    for kind in ("train", "test", "predict"):  # every step kind ran as a graph, and launched it
        graphs = _graphs(model, kind)
        assert graphs and sum(g.launches for g in graphs) > 0, (kind, [p.graph_refusal for p in _plans(model, kind)])
    assert graphed["iterations"] == 3 * 6  # the host counted every launched step (bias corrections use it)
    assert model.optimizer.iterations.host == graphed["iterations"]


def test_dropout_draws_a_new_mask_per_launch(backend_name, monkeypatch):
    """The seed is fed per launch from the layer's generator: the same masks as the plan, not one frozen mask."""
    _needs_graphs(backend_name)
    build = lambda: _mlp(dropout=0.5)  # noqa: E731
    plain, _ = _train(build, False, monkeypatch)
    graphed, model = _train(build, True, monkeypatch)
    _assert_close(plain, graphed)
    assert sum(g.launches for g in _graphs(model)) >= 10


def test_predict_returns_every_batch_not_the_graphs_buffer(backend_name, monkeypatch):
    _needs_graphs(backend_name)
    x, _ = _classes(n=80)
    model = _mlp()
    expected = [model.predict(x[i:i + 16], verbose=0) for i in range(0, 80, 16)]
    for _ in range(3):
        out = model.predict(x, batch_size=16, verbose=0)
    assert _graphs(model, "predict")
    np.testing.assert_allclose(out, np.concatenate(expected), rtol=2e-5, atol=1e-6)


def test_learning_rate_set_between_fits_reaches_the_graph(backend_name, monkeypatch):
    _needs_graphs(backend_name)
    x, y = _classes(n=48)
    results = []
    for graphs in (False, True):
        monkeypatch.setenv("GPUKERAS_STEP_GRAPHS", "1" if graphs else "0")
        keras.utils.set_random_seed(4)
        model = _mlp()
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        model.optimizer.learning_rate = 0.5
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
        results.append(model.get_weights())
    assert _graphs(model)
    for u, v in zip(*results):
        np.testing.assert_allclose(u, v, rtol=2e-5, atol=1e-6)


# ---------------------------------------------------------------------- where capture is refused
@pytest.mark.parametrize("case", ["ema", "noise", "big-gemm"])
def test_refused_capture_keeps_replaying_the_plan(case, backend_name, monkeypatch):
    """EMA decides on the host per step; GaussianNoise seeds keras.random on the host; a product above the
    size limit is left to cuBLAS: no graph, same numbers."""
    _needs_graphs(backend_name)
    if case == "ema":
        build, optimizer, reason = _mlp, lambda: keras.optimizers.Adam(use_ema=True), "EMA"
    elif case == "big-gemm":
        monkeypatch.setenv("GPUKERAS_GRAPH_MAX_GEMM", "100")  # 16 rows x 12 x 16 = 3072 multiply-adds
        build, optimizer, reason = _mlp, "adam", "GPUKERAS_GRAPH_MAX_GEMM"
    else:
        def build():
            return keras.Sequential([keras.Input((12,)), keras.layers.GaussianNoise(0.3, seed=2),
                                     keras.layers.Dense(4, activation="softmax")])
        optimizer, reason = "adam", "keras.random"
    plain, _ = _train(build, False, monkeypatch, optimizer)
    graphed, model = _train(build, True, monkeypatch, optimizer)
    _assert_close(plain, graphed)
    plans = _plans(model)
    assert plans and all(p.graph is None and reason in p.graph_refusal for p in plans)
    assert all(p.replays > 0 for p in plans)


def test_numpy_plans_say_why(backend_name, monkeypatch):
    if backend_name != "numpy":
        pytest.skip("about the NumPy backend")
    _, model = _train(_mlp, True, monkeypatch)
    plans = _plans(model)
    assert plans and all(p.graph is None and p.replays > 0 for p in plans)
    x, y = _classes(n=16)
    ops = keras.backend.get()
    assert not plans[0].capture([ops.asarray(x), ops.asarray(y)])
    assert "no step graphs" in plans[0].graph_refusal


# ---------------------------------------------------------------------- one launch, no syncs (emulator)
def _epoch_counts(model, x, y, emulator):
    emulator.reset_counters()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    return emulator.graph_launches, sum(emulator.host_reads.values()), dict(emulator.eager_ops)


def test_one_launch_per_step_and_no_host_sync(backend_name, monkeypatch):
    """Counted on the emulator: an epoch of 2k steps minus an epoch of k steps = k steps' work, exactly."""
    if backend_name != EMULATED:
        pytest.skip("the emulator's counters")
    emulator = _emulator()
    monkeypatch.setenv("GPUKERAS_STEP_GRAPHS", "1")
    x, y = _classes(n=160)
    model = _mlp(dropout=0.25)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)  # traces, replays, captures
    assert _graphs(model)
    short = _epoch_counts(model, x[:80], y[:80], emulator)
    long = _epoch_counts(model, x, y, emulator)
    steps = 5
    assert long[0] - short[0] == steps  # one graph launch per step
    assert long[1] == short[1]  # no host read per step (the epoch's logs are read once either way)
    per_step = {k: (long[2].get(k, 0) - short[2].get(k, 0)) / steps for k in set(long[2]) | set(short[2])}
    # per step: the batch's uploads (x, y) and copies into the graph's inputs, and one upload of the feeds
    # (dropout's seed, Adam's scalars); no kernel launch or array op outside the graph
    assert per_step.get("kernel", 0) == 0 and per_step.get("op", 0) == 0, per_step
    assert per_step.get("h2d", 0) == 3 and per_step.get("d2d", 0) == 2, per_step
