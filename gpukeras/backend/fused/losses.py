"""Fused fast paths: softmax cross-entropy and sigmoid binary cross-entropy, with the generic code.

Each loss computes its value and the probabilities its backward needs in one pass; the backward
is one pass too. Backends fuse them (C on the host, CUDA on the GPU).
"""

from __future__ import annotations

from typing import Any

from gpukeras.backend.fused.host import host_kernel

Array = Any


class LossFusions:
    """Fused losses and their backwards, generic over `self.xp`."""

    xp: Any = None

    def sparse_softmax_cross_entropy(self, logits: Array, labels: Array) -> tuple[Array, Array]:
        """Per-sample -log softmax(logits)[label]; returns (loss, softmax) for the backward."""
        xp = self.xp
        labels = xp.asarray(labels)  # host labels on a device backend
        shifted = logits - xp.max(logits, axis=-1, keepdims=True)
        e = xp.exp(shifted)
        total = xp.sum(e, axis=-1, keepdims=True)
        probs = e / total
        picked = shifted.reshape(-1)[self._flat_label_index(labels, logits.shape[-1])].reshape(labels.shape)
        return xp.log(total[..., 0]) - picked, probs

    def sparse_softmax_cross_entropy_backward(self, dloss: Array, probs: Array, labels: Array) -> Array:
        """(softmax - onehot) * dloss, in one pass over the probabilities."""
        grad = probs * dloss[..., None]
        flat = grad.reshape(-1)
        flat[self._flat_label_index(self.xp.asarray(labels), probs.shape[-1])] -= dloss.reshape(-1)
        return grad

    def sparse_crossentropy_from_probs(self, probs: Array, labels: Array, epsilon: float) -> tuple[Array, tuple]:
        """Per-sample -log(clip(p / sum(p), eps, 1 - eps))[label] from probabilities (a softmax output), with
        the arithmetic of the unfused ops (the same bits) in one call; (loss, residuals for the backward).
        Labels out of range give 0, as Keras's one-hot does."""
        xp = self.xp
        host = self._host_xent_probs(probs, labels, "sparse_xent_probs")
        if host is not None:  # the C loop gives each row's clipped probability; the gradient is recomputed
            kernel, labels64 = host
            picked = xp.empty(probs.shape[:-1], dtype=probs.dtype)
            if kernel(probs, labels64, picked, *_clip_bounds(epsilon, xp)):
                return xp.negative(xp.log(picked, out=picked), out=picked), ("host", probs, labels64, epsilon)
        total = xp.sum(probs, axis=-1, keepdims=True)
        p = xp.true_divide(probs, total)
        clipped = xp.clip(p, epsilon, 1.0 - epsilon)
        # one_hot's values (1 at an in-range label, +0 elsewhere) in one comparison
        labels = xp.asarray(labels)  # host labels on a device backend
        onehot = xp.equal(xp.expand_dims(labels, -1), xp.arange(probs.shape[-1])).astype(probs.dtype)
        loss = xp.negative(xp.sum(xp.multiply(onehot, xp.log(clipped)), axis=-1))
        return loss, (total, p, clipped, onehot)

    def sparse_crossentropy_from_probs_backward(self, dloss: Array, residuals: tuple) -> Array:
        """Gradient of `sparse_crossentropy_from_probs` for the probabilities: the chain rule of the unfused
        ops (sum, divide, clip, log, one-hot product) with the same roundings; broadcasting stands in for
        their explicit broadcasts, and `clipped == p` for clip's inside mask (equal where p is in range)."""
        xp = self.xp
        if isinstance(residuals[0], str):  # "host": the C loop made the loss
            _, probs, labels64, epsilon = residuals
            grad = xp.empty(probs.shape, dtype=probs.dtype)
            host_kernel("sparse_xent_probs_grad", xp, probs)(probs, labels64, xp.ascontiguousarray(dloss), grad,
                                                             *_clip_bounds(epsilon, xp))
            return grad  # its rows are finite: the forward checked them
        total, p, clipped, onehot = residuals
        g = xp.true_divide(xp.multiply(xp.expand_dims(xp.negative(dloss), -1), onehot), clipped)
        ga = xp.true_divide(xp.where(xp.equal(clipped, p), g, 0), total)
        gb = xp.negative(xp.multiply(ga, p))
        if p.shape[-1] != 1:  # a one-class axis is not summed (sum_to_shape of an equal shape)
            gb = xp.sum(gb, axis=-1, keepdims=True)
        return xp.add(ga, gb)

    def _host_xent_probs(self, probs: Array, labels: Array, name: str) -> tuple[Any, Array] | None:
        """(C loop, int64 labels) when the host kernel can take these probabilities and labels, else None."""
        kernel = host_kernel(name, self.xp, probs)
        if kernel is None or probs.ndim == 0 or not probs.flags.c_contiguous:
            return None
        labels = self.xp.asarray(labels)
        if labels.shape != probs.shape[:-1] or labels.dtype.kind not in "iu":
            return None  # float labels and odd shapes keep the generic path (its one-hot compares values)
        return kernel, self.xp.ascontiguousarray(labels, dtype=self.xp.int64)

    def _flat_label_index(self, labels: Array, num_classes: int) -> Array:
        """Positions of each row's label in the flattened (rows, classes) array."""
        rows = labels.size
        return self.xp.arange(0, rows * num_classes, num_classes) + labels.reshape(-1).astype("int64")


    def sigmoid_binary_cross_entropy(self, logits: Array, targets: Array) -> tuple[Array, Array]:
        """Elementwise t*softplus(-z) + (1-t)*softplus(z) from logits z, and sigmoid(z) for the backward."""
        xp = self.xp
        targets = xp.asarray(targets, dtype=logits.dtype)

        def softplus(v: Array) -> Array:
            return xp.maximum(v, 0) + xp.log1p(xp.exp(-xp.abs(v)))

        e = xp.exp(-xp.abs(logits))
        probs = xp.where(logits >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(logits.dtype, copy=False)
        loss = targets * softplus(-logits) + (1.0 - targets) * softplus(logits)
        return loss.astype(logits.dtype, copy=False), probs

    def sigmoid_binary_cross_entropy_backward(self, dloss: Array, probs: Array, targets: Array) -> Array:
        """(sigmoid(z) - t) * dloss."""
        xp = self.xp
        targets = xp.asarray(targets, dtype=probs.dtype)
        return ((probs - targets) * xp.asarray(dloss, dtype=probs.dtype)).astype(probs.dtype, copy=False)


def _clip_bounds(epsilon: float, xp: Any) -> tuple[float, float]:
    """The clip's float32 bounds as np.clip takes them from Python floats (epsilon, 1 - epsilon)."""
    return float(xp.float32(epsilon)), float(xp.float32(1.0 - epsilon))
