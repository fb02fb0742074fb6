"""CIFAR-100: 50,000 training and 10,000 test 32x32 color images in 100 fine / 20 coarse classes."""

from __future__ import annotations

import numpy as np

from gpukeras.datasets._cifar import channels_last, read_batches
from gpukeras.datasets.cache import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
FILENAME = "cifar-100-python.tar.gz"

Split = tuple[np.ndarray, np.ndarray]


def load_data(label_mode: str = "fine") -> tuple[Split, Split]:
    """Load CIFAR-100 as Keras does.

    Args:
        label_mode: `"fine"` (100 classes) or `"coarse"` (20 superclasses).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(50000, 32, 32, 3)` / `(10000, 32, 32, 3)`
        (channels_last) and int64 labels of shape `(50000, 1)` / `(10000, 1)`.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'`label_mode` must be one of `"fine"`, `"coarse"`. Received: label_mode={label_mode}.')
    path = get_file(FILENAME, origin=ORIGIN, file_hash=SHA256)
    (x_train, y_train), (x_test, y_test) = read_batches(
        path, ["cifar-100-python/train", "cifar-100-python/test"], f"{label_mode}_labels")
    y_train = np.asarray(y_train, dtype=np.int64).reshape(-1, 1)
    y_test = np.asarray(y_test, dtype=np.int64).reshape(-1, 1)
    return (channels_last(x_train), y_train), (channels_last(x_test), y_test)
