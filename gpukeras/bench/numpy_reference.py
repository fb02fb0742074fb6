"""Hand-written NumPy MLP (W1/W2): the anchor a framework on NumPy is measured against.

Preallocated buffers, in-place ufuncs, parameters and gradients in one flat buffer each so
Adam is a handful of whole-buffer passes. Same math as the frameworks: ReLU MLP, logits,
softmax cross-entropy (mean over the batch), Keras Adam. `--device gpu` runs it on CuPy.
Run by the tool as `python numpy_reference.py --workload W1 ...` (prints one JSON line).
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

if not __package__:  # run by path: siblings importable, the stdlib not shadowed
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here] + [_here]
    import _child as C  # noqa: E402
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import _child as C
    from gpukeras.bench import workloads as W

import numpy as np  # noqa: E402


class NumpyMLP:
    """ReLU MLP + softmax cross-entropy + Adam, one training step = `step(x, y)`, no per-step allocation;
    `accuracy` also counts the batch's correct predictions (the W1S/W2S models' metric)."""

    def __init__(self, dims: list[int], batch: int, xp: Any = np, seed: int = 0,
                 lr: float = W.LEARNING_RATE, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = W.ADAM_EPSILON, accuracy: bool = False):
        self.xp, self.dims, self.batch = xp, dims, batch
        self.accuracy, self.correct = accuracy, 0
        self.lr, self.b1, self.b2, self.eps = lr, beta_1, beta_2, epsilon
        rng = np.random.default_rng(seed)
        sizes = [(a * b, b) for a, b in zip(dims[:-1], dims[1:])]
        total = sum(k + b for k, b in sizes)
        flat = np.zeros(total, np.float32)
        self.params, self.grads = xp.asarray(flat), xp.zeros(total, np.float32)
        self.m, self.v, self.tmp = (xp.zeros(total, np.float32) for _ in range(3))
        self.W, self.b, self.dW, self.db = [], [], [], []
        off = 0
        for (din, dout), (k, nb) in zip(zip(dims[:-1], dims[1:]), sizes):
            limit = math.sqrt(6.0 / (din + dout))  # glorot_uniform, zero bias
            self.params[off:off + k] = xp.asarray(rng.uniform(-limit, limit, k).astype(np.float32))
            self.W.append(self.params[off:off + k].reshape(din, dout))
            self.dW.append(self.grads[off:off + k].reshape(din, dout))
            off += k
            self.b.append(self.params[off:off + nb])
            self.db.append(self.grads[off:off + nb])
            off += nb
        f32 = np.float32
        self.z = [xp.empty((batch, d), f32) for d in dims[1:]]  # pre-activations (last = logits/probs)
        self.a = [xp.empty((batch, d), f32) for d in dims[1:-1]]  # ReLU outputs
        self.da = [xp.empty((batch, d), f32) for d in dims[1:-1]]
        self.mask = [xp.empty((batch, d), bool) for d in dims[1:-1]]
        self.rowmax = xp.empty((batch, 1), f32)
        self.rowsum = xp.empty((batch, 1), f32)
        self.rows = xp.arange(batch)
        self.t = 0

    def step(self, x: Any, y: Any) -> Any:
        """One Adam step on a batch; returns the batch's mean loss (a 0-d array, not synced)."""
        xp, L = self.xp, len(self.W)
        h = x
        for i in range(L):
            z = self.z[i]
            xp.matmul(h, self.W[i], out=z)
            z += self.b[i]
            if i < L - 1:
                xp.maximum(z, 0, out=self.a[i])
                h = self.a[i]
        p = self.z[-1]  # logits -> softmax in place
        xp.max(p, axis=1, keepdims=True, out=self.rowmax)
        p -= self.rowmax
        picked = p[self.rows, y]
        xp.exp(p, out=p)
        xp.sum(p, axis=1, keepdims=True, out=self.rowsum)
        p /= self.rowsum
        loss = (xp.log(self.rowsum[:, 0]) - picked).mean()
        if self.accuracy:
            self.correct = self.correct + xp.count_nonzero(xp.argmax(p, axis=1) == y)
        p[self.rows, y] -= 1.0
        p *= 1.0 / x.shape[0]
        dz = p
        for i in range(L - 1, -1, -1):
            h = x if i == 0 else self.a[i - 1]
            xp.matmul(h.T, dz, out=self.dW[i])
            xp.sum(dz, axis=0, out=self.db[i])
            if i > 0:
                da = self.da[i - 1]
                xp.matmul(dz, self.W[i].T, out=da)
                xp.greater(self.z[i - 1], 0, out=self.mask[i - 1])
                da *= self.mask[i - 1]
                dz = da
        self._adam()
        return loss

    def _adam(self) -> None:
        xp, g, m, v, t = self.xp, self.grads, self.m, self.v, self.tmp
        self.t += 1
        f = np.float32
        alpha = f(self.lr) * np.sqrt(f(1) - f(self.b2) ** self.t) / (f(1) - f(self.b1) ** self.t)
        xp.subtract(g, m, out=t)
        t *= 1.0 - self.b1
        m += t
        xp.multiply(g, g, out=t)
        t -= v
        t *= 1.0 - self.b2
        v += t
        xp.sqrt(v, out=t)
        t += self.eps
        xp.divide(m, t, out=t)
        t *= alpha
        self.params -= t


def _body(args: Any) -> dict[str, Any]:
    w = W.get(args.workload)
    res = C.base_result("numpy-ref", w, args)
    if w.kind != "mlp":
        raise C.NotAvailable("the hand-written reference is an MLP only (W1/W2)")
    if args.device == "gpu":
        from gpukeras import backend  # the only package that imports CuPy

        try:
            xp = backend.set_backend("cupy").xp
        except backend.BackendUnavailableError as exc:
            raise C.NotInstalled(f"cupy: {exc}") from exc
        sync = xp.cuda.Device().synchronize
    else:
        xp, sync = np, (lambda: None)
    n, batch = C.sizes(args, w)
    xh, yh = W.make_data(w, n)
    x, y = xp.asarray(xh), xp.asarray(yh.astype(np.int64))
    model = NumpyMLP(w.dims(), batch, xp, accuracy=w.softmax_output)
    xb = xp.empty((batch, x.shape[1]), np.float32)
    yb = xp.empty((batch,), np.int64)
    rng = np.random.default_rng(1)

    def epoch() -> float:
        perm = xp.asarray(rng.permutation(n))
        total = 0.0
        for s in range(n // batch):
            idx = perm[s * batch:(s + 1) * batch]
            xp.take(x, idx, axis=0, out=xb)
            xp.take(y, idx, axis=0, out=yb)
            total = total + model.step(xb, yb)
        sync()
        return float(total) / (n // batch)

    for _ in range(args.warmup):
        epoch()
    times, cpu, loss = [], [], 0.0
    snap = C.cpu_snapshot()
    for _ in range(args.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = epoch()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    res.update(C.summarize(times, n, batch, snap, cpu))
    res.update(final_loss=loss, versions={"numpy": np.__version__}, blas=C.blas_info(),
               backend="cupy" if args.device == "gpu" else "numpy")
    if args.device == "gpu":
        res["gpu_peak_mb"] = xp.get_default_memory_pool().total_bytes() / 2**20
    return res


def main(argv: list[str] | None = None) -> int:
    """Entry point: one workload, one JSON line."""
    return C.run_main("numpy-ref", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
