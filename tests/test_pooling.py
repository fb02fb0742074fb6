"""Pooling: forward values against a direct loop reference, gradients, layers and their shapes."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from gradcheck import check_gradients

import gpukeras as keras
from gpukeras import layers, ops

RNG = np.random.default_rng(11)


def tf_pads(n: int, k: int, s: int, d: int, padding: str) -> tuple[int, int, int]:
    """(before, after, out) for one axis, from TensorFlow's documented rule."""
    eff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0, (n - eff) // s + 1
    out = -(-n // s)
    total = max((out - 1) * s + eff - n, 0)
    return total // 2, total - total // 2, out


def ref_pool(x, mode, pool, strides, padding):
    """Direct pooling in float64; "same" windows see only real pixels (max ignores pads, mean divides by count)."""
    r = x.ndim - 2
    geo = [tf_pads(x.shape[1 + i], pool[i], strides[i], 1, padding) for i in range(r)]
    out = tuple(g[2] for g in geo)
    y = np.zeros((x.shape[0],) + out + (x.shape[-1],))
    for o in itertools.product(*map(range, out)):
        idx = []
        for i in range(r):
            start = o[i] * strides[i] - geo[i][0]
            idx.append(slice(max(start, 0), min(start + pool[i], x.shape[1 + i])))
        window = x[(slice(None), *idx)].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None),) + o] = window.max(axis=1) if mode == "max" else window.mean(axis=1)
    return y


def _np(t):
    return np.asarray(ops.convert_to_numpy(t))


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("pool,strides", [((2, 2), None), ((3, 2), (1, 1)), ((3, 3), (2, 2)), ((2, 3), (3, 1))])
def test_pool2d_matches_direct_reference(mode, padding, pool, strides) -> None:
    x = RNG.standard_normal((2, 7, 8, 3))
    fn = ops.max_pool if mode == "max" else ops.average_pool
    y = fn(x, pool, strides=strides, padding=padding)
    np.testing.assert_allclose(_np(y), ref_pool(x, mode, pool, strides or pool, padding), atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pool1d_and_channels_first(mode, padding) -> None:
    x = RNG.standard_normal((2, 9, 4))
    fn = ops.max_pool if mode == "max" else ops.average_pool
    np.testing.assert_allclose(_np(fn(x, 3, 2, padding)), ref_pool(x, mode, (3,), (2,), padding), atol=1e-12)
    x4 = RNG.standard_normal((2, 5, 6, 3))
    first = fn(np.transpose(x4, (0, 3, 1, 2)), 2, 1, padding, data_format="channels_first")
    np.testing.assert_allclose(_np(first), np.transpose(ref_pool(x4, mode, (2, 2), (1, 1), padding), (0, 3, 1, 2)),
                               atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("padding,pool,strides", [("valid", 2, None), ("same", 3, 2), ("same", 2, 1)])
def test_pool_gradients(mode, padding, pool, strides) -> None:
    x = RNG.permutation(2 * 5 * 6 * 2).reshape(2, 5, 6, 2) * 0.1  # distinct values: no ties in max
    fn = ops.max_pool if mode == "max" else ops.average_pool
    check_gradients(lambda a: fn(a, pool, strides, padding), [x], name=f"{mode}_pool {padding}")


def test_max_pool_gradient_goes_to_first_maximum_on_ties() -> None:
    x = keras.Variable(np.zeros((1, 2, 2, 1)), dtype="float64")
    with keras.GradientTape() as tape:
        y = ops.sum(ops.max_pool(x, 2))
    g = tape.gradient(y, x).numpy()
    np.testing.assert_array_equal(g.reshape(-1), [1, 0, 0, 0])


def test_pooling_layers_shapes_and_values() -> None:
    x = RNG.standard_normal((2, 7, 7, 3)).astype("float32")
    layer = layers.MaxPooling2D()
    assert layer(x).shape == (2, 3, 3, 3)
    assert layer.compute_output_shape((None, 7, 7, 3)) == (None, 3, 3, 3)
    same = layers.AveragePooling2D(3, strides=2, padding="same")
    np.testing.assert_allclose(same(x).numpy(), ref_pool(x, "average", (3, 3), (2, 2), "same"), rtol=1e-5, atol=1e-6)
    assert same.compute_output_shape((None, 7, None, 3)) == (None, 4, None, 3)
    assert layers.MaxPooling1D(2, padding="same")(x[:, 0]).shape == (2, 4, 3)
    cf = layers.AveragePooling1D(2, data_format="channels_first")
    assert cf(np.zeros((2, 3, 8), "float32")).shape == (2, 3, 4)
    assert cf.compute_output_shape((None, 3, 8)) == (None, 3, 4)
    assert layers.MaxPooling3D(2)(np.zeros((1, 4, 4, 4, 2), "float32")).shape == (1, 2, 2, 2, 2)


@pytest.mark.parametrize("cls,reduce", [(layers.GlobalAveragePooling2D, np.mean), (layers.GlobalMaxPooling2D, np.max)])
def test_global_pooling_2d(cls, reduce) -> None:
    x = RNG.standard_normal((2, 4, 5, 3)).astype("float32")
    np.testing.assert_allclose(cls()(x).numpy(), reduce(x, axis=(1, 2)), rtol=1e-6)
    kept = cls(keepdims=True)
    np.testing.assert_allclose(kept(x).numpy(), reduce(x, axis=(1, 2), keepdims=True), rtol=1e-6)
    assert kept.compute_output_shape((None, 4, 5, 3)) == (None, 1, 1, 3)
    first = cls(data_format="channels_first")
    np.testing.assert_allclose(first(np.transpose(x, (0, 3, 1, 2))).numpy(), reduce(x, axis=(1, 2)), rtol=1e-6)
    assert first.compute_output_shape((None, 3, 4, 5)) == (None, 3)


def test_global_pooling_1d_gradients_and_model() -> None:
    x = RNG.standard_normal((2, 5, 3))
    check_gradients(lambda a: layers.GlobalAveragePooling1D(dtype="float64")(a), [x], name="global average 1d")
    check_gradients(lambda a: layers.GlobalMaxPooling1D(keepdims=True, dtype="float64")(a), [x], name="global max 1d")
    model = keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(4, 3), layers.GlobalAveragePooling2D(),
                              layers.Dense(2)])
    assert model.output_shape_of(model.layers[1]) == (None, 4)


def test_pooling_config_round_trip() -> None:
    layer = layers.AveragePooling2D((3, 2), strides=(1, 2), padding="same", data_format="channels_first")
    config = layer.get_config()
    json.dumps(config)
    assert config["pool_size"] == (3, 2) and config["strides"] == (1, 2)
    assert layers.AveragePooling2D.from_config(config).get_config() == config
    g = layers.GlobalMaxPooling1D(keepdims=True)
    assert layers.GlobalMaxPooling1D.from_config(g.get_config()).keepdims is True


@pytest.mark.parametrize("kwargs,argument", [
    ({"pool_size": 0}, "pool_size"), ({"pool_size": (2, 2, 2)}, "pool_size"), ({"strides": 0}, "strides"),
    ({"padding": "full"}, "padding"), ({"data_format": "NCHW"}, "data_format"),
])
def test_pooling_bad_arguments_name_the_argument(kwargs, argument) -> None:
    with pytest.raises(ValueError, match=argument):
        layers.MaxPooling2D(**kwargs)


def test_pooling_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        layers.MaxPooling2D()(np.zeros((2, 4, 4), "float32"))
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=4"):
        layers.GlobalAveragePooling1D()(np.zeros((2, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="does not fit"):
        ops.max_pool(np.zeros((1, 2, 2, 1)), 3)
