"""Launchers of kernels/softmax_xent.cu: fused sparse softmax cross-entropy and sigmoid BCE, with backwards."""

from __future__ import annotations

from typing import Any

import cupy

from gpukeras.backend.launchers.base import BLOCK, Launcher

Array = Any


def _labels64(labels: Array) -> Array:
    return cupy.ascontiguousarray(cupy.asarray(labels).astype(cupy.int64, copy=False))


class SparseXentForward(Launcher):
    """Per row: max, sum of exp, the loss at the label and the softmax probabilities; returns (loss, probs)."""

    kernel = "gk_sxent_fwd"

    def __call__(self, logits: Array, labels: Array) -> tuple[Array, Array] | None:
        suffix = self.suffix(logits)
        if suffix is None or logits.ndim < 1 or logits.size == 0 or tuple(labels.shape) != logits.shape[:-1]:
            return None
        logits = cupy.ascontiguousarray(logits)
        cols = logits.shape[-1]
        rows = logits.size // cols
        loss = cupy.empty(logits.shape[:-1], dtype=logits.dtype)
        probs = cupy.empty_like(logits)
        ok = self.launch(suffix, (self.device.grid(rows, 1),), (self.device.row_block(cols),), logits,
                         _labels64(labels), loss, probs, rows, cols)
        return (loss, probs) if ok else None


class SparseXentBackward(Launcher):
    """(softmax - onehot) * dloss in one pass over the probabilities."""

    kernel = "gk_sxent_bwd"

    def __call__(self, dloss: Array, probs: Array, labels: Array) -> Array | None:
        suffix = self.suffix(probs)
        if suffix is None or probs.size == 0 or tuple(labels.shape) != probs.shape[:-1]:
            return None
        dloss = cupy.ascontiguousarray(cupy.broadcast_to(cupy.asarray(dloss, dtype=probs.dtype), labels.shape))
        probs = cupy.ascontiguousarray(probs)
        cols = probs.shape[-1]
        rows = probs.size // cols
        grad = cupy.empty_like(probs)
        bx = self.device.row_block(cols)
        ok = self.launch(suffix, self.device.rows_grid(rows, cols, bx), (bx, 1), probs, _labels64(labels), dloss,
                         grad, rows, cols)
        return grad if ok else None


class SigmoidBceForward(Launcher):
    """Elementwise BCE from logits and sigmoid(logits), in one pass; returns (loss, probs)."""

    kernel = "gk_sbce_fwd"

    def __call__(self, logits: Array, targets: Array) -> tuple[Array, Array] | None:
        targets = cupy.asarray(targets, dtype=logits.dtype)
        suffix = self.suffix(logits, targets)
        if suffix is None or targets.shape != logits.shape or logits.size == 0:
            return None
        logits, targets = cupy.ascontiguousarray(logits), cupy.ascontiguousarray(targets)
        loss, probs = cupy.empty_like(logits), cupy.empty_like(logits)
        n = logits.size
        ok = self.launch(suffix, (self.device.grid(n),), (BLOCK,), logits, targets, loss, probs, n)
        return (loss, probs) if ok else None


class SigmoidBceBackward(Launcher):
    """(sigmoid(z) - t) * dloss in one pass."""

    kernel = "gk_sbce_bwd"

    def __call__(self, dloss: Array, probs: Array, targets: Array) -> Array | None:
        targets = cupy.asarray(targets, dtype=probs.dtype)
        dloss = cupy.asarray(dloss, dtype=probs.dtype)
        suffix = self.suffix(probs, targets, dloss)
        if suffix is None or not (targets.shape == dloss.shape == probs.shape) or probs.size == 0:
            return None
        probs, targets, dloss = (cupy.ascontiguousarray(a) for a in (probs, targets, dloss))
        grad = cupy.empty_like(probs)
        n = probs.size
        ok = self.launch(suffix, (self.device.grid(n),), (BLOCK,), probs, targets, dloss, grad, n)
        return grad if ok else None
