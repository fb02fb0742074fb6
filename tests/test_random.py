"""gpukeras.random (keras.random): Keras 3's seeding rules, statistics, and draws made by the backend.

Keras 3's own numbers cannot be matched across frameworks (each backend has its own generator);
what is held to Keras 3 (tests/fixtures/keras3_structure_layers.json, "random") are the rules: an
int seed repeats, a SeedGenerator's state is [seed, draws so far], dtypes, shapes, shuffle's
independent slices, dropout's noise_shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend
from gpukeras import random as krandom

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_structure_layers.json").read_text())["random"]


def _np(t) -> np.ndarray:
    return keras.ops.convert_to_numpy(t)


def test_seed_generator_state_advances_like_keras3() -> None:
    gen = krandom.SeedGenerator(1337)
    states = [_np(gen.state).tolist()]
    krandom.normal((2, 3), seed=gen)
    states.append(_np(gen.state).tolist())
    krandom.uniform((2,), seed=gen)
    krandom.dropout(np.ones((2, 2), "float32"), 0.5, seed=gen)
    states.append(_np(gen.state).tolist())
    assert states == FIXTURE["seed_generator_states"]  # [[1337, 0], [1337, 1], [1337, 3]]
    assert gen.get_config()["seed"] == FIXTURE["seed_generator_config"]["seed"]
    clone = krandom.SeedGenerator.from_config(gen.get_config())
    assert clone.seed == 1337 and _np(clone.state).tolist() == [1337, 0]


def test_int_seed_repeats_and_seed_generator_does_not() -> None:
    assert FIXTURE["int_seed_repeats"] and FIXTURE["seed_generator_advances"] and FIXTURE["same_seed_same_sequence"]
    for draw in (lambda s: krandom.normal((5,), seed=s), lambda s: krandom.uniform((5,), seed=s),
                 lambda s: krandom.truncated_normal((5,), seed=s), lambda s: krandom.randint((5,), 0, 100, seed=s),
                 lambda s: krandom.categorical(np.zeros((2, 9), "float32"), 6, seed=s),
                 lambda s: krandom.shuffle(np.arange(20, dtype="float32"), seed=s),
                 lambda s: krandom.dropout(np.ones((20,), "float32"), 0.5, seed=s)):
        np.testing.assert_array_equal(_np(draw(7)), _np(draw(7)))
        gen = krandom.SeedGenerator(3)
        assert not np.array_equal(_np(draw(gen)), _np(draw(gen)))
        g1, g2 = krandom.SeedGenerator(11), krandom.SeedGenerator(11)
        for _ in range(3):
            np.testing.assert_array_equal(_np(draw(g1)), _np(draw(g2)))


def test_unseeded_draws_differ_and_set_random_seed_replays_them() -> None:
    keras.utils.set_random_seed(5)
    first = [_np(krandom.normal((4,))) for _ in range(3)]
    assert not np.array_equal(first[0], first[1])
    keras.utils.set_random_seed(5)
    for want in first:
        np.testing.assert_array_equal(_np(krandom.normal((4,))), want)


def test_dtypes_and_shapes_like_keras3() -> None:
    expected = FIXTURE["dtypes"]
    assert str(krandom.normal((2,), seed=1).dtype) == expected["normal"]
    assert str(krandom.uniform((2,), seed=1).dtype) == expected["uniform"]
    assert str(krandom.truncated_normal((2,), seed=1).dtype) == expected["truncated_normal"]
    assert str(krandom.randint((2,), 0, 5, seed=1).dtype) == expected["randint"]
    categorical = krandom.categorical(np.zeros((2, 3), "float32"), 4, seed=1)
    assert str(categorical.dtype) == expected["categorical"]
    assert list(categorical.shape) == FIXTURE["shapes"]["categorical"]
    assert str(krandom.shuffle(np.arange(6, dtype="int32"), seed=1).dtype) == expected["shuffle_int"]
    out = krandom.dropout(np.ones((2, 3, 4), "float32"), 0.5, noise_shape=(2, 1, 4), seed=1)
    assert list(out.shape) == FIXTURE["shapes"]["dropout_noise_shape"]
    # float64 is honoured (Keras 3 on JAX truncates it to float32 unless jax_enable_x64 is set)
    assert str(krandom.normal((2,), dtype="float64", seed=1).dtype) == "float64"
    assert str(krandom.uniform((2,), dtype="float16", seed=1).dtype) == "float16"


def test_statistics() -> None:
    n = 40000
    z = _np(krandom.normal((n,), mean=2.0, stddev=3.0, seed=1))
    assert abs(z.mean() - 2.0) < 0.05 and abs(z.std() - 3.0) < 0.05
    u = _np(krandom.uniform((n,), minval=-1.0, maxval=3.0, seed=2))
    assert -1.0 <= u.min() and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.03 and abs(u.var() - 16 / 12) < 0.03
    t = _np(krandom.truncated_normal((n,), mean=1.0, stddev=2.0, seed=3))
    lo, hi = FIXTURE["truncated_normal_range"]  # Keras 3: within two standard deviations, [-3, 5]
    assert -3.0 <= t.min() and t.max() <= 5.0 and t.min() < lo + 0.05 and t.max() > hi - 0.05
    assert abs(t.std() - 2.0 * 0.8796) < 0.03  # std of a normal truncated at two standard deviations
    k = _np(krandom.randint((n,), -2, 3, seed=4))
    assert set(np.unique(k)) == {-2, -1, 0, 1, 2} and np.abs(np.bincount(k + 2) / n - 0.2).max() < 0.01
    logits = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.5, 0.0]], "float32") + 1e-30)
    c = _np(krandom.categorical(logits, 20000, seed=5))
    np.testing.assert_allclose(np.bincount(c[0], minlength=3) / 20000, [0.1, 0.6, 0.3], atol=0.015)
    assert 2 not in set(c[1]) and abs((c[1] == 0).mean() - 0.5) < 0.015
    np.testing.assert_array_equal(_np(krandom.categorical(np.log(np.array([[0.0, 1.0, 0.0]], "float32") + 1e-30),
                                                         20, seed=5)), FIXTURE["categorical_certain"])


def test_shuffle_permutes_each_slice_independently_like_keras3() -> None:
    col = np.repeat(np.arange(50, dtype="float32")[:, None], 2, axis=1)
    shuffled = _np(krandom.shuffle(col, axis=0, seed=9))
    assert (not np.array_equal(shuffled[:, 0], shuffled[:, 1])) == FIXTURE["shuffle_columns_independent"]
    for j in range(2):
        np.testing.assert_array_equal(np.sort(shuffled[:, j]), np.arange(50))
    rows = _np(krandom.shuffle(np.arange(24, dtype="float32").reshape(4, 6), axis=1, seed=2))
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(np.sort(row), np.arange(6) + 6 * i)


def test_shuffle_and_dropout_are_differentiable() -> None:
    x = keras.Variable(np.arange(12, dtype="float32").reshape(3, 4))
    w = keras.ops.convert_to_tensor(np.arange(12, dtype="float32").reshape(3, 4) + 1.0)
    with keras.GradientTape() as tape:
        y = krandom.shuffle(x, axis=0, seed=3)
        loss = keras.ops.sum(y * w)
    g = _np(tape.gradient(loss, [x])[0])
    y = _np(y)
    for i in range(3):  # the gradient of each value is the weight of the place it moved to
        for j in range(4):
            assert g[i, j] == _np(w)[np.where(y[:, j] == i * 4 + j)[0][0], j]
    with keras.GradientTape() as tape:
        d = krandom.dropout(x, 0.5, seed=4)
        loss = keras.ops.sum(d)
    np.testing.assert_array_equal(_np(tape.gradient(loss, [x])[0]), np.where(_np(d) != 0, 2.0, 0.0))


def test_dropout_noise_shape_and_values_like_keras3() -> None:
    d = _np(krandom.dropout(np.ones((4, 3, 6), "float32"), 0.5, noise_shape=(4, 1, 6), seed=3))
    assert bool(np.all(d == d[:, :1, :])) == FIXTURE["dropout_noise_shape_shared"]
    assert sorted({float(v) for v in np.unique(d)}) == FIXTURE["dropout_values"]  # [0.0, 2.0]
    big = _np(krandom.dropout(np.ones((200, 100), "float32"), 0.3, seed=5))
    assert abs((big == 0).mean() - 0.3) < 0.02 and abs(big.mean() - 1.0) < 0.03
    assert _np(krandom.dropout(np.ones((3,), "float32"), 0.0, seed=1)).tolist() == [1.0, 1.0, 1.0]
    assert _np(krandom.dropout(np.ones((3,), "float32"), 1.0, seed=1)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="noise_shape"):
        krandom.dropout(np.ones((4, 3), "float32"), 0.5, noise_shape=(4, 2))


def test_draws_are_made_by_the_backend_not_uploaded(monkeypatch) -> None:
    """Each draw comes out of the active backend's generator as one of its arrays: nothing is drawn on the
    host and copied over (asarray would be that copy)."""
    B = backend.active

    def no_upload(*args, **kwargs):
        raise AssertionError("a random draw uploaded host data")

    monkeypatch.setattr(B, "asarray", no_upload)
    gen = krandom.SeedGenerator(1)
    x = krandom.normal((8, 4), seed=gen)
    for t in (x, krandom.uniform((3,), seed=gen), krandom.truncated_normal((50,), seed=gen),
              krandom.randint((3,), 0, 4, seed=gen), krandom.categorical(x, 3, seed=gen),
              krandom.shuffle(x, seed=gen), krandom.dropout(x, 0.5, seed=gen)):
        assert B.is_array(t.data)


@pytest.mark.any_backend
def test_refused_arguments() -> None:
    with pytest.raises(ValueError, match="integer"):
        krandom.SeedGenerator("7")
    with pytest.raises(ValueError, match="Unrecognized|unrecognized"):
        krandom.SeedGenerator(1, backend="jax")
    with pytest.raises(ValueError, match="floating point"):
        krandom.normal((2,), dtype="int32")
    with pytest.raises(ValueError, match="minval < maxval"):
        krandom.randint((2,), 3, 3)
    with pytest.raises(ValueError, match="2-D"):
        krandom.categorical(np.zeros((3,), "float32"), 2)
    with pytest.raises(ValueError, match="shape"):
        krandom.normal((2, -1))
    with pytest.raises(ValueError, match="rate"):
        krandom.dropout(np.ones(3, "float32"), 1.5)
    with pytest.raises(ValueError, match="axis"):
        krandom.shuffle(np.ones((2, 3), "float32"), axis=2)
