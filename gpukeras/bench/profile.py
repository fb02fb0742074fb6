"""Profile mode: where a gpukeras training step's time goes (Python overhead vs backend compute).

For each workload, on the active backend, per training step (fit, public API):
1. the step time, and the `train_on_batch` step time;
2. time inside the backend's Ops methods (every public method wrapped with a timer; only
   the outermost call counts), the rest being framework Python (tape, layers, losses,
   optimizer bookkeeping, metrics, batching) — with a per-op table;
3. the step with every matmul replaced by a no-op returning an array of the right shape
   (what the step costs besides GEMMs), next to the GEMM-only bound;
4. cProfile self time grouped by module (gpukeras.* vs numpy/cupy vs the rest) and the top functions.
Run: `python -m gpukeras.bench.profile --workloads W1,W2` (prints Markdown), or `--profile` in the tool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

if not __package__:  # run by path: siblings importable, the stdlib not shadowed
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here] + [_here]
    import _child as C  # noqa: E402
    import bound as BD  # noqa: E402
    import gpukeras_runner as GR  # noqa: E402
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import _child as C
    from gpukeras.bench import bound as BD
    from gpukeras.bench import gpukeras_runner as GR
    from gpukeras.bench import workloads as W

import numpy as np  # noqa: E402


class OpTimer:
    """Wraps every public method of a backend Ops instance; sums outermost-call wall time per method."""

    def __init__(self, ops: Any, sync: Any = None):
        self.ops, self.sync = ops, sync
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.depth = 0
        self.names = [n for n in dir(type(ops)) if not n.startswith("_") and callable(getattr(type(ops), n, None))
                      and n not in ("synchronize", "xp")]

    def _wrap(self, name: str, fn: Any) -> Any:
        perf = time.perf_counter

        def wrapper(*a: Any, **k: Any) -> Any:
            if self.depth:
                return fn(*a, **k)
            self.depth = 1
            t0 = perf()
            try:
                return fn(*a, **k)
            finally:
                if self.sync is not None:
                    self.sync()
                self.total[name] += perf() - t0
                self.calls[name] += 1
                self.depth = 0

        return wrapper

    def __enter__(self) -> OpTimer:
        for n in self.names:
            setattr(self.ops, n, self._wrap(n, getattr(self.ops, n)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for n in self.names:
            self.ops.__dict__.pop(n, None)

    def reset(self) -> None:
        self.total.clear()
        self.calls.clear()


class NoGemm:
    """Replace xp.matmul (and dot/tensordot) with a no-op returning a zero array of the right shape."""

    def __init__(self, xp: Any):
        self.xp, self.saved, self.calls = xp, {}, 0

    def _matmul(self, a: Any, b: Any, out: Any = None, **_: Any) -> Any:
        self.calls += 1
        if out is not None:
            return out
        if a.ndim < 2 or b.ndim < 2:
            return self.saved["matmul"](a, b)
        lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return self.xp.zeros((*lead, a.shape[-2], b.shape[-1]), dtype=np.result_type(a.dtype, b.dtype))

    def __enter__(self) -> NoGemm:
        for name in ("matmul", "dot"):
            self.saved[name] = getattr(self.xp, name)
        self.xp.matmul = self._matmul
        self.xp.dot = self._matmul
        return self

    def __exit__(self, *exc: Any) -> None:
        for name, fn in self.saved.items():
            setattr(self.xp, name, fn)


def _group(filename: str, func: str) -> str:
    """Module group of a cProfile entry."""
    norm = filename.replace(os.sep, "/")
    if "/gpukeras/" in norm and "/gpukeras/bench/" not in norm:
        mod = norm.rsplit("/gpukeras/", 1)[1][:-3].replace("/", ".")
        return "gpukeras." + mod
    if filename == "~":
        if "numpy" in func or "ndarray" in func or "ufunc" in func:
            return "numpy (C)"
        if "cupy" in func:
            return "cupy (C)"
        return "builtins (C)"
    if "/numpy/" in norm:
        return "numpy (Python)"
    if "/cupy/" in norm:
        return "cupy (Python)"
    return "other Python"


def _fit_step_s(model: Any, x: Any, y: Any, batch: int, epochs: int) -> float:
    times: list[float] = []
    keras = sys.modules["gpukeras"]
    sync = keras.backend.get().synchronize

    class T(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            sync()
            times.append(time.perf_counter() - self.t0)

    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[T()])
    return statistics.median(times) / (len(x) // batch)


def profile_workload(key: str, quick: bool = False, seq_len: int = 0) -> str:
    """Markdown profile of one workload's gpukeras training step (a text workload at `seq_len`, 0 = its own)."""
    import cProfile  # after the path fix-up above: this file is named like the stdlib's profile
    import pstats

    import gpukeras as keras

    w = W.resolve(key, seq_len)
    B = keras.backend.get()
    gpu = B.name == "cupy"
    xp = B.xp
    batch = w.batch_gpu if gpu else w.batch
    if w.is_vision:  # batch 128 of 32x32 images: seconds per step on NumPy
        steps = 2 if quick else 4
    elif w.is_text:
        steps = 4 if quick else 16
    elif w.kind == "cnn":
        steps = 4 if quick else 16
    else:
        steps = (256 if quick else 1024) if batch <= 32 else (16 if quick else 48)
    n = steps * batch
    x, y = W.make_data(w, n)
    keras.utils.set_random_seed(0)
    try:
        model = GR.build_model(keras, w)
    except Exception as exc:
        return f"## {key} {w.name}\n\nnot available: {exc}\n"
    reps = 3 if quick or w.is_text or w.is_vision else 5
    snap = C.cpu_snapshot()
    _fit_step_s(model, x, y, batch, 1)  # warm-up
    fit_s = _fit_step_s(model, x, y, batch, reps)
    bx, by = x[:batch], y[:batch]
    model.train_on_batch(bx, by)
    tob = []
    chunk = min(steps, w.manual_chunk)
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(chunk):
            model.train_on_batch(bx, by)
        B.synchronize()
        tob.append((time.perf_counter() - t0) / chunk)
    tob_s = statistics.median(tob)

    # Backend ops timed.
    timer = OpTimer(B, B.synchronize if gpu else None)
    with timer:
        _fit_step_s(model, x, y, batch, 1)
        timer.reset()
        timed_fit_s = _fit_step_s(model, x, y, batch, reps)
    per_step = {k: v / (steps * reps) for k, v in timer.total.items()}
    calls = {k: c / (steps * reps) for k, c in timer.calls.items()}
    backend_s = sum(per_step.values())
    # Cost of the wrapper itself (per call), to subtract from the framework share.
    probe = OpTimer(B)
    with probe:
        t0 = time.perf_counter()
        for _ in range(20000):
            B.item(1.0)
        wrapped = (time.perf_counter() - t0) / 20000
    t0 = time.perf_counter()
    for _ in range(20000):
        B.item(1.0)
    bare = (time.perf_counter() - t0) / 20000
    wrap_cost = max(wrapped - bare, 0.0) * sum(calls.values())

    # GEMMs replaced by no-ops.
    with NoGemm(xp) as ng:
        _fit_step_s(model, x, y, batch, 1)
        ng.calls = 0
        nogemm_s = _fit_step_s(model, x, y, batch, reps)
        gemm_calls = ng.calls / (steps * reps)
    bound_s = None  # the bound covers the Dense and convolution models only
    if w.kind in ("mlp", "cnn"):
        bound_s = BD.measure(BD.gemms(w, batch), xp, repeats=reps, sync=B.synchronize if gpu else None)["step_s"]

    # cProfile over one fit epoch.
    prof = cProfile.Profile()
    prof.enable()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    B.synchronize()
    prof.disable()
    st = pstats.Stats(prof)
    groups: dict[str, float] = defaultdict(float)
    funcs = []
    for (fname, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():
        g = _group(fname, func)
        groups[g] += tt
        short = func if fname == "~" else f"{fname.replace(os.sep, '/').rsplit('/', 1)[-1]}:{line}({func})"
        funcs.append((tt, ct, nc, g, short))
    prof_total = sum(groups.values())

    us = 1e6
    others = C.others_busy(snap)
    seq = f", sequence {w.input_shape[0]}" if w.is_text else ""
    out = [f"## {key} {w.name} — batch {batch}{seq}, backend {B.name}", ""]
    if others is not None:
        out += [f"Other processes used {100 * others:.0f}% of the CPUs during this profile"
                + (" — **noisy, rerun**" if others > 0.1 else "") + ".", ""]
    out.append("| measure | µs/step | share of fit step |")
    out.append("|---|---:|---:|")
    rows = [
        ("fit step (public API, verbose=0)", fit_s),
        ("train_on_batch step", tob_s),
        ("GEMM-only bound (same GEMMs, preallocated)", bound_s),
        ("fit step with every matmul a no-op (all but GEMMs)", nogemm_s),
        ("→ GEMMs inside the step (difference)", max(fit_s - nogemm_s, 0.0)),
        ("fit step with every backend op timed (the next two rows' run; share of this run)", timed_fit_s),
        ("→ inside backend Ops methods", backend_s),
        ("→ framework Python outside backend ops (wrapper cost removed)",
         max(timed_fit_s - backend_s - wrap_cost, 0.0)),
    ]
    for i, (name, s) in enumerate(rows):
        if s is None:
            out.append(f"| {name} | — | — |")
            continue
        denom = timed_fit_s if i >= len(rows) - 2 else fit_s
        out.append(f"| {name} | {s * us:.1f} | {100 * s / denom:.0f}% |")
    out.append("")
    out.append(f"{gemm_calls:.1f} matmul calls per step were no-op'd; {sum(calls.values()):.1f} backend op "
               f"calls per step (their timer wrappers cost ≈ {wrap_cost * us:.1f} µs per step).")
    out += ["", "Backend ops per step (outermost calls, wall time; sorted):", "",
            "| backend op | calls/step | µs/step |", "|---|---:|---:|"]
    for k, v in sorted(per_step.items(), key=lambda kv: -kv[1]):
        if v * us >= 0.5:
            out.append(f"| {k} | {calls[k]:.1f} | {v * us:.1f} |")
    scale = us / steps
    out += ["", "cProfile cannot see NumPy ufunc calls (matmul, add, exp, ...): their time is the calling "
            "function's self time, so backend functions' self time is mostly array compute."]
    out += ["", f"cProfile self time by module, per step (profiled epoch: {prof_total / steps * us:.0f} µs/step "
            "with profiler overhead; use the shares, not the absolute numbers):", "",
            "| module | µs/step | share |", "|---|---:|---:|"]
    for g, t in sorted(groups.items(), key=lambda kv: -kv[1]):
        if t * scale >= 0.5:
            out.append(f"| {g} | {t * scale:.1f} | {100 * t / prof_total:.0f}% |")
    out += ["", "Top functions by self time (cProfile, per step):", "",
            "| function | group | calls/step | self µs/step | cumulative µs/step |", "|---|---|---:|---:|---:|"]
    for tt, ct, nc, g, short in sorted(funcs, key=lambda f: -f[0])[:30]:
        out.append(f"| `{short}` | {g} | {nc / steps:.1f} | {tt * scale:.1f} | {ct * scale:.1f} |")
    out += ["", "Top gpukeras functions by cumulative time (cProfile, per step):", "",
            "| function | calls/step | cumulative µs/step |", "|---|---:|---:|"]
    gk = [f for f in funcs if f[3].startswith("gpukeras.")]
    for _tt, ct, nc, g, short in sorted(gk, key=lambda f: -f[1])[:20]:
        out.append(f"| `{g}:{short.split(':', 1)[-1]}` | {nc / steps:.1f} | {ct * scale:.1f} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown profile of the requested workloads."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default="W1,W2")
    p.add_argument("--backend", default=None, help="numpy or cupy (GPUKERAS_BACKEND)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seq-len", type=int, default=0, help="sequence length of the text workloads (0 = their own)")
    args = p.parse_args(argv)
    if args.backend:
        os.environ["GPUKERAS_BACKEND"] = args.backend
    import gpukeras as keras

    parts = ["# gpukeras training-step profile", "",
             f"gpukeras {keras.__version__}, backend {keras.backend.backend()}, numpy {np.__version__}, "
             f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    for key in [k.strip() for k in args.workloads.split(",") if k.strip()]:
        parts.append(profile_workload(W.get(key).key, args.quick, args.seq_len if W.get(key).is_text else 0))
    print("\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
