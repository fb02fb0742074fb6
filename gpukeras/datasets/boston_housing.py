"""Boston housing prices (Carnegie Mellon StatLib): 506 samples of 13 features, target in k$."""

from __future__ import annotations

import numpy as np

from gpukeras.datasets.cache import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"

Split = tuple[np.ndarray, np.ndarray]


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113) -> tuple[Split, Split]:
    """Load the Boston housing data as Keras does: shuffled with `RandomState(seed)`, last fraction is test.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float64 features `(404, 13)` / `(102, 13)` and float64
        targets `(404,)` / `(102,)` with the defaults.
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 and 1 (exclusive of 1).")
    path = get_file(path, origin=ORIGIN, file_hash=SHA256)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
