"""The mixed-precision training runs recorded from Keras 3 and replayed by gpukeras, written once against
the Keras API (`build(keras, case)` takes either library's module), so both sides train the same models.

Each case: a policy, a model, a loss, an optimizer, data and initial weights from np.random.RandomState.
"""

import numpy as np

CASES = {
    # name: (policy, model, loss, explicit LossScaleOptimizer arguments or None)
    "mlp_float16": ("mixed_float16", "mlp", "categorical_crossentropy", None),
    "convnet_float16": ("mixed_float16", "convnet", "categorical_crossentropy", None),
    "mlp_bfloat16": ("mixed_bfloat16", "mlp", "categorical_crossentropy", None),
    "convnet_bfloat16": ("mixed_bfloat16", "convnet", "categorical_crossentropy", None),
    # Targets of 1e3 under MSE overflow float16 gradients at the initial scale 2**15: the scale halves
    # and steps are skipped until they fit, then doubles every 3 finite steps.
    "overflow_float16": ("mixed_float16", "regressor", "mse", {"dynamic_growth_steps": 3}),
}
BATCH_SIZE = 4
SAMPLES = 8


def epochs(name: str) -> int:
    """Passes over the data: the overflow run is long enough to see the scale fall, recover and double."""
    return 12 if name.startswith("overflow") else 3


def build(keras, model: str):
    """The model `model` ("mlp", "convnet", "regressor") under the global policy set by the caller."""
    layers = keras.layers
    if model == "mlp":
        return keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"),
                                 layers.Dense(3, activation="softmax")])
    if model == "convnet":
        return keras.Sequential([keras.Input((5, 5, 2)), layers.Conv2D(4, 3, padding="same"),
                                 layers.BatchNormalization(), layers.Activation("relu"),
                                 layers.GlobalAveragePooling2D(), layers.Dense(3, activation="softmax")])
    return keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(2)])


def data(model: str) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets (one-hot classes, or regression targets of about 1e3)."""
    rng = np.random.RandomState(7)
    x = rng.randn(SAMPLES, *((5, 5, 2) if model == "convnet" else (6,))).astype("float32")
    if model == "regressor":
        return x, (1000.0 + 100.0 * rng.randn(SAMPLES, 2)).astype("float32")
    return x, np.eye(3, dtype="float32")[rng.randint(0, 3, SAMPLES)]


def initial_weights(shapes: list[tuple]) -> list[np.ndarray]:
    """Seeded weights for a model's weight shapes: vectors (biases, BatchNormalization's gamma, beta and
    statistics) near 1, so moving variances are positive."""
    rng = np.random.RandomState(3)
    return [(0.4 * rng.randn(*s)).astype("float32") if len(s) > 1 else (1.0 + 0.2 * rng.randn(*s)).astype("float32")
            for s in shapes]


def optimizer(keras, scaling: dict | None):
    """SGD, wrapped in an explicit LossScaleOptimizer when `scaling` gives its arguments (then with a small
    learning rate: the regression targets are large)."""
    sgd = keras.optimizers.SGD(learning_rate=0.1 if scaling is None else 1e-5)
    return sgd if scaling is None else keras.mixed_precision.LossScaleOptimizer(sgd, **scaling)
