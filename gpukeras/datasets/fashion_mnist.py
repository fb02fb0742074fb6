"""Fashion-MNIST: 60,000 training and 10,000 test images of clothing, 28x28 grayscale, 10 classes.

Keras pins no hash for these four files; the SHA-256 values below are the ones TensorFlow Datasets records for
the same files (`url_checksums/fashion_mnist.txt`, Zalando's release).
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from gpukeras.datasets.cache import get_file

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILES = {
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}
CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")

Split = tuple[np.ndarray, np.ndarray]


def _read(path: str, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_data() -> tuple[Split, Split]:
    """Load Fashion-MNIST as Keras does.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(60000, 28, 28)` / `(10000, 28, 28)` and uint8
        labels 0..9 of shape `(60000,)` / `(10000,)`.
    """
    paths = [get_file(name, origin=BASE + name, file_hash=sha, cache_subdir=CACHE_SUBDIR)
             for name, sha in FILES.items()]
    y_train = _read(paths[0], 8)
    x_train = _read(paths[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read(paths[2], 8)
    x_test = _read(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
