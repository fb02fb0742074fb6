"""keras.layers.Discretization: buckets, encodings, shapes and dtypes as Keras 3.15 gives them (the expected
values below were read off Keras 3 on torch for the same calls), adapt's quantile boundaries, config."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras

X = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])


@pytest.mark.any_backend
@pytest.mark.parametrize("mode, data, want, dtype", [
    ("int", X, [[0, 2, 3, 1], [1, 3, 2, 1]], "int32"),
    ("one_hot", X[:, :1], [[1, 0, 0, 0], [0, 1, 0, 0]], "float32"),
    ("multi_hot", X, [[1, 1, 1, 1], [0, 1, 1, 1]], "float32"),
    ("count", X, [[1, 1, 1, 1], [0, 2, 1, 1]], "float32"),
])
def test_buckets_and_encodings_match_keras3(mode, data, want, dtype):
    layer = keras.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode=mode)
    out = layer(data)
    assert str(out.dtype) == dtype
    np.testing.assert_array_equal(out.numpy(), want)
    again = keras.layers.Discretization.from_config(layer.get_config())
    np.testing.assert_array_equal(again(data).numpy(), want)


@pytest.mark.any_backend
def test_a_value_on_a_boundary_goes_up_and_symbolic_shapes_follow():
    layer = keras.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    np.testing.assert_array_equal(layer(np.array([0.0, 0.99, 1.0, 2.5])).numpy(), [1, 1, 2, 3])
    encoded = keras.layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="count")(keras.Input((5,)))
    assert encoded.shape == (None, 3) and encoded.dtype == "float32"


@pytest.mark.any_backend
def test_adapt_learns_quantile_boundaries_and_bad_arguments_are_named():
    layer = keras.layers.Discretization(num_bins=4)
    layer.adapt(np.arange(100.0).reshape(50, 2))
    assert layer.bin_boundaries == [24.75, 49.5, 74.25]
    np.testing.assert_array_equal(layer(np.array([0.0, 30.0, 60.0, 99.0])).numpy(), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="not both"):
        keras.layers.Discretization(bin_boundaries=[0.0], num_bins=2)
    with pytest.raises(ValueError, match="sorted"):
        keras.layers.Discretization(bin_boundaries=[1.0, 0.0])
    with pytest.raises(ValueError, match="call adapt"):
        keras.layers.Discretization(num_bins=3)(np.zeros(2))
