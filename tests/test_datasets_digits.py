"""Tests for the bundled 8x8 digits data set loader (gpukeras.datasets.digits)."""

import numpy as np
import pytest

from gpukeras.datasets import digits

N_TOTAL = 1797


def _concat(split):
    (x_train, y_train), (x_test, y_test) = split
    return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])


def test_shapes_dtypes_and_total():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape[1:] == (8, 8) and x_test.shape[1:] == (8, 8)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert y_train.dtype == np.uint8 and y_test.dtype == np.uint8
    assert y_train.shape == (len(x_train),) and y_test.shape == (len(x_test),)
    assert len(x_train) + len(x_test) == N_TOTAL
    assert len(x_test) == N_TOTAL - int(N_TOTAL * 0.8)


def test_value_ranges():
    x, y = _concat(digits.load_data())
    assert x.min() == 0 and x.max() == 16
    assert set(np.unique(y).tolist()) == set(range(10))


def test_all_classes_in_both_splits():
    (_, y_train), (_, y_test) = digits.load_data()
    assert set(np.unique(y_train).tolist()) == set(range(10))
    assert set(np.unique(y_test).tolist()) == set(range(10))


def test_deterministic_across_calls():
    first = digits.load_data(seed=7)
    second = digits.load_data(seed=7)
    for a, b in zip(_concat(first), _concat(second)):
        np.testing.assert_array_equal(a, b)


def test_different_seed_gives_different_order_same_data():
    x_a, y_a = _concat(digits.load_data(seed=1))
    x_b, y_b = _concat(digits.load_data(seed=2))
    assert not np.array_equal(y_a, y_b)
    assert not np.array_equal(x_a, x_b)
    # Same multiset of samples, only the order differs.
    np.testing.assert_array_equal(np.bincount(y_a), np.bincount(y_b))
    np.testing.assert_array_equal(np.sort(x_a.reshape(N_TOTAL, -1), axis=0),
                                  np.sort(x_b.reshape(N_TOTAL, -1), axis=0))


def test_zero_test_split_gives_empty_test_set():
    (x_train, y_train), (x_test, y_test) = digits.load_data(test_split=0)
    assert x_train.shape == (N_TOTAL, 8, 8) and y_train.shape == (N_TOTAL,)
    assert x_test.shape == (0, 8, 8) and x_test.dtype == np.uint8
    assert y_test.shape == (0,) and y_test.dtype == np.uint8


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), "a", None])
def test_bad_test_split_raises(bad):
    with pytest.raises(ValueError, match="test_split"):
        digits.load_data(test_split=bad)
