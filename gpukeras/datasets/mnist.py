"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grayscale (downloaded once)."""

from __future__ import annotations

import numpy as np

from gpukeras.datasets.cache import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

Split = tuple[np.ndarray, np.ndarray]


def load_data(path: str = "mnist.npz") -> tuple[Split, Split]:
    """Load MNIST as Keras does.

    Args:
        path: File name in the cache folder (`$GPUKERAS_HOME/datasets/`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape `(60000, 28, 28)` / `(10000, 28, 28)`
        with values 0..255 and uint8 labels 0..9 of shape `(60000,)` / `(10000,)`.
    """
    path = get_file(path, origin=ORIGIN, file_hash=SHA256)
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
