"""GEMM-only bound: the time of just the matrix products one training step needs.

Per Dense layer: forward x @ W, backward dW = x.T @ dz and dx = dz @ W.T (no dx for the
first layer). W3 counts its convolutions as im2col GEMMs. Outputs are preallocated and
transposes are views, as a good implementation would do them. `--device gpu` uses CuPy.
"""

from __future__ import annotations

import os
import statistics
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

# One GEMM: (label, M, K, N, a_transposed, b_transposed): C[M,N] = op(A)[M,K] @ op(B)[K,N].
Gemm = tuple[str, int, int, int, bool, bool]


def gemms(w: W.Workload, batch: int) -> list[Gemm]:
    """The GEMMs of one training step of workload `w` at this batch size."""
    out: list[Gemm] = []

    def dense(tag: str, m: int, din: int, dout: int, first: bool) -> None:
        out.append((f"{tag} fwd", m, din, dout, False, False))
        out.append((f"{tag} dW", din, m, dout, True, False))
        if not first:
            out.append((f"{tag} dX", m, dout, din, False, True))

    if w.kind == "mlp":
        dims = w.dims()
        for i, (din, dout) in enumerate(zip(dims[:-1], dims[1:])):
            dense(f"dense{i} {din}x{dout}", batch, din, dout, i == 0)
        return out
    side, cin = w.input_shape[0], w.input_shape[2]
    k = W.CNN_KERNEL
    for i, filters in enumerate(W.CNN_FILTERS):
        side -= k - 1
        dense(f"conv{i} im2col", batch * side * side, k * k * cin, filters, i == 0)
        side //= 2
        cin = filters
    dense("dense", batch, W.CNN_FLAT, W.NUM_CLASSES, False)
    return out


def flops(gs: list[Gemm]) -> float:
    """2*M*K*N summed."""
    return float(sum(2 * m * k * n for _, m, k, n, _, _ in gs))


def measure(gs: list[Gemm], xp: Any = np, repeats: int = 7, min_time: float = 0.2,
            sync: Any = None) -> dict[str, Any]:
    """Median time of one step's GEMMs (seconds), plus each GEMM's own median."""
    sync = sync or (lambda: None)
    rng = np.random.default_rng(0)
    ops = []
    for _, m, k, n, ta, tb in gs:
        a = xp.asarray(rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32))
        b = xp.asarray(rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32))
        ops.append((a.T if ta else a, b.T if tb else b, xp.empty((m, n), np.float32)))

    def step() -> None:
        for a, b, c in ops:
            xp.matmul(a, b, out=c)

    step()
    sync()
    t0 = time.perf_counter()
    step()
    sync()
    one = max(time.perf_counter() - t0, 1e-6)
    inner = max(1, int(min_time / one))

    def timed(fn: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        return (time.perf_counter() - t0) / inner

    total = statistics.median(timed(step) for _ in range(repeats))
    each = []
    for (label, *_), (a, b, c) in zip(gs, ops):
        each.append((label, statistics.median(timed(lambda a=a, b=b, c=c: xp.matmul(a, b, out=c))
                                              for _ in range(3))))
    return {"step_s": total, "per_gemm_s": each}


def _body(args: Any) -> dict[str, Any]:
    w = W.get(args.workload)
    if w.kind not in ("mlp", "cnn"):
        raise C.NotAvailable("the GEMM-only bound covers W1-W3 (Dense and convolution GEMMs) only")
    res = C.base_result("bound", w, args)
    if args.device == "gpu":
        from gpukeras import backend  # the only package that imports CuPy

        try:
            xp = backend.set_backend("cupy").xp
        except backend.BackendUnavailableError as exc:
            raise C.NotInstalled(f"cupy: {exc}") from exc
        sync = xp.cuda.Device().synchronize
    else:
        xp, sync = np, None
    _, batch = C.sizes(args, w)
    gs = gemms(w, batch)
    snap = C.cpu_snapshot()
    r = measure(gs, xp, repeats=max(3, args.epochs), min_time=0.05 if args.quick else 0.2, sync=sync)
    step = r["step_s"]
    res["others_cpu"] = C.others_busy(snap)
    res.update(samples_per_s=batch / step, step_ms=1000 * step, batch=batch, gflops=flops(gs) / step / 1e9,
               gemms=[{"gemm": label, "shape": f"{m}x{k}x{n}", "us": 1e6 * t}
                      for (label, m, k, n, _, _), (_, t) in zip(gs, r["per_gemm_s"])],
               versions={"numpy": np.__version__}, blas=C.blas_info(),
               backend="cupy" if args.device == "gpu" else "numpy")
    return res


def main(argv: list[str] | None = None) -> int:
    """Entry point: one workload, one JSON line."""
    return C.run_main("bound", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
