"""CIFAR-10: 50,000 training and 10,000 test 32x32 color images in 10 classes (downloaded once)."""

from __future__ import annotations

import numpy as np

from gpukeras.datasets._cifar import channels_last, read_batches
from gpukeras.datasets.cache import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
FILENAME = "cifar-10-python.tar.gz"
_MEMBERS = [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)] + ["cifar-10-batches-py/test_batch"]

Split = tuple[np.ndarray, np.ndarray]


def load_data() -> tuple[Split, Split]:
    """Load CIFAR-10 as Keras does.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(50000, 32, 32, 3)` / `(10000, 32, 32, 3)`
        (channels_last) and uint8 labels 0..9 of shape `(50000, 1)` / `(10000, 1)`.
    """
    path = get_file(FILENAME, origin=ORIGIN, file_hash=SHA256)
    batches = read_batches(path, _MEMBERS, "labels")
    x_train = np.concatenate([x for x, _ in batches[:5]])
    y_train = np.concatenate([np.asarray(y, dtype=np.uint8) for _, y in batches[:5]]).reshape(-1, 1)
    x_test, labels_test = batches[5]
    y_test = np.asarray(labels_test, dtype=np.uint8).reshape(-1, 1)
    return (channels_last(x_train), y_train), (channels_last(x_test), y_test)
