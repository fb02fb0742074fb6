"""Mixed precision against Keras 3 (tests/reference/record_keras3_mixed_precision.py): mixed_float16 and
mixed_bfloat16 training runs (an MLP, a convnet with BatchNormalization) from the same weights on the same
data give Keras 3's losses, final weights and predictions to 16-bit tolerance; the loss scaler's scale
history on a run that overflows equals Keras 3's exactly; variable and output dtypes, configs and saved
files as Keras 3 has them; bad policies fail clearly. Every run is checked eager and compiled.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from mixed_precision_cases import BATCH_SIZE, CASES, build, data, epochs, initial_weights, optimizer

import gpukeras as keras
from gpukeras import backend, layers

RECORDER = Path(__file__).parent / "reference" / "record_keras3_mixed_precision.py"
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_mixed_precision.json").read_text())["cases"]
# Relative tolerance by compute dtype: float16 keeps 11 significant bits, bfloat16 8.
RTOL = {"mixed_float16": 5e-3, "mixed_bfloat16": 3e-2}


@pytest.fixture(autouse=True)
def float32_policy_after():
    """Each test sets its own policy; the next starts from Keras's default."""
    yield
    keras.mixed_precision.set_global_policy("float32")


class StepRecorder(keras.callbacks.Callback):
    """The loss scaler's scale and step counter after each training step, read on the host."""

    def __init__(self):
        super().__init__()
        self.scales: list[float] = []
        self.step_counters: list[int] = []

    def on_train_batch_end(self, batch, logs=None):
        opt = self.model.optimizer
        if isinstance(opt, keras.mixed_precision.LossScaleOptimizer):
            self.scales.append(float(opt.dynamic_scale.numpy()))
            self.step_counters.append(int(opt.step_counter.numpy()))


def _train(name: str, jit_compile):
    policy, model_name, loss, scaling = CASES[name]
    keras.mixed_precision.set_global_policy(policy)
    model = build(keras, model_name)
    model.set_weights(initial_weights([tuple(w.shape) for w in model.get_weights()]))
    model.compile(optimizer=optimizer(keras, scaling), loss=loss, metrics=["mae"], jit_compile=jit_compile)
    x, y = data(model_name)
    recorder = StepRecorder()
    history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs(name), shuffle=False, verbose=0,
                        callbacks=[recorder])
    return model, history, recorder, x


@pytest.mark.parametrize("jit_compile", [False, "auto"])
@pytest.mark.parametrize("name", list(CASES))
def test_training_matches_keras3(name: str, jit_compile) -> None:
    expected = FIXTURE[name]
    policy = CASES[name][0]
    model, history, recorder, x = _train(name, jit_compile)
    rtol = RTOL[policy]

    assert type(model.optimizer).__name__ == expected["optimizer"]
    # Keras 3's per-step losses, as fit's epoch means.
    steps = len(x) // BATCH_SIZE
    epoch_means = np.asarray(expected["losses"]).reshape(-1, steps).mean(axis=1)
    np.testing.assert_allclose(history.history["loss"], epoch_means, rtol=rtol)
    assert recorder.scales == expected["scales"]
    assert recorder.step_counters == expected["step_counters"]
    assert int(model.optimizer.iterations.numpy()) == expected["iterations"]
    for i, (got, want) in enumerate(zip(model.get_weights(), expected["final_weights"], strict=True)):
        want = np.asarray(want, dtype="float32")
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max(), err_msg=f"weight {i}")
    predictions = model.predict(x, verbose=0)
    assert str(predictions.dtype) == expected["prediction_dtype"]
    want = np.asarray(expected["predictions"], dtype="float32")
    assert np.isfinite(want).all()
    np.testing.assert_allclose(predictions.astype("float32"), want, rtol=rtol, atol=rtol * np.abs(want).max())
    assert [w.dtype for w in model.weights] == expected["variable_dtypes"]
    evaluated = model.evaluate(x, data(CASES[name][1])[1], verbose=0, return_dict=True)
    assert sorted(evaluated) == sorted(expected["evaluate"])
    for key, want in expected["evaluate"].items():
        np.testing.assert_allclose(evaluated[key], want, rtol=rtol, err_msg=key)
    if jit_compile == "auto":  # the later steps were replays of a plan (the loss scaler as its host entry)
        compiled = model._compiled_steps["train"]
        assert compiled.failed is None and compiled.plans


def test_overflow_run_skips_steps() -> None:
    """The skipped steps leave the weights alone: the first ten steps overflow, so the weights after them
    are the initial ones (Keras 3's iteration count, 11 of 24, says the same)."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = build(keras, "regressor")
    start = initial_weights([tuple(w.shape) for w in model.get_weights()])
    model.set_weights(start)
    model.compile(optimizer=optimizer(keras, CASES["overflow_float16"][3]), loss="mse")
    x, y = data("regressor")
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=5, shuffle=False, verbose=0)
    assert float(model.optimizer.dynamic_scale.numpy()) == 32.0
    assert int(model.optimizer.iterations.numpy()) == 0
    for got, want in zip(model.get_weights(), start, strict=True):
        np.testing.assert_array_equal(got, want)


def test_loss_scale_is_in_the_training_logs() -> None:
    """Each batch end's and epoch end's logs carry the scale the optimizer holds then: the halvings of the
    overflowing steps and the scale History keeps; evaluation logs stay Keras 3's."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = build(keras, "regressor")
    model.set_weights(initial_weights([tuple(w.shape) for w in model.get_weights()]))
    model.compile(optimizer=optimizer(keras, CASES["overflow_float16"][3]), loss="mse")
    x, y = data("regressor")
    recorder, seen = StepRecorder(), []
    logger = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["loss_scale"]))
    history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=2, shuffle=False, verbose=0, callbacks=[recorder, logger])
    assert seen == recorder.scales and seen[0] > seen[-1]  # halved on each skipped step
    steps = len(x) // BATCH_SIZE
    assert history.history["loss_scale"] == [seen[steps - 1], seen[-1]]
    assert "loss_scale" not in model.evaluate(x, y, verbose=0, return_dict=True)


@pytest.mark.parametrize("policy,compute", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_dtypes_follow_the_policy(policy: str, compute: str) -> None:
    keras.config.set_dtype_policy(policy)
    assert keras.config.dtype_policy().name == policy
    dense, norm = layers.Dense(3), layers.BatchNormalization()
    head = layers.Activation("softmax", dtype="float32")  # Keras's advice for a float32 output
    for layer in (dense, norm):
        assert (layer.dtype_policy.name, layer.compute_dtype, layer.variable_dtype, layer.dtype) == \
            (policy, compute, "float32", "float32")
    x = np.ones((2, 4), dtype="float32")
    h = dense(x)
    assert h.dtype == compute
    assert [w.dtype for w in dense.weights] == ["float32", "float32"]
    assert norm(h, training=True).dtype == compute
    assert [w.dtype for w in norm.weights] == ["float32"] * 4
    assert head(h).dtype == "float32"
    # The functional API's symbolic outputs carry the compute dtype too; a float32 head gives float32.
    inputs = keras.Input((4,))
    hidden = layers.Dense(2)(inputs)
    assert hidden.dtype == compute
    model = keras.Model(inputs, layers.Activation("softmax", dtype="float32")(hidden))
    assert model(x).dtype == "float32"
    assert keras.Sequential([keras.Input((4,)), layers.Dense(2), head]).predict(x, verbose=0).dtype == "float32"
    embedding = layers.Embedding(5, 3)
    assert embedding(np.array([[1, 4]])).dtype == compute and embedding.embeddings.dtype == "float32"
    # A loss of 16-bit predictions is float32, as in Keras 3.
    assert keras.losses.MeanSquaredError()(np.zeros((2, 3), "float32"), h).dtype == "float32"


def test_float16_gradients_reach_float32_variables() -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    dense = layers.Dense(2)
    x = keras.ops.convert_to_tensor(np.ones((3, 4), dtype="float32"))
    with keras.GradientTape() as tape:
        y = keras.ops.sum(keras.ops.cast(dense(x), "float32"))
    grads = tape.gradient(y, dense.trainable_weights)
    assert [g.dtype for g in grads] == ["float32", "float32"]
    np.testing.assert_array_equal(grads[0].numpy(), np.full((4, 2), 3.0, "float32"))
    np.testing.assert_array_equal(grads[1].numpy(), np.full((2,), 3.0, "float32"))


def test_config_and_saving_round_trip(tmp_path: Path) -> None:
    model, _, _, x = _train("convnet_float16", "auto")
    # Keras 3 writes a mixed layer's dtype as a DTypePolicy entry.
    assert model.layers[0].get_config()["dtype"] == FIXTURE["convnet_float16"]["config_dtype"]
    keras.mixed_precision.set_global_policy("float32")
    rebuilt = keras.Sequential.from_config(model.get_config())
    assert [layer.dtype_policy.name for layer in rebuilt.layers] == ["mixed_float16"] * len(model.layers)
    path = tmp_path / "mixed.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [layer.dtype_policy.name for layer in loaded.layers] == ["mixed_float16"] * len(model.layers)
    assert isinstance(loaded.optimizer, keras.mixed_precision.LossScaleOptimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for got, want in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    # Keras 3's layout: all six optimizer variables under optimizer/vars, the inner SGD's two again under
    # optimizer/inner_optimizer/vars.
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as raw, \
            h5py.File(io.BytesIO(raw.read()), "r") as h5:
        assert len(h5["optimizer/vars"]) == 6 and len(h5["optimizer/inner_optimizer/vars"]) == 2
        assert float(h5["optimizer/vars/3"][()]) == float(model.optimizer.dynamic_scale.numpy())


def test_keras3_loads_a_mixed_precision_file(tmp_path: Path) -> None:
    """Keras 3 itself loads gpukeras's mixed_float16 .keras file with the same policies, loss scale state
    and predictions."""
    python = os.environ.get("KERAS3_PYTHON")
    if not python:
        pytest.skip("set KERAS3_PYTHON to a Python with keras 3 + jax to run the gpukeras → Keras 3 check")
    model, _, _, x = _train("convnet_float16", "auto")
    model.save(tmp_path / "mixed.keras")
    np.save(tmp_path / "x.npy", x)
    result = subprocess.run([python, str(RECORDER), "check", str(tmp_path / "mixed.keras"), str(tmp_path / "x.npy")],
                            capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["policies"] == ["mixed_float16"] * len(model.layers)
    assert (seen["optimizer"], seen["scale"]) == ("LossScaleOptimizer", float(model.optimizer.dynamic_scale.numpy()))
    assert seen["inner_iterations"] == int(model.optimizer.iterations.numpy())
    np.testing.assert_allclose(seen["predictions"], model.predict(x, verbose=0).astype("float32"), rtol=5e-3,
                               atol=2e-3)


def test_loss_scale_optimizer_config() -> None:
    opt = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.5), initial_scale=8.0,
                                                   dynamic_growth_steps=10)
    config = opt.get_config()
    assert config["inner_optimizer"]["class_name"] == "SGD"
    assert (config["initial_scale"], config["dynamic_growth_steps"]) == (8.0, 10)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again.inner_optimizer, keras.optimizers.SGD)
    assert again.get_config() == config
    assert float(again.learning_rate.numpy()) == 0.5
    # auto_scale_loss=False, or a float32 policy, leave the optimizer alone.
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse", auto_scale_loss=False)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    model.compile("sgd", "mse")
    assert isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="mixed_float17"):
        keras.mixed_precision.set_global_policy("mixed_float17")
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(ValueError, match="mixed_half"):
        layers.Dense(2, dtype="mixed_half")
    with pytest.raises(ValueError, match="floating point"):
        keras.mixed_precision.set_global_policy("int32")
    with pytest.raises(TypeError, match="wraps an Optimizer"):
        keras.mixed_precision.LossScaleOptimizer("sgd")
    with pytest.raises(ValueError, match="dynamic=False"):
        keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(), dynamic=False)
    with pytest.raises(ValueError, match="clipnorm"):
        keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic_growth_steps"):
        keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(), dynamic_growth_steps=0)


def test_tf32_is_an_opt_in_that_never_changes_cpu_numbers() -> None:
    B = backend.active
    rng = np.random.default_rng(3)
    a, b = (B.asarray(rng.normal(size=(64, 96)).astype("float32")) for _ in range(2))
    before = B.to_numpy(B.matmul(a, B.transpose(b)))
    assert not keras.config.tf32_enabled()
    applied = keras.config.enable_tf32()
    try:
        assert keras.config.tf32_enabled()
        after = B.to_numpy(B.matmul(a, B.transpose(b)))
        if backend.backend() == "numpy":
            assert applied is False
            np.testing.assert_array_equal(after, before)
        else:  # TF32 rounds the inputs to 10-bit mantissas where a GPU applies it
            np.testing.assert_allclose(after, before, rtol=1e-2, atol=1e-2)
    finally:
        keras.config.enable_tf32(False)
    assert not keras.config.tf32_enabled()
