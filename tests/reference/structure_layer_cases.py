"""The structure layers of issue 12 as cases, written once and run with either library.

Each function takes `keras` (Keras 3 in tests/reference/record_keras3_structure_layers.py,
`gpukeras` in tests/test_keras3_structure_layers.py), so both build exactly the same layers and
models. Input data, weights and the results live in tests/fixtures/keras3_structure_layers.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# ---------------------------------------------------------------------- single layers
# name -> (layer factory, input shapes (a list: the layer takes a list), call kwargs)
Case = tuple[Callable[[Any], Any], Any, dict]


def layer_cases() -> dict[str, Case]:
    """Deterministic layers: forward output, gradients (inputs and weights) and config."""
    two = [(4, 3, 5), (4, 3, 5)]
    return {
        # merging
        "add": (lambda k: k.layers.Add(), two, {}),
        "add_broadcast": (lambda k: k.layers.Add(), [(4, 3, 5), (4, 1, 5)], {}),
        "add_lower_rank": (lambda k: k.layers.Add(), [(4, 3, 5), (4, 5)], {}),
        "subtract": (lambda k: k.layers.Subtract(), two, {}),
        "multiply": (lambda k: k.layers.Multiply(), [(4, 3, 5)] * 3, {}),
        "average": (lambda k: k.layers.Average(), [(4, 3, 5)] * 3, {}),
        "maximum": (lambda k: k.layers.Maximum(), [(4, 3, 5)] * 3, {}),
        "minimum": (lambda k: k.layers.Minimum(), two, {}),
        "concatenate_axis1": (lambda k: k.layers.Concatenate(axis=1), [(4, 3, 5), (4, 2, 5)], {}),
        "dot_2d": (lambda k: k.layers.Dot(axes=1), [(4, 5), (4, 5)], {}),
        "dot_3d": (lambda k: k.layers.Dot(axes=(2, 2)), [(4, 3, 5), (4, 6, 5)], {}),
        "dot_axes_1_2": (lambda k: k.layers.Dot(axes=(1, 2)), [(4, 3, 5), (4, 5, 3)], {}),
        "dot_normalize": (lambda k: k.layers.Dot(axes=-1, normalize=True), [(4, 3, 5), (4, 2, 5)], {}),
        "dot_4d": (lambda k: k.layers.Dot(axes=(3, 1)), [(2, 3, 4, 5), (2, 5, 2)], {}),
        # activations
        "relu": (lambda k: k.layers.ReLU(), (4, 6), {}),
        "relu_options": (lambda k: k.layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.3), (4, 6), {}),
        "relu_max6": (lambda k: k.layers.ReLU(max_value=6.0), (4, 6), {}),
        "relu_threshold": (lambda k: k.layers.ReLU(threshold=0.45), (4, 6), {}),
        "leaky_relu": (lambda k: k.layers.LeakyReLU(), (4, 6), {}),
        "leaky_relu_slope": (lambda k: k.layers.LeakyReLU(negative_slope=0.05), (4, 6), {}),
        "prelu": (lambda k: k.layers.PReLU(), (4, 3, 2), {}),
        "prelu_shared": (lambda k: k.layers.PReLU(shared_axes=[1, 2]), (4, 3, 3, 2), {}),
        "prelu_shared_int": (lambda k: k.layers.PReLU(shared_axes=1), (4, 3, 2), {}),
        "elu": (lambda k: k.layers.ELU(), (4, 6), {}),
        "elu_alpha": (lambda k: k.layers.ELU(alpha=0.5), (4, 6), {}),
        "softmax": (lambda k: k.layers.Softmax(), (4, 6), {}),
        "softmax_axis1": (lambda k: k.layers.Softmax(axis=1), (4, 3, 5), {}),
        "softmax_two_axes": (lambda k: k.layers.Softmax(axis=[1, 2]), (4, 3, 5), {}),
        "softmax_mask": (lambda k: k.layers.Softmax(), (4, 3, 5), {"mask": "softmax_mask"}),
        # structure
        "permute": (lambda k: k.layers.Permute((2, 1)), (4, 3, 5), {}),
        "permute_3d": (lambda k: k.layers.Permute((3, 1, 2)), (2, 3, 4, 5), {}),
        "repeat_vector": (lambda k: k.layers.RepeatVector(3), (4, 5), {}),
        "identity": (lambda k: k.layers.Identity(), (4, 5), {}),
        "lambda": (lambda k: k.layers.Lambda(lambda x: x * 2.0 + 1.0), (4, 5), {}),
        "lambda_arguments": (lambda k: k.layers.Lambda(lambda x, scale: x * scale, arguments={"scale": 3.0}),
                             (4, 5), {}),
        # normalization
        "group_norm": (lambda k: k.layers.GroupNormalization(groups=2), (4, 3, 6), {}),
        "group_norm_instance": (lambda k: k.layers.GroupNormalization(groups=-1, epsilon=1e-5), (2, 4, 4, 3), {}),
        "group_norm_channels_first": (lambda k: k.layers.GroupNormalization(groups=2, axis=1), (2, 4, 3, 3), {}),
        "group_norm_no_center": (lambda k: k.layers.GroupNormalization(groups=3, center=False), (4, 6), {}),
        "group_norm_no_scale": (lambda k: k.layers.GroupNormalization(groups=1, scale=False), (4, 2, 4), {}),
        "unit_norm": (lambda k: k.layers.UnitNormalization(), (4, 5), {}),
        "unit_norm_axes": (lambda k: k.layers.UnitNormalization(axis=[1, 2]), (4, 3, 5), {}),
        # regularization layers in their deterministic settings (inference, or a zero rate)
        "gaussian_noise_inference": (lambda k: k.layers.GaussianNoise(0.3, seed=1), (4, 5), {"training": False}),
        "gaussian_dropout_inference": (lambda k: k.layers.GaussianDropout(0.4, seed=2), (4, 5),
                                       {"training": False}),
        "alpha_dropout_inference": (lambda k: k.layers.AlphaDropout(0.4, seed=3), (4, 5), {"training": False}),
        "spatial_dropout1d_inference": (lambda k: k.layers.SpatialDropout1D(0.5, seed=4), (2, 3, 4),
                                        {"training": False}),
        "spatial_dropout2d_inference": (lambda k: k.layers.SpatialDropout2D(0.5, seed=5), (2, 3, 3, 2),
                                        {"training": False}),
        "spatial_dropout3d_inference": (lambda k: k.layers.SpatialDropout3D(0.5, data_format="channels_first"),
                                        (2, 2, 2, 2, 2), {"training": False}),
        "gaussian_noise_zero": (lambda k: k.layers.GaussianNoise(0.0), (4, 5), {"training": True}),
        "alpha_dropout_zero": (lambda k: k.layers.AlphaDropout(0.0), (4, 5), {"training": True}),
        "activity_regularization": (lambda k: k.layers.ActivityRegularization(l1=0.01, l2=0.02), (4, 5), {}),
    }


# name -> (layer factory, input shapes, which inputs carry which recorded mask)
def masked_cases() -> dict[str, tuple[Callable[[Any], Any], list, list]]:
    """Merges of masked inputs: forward output and the output's mask (masks: (4, 3) booleans)."""
    two = [(4, 3, 5), (4, 3, 5)]
    return {
        "add_masked": (lambda k: k.layers.Add(), two, ["mask_a", "mask_b"]),
        "subtract_masked": (lambda k: k.layers.Subtract(), two, ["mask_a", "mask_b"]),
        "average_masked": (lambda k: k.layers.Average(), two, ["mask_a", None]),
        "multiply_masked": (lambda k: k.layers.Multiply(), two, ["mask_a", "mask_b"]),
        "multiply_one_masked": (lambda k: k.layers.Multiply(), two, ["mask_a", None]),
        "maximum_masked": (lambda k: k.layers.Maximum(), [(4, 3, 5)] * 3, ["mask_a", "mask_b", "mask_c"]),
        "minimum_masked": (lambda k: k.layers.Minimum(), two, ["mask_a", "mask_b"]),
        "minimum_one_masked": (lambda k: k.layers.Minimum(), two, [None, "mask_b"]),
        "concatenate_masked": (lambda k: k.layers.Concatenate(axis=-1), two, ["mask_a", "mask_b"]),
        "concatenate_one_masked": (lambda k: k.layers.Concatenate(axis=1), two, ["mask_a", None]),
        "dot_masked": (lambda k: k.layers.Dot(axes=(2, 2)), two, ["mask_a", "mask_b"]),
        "softmax_previous_mask": (lambda k: k.layers.Softmax(), [(4, 4, 3)], ["mask_a"]),
        "prelu_passes_mask": (lambda k: k.layers.PReLU(), [(4, 3, 5)], ["mask_a"]),
        "group_norm_passes_mask": (lambda k: k.layers.GroupNormalization(groups=5), [(4, 3, 5)], ["mask_a"]),
    }


def invalid_arguments() -> dict[str, Callable[[Any], Any]]:
    """Constructor calls Keras 3 refuses: each must raise (the recorder stores the exception type)."""
    return {
        "relu_negative_max": lambda k: k.layers.ReLU(max_value=-1.0),
        "relu_negative_slope": lambda k: k.layers.ReLU(negative_slope=-0.1),
        "relu_negative_threshold": lambda k: k.layers.ReLU(threshold=-0.5),
        "leaky_relu_negative": lambda k: k.layers.LeakyReLU(negative_slope=-1.0),
        "dot_three_axes": lambda k: k.layers.Dot(axes=(1, 2, 3)),
        "dot_axes_string": lambda k: k.layers.Dot(axes="x"),
        "permute_bad": lambda k: k.layers.Permute((1, 3)),
        "repeat_vector_zero": lambda k: k.layers.RepeatVector(0),
        "repeat_vector_float": lambda k: k.layers.RepeatVector(2.5),
        "gaussian_noise_big": lambda k: k.layers.GaussianNoise(1.5),
        "gaussian_dropout_negative": lambda k: k.layers.GaussianDropout(-0.1),
        "alpha_dropout_big": lambda k: k.layers.AlphaDropout(1.1),
        "group_norm_zero_groups": lambda k: k.layers.GroupNormalization(groups=0),
        "unit_norm_axis_string": lambda k: k.layers.UnitNormalization(axis="x"),
        "group_norm_indivisible": lambda k: k.layers.GroupNormalization(groups=4)(k.ops.ones((2, 6))),
        "subtract_three": lambda k: k.layers.Subtract()([k.ops.ones((2, 3))] * 3),
        "dot_mismatch": lambda k: k.layers.Dot(axes=1)([k.ops.ones((2, 3)), k.ops.ones((2, 4))]),
        "seed_generator_float": lambda k: k.random.SeedGenerator(1.5),
        "random_uniform_int": lambda k: k.random.uniform((2,), dtype="int32", seed=1),
        "random_randint_float": lambda k: k.random.randint((2,), 0, 3, dtype="float32", seed=1),
        "random_bad_seed": lambda k: k.random.normal((2,), seed="x"),
    }


# ---------------------------------------------------------------------- small models trained a few steps
def training_models(keras: Any) -> dict[str, tuple[Any, list[str], str, str]]:
    """name -> (model, input data names, target data name, loss): each trained 3 epochs with SGD(0.1)."""
    layers = keras.layers
    out: dict[str, tuple[Any, list[str], str, str]] = {}

    a, b = keras.Input((6,)), keras.Input((6,))
    ha, hb = layers.Dense(4, activation="tanh")(a), layers.Dense(4, activation="tanh")(b)
    merged = layers.concatenate([
        layers.add([ha, hb]), layers.subtract([ha, hb]), layers.multiply([ha, hb]), layers.average([ha, hb]),
        layers.maximum([ha, hb]), layers.minimum([ha, hb]), layers.dot([ha, hb], axes=1, normalize=True),
        layers.Dot(axes=1)([ha, hb]),
    ])
    out["merging"] = (keras.Model([a, b], layers.Dense(1)(merged)), ["x6", "x6b"], "y1", "mse")

    model = keras.Sequential([
        keras.Input((6,)), layers.Dense(8), layers.PReLU(alpha_initializer="ones"), layers.Dense(8),
        layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.2), layers.Dense(8), layers.LeakyReLU(0.2),
        layers.Dense(8), layers.ELU(0.7), layers.Dense(3), layers.Softmax(),
    ])
    out["activations"] = (model, ["x6"], "y3", "categorical_crossentropy")

    model = keras.Sequential([
        keras.Input((5, 4)), layers.Permute((2, 1)), layers.Dense(6), layers.GroupNormalization(groups=3),
        layers.PReLU(shared_axes=[1]), layers.Flatten(), layers.UnitNormalization(), layers.RepeatVector(2),
        layers.Lambda(lambda t: t * 0.5), layers.Identity(), layers.ActivityRegularization(l1=0.01, l2=0.02),
        layers.GaussianNoise(0.0), layers.GaussianDropout(0.0), layers.AlphaDropout(0.0),
        layers.SpatialDropout1D(0.0), layers.Flatten(), layers.Dense(1),
    ])
    out["structure"] = (model, ["x54"], "y1", "mse")

    inp = keras.Input((4, 4, 2))
    h = layers.Dense(4)(inp)
    h = layers.GroupNormalization(groups=2, axis=-1, epsilon=1e-4)(h)
    h = layers.GroupNormalization(groups=-1, axis=1, center=False)(h)
    h = layers.Flatten()(h)
    out["group_normalization"] = (keras.Model(inp, layers.Dense(1)(h)), ["x442"], "y1", "mse")
    return out


TRAINING_DATA = {
    "x6": (16, 6), "x6b": (16, 6), "x54": (16, 5, 4), "x442": (16, 4, 4, 2), "y1": (16, 1), "y3": (16, 3),
}


def double_plus_one(x: Any) -> Any:
    """A named function for Lambda layers: saved by name, not as bytecode."""
    return x * 2.0 + 1.0


# ---------------------------------------------------------------------- clone_model
def clone_sources(keras: Any) -> dict[str, Any]:
    """Models clone_model is tried on (see clone_scenarios)."""
    layers = keras.layers
    inp = keras.Input((4,), name="features")
    shared = layers.Dense(3, name="shared")
    h = shared(layers.Dense(3, activation="relu", name="first")(inp))
    h2 = shared(h)
    functional = keras.Model(inp, layers.add([h, h2], name="sum"), name="shared_functional")
    functional.compile(optimizer="adam", loss="mse", metrics=["mae"])

    sequential = keras.Sequential([keras.Input((4,), name="seq_in"), layers.Dense(5, name="hidden"),
                                   layers.Dropout(0.2, name="drop"), layers.Dense(2, name="out")], name="seq")

    inner = keras.Sequential([keras.Input((3,)), layers.Dense(3, name="inner_dense")], name="inner")
    outer_in = keras.Input((4,), name="outer_in")
    nested = keras.Model(outer_in, layers.Dense(2, name="head")(inner(layers.Dense(3, name="stem")(outer_in))),
                         name="nested")
    return {"functional": functional, "sequential": sequential, "nested": nested}


def subclassed_model_class(keras: Any) -> type:
    """A subclassed model with get_config: clone_model rebuilds it from its config."""

    class TwoDense(keras.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.first = keras.layers.Dense(units, activation="relu")
            self.second = keras.layers.Dense(1)

        def call(self, inputs):
            return self.second(self.first(inputs))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return TwoDense


def insert_dropout_after_dense(keras: Any) -> Callable[..., Any]:
    """keras.io's call_function example: a Dropout after each Dense, layers reused."""

    def call_function(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        if isinstance(layer, keras.layers.Dense):
            out = keras.layers.Dropout(0.5)(out)
        return out

    return call_function
