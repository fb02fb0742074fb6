"""Keras 3's training hooks, replayed against numbers recorded from the real Keras 3.

tests/reference/record_keras3_custom_fit.py ran keras.io's "Customizing what happens in fit()"
programs (PyTorch variant) on Keras 3 and stored data, initial weights and results in
tests/fixtures/keras3_custom_fit.json. Here the same programs run as the guide's TensorFlow
variant written for gpukeras (`keras.GradientTape`, `keras.ops`): custom `train_step` /
`test_step` / `predict_step`, `compute_loss` / `compute_metrics` overrides, the `metrics`
property (loss tracker, then the "compile_metrics" container, then Metric attributes),
functional subclassing (`CustomModel(inputs, outputs)`), a two-optimizer GAN and
`optimizer.scale_loss` with `loss_scale_factor`. History, final weights, evaluate() and
predictions must match Keras 3 to float32 rounding.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend, layers, ops

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_custom_fit.json").read_text())
RTOL, ATOL = 1e-5, 2e-6
# On CuPy our kernels sum rows in another order than NumPy (and than Keras's recorded CPU run);
# see tests/test_keras3_reference.py.
DEVICE_ATOL = 1e-5


# --------------------------------------------------------------------------- helpers
def _atol() -> float:
    return ATOL if backend.backend() == "numpy" else DEVICE_ATOL


def _data(name: str) -> np.ndarray:
    return np.asarray(FIXTURE["data"][name], dtype="float32")


def _arrays(values: list) -> list[np.ndarray]:
    return [np.asarray(v, dtype="float32") for v in values]


def _close(got, expected, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=RTOL, atol=_atol(), err_msg=what)


def _check_logs(got: Mapping, expected: Mapping, what: str) -> None:
    assert sorted(got) == sorted(expected), f"{what}: keys {sorted(got)} != Keras 3's {sorted(expected)}"
    for key, value in expected.items():
        _close(got[key], value, f"{what}: {key}")


def _check_weights(got: list, expected: list, what: str) -> None:
    assert len(got) == len(expected), f"{what}: {len(got)} arrays, Keras 3 has {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        _close(g, e, f"{what} [{i}]")


def _iterations(optimizer) -> int:
    return int(ops.convert_to_numpy(optimizer.iterations))


def _structure(logs: Mapping) -> dict:
    """What a step returned: its keys, nested dicts (compile_metrics' result) kept."""
    return {k: _structure(v) if isinstance(v, Mapping) else "scalar" for k, v in sorted(logs.items())}


class KeysSeen(keras.callbacks.Callback):
    """The log keys callbacks receive (first train batch, every epoch end)."""

    def __init__(self):
        super().__init__()
        self.batch_keys = None
        self.epoch_keys = None

    def on_train_batch_end(self, batch, logs=None):
        if self.batch_keys is None:
            self.batch_keys = sorted(logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_keys = sorted(logs or {})


def _functional(cls, input_dim: int, *dense_layers):
    inputs = keras.Input(shape=(input_dim,))
    x = inputs
    for layer in dense_layers:
        x = layer(x)
    return cls(inputs, x)


def _check_fit(model, history, keys: KeysSeen, expected: dict, x: np.ndarray, name: str) -> None:
    _check_logs(history.history, expected["history"], f"{name}: history")
    assert keys.batch_keys == expected["log_keys"]["train_batch_end"], f"{name}: batch log keys"
    assert keys.epoch_keys == expected["log_keys"]["epoch_end"], f"{name}: epoch log keys"
    _check_weights(model.get_weights(), expected["final_weights"], f"{name}: final weights")
    _close(model.predict(x, verbose=0), expected["predictions"], f"{name}: predictions")
    assert _iterations(model.optimizer) == expected["optimizer_iterations"]


# --------------------------------------------------------------------------- a: train_step + compute_loss
class CustomModel(keras.Model):
    """The guide's first example (TensorFlow variant)."""

    def train_step(self, data):
        self.data_len = len(data)
        x, y = data

        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)  # Forward pass
            loss = self.compute_loss(y=y, y_pred=y_pred)

        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)

        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        logs = {m.name: m.result() for m in self.metrics}
        self.returned = _structure(logs)
        return logs


def test_train_step_with_compute_loss_matches_keras3():
    expected = FIXTURE["a_train_step_compute_loss"]
    x, y = _data("x32"), _data("y1")
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    assert model.metrics_names == expected["metrics_names_before_fit"]  # ["loss", "compile_metrics"]

    keys = KeysSeen()
    history = model.fit(x, y, epochs=3, shuffle=False, verbose=0, callbacks=[keys])

    assert model.data_len == expected["step_notes"]["train_step_data_len"]
    # {"compile_metrics": {"mae": ...}, "loss": ...}: the container's result() is a dict
    assert model.returned == expected["step_notes"]["train_step_returned"]
    assert model.metrics_names == expected["metrics_names_after_fit"]
    assert isinstance(model.metrics[0], keras.metrics.Mean) and model.metrics[0].name == "loss"
    assert model.metrics[1].name == "compile_metrics"
    _check_logs(model.get_metrics_result(), expected["get_metrics_result_after_fit"], "get_metrics_result()")
    _check_logs(model.metrics[1].result(), expected["compile_metrics_result_after_fit"], "compile_metrics")
    _check_fit(model, history, keys, expected, x, "a")
    _check_logs(model.evaluate(x, y, verbose=0, return_dict=True), expected["evaluate"], "a: evaluate")
    _close(model.evaluate(x, y, verbose=0), expected["evaluate_list"], "a: evaluate list")


# --------------------------------------------------------------------------- b: lower level
class LowLevelModel(keras.Model):
    """The guide's "Going lower-level" example: compile() only configures the optimizer."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data

        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)  # Forward pass
            loss = self.loss_fn(y, y_pred)

        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)

        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {
            "loss": self.loss_tracker.result(),
            "mae": self.mae_metric.result(),
        }

    @property
    def metrics(self):
        # listed here so that fit() resets them at the start of each epoch
        return [self.loss_tracker, self.mae_metric]


def test_lower_level_train_step_matches_keras3():
    expected = FIXTURE["b_low_level_metrics"]
    x, y = _data("x32"), _data("y1")
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = LowLevelModel(inputs, outputs)
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(optimizer="adam")

    keys = KeysSeen()
    history = model.fit(x, y, epochs=5, shuffle=False, verbose=0, callbacks=[keys])

    # per-epoch means: the metrics listed in `metrics` are reset at each epoch
    _check_fit(model, history, keys, expected, x, "b")
    assert model.metrics_names == expected["metrics_names_after_fit"]
    # no loss in compile(): the default test_step has nothing to compute (Keras 3 off JAX)
    assert expected["evaluate"]["error"] == "ValueError"
    with pytest.raises(ValueError, match="No loss to compute"):
        model.evaluate(x, y, verbose=0)


# --------------------------------------------------------------------------- c: sample_weight / class_weight
class WeightedModel(keras.Model):
    """The guide's "Supporting sample_weight & class_weight" example."""

    def train_step(self, data):
        self.data_len = len(data)
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data

        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)  # Forward pass
            loss = self.compute_loss(
                y=y,
                y_pred=y_pred,
                sample_weight=sample_weight,
            )

        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)

        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


def test_train_step_with_sample_weight_matches_keras3():
    expected = FIXTURE["c_sample_weight"]
    x, y, sw = _data("x32"), _data("y1"), _data("sw")
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = WeightedModel(inputs, outputs)
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])

    keys = KeysSeen()
    history = model.fit(x, y, sample_weight=sw, epochs=3, shuffle=False, verbose=0, callbacks=[keys])

    assert model.data_len == 3 == expected["step_notes"]["train_step_data_len"]
    _check_fit(model, history, keys, expected, x, "c")
    _check_logs(model.evaluate(x, y, verbose=0, return_dict=True), expected["evaluate"], "c: evaluate")
    # compile(metrics=...) metrics are unweighted in Keras 3: only the loss changes
    _check_logs(model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True),
                expected["evaluate_sample_weight"], "c: evaluate with sample_weight")

    refit = expected["refit_without_weights"]
    history = model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    assert model.data_len == 2 == refit["step_notes"]["train_step_data_len"]
    _check_logs(history.history, refit["history"], "c: refit history")
    _check_weights(model.get_weights(), refit["final_weights"], "c: refit weights")
    assert _iterations(model.optimizer) == refit["optimizer_iterations"]


def test_train_step_with_class_weight_matches_keras3():
    expected = FIXTURE["c_class_weight"]
    x, y = _data("x32"), _data("y_bin")
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1, activation="sigmoid")(inputs)
    model = WeightedModel(inputs, outputs)
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])

    keys = KeysSeen()
    class_weight = {int(k): v for k, v in expected["setup"]["fit"]["class_weight"].items()}
    history = model.fit(x, y, class_weight=class_weight, epochs=3, shuffle=False, verbose=0, callbacks=[keys])

    # class_weight reaches train_step as a per-sample weight: data is (x, y, sample_weight)
    assert model.data_len == 3 == expected["step_notes"]["train_step_data_len"]
    _check_fit(model, history, keys, expected, x, "c (class_weight)")
    _check_logs(model.evaluate(x, y, verbose=0, return_dict=True), expected["evaluate"],
                "c (class_weight): evaluate")


# --------------------------------------------------------------------------- d: test_step
class EvalModel(keras.Model):
    """The guide's "Providing your own evaluation step" example."""

    def test_step(self, data):
        self.data_len = len(data)
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_custom_test_step_matches_keras3():
    expected = FIXTURE["d_test_step"]
    x, y = _data("x32"), _data("y1")
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = EvalModel(inputs, outputs)
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(loss="mse", metrics=["mae"])

    # the loss tracker averages the three batch losses unweighted (batches 32, 32, 16)
    _check_logs(model.evaluate(x, y, verbose=0, return_dict=True), expected["evaluate"], "d: evaluate")
    assert model.data_len == expected["step_notes"]["test_step_data_len"]
    # list form: metrics_names order, compile_metrics flattened
    _close(model.evaluate(x, y, verbose=0), expected["evaluate_list"], "d: evaluate list")
    assert model.metrics_names == expected["metrics_names_after_evaluate"]

    plain = keras.Model(inputs, outputs)  # same layers, default test_step (batch-size weighted loss)
    plain.compile(loss="mse", metrics=["mae"])
    _check_logs(plain.evaluate(x, y, verbose=0, return_dict=True), expected["evaluate_default_test_step"],
                "d: default test_step")


# --------------------------------------------------------------------------- e: GAN
class GAN(keras.Model):
    """The guide's GAN, with latents and label noise fed through the data instead of keras.random."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, data):
        if isinstance(data, tuple):
            data = data[0]
        real_images, random_latent_vectors, misleading_latent_vectors, label_noise = data
        batch_size = ops.shape(real_images)[0]

        # Decode them to fake images
        generated_images = self.generator(random_latent_vectors)

        # Combine them with real images
        combined_images = ops.concatenate([generated_images, real_images], axis=0)

        # Assemble labels discriminating real from fake images
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        # Add "random" noise to the labels - important trick!
        labels += 0.05 * ops.concatenate([label_noise[:, :1], label_noise[:, 1:]], axis=0)

        # Train the discriminator
        with keras.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        # Assemble labels that say "all real images"
        misleading_labels = ops.zeros((batch_size, 1))

        # Train the generator (note that we should *not* update the weights of the discriminator)!
        with keras.GradientTape() as tape:
            predictions = self.discriminator(self.generator(misleading_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }


def test_gan_two_optimizers_matches_keras3():
    expected = FIXTURE["e_gan"]
    discriminator = keras.Sequential(
        [keras.Input(shape=(16,)), layers.Dense(8, activation="leaky_relu"), layers.Dense(1)],
        name="discriminator",
    )
    generator = keras.Sequential(
        [keras.Input(shape=(4,)), layers.Dense(8, activation="leaky_relu"), layers.Dense(16, activation="sigmoid")],
        name="generator",
    )
    discriminator.set_weights(_arrays(expected["discriminator_initial_weights"]))
    generator.set_weights(_arrays(expected["generator_initial_weights"]))
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=4)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.01),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.005),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )

    keys = KeysSeen()
    x = (_data("images"), _data("latents_d"), _data("latents_g"), _data("label_noise"))
    history = gan.fit(x, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[keys])

    _check_logs(history.history, expected["history"], "e: history")
    assert keys.batch_keys == expected["log_keys"]["train_batch_end"]
    assert keys.epoch_keys == expected["log_keys"]["epoch_end"]
    assert gan.metrics_names == expected["metrics_names"]
    _check_weights(discriminator.get_weights(), expected["discriminator_final_weights"], "e: discriminator")
    _check_weights(generator.get_weights(), expected["generator_final_weights"], "e: generator")
    _close(generator.predict(_data("latents_g"), verbose=0), expected["generated"], "e: generated")
    _close(discriminator.predict(_data("images"), verbose=0), expected["discriminator_predictions"],
           "e: discriminator predictions")
    assert _iterations(gan.d_optimizer) == expected["d_optimizer_iterations"]
    assert _iterations(gan.g_optimizer) == expected["g_optimizer_iterations"]


# --------------------------------------------------------------------------- f: compute_loss / compute_metrics
class PenaltyModel(keras.Model):
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if training:
            loss = loss + 0.1 * ops.mean(ops.square(y_pred))
        return loss


class PenaltyModelNoTrainingArg(keras.Model):
    """compute_loss without `training` (Keras < 3.3 signature): Keras 3 still calls it."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        return loss + 0.1 * ops.mean(ops.square(y_pred))


@pytest.mark.parametrize("name, cls", [("f_compute_loss", PenaltyModel),
                                       ("f_compute_loss_no_training_arg", PenaltyModelNoTrainingArg)])
def test_compute_loss_override_matches_keras3(name, cls):
    expected = FIXTURE[name]
    x, y = _data("x8"), _data("y2")
    model = _functional(cls, 8, layers.Dense(4, activation="tanh"), layers.Dense(2))
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse", metrics=["mae"])

    keys = KeysSeen()
    history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0,
                        validation_data=(x[:24], y[:24]), callbacks=[keys])

    # f_compute_loss: the penalty is in "loss" (training=True) but not in "val_loss"
    _check_fit(model, history, keys, expected, x, name)
    _check_logs(model.evaluate(x, y, verbose=0, return_dict=True), expected["evaluate"], f"{name}: evaluate")


class ExtraMetricModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_metric = keras.metrics.MeanSquaredError(name="extra_mse")

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        metric_results = super().compute_metrics(x, y, y_pred, sample_weight)
        self.extra_metric.update_state(y, 2.0 * y_pred, sample_weight)
        metric_results["extra_mse"] = self.extra_metric.result()
        return metric_results


def test_compute_metrics_override_and_metric_attribute_match_keras3():
    expected = FIXTURE["f_compute_metrics"]
    x, y = _data("x8"), _data("y2")
    model = _functional(ExtraMetricModel, 8, layers.Dense(2))
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    # a Metric held as an attribute joins `metrics` after the loss tracker and compile_metrics
    assert model.metrics_names == expected["metrics_names_before_fit"]

    keys = KeysSeen()
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0,
                        validation_data=(x[:24], y[:24]), callbacks=[keys])

    _check_fit(model, history, keys, expected, x, "f_compute_metrics")
    assert model.metrics_names == expected["metrics_names_after_fit"]
    _check_logs(model.evaluate(x, y, verbose=0, return_dict=True), expected["evaluate"], "f_compute_metrics: evaluate")
    _check_logs(model.get_metrics_result(), expected["get_metrics_result_after_evaluate"],
                "f_compute_metrics: get_metrics_result()")


# --------------------------------------------------------------------------- g: predict_step
class PostProcessModel(keras.Model):
    def predict_step(self, data):
        logits = super().predict_step(data)
        return {"probs": ops.softmax(logits), "classes": ops.argmax(logits, axis=-1)}


def _post_process_model():
    expected = FIXTURE["g_predict_step"]
    model = _functional(PostProcessModel, 8, layers.Dense(3))
    model.set_weights(_arrays(expected["initial_weights"]))
    return model, expected


def test_predict_step_override_matches_keras3():
    model, expected = _post_process_model()
    x = _data("x8")

    out = model.predict(x, batch_size=32, verbose=0)  # three batches, concatenated per key
    assert sorted(out) == expected["predict_keys"]
    _close(out["probs"], expected["predict"]["probs"], "g: probs")
    np.testing.assert_array_equal(np.asarray(out["classes"]), expected["predict"]["classes"])

    on_batch = model.predict_on_batch(x[:5])
    _close(on_batch["probs"], expected["predict_on_batch"]["probs"], "g: predict_on_batch probs")
    np.testing.assert_array_equal(np.asarray(on_batch["classes"]), expected["predict_on_batch"]["classes"])

    # calling the model does not go through predict_step
    _close(ops.convert_to_numpy(model(x[:5])), expected["call_output"], "g: model(x)")


def test_predict_step_output_dtypes_match_keras3():
    model, expected = _post_process_model()
    out = model.predict(_data("x8"), batch_size=32, verbose=0)
    # keras.ops.argmax gives int32 in Keras 3
    assert {k: str(np.asarray(v).dtype) for k, v in out.items()} == expected["predict_dtypes"]


# --------------------------------------------------------------------------- h: loss scaling
@pytest.mark.parametrize("name, make_optimizer", [
    ("h_sgd_loss_scale", lambda f: keras.optimizers.SGD(learning_rate=0.1, loss_scale_factor=f)),
    ("h_adam_loss_scale", lambda f: keras.optimizers.Adam(learning_rate=0.01, loss_scale_factor=f)),
])
def test_loss_scale_factor_in_fit_matches_keras3(name, make_optimizer):
    expected = FIXTURE[name]
    factor = expected["setup"]["compile"]["optimizer"]["loss_scale_factor"]
    x, y = _data("x8"), _data("y2")
    model = keras.Sequential([keras.Input((8,)), layers.Dense(4, activation="tanh"), layers.Dense(2)])
    model.set_weights(_arrays(expected["initial_weights"]))
    optimizer = make_optimizer(factor)
    assert optimizer.get_config()["loss_scale_factor"] == expected["optimizer_config_loss_scale_factor"]
    _close(ops.convert_to_numpy(optimizer.scale_loss(2.0)), expected["scale_loss_of_2"], "scale_loss(2.0)")
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])

    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    # scale_loss before the gradient and the unscaling in apply() cancel: Keras 3's scaled and
    # unscaled runs agree (bit for bit with a power-of-two factor)
    _check_logs(history.history, expected["history"], f"{name}: history")
    _check_logs(history.history, expected["unscaled_history"], f"{name}: history vs unscaled run")
    _check_weights(model.get_weights(), expected["final_weights"], f"{name}: final weights")
    _check_weights(model.get_weights(), expected["unscaled_final_weights"], f"{name}: vs unscaled weights")
    _close(model.predict(x, verbose=0), expected["predictions"], f"{name}: predictions")
    _check_logs(model.evaluate(x, y, verbose=0, return_dict=True), expected["evaluate"], f"{name}: evaluate")
    assert _iterations(model.optimizer) == expected["optimizer_iterations"]


class ScaledStepModel(keras.Model):
    """A custom train_step that differentiates optimizer.scale_loss(loss)."""

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            scaled_loss = self.optimizer.scale_loss(loss)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(scaled_loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


@pytest.mark.parametrize("name, cls", [("h_custom_step_scale_loss", ScaledStepModel),
                                       ("h_custom_step_no_scale_loss", CustomModel)])
def test_loss_scale_factor_in_custom_train_step_matches_keras3(name, cls):
    expected = FIXTURE[name]
    x, y = _data("x8"), _data("y2")
    model = _functional(cls, 8, layers.Dense(4, activation="tanh"), layers.Dense(2))
    model.set_weights(_arrays(expected["initial_weights"]))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, loss_scale_factor=128.0), loss="mse",
                  metrics=["mae"])

    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    # with scale_loss the run equals the unscaled one; without it apply() still divides the
    # gradients by 128 (Keras 3 does not know the loss was not scaled), so the steps shrink
    _check_logs(history.history, expected["history"], f"{name}: history")
    _check_weights(model.get_weights(), expected["final_weights"], f"{name}: final weights")
    assert _iterations(model.optimizer) == expected["optimizer_iterations"]
    same_as_unscaled = expected["max_abs_diff_scaled_vs_unscaled"] == 0.0
    assert same_as_unscaled == (cls is ScaledStepModel)
    if same_as_unscaled:
        _check_weights(model.get_weights(), expected["unscaled_final_weights"], f"{name}: vs unscaled")
