"""Local stand-ins for the datasets of keras.io's vision, timeseries, structured-data and distillation
programs (issue 12): the same per-sample shapes and dtypes as the loaders keras.io calls, made with
np.random.RandomState (stable across NumPy versions), so gpukeras's tests and the Keras 3 recorder
(tests/reference/record_keras3_vision_programs.py) train on identical data. Each carries a signal a
small model learns in a few epochs. Importing gpukeras is avoided: the recorder runs in Keras 3's venv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

DIGITS_FILE = Path(__file__).resolve().parents[2] / "gpukeras" / "datasets" / "data" / "digits.npz"


def _linear_upscale(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) weights of linear interpolation between pixel centres."""
    where = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
    low = np.floor(where).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    weights = np.zeros((size_out, size_in))
    weights[np.arange(size_out), low] += 1 - (where - low)
    weights[np.arange(size_out), high] += where - low
    return weights


def mnist_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped digits as `keras.datasets.mnist.load_data` gives them: (n, 28, 28) uint8 in
    0..255 and (n,) uint8 labels.

    The 8x8 UCI digits gpukeras ships (gpukeras/datasets/data/digits.npz) drawn with replacement,
    upscaled linearly to MNIST's 20x20 digit box and placed in the 28x28 frame with a random shift
    of up to 2 pixels, so that no two samples are identical.
    """
    rs = np.random.RandomState(seed)
    with np.load(DIGITS_FILE) as archive:
        digits, labels = archive["images"].astype("float64") / 16.0, archive["labels"]
    pick = rs.randint(0, len(digits), size=n)
    up = _linear_upscale(8, 20)
    images = np.zeros((n, 28, 28))
    for i, (k, dy, dx) in enumerate(zip(pick, rs.randint(-2, 3, size=n), rs.randint(-2, 3, size=n))):
        images[i, 4 + dy:24 + dy, 4 + dx:24 + dx] = up @ digits[k] @ up.T
    return np.round(255 * np.clip(images, 0, 1)).astype("uint8"), labels[pick].astype("uint8")


CIFAR_PALETTE = np.array([[220, 30, 30], [30, 200, 30], [40, 60, 230], [230, 220, 40], [210, 40, 210],
                          [40, 210, 210], [240, 240, 240], [130, 130, 130], [240, 140, 20], [120, 40, 180]])


def cifar_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10-shaped images as `keras.datasets.cifar10.load_data` gives them: (n, 32, 32, 3)
    uint8 and (n, 1) uint8 labels.

    Class k is a blob of colour CIFAR_PALETTE[k] (random centre, radius and brightness) on a
    random dark grey background, with pixel noise: learnable by colour over an area, not by one pixel.
    """
    rs = np.random.RandomState(seed)
    labels = rs.randint(0, 10, size=n)
    yy, xx = np.mgrid[0:32, 0:32]
    images = np.empty((n, 32, 32, 3))
    for i, label in enumerate(labels):
        cy, cx = rs.uniform(8, 24, size=2)
        radius = rs.uniform(8, 13)
        inside = ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2)[..., None]
        colour = CIFAR_PALETTE[label] * rs.uniform(0.8, 1.0)
        images[i] = np.where(inside, colour, rs.uniform(0, 60))
    images += rs.normal(0, 20, size=images.shape)
    return np.clip(np.round(images), 0, 255).astype("uint8"), labels.reshape(n, 1).astype("uint8")


def forda_like(n: int, length: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """FordA-shaped series as keras.io's `readucr` returns them: (n, length) float64, each series
    z-normalized, and (n,) int labels in {-1, 1}.

    Both classes are noisy sums of random sinusoids; class 1 also carries bursts of a faster
    oscillation at random places, which the FCN must find anywhere in the series.
    """
    rs = np.random.RandomState(seed)
    labels = rs.choice([-1, 1], size=n)
    t = np.arange(length)
    x = np.empty((n, length))
    for i, label in enumerate(labels):
        series = sum(rs.uniform(0.5, 1.0) * np.sin(2 * np.pi * t / rs.uniform(40, 120) + rs.uniform(0, 2 * np.pi))
                     for _ in range(3))
        series = series + 0.3 * rs.normal(size=length)
        if label == 1:
            for start in rs.randint(0, length - 40, size=3):
                series[start:start + 40] += 2.0 * np.sin(2 * np.pi * np.arange(40) / 5.0)
        x[i] = (series - series.mean()) / series.std()
    return x, labels


def _clipped_normal(rs: np.random.RandomState, mean: float, std: float, low: int, high: int, n: int) -> np.ndarray:
    """Integers drawn from N(mean, std), rounded and kept within [low, high]."""
    return np.clip(np.round(rs.normal(mean, std, size=n)), low, high).astype("int64")


def heart_like(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A table shaped like keras.io's heart.csv (Cleveland heart disease), as a dict of columns
    (what `dict(dataframe)` holds): int64 age, sex, cp, trestbps, chol, fbs, restecg, thalach,
    exang, slope, ca and target; float64 oldpeak; string thal ("fixed", "normal", "reversible").

    The numeric columns follow the real table's means and spreads; the target is drawn from a
    logistic model of cp, thalach, oldpeak, exang, ca and thal, so it is learnable but noisy.
    """
    rs = np.random.RandomState(seed)
    table = {
        "age": _clipped_normal(rs, 54.4, 9.0, 29, 77, n),
        "sex": rs.randint(0, 2, size=n),
        "cp": rs.choice([0, 1, 2, 3, 4], size=n, p=[0.05, 0.15, 0.25, 0.1, 0.45]),
        "trestbps": _clipped_normal(rs, 131.7, 17.6, 94, 200, n),
        "chol": _clipped_normal(rs, 246.7, 51.8, 126, 564, n),
        "fbs": (rs.uniform(size=n) < 0.15).astype(int),
        "restecg": rs.choice([0, 1, 2], size=n, p=[0.5, 0.02, 0.48]),
        "thalach": _clipped_normal(rs, 149.6, 22.9, 71, 202, n),
        "exang": (rs.uniform(size=n) < 0.33).astype(int),
        "oldpeak": np.round(rs.exponential(1.0, size=n), 1),
        "slope": rs.choice([1, 2, 3], size=n, p=[0.47, 0.46, 0.07]),
        "ca": rs.choice([0, 1, 2, 3], size=n, p=[0.58, 0.22, 0.13, 0.07]),
        "thal": rs.choice(np.array(["fixed", "normal", "reversible"]), size=n, p=[0.06, 0.55, 0.39]),
    }
    score = (1.2 * (table["cp"] == 4) + 0.9 * table["exang"] + 0.6 * table["oldpeak"] + 0.8 * table["ca"]
             + 1.2 * (table["thal"] == "reversible") - 0.03 * (table["thalach"] - 150) - 3.0)
    table["target"] = (rs.uniform(size=n) < 1 / (1 + np.exp(-2 * score))).astype(int)
    for name, column in table.items():
        if column.dtype.kind == "i":
            table[name] = column.astype("int64")
    return table


# Data seeds: fixed per program, so every run of a program (either library, any seed) sees the same data.
DATA_SEEDS = {"autoencoder": 1, "toy_resnet": 2, "timeseries_fcn": 3, "structured_data": 4, "distillation": 5}


def program_arguments(program: str, sizes: dict[str, Any], workdir: str) -> tuple[tuple, dict[str, Any]]:
    """The data and settings keras_io_vision_programs.<program> is called with (after `keras`) at
    `sizes` (sample counts and epochs); `workdir` receives the files a program writes."""
    seed = DATA_SEEDS[program]
    if program == "autoencoder":
        x, _ = mnist_like(sizes["train"] + sizes["test"], seed=seed)
        return (x[:sizes["train"]], x[sizes["train"]:]), {"epochs": tuple(sizes["epochs"])}
    if program == "toy_resnet":
        x, y = cifar_like(sizes["samples"], seed=seed)
        return (x, y), {"samples": sizes["samples"], "epochs": sizes["epochs"]}
    if program == "timeseries_fcn":
        x, y = forda_like(sizes["train"] + sizes["test"], seed=seed)
        split = sizes["train"]
        return (x[:split], y[:split], x[split:], y[split:], str(Path(workdir) / "best_model.keras")), \
            {"epochs": sizes["epochs"]}
    if program == "structured_data":
        return (heart_like(sizes["rows"], seed=seed),), {"epochs": sizes["epochs"]}
    if program == "distillation":
        x, y = mnist_like(sizes["train"] + sizes["test"], seed=seed)
        split = sizes["train"]
        return (x[:split], y[:split], x[split:], y[split:]), {"epochs": tuple(sizes["epochs"])}
    raise ValueError(f"Unknown program {program!r}; expected one of {sorted(DATA_SEEDS)}.")
