"""The text workloads (W4, W5) in PyTorch, written to do the Keras models' math.

W4: nn.Embedding -> nn.LSTM (the last hidden state) -> nn.Linear(64, 1). Keras's LSTM has one bias
per gate where nn.LSTM has two (b_ih + b_hh); everything else (gate order aside) is the same cell.
W5: keras.io's transformer block with Keras's MultiHeadAttention layout (query/key/value projections
to heads x key_dim = 2 x 32, scores scaled by 1/sqrt(32), an output projection back to 32) through
F.scaled_dot_product_attention (what nn.MultiheadAttention calls; its own layout would make the heads
16 wide), LayerNorm(eps=1e-6), the same dropouts, mean pooling, Dense(20, relu), Dense(2).
Both end in logits and take the loss from logits (BCEWithLogitsLoss, CrossEntropyLoss), as a PyTorch
user writes it: the same function as Keras's sigmoid/softmax + cross-entropy. Imported by the torch
runner only (this module imports torch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

if not __package__:  # run by path: siblings importable, the stdlib not shadowed
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import workloads as W


class LSTMText(nn.Module):
    """W4: token ids (B, T) -> logits (B, 1)."""

    def __init__(self, w: W.Workload):
        super().__init__()
        self.embedding = nn.Embedding(w.vocab, w.embed)
        self.lstm = nn.LSTM(w.embed, W.LSTM_UNITS, batch_first=True)
        self.out = nn.Linear(W.LSTM_UNITS, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.embedding(x))
        return self.out(h[-1])


class KerasMultiHeadAttention(nn.Module):
    """Keras's MultiHeadAttention(num_heads, key_dim) on self-attention, no mask, no attention dropout."""

    def __init__(self, embed: int, heads: int, key_dim: int):
        super().__init__()
        self.heads, self.key_dim = heads, key_dim
        self.query, self.key, self.value = (nn.Linear(embed, heads * key_dim) for _ in range(3))
        self.output = nn.Linear(heads * key_dim, embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape

        def heads(proj: nn.Linear) -> torch.Tensor:
            return proj(x).view(b, t, self.heads, self.key_dim).transpose(1, 2)  # (B, heads, T, key_dim)

        att = F.scaled_dot_product_attention(heads(self.query), heads(self.key), heads(self.value))
        return self.output(att.transpose(1, 2).reshape(b, t, self.heads * self.key_dim))


class TransformerText(nn.Module):
    """W5: token ids (B, T) -> logits (B, 2)."""

    def __init__(self, w: W.Workload):
        super().__init__()
        d, rate = w.embed, W.TRANSFORMER_DROPOUT
        self.token_emb = nn.Embedding(w.vocab, d)
        self.pos_emb = nn.Embedding(w.input_shape[0], d)
        self.att = KerasMultiHeadAttention(d, W.TRANSFORMER_HEADS, d)
        self.ffn = nn.Sequential(nn.Linear(d, W.TRANSFORMER_FF), nn.ReLU(), nn.Linear(W.TRANSFORMER_FF, d))
        self.norm1 = nn.LayerNorm(d, eps=W.LAYERNORM_EPSILON)
        self.norm2 = nn.LayerNorm(d, eps=W.LAYERNORM_EPSILON)
        self.drop1, self.drop2 = nn.Dropout(rate), nn.Dropout(rate)
        self.head = nn.Sequential(nn.Dropout(rate), nn.Linear(d, W.TRANSFORMER_DENSE), nn.ReLU(), nn.Dropout(rate),
                                  nn.Linear(W.TRANSFORMER_DENSE, W.TRANSFORMER_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(x.shape[1], device=x.device)
        h = self.token_emb(x) + self.pos_emb(positions)
        h = self.norm1(h + self.drop1(self.att(h)))
        h = self.norm2(h + self.drop2(self.ffn(h)))
        return self.head(h.mean(dim=1))


def build(w: W.Workload) -> tuple[nn.Module, Any, Any]:
    """(model, loss from logits, accuracy from logits and labels) of a text workload."""
    if w.kind == "lstm":
        return LSTMText(w), nn.BCEWithLogitsLoss(), _binary_accuracy
    if w.kind == "transformer":
        return TransformerText(w), nn.CrossEntropyLoss(), sparse_accuracy
    raise ValueError(f"{w.key} ({w.kind}) is not a text workload")


def _binary_accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras's binary accuracy (sigmoid > 0.5, i.e. logit > 0)."""
    return ((logits > 0) == (y > 0.5)).float().mean()


def sparse_accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras's sparse categorical accuracy: the argmax of the logits equals the label (also the image models')."""
    return (logits.argmax(dim=1) == y).float().mean()
