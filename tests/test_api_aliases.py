"""Keras 3's other names for the same objects, which Keras programs use as often as the main ones: lowercase
initializer/regularizer/constraint classes, keras.models.model_from_json/save_model, keras.mixed_precision's
dtype_policy names, keras.utils.clear_session/is_keras_tensor."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras

ALIASES = [
    (keras.initializers, {"glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
                          "he_normal": "HeNormal", "he_uniform": "HeUniform", "lecun_normal": "LecunNormal",
                          "lecun_uniform": "LecunUniform", "zeros": "Zeros", "ones": "Ones", "constant": "Constant",
                          "random_normal": "RandomNormal", "random_uniform": "RandomUniform",
                          "truncated_normal": "TruncatedNormal", "variance_scaling": "VarianceScaling",
                          "orthogonal": "Orthogonal", "identity": "Identity", "IdentityInitializer": "Identity",
                          "OrthogonalInitializer": "Orthogonal"}),
    (keras.regularizers, {"l1": "L1", "l2": "L2", "orthogonal_regularizer": "OrthogonalRegularizer"}),
    (keras.constraints, {"max_norm": "MaxNorm", "min_max_norm": "MinMaxNorm", "non_neg": "NonNeg",
                         "unit_norm": "UnitNorm"}),
]


@pytest.mark.any_backend
@pytest.mark.parametrize("module, names", ALIASES, ids=["initializers", "regularizers", "constraints"])
def test_lowercase_names_are_the_classes(module, names):
    for alias, cls in names.items():
        assert getattr(module, alias) is getattr(module, cls), alias


def test_a_model_built_with_the_aliases_round_trips_through_json():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
        2, kernel_initializer=keras.initializers.glorot_uniform(seed=1),
        kernel_regularizer=keras.regularizers.l2(0.01), kernel_constraint=keras.constraints.max_norm(2.0))])
    again = keras.models.model_from_json(model.to_json())
    assert isinstance(again, keras.Sequential) and again.layers[0].kernel_constraint.max_value == 2.0
    assert again.to_json() == model.to_json()
    assert keras.models.save_model is keras.saving.save_model


@pytest.mark.any_backend
def test_other_module_aliases():
    assert keras.mixed_precision.dtype_policy is keras.mixed_precision.global_policy
    assert keras.mixed_precision.set_dtype_policy is keras.mixed_precision.set_global_policy
    assert keras.utils.clear_session is keras.backend.clear_session
    assert keras.utils.is_keras_tensor(keras.Input((2,))) and not keras.utils.is_keras_tensor(np.ones(2))
