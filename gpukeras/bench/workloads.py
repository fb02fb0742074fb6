"""The benchmark workloads (issues 5, 11 and 12): shapes, batch sizes and deterministic synthetic data.

Stdlib + NumPy only: every runner imports this, including ones run from another venv.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

NUM_CLASSES = 10
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7  # Keras's default; the PyTorch runner uses it too


@dataclass(frozen=True)
class Workload:
    """One benchmark model: an MLP (`units`), the small convnet, a text model over token ids, or an image
    classifier (ResNet, MobileNetV2)."""

    key: str
    name: str
    kind: str  # "mlp", "cnn", "lstm", "transformer", "resnet20", "resnet50" or "mobilenetv2"
    input_shape: tuple[int, ...]  # a text model's is (sequence length,)
    batch: int
    batch_gpu: int
    samples: int  # per epoch, full run
    samples_quick: int  # per epoch, --quick
    units: tuple[int, ...] = field(default=())  # hidden ReLU widths (MLP), before Dense(10)
    vocab: int = 0  # text models: token ids are in [1, vocab)
    embed: int = 0  # text models: embedding width
    manual_chunk: int = 64  # steps per timed chunk of the train_on_batch loop
    classes: int = 10  # image classifiers' outputs (labels stay in [0, 10): see make_data)
    softmax_output: bool = False  # an MLP as users write it: Dense(10, softmax), sparse CE, metrics=["accuracy"]

    @property
    def is_text(self) -> bool:
        """A model over token ids (W4, W5)."""
        return self.kind in TEXT_KINDS

    @property
    def is_vision(self) -> bool:
        """An image classifier with batch norm and a softmax output (W6-W9)."""
        return self.kind in VISION_KINDS

    def dims(self) -> list[int]:
        """Layer widths of an MLP from input to logits, e.g. [784, 128, 10]."""
        return [int(np.prod(self.input_shape)), *self.units, NUM_CLASSES]


WORKLOADS: dict[str, Workload] = {
    "W1": Workload("W1", "mlp-small", "mlp", (784,), 32, 32, 32768, 4096, (128,)),
    "W2": Workload("W2", "mlp-wide", "mlp", (784,), 256, 4096, 16384, 2048, (1024, 1024)),
    "W3": Workload("W3", "cnn-small", "cnn", (28, 28, 1), 128, 128, 4096, 512),
    # issue 13: W1 and W2 as the typical user writes them (softmax output, sparse CE on probabilities, accuracy)
    "W1S": Workload("W1S", "mlp-small-softmax", "mlp", (784,), 32, 32, 32768, 4096, (128,), softmax_output=True),
    "W2S": Workload("W2S", "mlp-wide-softmax", "mlp", (784,), 256, 4096, 16384, 2048, (1024, 1024),
                    softmax_output=True),
    # issue 11: Embedding(20000, 128) -> LSTM(64) -> Dense(1, sigmoid), binary cross-entropy
    "W4": Workload("W4", "lstm-text", "lstm", (200,), 32, 32, 1024, 128, vocab=20000, embed=128, manual_chunk=8),
    # issue 11: keras.io's text classifier with transformer (see TRANSFORMER), sparse cross-entropy
    "W5": Workload("W5", "transformer-text", "transformer", (200,), 32, 32, 2048, 256, vocab=20000, embed=32,
                   manual_chunk=16),
    # issue 12: CIFAR-shaped image classifiers, softmax output, sparse CE, metrics=["accuracy"] (CPU comparison)
    "W6": Workload("W6", "resnet20-cifar", "resnet20", (32, 32, 3), 128, 128, 512, 256, manual_chunk=2),
    "W7": Workload("W7", "mobilenetv2-cifar", "mobilenetv2", (32, 32, 3), 128, 128, 512, 256, manual_chunk=2),
    # issue 12 on a GPU: keras.applications' ResNet50 and MobileNetV2 at ImageNet's shape, batch 128
    "W8": Workload("W8", "resnet50", "resnet50", (224, 224, 3), 16, 128, 1024, 256, manual_chunk=2, classes=1000),
    "W9": Workload("W9", "mobilenetv2", "mobilenetv2", (224, 224, 3), 16, 128, 1024, 256, manual_chunk=2,
                   classes=1000),
}
TEXT_KINDS = ("lstm", "transformer")
VISION_KINDS = ("resnet20", "resnet50", "mobilenetv2")

# W3 layer sizes, channels_last: conv 3x3 valid, pool 2.
CNN_FILTERS = (32, 64)
CNN_KERNEL = 3
CNN_DROPOUT = 0.5
CNN_FLAT = 5 * 5 * 64  # 28 -> 26 -> 13 -> 11 -> 5

# W6: the CIFAR ResNet-20 of He et al. 2015 (section 4.2): a 3x3 convolution of 16 filters, then 3 stages
# of 3 basic blocks (two 3x3 convolutions, each followed by batch norm) of 16, 32, 64 filters, the later
# stages starting with stride 2; global average pooling, Dense(10, softmax). Where the shape changes the
# shortcut is a 1x1 strided convolution + batch norm (the paper's option B; Keras's CIFAR-10 example also
# projects), not the zero-padded identity (option A).
RESNET20_FILTERS = (16, 32, 64)
RESNET20_BLOCKS = 3
BN_MOMENTUM = 0.99  # Keras's BatchNormalization defaults (PyTorch: momentum 1 - 0.99, eps 1e-3)
BN_EPSILON = 1e-3

# W4: the LSTM's units. W5: keras.io's "Text classification with Transformer" hyperparameters.
LSTM_UNITS = 64
TRANSFORMER_HEADS = 2  # MultiHeadAttention(num_heads=2, key_dim=embed): each head is 32 wide
TRANSFORMER_FF = 32
TRANSFORMER_DENSE = 20
TRANSFORMER_DROPOUT = 0.1
TRANSFORMER_CLASSES = 2
LAYERNORM_EPSILON = 1e-6


def get(key: str) -> Workload:
    """Workload by key (W1) or name (mlp-small), case-insensitive."""
    k = key.strip()
    for w in WORKLOADS.values():
        if k.upper() == w.key or k.lower() == w.name:
            return w
    raise ValueError(f"Unknown workload {key!r}; expected one of "
                     + ", ".join(f"{w.key} ({w.name})" for w in WORKLOADS.values()))


def resolve(key: str, seq_len: int = 0) -> Workload:
    """Workload by key or name, with another sequence length when `seq_len` is set (text models only:
    tests run them at tiny lengths)."""
    w = get(key)
    if not seq_len or (w.is_text and seq_len == w.input_shape[0]):
        return w
    if not w.is_text:
        raise ValueError(f"--seq-len applies to the text workloads only, not {w.key} ({w.name})")
    if seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len}")
    return replace(w, input_shape=(int(seq_len),))


def make_data(w: Workload, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n samples and labels (learnable, deterministic): float32 inputs and int32 classes in [0, 10) from a
    fixed random linear teacher (also for a 1000-class model: the teacher stays small), or for a text model
    int32 token ids and its labels (see `make_text_data`)."""
    if w.is_text:
        return make_text_data(w, n, seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *w.input_shape), dtype=np.float32)
    teacher = rng.standard_normal((int(np.prod(w.input_shape)), NUM_CLASSES), dtype=np.float32)
    y = np.argmax(x.reshape(n, -1) @ teacher, axis=1).astype(np.int32)
    return x, y


def make_text_data(w: Workload, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n sequences of token ids in [1, vocab) (int32) and balanced labels: 1 when the sequence's mean
    per-token score (a fixed random score per token id) is above the median. W4's sigmoid output gets
    float32 labels of shape (n, 1), W5's softmax output int32 classes of shape (n,)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, w.vocab, size=(n, w.input_shape[0]), dtype=np.int32)
    score = rng.standard_normal(w.vocab).astype(np.float32)
    mean = score[x].mean(axis=1)
    y = (mean > np.median(mean)).astype(np.int32)
    if w.kind == "lstm":
        return x, y.astype(np.float32)[:, None]
    return x, y
