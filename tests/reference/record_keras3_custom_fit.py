"""Record reference numbers for Keras 3's training hooks from the real Keras 3 (PyTorch backend, CPU).

gpukeras' tests/test_keras3_custom_fit.py and tests/test_dense_lora.py replay the programs
below with ``import gpukeras as keras`` and compare with the numbers written here. The
programs follow keras.io's guide "Customizing what happens in fit()"; gpukeras runs its
TensorFlow variant (``keras.GradientTape``, ``keras.ops``), this script its PyTorch variant
(``self.zero_grad(); loss.backward(); v.value.grad``), since Keras 3 on PyTorch takes
gradients imperatively inside ``train_step`` as TensorFlow does. Keras 3's numbers do not
depend on the backend beyond float32 rounding: ``main`` re-runs two scenarios on the JAX
backend (the guide's stateless JAX variant) in a child process and stores the largest
difference under "crosscheck".

Scenarios (one top-level key each):
  a_train_step_compute_loss       custom train_step + self.compute_loss + the guide's metrics loop
  b_low_level_metrics             compile(optimizer) only; the model's own Mean/MAE, `metrics` overridden
  c_sample_weight, c_class_weight the guide's (x, y[, sample_weight]) train_step
  d_test_step                     custom test_step, evaluate only
  e_gan                           two sub-models, two optimizers, apply_gradients; latents and label
                                  noise come through the data (no RNG)
  f_compute_loss                  compute_loss override (penalty only when training=True), default steps
  f_compute_loss_no_training_arg  compute_loss override without the `training` argument (Keras < 3.3 form)
  f_compute_metrics               compute_metrics override + a Metric held as a model attribute
  g_predict_step                  predict_step override returning a dict
  h_sgd_loss_scale, h_adam_loss_scale, h_custom_step_scale_loss, h_custom_step_no_scale_loss
                                  optimizer loss_scale_factor with the default and custom train steps
  i_lora                          Dense.enable_lora / Dense(lora_rank=...): weights, config, training,
                                  save_weights layout, load_weights

Everything is deterministic: data from ``np.random.RandomState`` in float32, initial
weights set with ``set_weights`` from stored arrays, ``shuffle=False``, no dropout, no
``keras.random``.

How to run (from the repository root, with a side venv that has Keras 3 and the CPU build
of PyTorch; JAX only for the cross-check)::

    python3 -m venv /tmp/k3venv
    /tmp/k3venv/bin/pip install keras jax h5py numpy torch   # the CPU wheel of torch
    KERAS_BACKEND=torch /tmp/k3venv/bin/python tests/reference/record_keras3_custom_fit.py

Output: ``tests/fixtures/keras3_custom_fit.json`` (one top-level entry per line).
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile

CROSSCHECK = "--jax-crosscheck" in sys.argv
os.environ["KERAS_BACKEND"] = "jax" if CROSSCHECK else "torch"

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

if not CROSSCHECK:
    import torch  # noqa: E402

OUT_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "fixtures",
    "keras3_custom_fit.json",
)

F32 = np.float32


# --------------------------------------------------------------------------- data and helpers
def make_data():
    rs_x = np.random.RandomState(0)
    rs_y = np.random.RandomState(1)
    return {
        # the guide's shapes: x (n, 32), y (n, 1), sw (n, 1); 80 rows -> batches 32, 32, 16
        "x32": rs_x.random_sample((80, 32)).astype(F32),
        "y1": rs_y.random_sample((80, 1)).astype(F32),
        "sw": np.random.RandomState(2).random_sample((80, 1)).astype(F32),
        "y_bin": np.random.RandomState(3).randint(0, 2, size=(80, 1)).astype(F32),
        # regression / classification with 8 features
        "x8": np.random.RandomState(4).normal(size=(80, 8)).astype(F32),
        "y2": np.random.RandomState(5).normal(size=(80, 2)).astype(F32),
        # GAN: 64 "images" of 16 values in [0, 1), latent vectors of 4, label noise
        "images": np.random.RandomState(7).random_sample((64, 16)).astype(F32),
        "latents_d": np.random.RandomState(8).normal(size=(64, 4)).astype(F32),
        "latents_g": np.random.RandomState(9).normal(size=(64, 4)).astype(F32),
        "label_noise": np.random.RandomState(10).random_sample((64, 2)).astype(F32),
        # LoRA
        "x_lora": np.random.RandomState(11).normal(size=(32, 8)).astype(F32),
        "y_lora": np.random.RandomState(12).normal(size=(32, 4)).astype(F32),
    }


GENERATION = {
    "x32": "RandomState(0).random_sample((80, 32))",
    "y1": "RandomState(1).random_sample((80, 1))",
    "sw": "RandomState(2).random_sample((80, 1))",
    "y_bin": "RandomState(3).randint(0, 2, size=(80, 1))",
    "x8": "RandomState(4).normal(size=(80, 8))",
    "y2": "RandomState(5).normal(size=(80, 2))",
    "images": "RandomState(7).random_sample((64, 16))",
    "latents_d": "RandomState(8).normal(size=(64, 4))",
    "latents_g": "RandomState(9).normal(size=(64, 4))",
    "label_noise": "RandomState(10).random_sample((64, 2))",
    "x_lora": "RandomState(11).normal(size=(32, 8))",
    "y_lora": "RandomState(12).normal(size=(32, 4))",
    "all": "float32",
    "initial_weights": "RandomState(seed).uniform(-0.5, 0.5, size=w.shape).astype(float32) for w in "
                       "model.get_weights() order; seed stored per scenario",
}


def f32list(a):
    """float32 array -> nested lists of Python floats (exact float32 values)."""
    return np.asarray(a, dtype=F32).tolist()


def init_weights(model, seed):
    rs = np.random.RandomState(seed)
    init = [rs.uniform(-0.5, 0.5, size=np.shape(w)).astype(F32) for w in model.get_weights()]
    model.set_weights(init)
    return init


def history_of(hist):
    return {key: [float(F32(v)) for v in vals] for key, vals in hist.history.items()}


def evaluate_of(model, *args, **kwargs):
    ev = model.evaluate(*args, verbose=0, return_dict=True, **kwargs)
    return {key: float(F32(v)) for key, v in ev.items()}


def iterations(optimizer):
    return int(np.asarray(keras.ops.convert_to_numpy(optimizer.iterations)))


class KeysSeen(keras.callbacks.Callback):
    """Which log keys callbacks receive (first train batch, every epoch end)."""

    def __init__(self):
        super().__init__()
        self.batch_keys = None
        self.epoch_keys = None

    def on_train_batch_end(self, batch, logs=None):
        if self.batch_keys is None:
            self.batch_keys = sorted(logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_keys = sorted(logs or {})


def structure_of(logs):
    """The shape of a dict a train/test step returned: keys, nested dicts kept."""
    return {k: structure_of(v) if isinstance(v, dict) else "scalar" for k, v in sorted(logs.items())}


def error_of(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - recorded, not handled
        return {"error": type(exc).__name__, "message": str(exc)}
    return None


def functional(input_dim, *dense_layers, cls=keras.Model):
    inputs = keras.Input(shape=(input_dim,))
    x = inputs
    for layer in dense_layers:
        x = layer(x)
    return cls(inputs, x)


def common_entry(model, init, hist, x, keys_seen):
    return {
        "initial_weights": [f32list(w) for w in init],
        "history": history_of(hist),
        "log_keys": {"train_batch_end": keys_seen.batch_keys, "epoch_end": keys_seen.epoch_keys},
        "final_weights": [f32list(w) for w in model.get_weights()],
        "predictions": f32list(model.predict(x, verbose=0)),
        "optimizer_iterations": iterations(model.optimizer),
    }


# --------------------------------------------------------------------------- a
class StepRecorder:
    """Mixin: keeps what train_step / test_step returned and how `data` looked."""

    def _note(self, kind, data, logs):
        notes = self.__dict__.setdefault("_notes", {})
        notes[f"{kind}_data_len"] = len(data) if isinstance(data, tuple) else None
        notes[f"{kind}_returned"] = structure_of(logs)
        return logs


class CustomModelA(StepRecorder, keras.Model):
    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return self._note("train_step", data, {m.name: m.result() for m in self.metrics})


def scenario_a(d):
    seed = 100
    model = functional(32, layers.Dense(1), cls=CustomModelA)
    init = init_weights(model, seed)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    names_before = model.metrics_names
    keys = KeysSeen()
    hist = model.fit(d["x32"], d["y1"], epochs=3, shuffle=False, verbose=0, callbacks=[keys])
    get_metrics_result_after_fit = {k: float(F32(v)) for k, v in model.get_metrics_result().items()}
    compile_metrics_result_after_fit = {k: float(F32(v)) for k, v in model.metrics[1].result().items()}
    entry = common_entry(model, init, hist, d["x32"], keys)
    entry.update({
        "setup": {
            "model": "CustomModel(inputs, outputs): keras.Input(shape=(32,)) -> Dense(1)",
            "compile": {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]},
            "fit": {"x": "x32", "y": "y1", "epochs": 3, "batch_size": "default (32)", "shuffle": False},
            "train_step": "the guide's first example: compute_loss(y=y, y_pred=y_pred), optimizer.apply, "
                          "metrics loop (loss tracker updated with the batch loss, unweighted), returns "
                          "{m.name: m.result() for m in self.metrics}",
            "evaluate": "default test_step on (x32, y1)",
            "notes": "80 rows -> batches 32, 32, 16. The loss tracker is updated with update_state(loss), "
                     "so its epoch value is the unweighted mean of the three batch losses (the default "
                     "train_step weights by batch size).",
        },
        "init_seed": seed,
        "metrics_names_before_fit": names_before,
        "metrics_names_after_fit": model.metrics_names,
        "metrics_classes": [type(m).__name__ for m in model.metrics],
        "get_metrics_result_after_fit": get_metrics_result_after_fit,
        "compile_metrics_result_after_fit": compile_metrics_result_after_fit,
        "step_notes": model._notes,
        "evaluate": evaluate_of(model, d["x32"], d["y1"]),
        "evaluate_list": [float(F32(v)) for v in model.evaluate(d["x32"], d["y1"], verbose=0)],
    })
    return entry


# --------------------------------------------------------------------------- b
class CustomModelB(StepRecorder, keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return self._note("train_step", data, {
            "loss": self.loss_tracker.result(),
            "mae": self.mae_metric.result(),
        })

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def scenario_b(d):
    seed = 101
    model = functional(32, layers.Dense(1), cls=CustomModelB)
    init = init_weights(model, seed)
    model.compile(optimizer="adam")
    keys = KeysSeen()
    hist = model.fit(d["x32"], d["y1"], epochs=5, shuffle=False, verbose=0, callbacks=[keys])
    entry = common_entry(model, init, hist, d["x32"], keys)
    entry.update({
        "setup": {
            "model": "CustomModel(inputs, outputs): keras.Input(shape=(32,)) -> Dense(1); the model owns "
                     "loss_tracker=Mean('loss'), mae_metric=MeanAbsoluteError('mae'), "
                     "loss_fn=MeanSquaredError() and overrides `metrics`",
            "compile": {"optimizer": "adam"},
            "fit": {"x": "x32", "y": "y1", "epochs": 5, "batch_size": "default (32)", "shuffle": False},
            "evaluate": "default test_step: Keras 3 (non-JAX backends) raises ValueError "
                        "'No loss to compute. Provide a `loss` argument in `compile()`.'",
        },
        "init_seed": seed,
        "metrics_names_after_fit": model.metrics_names,
        "step_notes": model._notes,
        "evaluate": error_of(lambda: model.evaluate(d["x32"], d["y1"], verbose=0)),
    })
    return entry


# --------------------------------------------------------------------------- c
class CustomModelC(StepRecorder, keras.Model):
    def train_step(self, data):
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return self._note("train_step", data, {m.name: m.result() for m in self.metrics})


def scenario_c_sample_weight(d):
    seed = 102
    model = functional(32, layers.Dense(1), cls=CustomModelC)
    init = init_weights(model, seed)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    keys = KeysSeen()
    hist = model.fit(d["x32"], d["y1"], sample_weight=d["sw"], epochs=3, shuffle=False, verbose=0,
                     callbacks=[keys])
    entry = common_entry(model, init, hist, d["x32"], keys)
    entry.update({
        "setup": {
            "model": "CustomModel(inputs, outputs): keras.Input(shape=(32,)) -> Dense(1)",
            "compile": {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]},
            "fit": {"x": "x32", "y": "y1", "sample_weight": "sw", "epochs": 3,
                    "batch_size": "default (32)", "shuffle": False},
            "train_step": "the guide's sample_weight version (data is (x, y, sample_weight))",
            "evaluate": "default test_step on (x32, y1) and on (x32, y1, sample_weight=sw)",
        },
        "init_seed": seed,
        "step_notes": model._notes,
        "evaluate": evaluate_of(model, d["x32"], d["y1"]),
        "evaluate_sample_weight": evaluate_of(model, d["x32"], d["y1"], sample_weight=d["sw"]),
    })
    # the same model fit again without weights: data is then (x, y)
    model.__dict__["_notes"] = {}
    hist2 = model.fit(d["x32"], d["y1"], epochs=1, shuffle=False, verbose=0)
    entry["refit_without_weights"] = {
        "history": history_of(hist2),
        "final_weights": [f32list(w) for w in model.get_weights()],
        "optimizer_iterations": iterations(model.optimizer),
        "step_notes": model._notes,
    }
    return entry


CLASS_WEIGHT = {0: 0.5, 1: 2.0}


def scenario_c_class_weight(d):
    seed = 103
    model = functional(32, layers.Dense(1, activation="sigmoid"), cls=CustomModelC)
    init = init_weights(model, seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    keys = KeysSeen()
    hist = model.fit(d["x32"], d["y_bin"], class_weight=CLASS_WEIGHT, epochs=3, shuffle=False, verbose=0,
                     callbacks=[keys])
    entry = common_entry(model, init, hist, d["x32"], keys)
    entry.update({
        "setup": {
            "model": "CustomModel(inputs, outputs): keras.Input(shape=(32,)) -> Dense(1, 'sigmoid')",
            "compile": {"optimizer": {"class": "Adam", "learning_rate": 0.01},
                        "loss": "binary_crossentropy", "metrics": ["accuracy"]},
            "fit": {"x": "x32", "y": "y_bin", "class_weight": {str(k): v for k, v in CLASS_WEIGHT.items()},
                    "epochs": 3, "batch_size": "default (32)", "shuffle": False},
            "train_step": "the guide's sample_weight version (class_weight arrives as sample_weight)",
            "evaluate": "default test_step on (x32, y_bin)",
        },
        "init_seed": seed,
        "step_notes": model._notes,
        "evaluate": evaluate_of(model, d["x32"], d["y_bin"]),
    })
    return entry


# --------------------------------------------------------------------------- d
class CustomModelD(StepRecorder, keras.Model):
    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return self._note("test_step", data, {m.name: m.result() for m in self.metrics})


def scenario_d(d):
    seed = 104
    model = functional(32, layers.Dense(1), cls=CustomModelD)
    init = init_weights(model, seed)
    model.compile(loss="mse", metrics=["mae"])
    ev_dict = evaluate_of(model, d["x32"], d["y1"])
    ev_list = [float(F32(v)) for v in model.evaluate(d["x32"], d["y1"], verbose=0)]
    plain = functional(32, layers.Dense(1))
    plain.set_weights(init)
    plain.compile(loss="mse", metrics=["mae"])
    return {
        "setup": {
            "model": "CustomModel(inputs, outputs): keras.Input(shape=(32,)) -> Dense(1)",
            "compile": {"loss": "mse", "metrics": ["mae"]},
            "evaluate": {"x": "x32", "y": "y1", "batch_size": "default (32)"},
            "test_step": "the guide's custom test_step (loss tracker updated with the batch loss, "
                         "unweighted)",
            "notes": "evaluate_default_test_step: a plain keras.Model with the same weights; the default "
                     "test_step weights the loss tracker by batch size, so its loss differs",
        },
        "init_seed": seed,
        "initial_weights": [f32list(w) for w in init],
        "evaluate": ev_dict,
        "evaluate_list": ev_list,
        "evaluate_default_test_step": evaluate_of(plain, d["x32"], d["y1"]),
        "metrics_names_after_evaluate": model.metrics_names,
        "step_notes": model._notes,
        "optimizer_class": type(model.optimizer).__name__,
    }


# --------------------------------------------------------------------------- e
class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True  # as in the guide's PyTorch variant: fit cannot build a model without call()

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
        # latent vectors and label noise come with the data instead of keras.random
        real_images, random_latent_vectors, misleading_latent_vectors, label_noise = data
        batch_size = real_images.shape[0]

        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * ops.concatenate([label_noise[:, :1], label_noise[:, 1:]], axis=0)

        self.zero_grad()
        predictions = self.discriminator(combined_images)
        d_loss = self.loss_fn(labels, predictions)
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        with torch.no_grad():
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        misleading_labels = ops.zeros((batch_size, 1))

        self.zero_grad()
        predictions = self.discriminator(self.generator(misleading_latent_vectors))
        g_loss = self.loss_fn(misleading_labels, predictions)
        g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        with torch.no_grad():
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }


def scenario_e(d):
    discriminator = keras.Sequential(
        [keras.Input(shape=(16,)), layers.Dense(8, activation="leaky_relu"), layers.Dense(1)],
        name="discriminator",
    )
    generator = keras.Sequential(
        [keras.Input(shape=(4,)), layers.Dense(8, activation="leaky_relu"),
         layers.Dense(16, activation="sigmoid")],
        name="generator",
    )
    d_init = init_weights(discriminator, 105)
    g_init = init_weights(generator, 106)
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=4)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.01),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.005),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    keys = KeysSeen()
    x = (d["images"], d["latents_d"], d["latents_g"], d["label_noise"])
    hist = gan.fit(x, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[keys])
    return {
        "setup": {
            "discriminator": "Sequential([Input((16,)), Dense(8, 'leaky_relu'), Dense(1)], "
                             "name='discriminator')",
            "generator": "Sequential([Input((4,)), Dense(8, 'leaky_relu'), Dense(16, 'sigmoid')], "
                         "name='generator')",
            "compile": {"d_optimizer": {"class": "Adam", "learning_rate": 0.01},
                        "g_optimizer": {"class": "Adam", "learning_rate": 0.005},
                        "loss_fn": {"class": "BinaryCrossentropy", "from_logits": True}},
            "fit": {"x": "(images, latents_d, latents_g, label_noise)", "batch_size": 16, "epochs": 2,
                    "shuffle": False},
            "train_step": "the guide's GAN: labels = concat([ones, zeros]) + 0.05 * "
                          "concat([label_noise[:, :1], label_noise[:, 1:]]); discriminator step on "
                          "concat([generator(latents_d), images]); generator step on latents_g with "
                          "zeros as labels; both with optimizer.apply_gradients(zip(grads, weights))",
            "notes": "train_step receives ((images, latents_d, latents_g, label_noise),): a 1-tuple "
                     "holding x, since y is None. GAN.__init__ sets self.built = True (the guide's PyTorch "
                     "variant does; without it Keras 3.15 fit raises RuntimeError 'Unable to automatically "
                     "build the model' since GAN has no call())",
        },
        "discriminator_initial_weights": [f32list(w) for w in d_init],
        "generator_initial_weights": [f32list(w) for w in g_init],
        "history": history_of(hist),
        "log_keys": {"train_batch_end": keys.batch_keys, "epoch_end": keys.epoch_keys},
        "metrics_names": gan.metrics_names,
        "discriminator_final_weights": [f32list(w) for w in discriminator.get_weights()],
        "generator_final_weights": [f32list(w) for w in generator.get_weights()],
        "generated": f32list(generator.predict(d["latents_g"], verbose=0)),
        "discriminator_predictions": f32list(discriminator.predict(d["images"], verbose=0)),
        "d_optimizer_iterations": iterations(gan.d_optimizer),
        "g_optimizer_iterations": iterations(gan.g_optimizer),
        "gan_optimizer_class": type(gan.optimizer).__name__,
    }


# --------------------------------------------------------------------------- f
class PenaltyModel(keras.Model):
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if training:
            loss = loss + 0.1 * ops.mean(ops.square(y_pred))
        return loss


class PenaltyModelNoTrainingArg(keras.Model):
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        return loss + 0.1 * ops.mean(ops.square(y_pred))


def _scenario_f(d, cls, seed, description):
    model = functional(8, layers.Dense(4, activation="tanh"), layers.Dense(2), cls=cls)
    init = init_weights(model, seed)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse",
                  metrics=["mae"])
    keys = KeysSeen()
    hist = model.fit(d["x8"], d["y2"], batch_size=32, epochs=3, shuffle=False, verbose=0,
                     validation_data=(d["x8"][:24], d["y2"][:24]), callbacks=[keys])
    entry = common_entry(model, init, hist, d["x8"], keys)
    entry.update({
        "setup": {
            "model": f"{cls.__name__}(inputs, outputs): Input((8,)) -> Dense(4, 'tanh') -> Dense(2)",
            "compute_loss": description,
            "compile": {"optimizer": {"class": "SGD", "learning_rate": 0.05, "momentum": 0.9},
                        "loss": "mse", "metrics": ["mae"]},
            "fit": {"x": "x8", "y": "y2", "batch_size": 32, "epochs": 3, "shuffle": False,
                    "validation_data": ["x8[:24]", "y2[:24]"]},
            "evaluate": "default test_step on (x8, y2)",
        },
        "init_seed": seed,
        "evaluate": evaluate_of(model, d["x8"], d["y2"]),
    })
    return entry


def scenario_f(d):
    return _scenario_f(d, PenaltyModel, 107,
                       "super().compute_loss(...) + 0.1 * mean(square(y_pred)) when training=True; "
                       "plain compiled loss when training=False (val_loss, evaluate)")


def scenario_f_no_training_arg(d):
    return _scenario_f(d, PenaltyModelNoTrainingArg, 108,
                       "compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None) without "
                       "`training`: super().compute_loss(...) + 0.1 * mean(square(y_pred)) always; "
                       "Keras 3 calls it without `training`, so the penalty is in val_loss too")


class ExtraMetricModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_metric = keras.metrics.MeanSquaredError(name="extra_mse")

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        metric_results = super().compute_metrics(x, y, y_pred, sample_weight)
        self.extra_metric.update_state(y, 2.0 * y_pred, sample_weight)
        metric_results["extra_mse"] = self.extra_metric.result()
        return metric_results


def scenario_f_compute_metrics(d):
    seed = 109
    model = functional(8, layers.Dense(2), cls=ExtraMetricModel)
    init = init_weights(model, seed)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    names_before = model.metrics_names
    keys = KeysSeen()
    hist = model.fit(d["x8"], d["y2"], batch_size=32, epochs=2, shuffle=False, verbose=0,
                     validation_data=(d["x8"][:24], d["y2"][:24]), callbacks=[keys])
    entry = common_entry(model, init, hist, d["x8"], keys)
    ev = evaluate_of(model, d["x8"], d["y2"])
    entry.update({
        "setup": {
            "model": "ExtraMetricModel(inputs, outputs): Input((8,)) -> Dense(2); holds "
                     "self.extra_metric = MeanSquaredError(name='extra_mse') as an attribute",
            "compute_metrics": "super().compute_metrics(x, y, y_pred, sample_weight), then "
                               "extra_metric.update_state(y, 2.0 * y_pred, sample_weight) and "
                               "results['extra_mse'] = extra_metric.result()",
            "compile": {"optimizer": {"class": "SGD", "learning_rate": 0.1}, "loss": "mse",
                        "metrics": ["mae"]},
            "fit": {"x": "x8", "y": "y2", "batch_size": 32, "epochs": 2, "shuffle": False,
                    "validation_data": ["x8[:24]", "y2[:24]"]},
            "evaluate": "default test_step on (x8, y2); then get_metrics_result()",
        },
        "init_seed": seed,
        "metrics_names_before_fit": names_before,
        "metrics_names_after_fit": model.metrics_names,
        "metrics_classes": [type(m).__name__ for m in model.metrics],
        "evaluate": ev,
        "get_metrics_result_after_evaluate": {k: float(F32(v)) for k, v in model.get_metrics_result().items()},
    })
    return entry


# --------------------------------------------------------------------------- g
class PostProcessModel(keras.Model):
    def predict_step(self, data):
        logits = super().predict_step(data)
        return {"probs": ops.softmax(logits), "classes": ops.argmax(logits, axis=-1)}


def scenario_g(d):
    seed = 110
    model = functional(8, layers.Dense(3), cls=PostProcessModel)
    init = init_weights(model, seed)
    out = model.predict(d["x8"], batch_size=32, verbose=0)
    on_batch = model.predict_on_batch(d["x8"][:5])
    direct = model(d["x8"][:5])
    return {
        "setup": {
            "model": "PostProcessModel(inputs, outputs): Input((8,)) -> Dense(3)",
            "predict_step": "logits = super().predict_step(data); return {'probs': softmax(logits), "
                            "'classes': argmax(logits, axis=-1)}",
            "predict": {"x": "x8", "batch_size": 32},
            "predict_on_batch": "x8[:5]",
            "notes": "not compiled; predict_step receives the x batch itself (not a tuple) for "
                     "predict(x); calling the model directly bypasses predict_step",
        },
        "init_seed": seed,
        "initial_weights": [f32list(w) for w in init],
        "predict": {"probs": f32list(out["probs"]), "classes": np.asarray(out["classes"]).tolist()},
        "predict_dtypes": {k: str(np.asarray(v).dtype) for k, v in out.items()},
        "predict_keys": sorted(out),
        "predict_on_batch": {"probs": f32list(on_batch["probs"]),
                             "classes": np.asarray(on_batch["classes"]).tolist()},
        "call_output": f32list(keras.ops.convert_to_numpy(direct)),
    }


# --------------------------------------------------------------------------- h
def _plain_scaled(d, optimizer_fn, scale, seed):
    def run(factor):
        model = keras.Sequential([keras.Input((8,)), layers.Dense(4, activation="tanh"), layers.Dense(2)])
        model.set_weights(init)
        model.compile(optimizer=optimizer_fn(factor), loss="mse", metrics=["mae"])
        hist = model.fit(d["x8"], d["y2"], batch_size=16, epochs=2, shuffle=False, verbose=0)
        return model, hist

    probe = keras.Sequential([keras.Input((8,)), layers.Dense(4, activation="tanh"), layers.Dense(2)])
    init = init_weights(probe, seed)
    model, hist = run(scale)
    ref, ref_hist = run(None)
    entry = {
        "init_seed": seed,
        "initial_weights": [f32list(w) for w in init],
        "history": history_of(hist),
        "final_weights": [f32list(w) for w in model.get_weights()],
        "predictions": f32list(model.predict(d["x8"], verbose=0)),
        "evaluate": evaluate_of(model, d["x8"], d["y2"]),
        "optimizer_iterations": iterations(model.optimizer),
        "optimizer_config_loss_scale_factor": model.optimizer.get_config()["loss_scale_factor"],
        "scale_loss_of_2": float(F32(keras.ops.convert_to_numpy(model.optimizer.scale_loss(2.0)))),
        "unscaled_history": history_of(ref_hist),
        "unscaled_final_weights": [f32list(w) for w in ref.get_weights()],
    }
    entry["max_abs_diff_scaled_vs_unscaled"] = float(max(
        np.max(np.abs(np.asarray(a) - np.asarray(b)))
        for a, b in zip(entry["final_weights"], entry["unscaled_final_weights"])
    ))
    return entry


def scenario_h_sgd(d):
    entry = _plain_scaled(d, lambda f: keras.optimizers.SGD(learning_rate=0.1, loss_scale_factor=f), 128.0, 111)
    entry["setup"] = {
        "model": "Sequential([Input((8,)), Dense(4, 'tanh'), Dense(2)])",
        "compile": {"optimizer": {"class": "SGD", "learning_rate": 0.1, "loss_scale_factor": 128.0},
                    "loss": "mse", "metrics": ["mae"]},
        "fit": {"x": "x8", "y": "y2", "batch_size": 16, "epochs": 2, "shuffle": False},
        "notes": "default train_step: loss = optimizer.scale_loss(loss) before the gradient, apply() "
                 "divides gradients by loss_scale_factor; unscaled_* is the same run with "
                 "SGD(learning_rate=0.1). A power-of-two factor makes both runs bit-identical.",
    }
    return entry


def scenario_h_adam(d):
    entry = _plain_scaled(d, lambda f: keras.optimizers.Adam(learning_rate=0.01, loss_scale_factor=f), 64.0, 112)
    entry["setup"] = {
        "model": "Sequential([Input((8,)), Dense(4, 'tanh'), Dense(2)])",
        "compile": {"optimizer": {"class": "Adam", "learning_rate": 0.01, "loss_scale_factor": 64.0},
                    "loss": "mse", "metrics": ["mae"]},
        "fit": {"x": "x8", "y": "y2", "batch_size": 16, "epochs": 2, "shuffle": False},
        "notes": "as h_sgd_loss_scale; unscaled_* is Adam(learning_rate=0.01)",
    }
    return entry


class ScaledStepModel(keras.Model):
    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        scaled_loss = self.optimizer.scale_loss(loss)
        scaled_loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _custom_scaled(d, cls, seed, description):
    def run(factor):
        model = functional(8, layers.Dense(4, activation="tanh"), layers.Dense(2), cls=cls)
        model.set_weights(init)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, loss_scale_factor=factor),
                      loss="mse", metrics=["mae"])
        hist = model.fit(d["x8"], d["y2"], batch_size=16, epochs=2, shuffle=False, verbose=0)
        return model, hist

    probe = functional(8, layers.Dense(4, activation="tanh"), layers.Dense(2))
    init = init_weights(probe, seed)
    model, hist = run(128.0)
    ref, ref_hist = run(None)
    entry = {
        "setup": {
            "model": f"{cls.__name__}(inputs, outputs): Input((8,)) -> Dense(4, 'tanh') -> Dense(2)",
            "train_step": description,
            "compile": {"optimizer": {"class": "SGD", "learning_rate": 0.1, "loss_scale_factor": 128.0},
                        "loss": "mse", "metrics": ["mae"]},
            "fit": {"x": "x8", "y": "y2", "batch_size": 16, "epochs": 2, "shuffle": False},
            "notes": "unscaled_*: the same train_step with SGD(learning_rate=0.1)",
        },
        "init_seed": seed,
        "initial_weights": [f32list(w) for w in init],
        "history": history_of(hist),
        "final_weights": [f32list(w) for w in model.get_weights()],
        "optimizer_iterations": iterations(model.optimizer),
        "unscaled_history": history_of(ref_hist),
        "unscaled_final_weights": [f32list(w) for w in ref.get_weights()],
    }
    entry["max_abs_diff_scaled_vs_unscaled"] = float(max(
        np.max(np.abs(np.asarray(a) - np.asarray(b)))
        for a, b in zip(entry["final_weights"], entry["unscaled_final_weights"])
    ))
    return entry


def scenario_h_custom_scale(d):
    return _custom_scaled(d, ScaledStepModel, 113,
                          "like a_train_step_compute_loss, but the gradient is taken of "
                          "self.optimizer.scale_loss(loss); metrics get the unscaled loss")


def scenario_h_custom_no_scale(d):
    return _custom_scaled(d, CustomModelA, 114,
                          "a_train_step_compute_loss's train_step (no scale_loss): apply() still divides "
                          "the gradients by 128, so the steps are 128 times smaller than unscaled")


# --------------------------------------------------------------------------- i (LoRA)
def h5_datasets(path):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = np.asarray(obj[()]).tolist()

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def lora_model():
    layer = layers.Dense(4, name="lora_dense")
    model = keras.Sequential([keras.Input((8,)), layer], name="lora_model")
    return model, layer


def weight_table(vs):
    return [{"name": v.name, "path": v.path, "shape": list(v.shape), "trainable": bool(v.trainable)} for v in vs]


def scenario_i(d):
    rs = np.random.RandomState(115)
    kernel = rs.uniform(-0.5, 0.5, size=(8, 4)).astype(F32)
    bias = rs.uniform(-0.5, 0.5, size=(4,)).astype(F32)
    lora_a = rs.uniform(-0.5, 0.5, size=(8, 2)).astype(F32)
    lora_b = rs.uniform(-0.5, 0.5, size=(2, 4)).astype(F32)
    x, y = d["x_lora"], d["y_lora"]

    model, layer = lora_model()
    model.set_weights([kernel, bias])
    before = model.predict(x, verbose=0)
    config_before = layer.get_config()
    layer.enable_lora(rank=2)
    default_lora_b = keras.ops.convert_to_numpy(layer.lora_kernel_b)
    layer.lora_kernel_a.assign(lora_a)
    layer.lora_kernel_b.assign(lora_b)
    forward = model.predict(x, verbose=0)
    entry = {
        "setup": {
            "layer": "Dense(4, name='lora_dense') in Sequential([Input((8,)), layer], name='lora_model'); "
                     "set_weights([kernel, bias]); layer.enable_lora(rank=2); "
                     "lora_kernel_a.assign(lora_a); lora_kernel_b.assign(lora_b)",
            "values": "rs = RandomState(115); kernel (8, 4), bias (4,), lora_a (8, 2), lora_b (2, 4) drawn "
                      "in that order with rs.uniform(-0.5, 0.5)",
            "train": {"compile": {"optimizer": {"class": "SGD", "learning_rate": 0.1}, "loss": "mse"},
                      "fit": {"x": "x_lora", "y": "y_lora", "batch_size": 8, "epochs": 3, "shuffle": False}},
            "save_weights": "model.save_weights('lora.weights.h5') after training; every dataset path/value",
            "load_weights": "a second lora_model (enable_lora(2), lora_a/lora_b assigned) loads that file",
        },
        "kernel": f32list(kernel),
        "bias": f32list(bias),
        "lora_a": f32list(lora_a),
        "lora_b": f32list(lora_b),
        "output_before_lora": f32list(before),
        "default_lora_kernel_b": f32list(default_lora_b),
        "forward": f32list(forward),
        "merged_kernel": f32list(keras.ops.convert_to_numpy(layer.kernel)),
        "weights": weight_table(layer.weights),
        "trainable_weights": [v.name for v in layer.trainable_weights],
        "non_trainable_weights": [v.name for v in layer.non_trainable_weights],
        "model_weights": [v.name for v in model.weights],
        "get_weights_shapes": [list(np.shape(w)) for w in model.get_weights()],
        "config_before_enable": config_before,
        "config": layer.get_config(),
        "lora_attrs": {"lora_enabled": layer.lora_enabled, "lora_rank": layer.lora_rank,
                       "lora_alpha": layer.lora_alpha},
        "enable_twice": error_of(lambda: layer.enable_lora(rank=2)),
    }
    unbuilt = layers.Dense(4)
    entry["enable_unbuilt"] = error_of(lambda: unbuilt.enable_lora(rank=2))

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    hist = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    entry["history"] = history_of(hist)
    entry["final"] = {
        "kernel": f32list(keras.ops.convert_to_numpy(layer._kernel)),
        "bias": f32list(keras.ops.convert_to_numpy(layer.bias)),
        "lora_kernel_a": f32list(keras.ops.convert_to_numpy(layer.lora_kernel_a)),
        "lora_kernel_b": f32list(keras.ops.convert_to_numpy(layer.lora_kernel_b)),
        "merged_kernel": f32list(keras.ops.convert_to_numpy(layer.kernel)),
    }
    entry["final_get_weights"] = [f32list(w) for w in model.get_weights()]
    entry["final_predictions"] = f32list(model.predict(x, verbose=0))
    entry["optimizer_iterations"] = iterations(model.optimizer)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lora.weights.h5")
        model.save_weights(path)
        entry["saved_weights_h5"] = h5_datasets(path)
        # a plain Dense model loads the merged kernel as its kernel
        plain, plain_layer = lora_model()
        plain.load_weights(path)
        entry["plain_model_after_load"] = [f32list(w) for w in plain.get_weights()]
        # a LoRA model: kernel <- merged kernel, lora kernels reset to zeros
        again, again_layer = lora_model()
        again_layer.enable_lora(rank=2)
        again_layer.lora_kernel_a.assign(lora_a)
        again_layer.lora_kernel_b.assign(lora_b)
        again.load_weights(path)
        entry["lora_model_after_load"] = [f32list(w) for w in again.get_weights()]

    # Dense(lora_rank=...) directly
    direct = layers.Dense(4, lora_rank=2, name="direct_lora")
    direct_config_unbuilt = direct.get_config()
    direct.build((None, 8))
    entry["direct"] = {
        "setup": "Dense(4, lora_rank=2, name='direct_lora'); build((None, 8))",
        "config_unbuilt": direct_config_unbuilt,
        "config": direct.get_config(),
        "weights": weight_table(direct.weights),
        "trainable_weights": [v.name for v in direct.trainable_weights],
        "lora_kernel_b_is_zero": bool(np.all(keras.ops.convert_to_numpy(direct.lora_kernel_b) == 0)),
    }
    alpha = layers.Dense(4, lora_rank=2, lora_alpha=8, name="alpha_lora")
    alpha_config_unbuilt = alpha.get_config()
    alpha.build((None, 8))
    entry["direct_alpha"] = {
        "setup": "Dense(4, lora_rank=2, lora_alpha=8, name='alpha_lora'); build((None, 8))",
        "config_unbuilt": alpha_config_unbuilt,
        "config": alpha.get_config(),
        "lora_alpha_after_build": alpha.lora_alpha,
        "notes": "Keras 3.15.1: build() calls enable_lora(self.lora_rank) without lora_alpha, so "
                 "the constructor's lora_alpha is replaced by lora_rank once the layer is built",
    }
    # enable_lora with lora_alpha: the LoRA term is scaled by lora_alpha / rank
    scaled_model, scaled_layer = lora_model()
    scaled_model.set_weights([kernel, bias])
    scaled_layer.enable_lora(rank=2, lora_alpha=6)
    scaled_layer.lora_kernel_a.assign(lora_a)
    scaled_layer.lora_kernel_b.assign(lora_b)
    entry["alpha_scaled"] = {
        "setup": "as above, enable_lora(rank=2, lora_alpha=6): output = x @ (kernel + 3 * A @ B) + bias",
        "forward": f32list(scaled_model.predict(x, verbose=0)),
        "config": scaled_layer.get_config(),
    }
    return entry


# --------------------------------------------------------------------------- JAX cross-check
def jax_crosscheck(d, fixture):
    """The guide's stateless JAX variant of scenario a, and h_sgd's default fit, on JAX."""

    class CustomModelJax(keras.Model):
        def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, metrics_variables,
                                     x, y, sample_weight, training=False):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training)
            loss, (trainable_variables, non_trainable_variables, metrics_variables) = (
                self.stateless_compute_loss(trainable_variables, non_trainable_variables, metrics_variables,
                                            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                            training=training))
            return loss, (y_pred, non_trainable_variables, metrics_variables)

        def train_step(self, state, data):
            import jax

            trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables, metrics_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, metrics_variables, x, y, sample_weight,
                training=True)
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables)
            new_metrics_vars = []
            logs = {}
            for metric in self.metrics:
                this_metric_vars = metrics_variables[
                    len(new_metrics_vars): len(new_metrics_vars) + len(metric.variables)]
                if metric.name == "loss":
                    this_metric_vars = metric.stateless_update_state(this_metric_vars, loss,
                                                                     sample_weight=sample_weight)
                else:
                    this_metric_vars = metric.stateless_update_state(this_metric_vars, y, y_pred,
                                                                     sample_weight=sample_weight)
                logs[metric.name] = metric.stateless_result(this_metric_vars)
                new_metrics_vars += this_metric_vars
            state = (trainable_variables, non_trainable_variables, optimizer_variables, new_metrics_vars)
            return logs, state

    out = {}
    a = fixture["a_train_step_compute_loss"]
    model = functional(32, layers.Dense(1), cls=CustomModelJax)
    model.set_weights([np.asarray(w, F32) for w in a["initial_weights"]])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    hist = model.fit(d["x32"], d["y1"], epochs=3, shuffle=False, verbose=0)
    # The guide's compute_loss_and_updates shadows the JAX trainer's own method of that name,
    # which its default test_step calls: evaluate on a plain model holding the same weights.
    plain = functional(32, layers.Dense(1))
    plain.set_weights(model.get_weights())
    plain.compile(optimizer="adam", loss="mse", metrics=["mae"])
    out["a_train_step_compute_loss"] = {
        "history": history_of(hist),
        "final_weights": [f32list(w) for w in model.get_weights()],
        "evaluate": evaluate_of(plain, d["x32"], d["y1"]),
    }
    h = fixture["h_sgd_loss_scale"]
    model = keras.Sequential([keras.Input((8,)), layers.Dense(4, activation="tanh"), layers.Dense(2)])
    model.set_weights([np.asarray(w, F32) for w in h["initial_weights"]])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, loss_scale_factor=128.0), loss="mse",
                  metrics=["mae"])
    hist = model.fit(d["x8"], d["y2"], batch_size=16, epochs=2, shuffle=False, verbose=0)
    out["h_sgd_loss_scale"] = {
        "history": history_of(hist),
        "final_weights": [f32list(w) for w in model.get_weights()],
        "evaluate": evaluate_of(model, d["x8"], d["y2"]),
    }
    return out


def _max_diff(a, b):
    if isinstance(a, dict):
        return max(_max_diff(a[k], b[k]) for k in a)
    if isinstance(a, list) and a and isinstance(a[0], (list, dict)) and not isinstance(a[0], float):
        return max(_max_diff(x, y) for x, y in zip(a, b))
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def run_crosscheck(result):
    """Run this script on the JAX backend in a child process; store the largest differences."""
    with tempfile.TemporaryDirectory() as tmp:
        partial = os.path.join(tmp, "fixture.json")
        with open(partial, "w") as f:
            json.dump(result, f)
        env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--jax-crosscheck", partial],
                              env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"backend": "jax", "error": proc.stderr[-2000:]}
    jax_out = json.loads(proc.stdout.strip().splitlines()[-1])
    check = {"backend": "jax", "jax_version": jax_out.pop("_jax_version"), "scenarios": {}}
    for name, got in jax_out.items():
        ref = result[name]
        per = {key: _max_diff(got[key], ref[key]) for key in got}
        check["scenarios"][name] = {"max_abs_diff": per, "jax": got}
    check["max_abs_diff"] = max(v for s in check["scenarios"].values() for v in s["max_abs_diff"].values())
    return check


# --------------------------------------------------------------------------- main
SCENARIOS = [
    ("a_train_step_compute_loss", scenario_a),
    ("b_low_level_metrics", scenario_b),
    ("c_sample_weight", scenario_c_sample_weight),
    ("c_class_weight", scenario_c_class_weight),
    ("d_test_step", scenario_d),
    ("e_gan", scenario_e),
    ("f_compute_loss", scenario_f),
    ("f_compute_loss_no_training_arg", scenario_f_no_training_arg),
    ("f_compute_metrics", scenario_f_compute_metrics),
    ("g_predict_step", scenario_g),
    ("h_sgd_loss_scale", scenario_h_sgd),
    ("h_adam_loss_scale", scenario_h_adam),
    ("h_custom_step_scale_loss", scenario_h_custom_scale),
    ("h_custom_step_no_scale_loss", scenario_h_custom_no_scale),
    ("i_lora", scenario_i),
]


def main():
    d = make_data()
    if CROSSCHECK:
        import jax

        with open(sys.argv[sys.argv.index("--jax-crosscheck") + 1]) as f:
            fixture = json.load(f)
        out = jax_crosscheck(d, fixture)
        out["_jax_version"] = jax.__version__
        print(json.dumps(out))
        return

    torch.set_num_threads(1)
    result = {
        "versions": {
            "keras": keras.__version__,
            "keras_backend": keras.backend.backend(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "h5py": h5py.__version__,
        },
        "recorded_on": datetime.date.today().isoformat(),
        "data": {name: f32list(arr) for name, arr in d.items()},
        "data_generation": GENERATION,
    }
    for name, fn in SCENARIOS:
        keras.utils.set_random_seed(1234)  # nothing random should matter; belt and braces
        result[name] = fn(d)
    result["crosscheck"] = run_crosscheck(result)

    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write("{\n")
        items = list(result.items())
        for i, (key, val) in enumerate(items):
            sep = "," if i < len(items) - 1 else ""
            f.write(json.dumps(key) + ": " + json.dumps(val) + sep + "\n")
        f.write("}\n")
    print("wrote", OUT_PATH)
    print("JAX cross-check max |diff|:", result["crosscheck"].get("max_abs_diff", result["crosscheck"]))


if __name__ == "__main__":
    main()
