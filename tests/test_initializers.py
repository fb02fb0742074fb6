"""Initializers: constants, distribution limits/statistics, Keras's fan rule and seeding, lookup."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpukeras
from gpukeras import backend, initializers, ops


def _np(x):
    return ops.convert_to_numpy(x)


def test_constants():
    np.testing.assert_array_equal(_np(initializers.Zeros()((2, 3))), np.zeros((2, 3)))
    np.testing.assert_array_equal(_np(initializers.Ones()((4,))), np.ones(4))
    out = initializers.Constant(2.5)((2, 2), dtype="float64")
    np.testing.assert_array_equal(_np(out), np.full((2, 2), 2.5))
    assert str(out.dtype) == "float64"
    assert str(initializers.Zeros()((1,)).dtype) == "float32"
    np.testing.assert_array_equal(_np(initializers.Identity(2.0)((2, 3))), 2 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2-D"):
        initializers.Identity()((2, 2, 2))


def test_compute_fans():
    assert initializers.compute_fans(()) == (1, 1)
    assert initializers.compute_fans((5,)) == (5, 5)
    assert initializers.compute_fans((784, 128)) == (784, 128)
    assert initializers.compute_fans((3, 3, 16, 32)) == (9 * 16, 9 * 32)


@pytest.mark.parametrize("name,limit", [
    ("glorot_uniform", math.sqrt(6 / (300 + 200))),
    ("he_uniform", math.sqrt(6 / 300)),
    ("lecun_uniform", math.sqrt(3 / 300)),
])
def test_uniform_variants(name, limit):
    w = _np(initializers.get(name)((300, 200)))
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.98 * limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.01 * limit


@pytest.mark.parametrize("name,std", [
    ("glorot_normal", math.sqrt(2 / (300 + 200))),
    ("he_normal", math.sqrt(2 / 300)),
    ("lecun_normal", math.sqrt(1 / 300)),
])
def test_truncated_normal_variants(name, std):
    w = _np(initializers.get(name)((300, 200)))
    assert abs(w.std() - std) < 0.02 * std  # truncation at 2 sigma is compensated by the 0.8796 factor
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 * (1 + 1e-6)


def test_variance_scaling_conv_fans_and_modes():
    shape = (3, 3, 8, 16)
    w = _np(initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=1)(shape))
    assert np.abs(w).max() <= math.sqrt(3 * 2.0 / (9 * 16))
    w = _np(initializers.VarianceScaling(1.0, "fan_in", "untruncated_normal", seed=1)((400, 300)))
    assert abs(w.std() - math.sqrt(1 / 400)) < 0.02 * math.sqrt(1 / 400)
    with pytest.raises(ValueError, match="fan_avg"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="uniform"):
        initializers.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0.0)


def test_random_basics():
    w = _np(initializers.RandomUniform(-0.2, 0.3, seed=3)((200, 200)))
    assert w.min() >= -0.2 and w.max() < 0.3 and abs(w.mean() - 0.05) < 0.01
    w = _np(initializers.RandomNormal(1.0, 0.5, seed=3)((200, 200)))
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) < 0.01
    w = _np(initializers.TruncatedNormal(0.0, 0.5, seed=3)((200, 200)))
    assert np.abs(w).max() <= 1.0


def test_seeding_matches_keras3():
    seeded = initializers.GlorotUniform(seed=42)
    np.testing.assert_array_equal(_np(seeded((4, 5))), _np(seeded((4, 5))))  # same values on every call
    np.testing.assert_array_equal(_np(seeded((4, 5))), _np(initializers.GlorotUniform(seed=42)((4, 5))))
    unseeded = initializers.RandomNormal()
    np.testing.assert_array_equal(_np(unseeded((3,))), _np(unseeded((3,))))
    assert not np.array_equal(_np(initializers.RandomNormal()((8,))), _np(initializers.RandomNormal()((8,))))
    gpukeras.utils.set_random_seed(5)
    first = _np(initializers.get("glorot_uniform")((3, 3)))
    gpukeras.utils.set_random_seed(5)
    np.testing.assert_array_equal(first, _np(initializers.get("glorot_uniform")((3, 3))))
    stream = initializers.RandomUniform(seed=gpukeras.random.SeedGenerator(7))
    assert not np.array_equal(_np(stream((5,))), _np(stream((5,))))
    assert initializers.RandomNormal().get_config()["seed"] is None
    with pytest.raises(ValueError, match="seed"):
        initializers.RandomNormal(seed="x")


def test_orthogonal():
    q = _np(initializers.Orthogonal(seed=1)((6, 4)))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    q = _np(initializers.Orthogonal(gain=2.0, seed=1)((3, 5)))
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(3), atol=1e-5)
    q = _np(initializers.Orthogonal(seed=1)((2, 3, 4)))
    flat = q.reshape(6, 4)
    np.testing.assert_allclose(flat.T @ flat, np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="rank"):
        initializers.Orthogonal()((3,))


def test_get_and_serialize():
    for name, cls in (("glorot_uniform", initializers.GlorotUniform), ("zeros", initializers.Zeros),
                      ("ones", initializers.Ones), ("he_normal", initializers.HeNormal),
                      ("HeNormal", initializers.HeNormal), ("orthogonal", initializers.Orthogonal),
                      ("random_normal", initializers.RandomNormal)):
        assert type(initializers.get(name)) is cls
    inst = initializers.Constant(3.0)
    assert initializers.get(inst) is inst
    assert initializers.get(None) is None
    config = initializers.serialize(initializers.RandomUniform(-1.0, 1.0, seed=4))
    assert config == {"module": "keras.initializers", "class_name": "RandomUniform",
                      "config": {"minval": -1.0, "maxval": 1.0, "seed": 4}, "registered_name": None}
    clone = initializers.get(config)
    np.testing.assert_array_equal(_np(clone((3,))), _np(initializers.RandomUniform(-1.0, 1.0, seed=4)((3,))))
    assert initializers.serialize(initializers.GlorotUniform())["config"] == {"seed": None}
    with pytest.raises(ValueError, match="glorot_uniform") as info:
        initializers.get("glorot_uniformm")
    assert "glorot_uniformm" in str(info.value)
    with pytest.raises(ValueError, match="negative"):
        initializers.Zeros()((2, -1))


def test_large_draws_equal_one_draw_of_the_generator():
    """Draws over a million values are cast a chunk at a time (no float64 copy of the whole kernel): the
    values are still those of one draw of the same generator."""
    B = backend.active
    shape = (1030, 1031)
    got_u = B.to_numpy(B.random_uniform(shape, -0.5, 0.5, np.random.default_rng(3)))
    got_n = B.to_numpy(B.random_normal(shape, 1.0, 2.0, np.random.default_rng(4)))
    np.testing.assert_array_equal(got_u, np.random.default_rng(3).uniform(-0.5, 0.5, size=shape).astype("float32"))
    np.testing.assert_array_equal(got_n, np.random.default_rng(4).normal(1.0, 2.0, size=shape).astype("float32"))
