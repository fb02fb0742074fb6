"""8x8 handwritten digits data set (UCI "Optical Recognition of Handwritten Digits").

The 1,797 images scikit-learn ships as ``sklearn.datasets.load_digits`` are
bundled with gpukeras in ``gpukeras/datasets/data/digits.npz`` (see
``DIGITS_LICENSE.txt`` next to it for origin and licence: CC BY 4.0), so
loading needs no network access.

Each image is an 8x8 uint8 array of counts in ``0..16``; each label is a
uint8 digit in ``0..9``.

Example::

    from gpukeras.datasets import digits
    (x_train, y_train), (x_test, y_test) = digits.load_data()
"""

from __future__ import annotations

from importlib.resources import files

import numpy as np

__all__ = ["load_data"]

_DATA_FILE = "digits.npz"

Split = tuple[np.ndarray, np.ndarray]


def _validate_test_split(test_split: float) -> float:
    """Return ``test_split`` as a float, raising ``ValueError`` unless ``0 <= test_split < 1``."""
    try:
        value = float(test_split)
    except (TypeError, ValueError):
        raise ValueError(
            f"test_split must be a number in [0, 1), got {test_split!r}"
        ) from None
    if not 0.0 <= value < 1.0:  # also rejects NaN
        raise ValueError(f"test_split must be in [0, 1), got {test_split!r}")
    return value


def _read_arrays() -> Split:
    """Read the bundled ``(images, labels)`` arrays from the package data."""
    resource = files("gpukeras.datasets") / "data" / _DATA_FILE
    with resource.open("rb") as handle, np.load(handle) as archive:
        images = np.asarray(archive["images"], dtype=np.uint8)
        labels = np.asarray(archive["labels"], dtype=np.uint8)
    return images, labels


def _shuffle(images: np.ndarray, labels: np.ndarray, seed: int) -> Split:
    """Apply the same deterministic permutation (seeded) to images and labels."""
    order = np.random.RandomState(seed).permutation(len(images))
    return images[order], labels[order]


def _split(images: np.ndarray, labels: np.ndarray, test_split: float) -> tuple[Split, Split]:
    """Split off the last ``test_split`` fraction of the samples as the test set."""
    n_train = int(len(images) * (1.0 - test_split))
    train = (images[:n_train], labels[:n_train])
    test = (images[n_train:], labels[n_train:])
    return train, test


def load_data(test_split: float = 0.2, seed: int = 113) -> tuple[Split, Split]:
    """Load the 8x8 digits data set, shuffled and split into train and test sets.

    Args:
        test_split: Fraction of the data to reserve as the test set, in ``[0, 1)``.
        seed: Seed for the shuffle, done with
            ``np.random.RandomState(seed).permutation`` before splitting.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x_*`` are uint8 arrays of
        shape ``(n, 8, 8)`` with values in ``0..16``; ``y_*`` are uint8 arrays
        of shape ``(n,)`` with digits ``0..9``.

    Raises:
        ValueError: If ``test_split`` is not in ``[0, 1)``.
    """
    test_split = _validate_test_split(test_split)
    images, labels = _read_arrays()
    images, labels = _shuffle(images, labels, seed)
    return _split(images, labels, test_split)
