"""The benchmark workloads (issue 5): shapes, batch sizes and deterministic synthetic data.

Stdlib + NumPy only: every runner imports this, including ones run from another venv.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_CLASSES = 10
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7  # Keras's default; the PyTorch runner uses it too


@dataclass(frozen=True)
class Workload:
    """One benchmark model: an MLP (`units`) or the small convnet."""

    key: str
    name: str
    kind: str  # "mlp" or "cnn"
    input_shape: tuple[int, ...]
    batch: int
    batch_gpu: int
    samples: int  # per epoch, full run
    samples_quick: int  # per epoch, --quick
    units: tuple[int, ...] = field(default=())  # hidden ReLU widths (MLP), before Dense(10)

    def dims(self) -> list[int]:
        """Layer widths of an MLP from input to logits, e.g. [784, 128, 10]."""
        return [int(np.prod(self.input_shape)), *self.units, NUM_CLASSES]


WORKLOADS: dict[str, Workload] = {
    "W1": Workload("W1", "mlp-small", "mlp", (784,), 32, 32, 32768, 4096, (128,)),
    "W2": Workload("W2", "mlp-wide", "mlp", (784,), 256, 4096, 16384, 2048, (1024, 1024)),
    "W3": Workload("W3", "cnn-small", "cnn", (28, 28, 1), 128, 128, 4096, 512),
}

# W3 layer sizes, channels_last: conv 3x3 valid, pool 2.
CNN_FILTERS = (32, 64)
CNN_KERNEL = 3
CNN_DROPOUT = 0.5
CNN_FLAT = 5 * 5 * 64  # 28 -> 26 -> 13 -> 11 -> 5


def get(key: str) -> Workload:
    """Workload by key (W1) or name (mlp-small), case-insensitive."""
    k = key.strip()
    for w in WORKLOADS.values():
        if k.upper() == w.key or k.lower() == w.name:
            return w
    raise ValueError(f"Unknown workload {key!r}; expected one of "
                     + ", ".join(f"{w.key} ({w.name})" for w in WORKLOADS.values()))


def make_data(w: Workload, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n float32 samples and int32 labels from a fixed random linear teacher (learnable, deterministic)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *w.input_shape), dtype=np.float32)
    teacher = rng.standard_normal((int(np.prod(w.input_shape)), NUM_CLASSES), dtype=np.float32)
    y = np.argmax(x.reshape(n, -1) @ teacher, axis=1).astype(np.int32)
    return x, y
