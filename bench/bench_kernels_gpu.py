"""GPU micro-benchmarks of our kernels against the unfused CuPy sequence (and PyTorch if present).

1. Dense forward + backward, 4096x1024 @ 1024x1024 float32 + bias + relu/gelu: CupyOps with our
   kernels vs CupyOps with GPUKERAS-kernels off (matmul, add, activation as separate CuPy calls);
   also its epilogue alone (bias+activation and their gradients, no GEMMs), where fusion acts.
2. One optimizer step (Adam and SGD-momentum) on a 20-weight model: one multi-tensor launch vs
   the per-weight loop of generic CuPy calls.
Times are CUDA-event medians after warm-up, in one process, side by side. Writes results.json and
results.md under --out. `--dry-run` runs the same code at tiny sizes without a GPU, to check the
script itself: on the emulated CuPy (tests/emulation: our kernels compiled for the CPU) when g++
and the CUDA headers are here, else on NumPy. Its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _timer(xp_name: str) -> Callable[[Callable[[], Any], int, int], float]:
    """Median milliseconds of fn() over `iters` runs after `warmup`."""
    if xp_name == "cupy":
        from gpukeras.backend.cupy_backend import cupy  # CuPy comes through the backend package

        def run(fn: Callable[[], Any], warmup: int, iters: int) -> float:
            for _ in range(warmup):
                fn()
            times = []
            for _ in range(iters):
                start, stop = cupy.cuda.Event(), cupy.cuda.Event()
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                times.append(cupy.cuda.get_elapsed_time(start, stop))
            return statistics.median(times)
        return run

    def run_cpu(fn: Callable[[], Any], warmup: int, iters: int) -> float:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)
    return run_cpu


def _emulate_cupy() -> bool:
    """Install the CPU stand-in for CuPy (dry runs); False when it cannot work here."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from emulation import cupy_on_numpy, kernel_runner
    except ImportError:
        return False
    try:
        cupy_on_numpy.install()
    except kernel_runner.EmulationUnavailable:
        return False
    return True


_ON_NUMPY = False  # a dry run without the emulator


def _ops(dry: bool, kernels: bool) -> Any:
    if dry and _ON_NUMPY:
        from gpukeras.backend.numpy_backend import NumpyOps

        return NumpyOps()
    from gpukeras.backend.cupy_backend import CupyOps

    ops = CupyOps()
    ops.use_kernels = kernels
    return ops


def bench_dense(dry: bool, timer: Callable, activation: str) -> dict:
    """Fused Dense fwd+bwd vs the unfused CuPy sequence."""
    m, k, n = (64, 32, 32) if dry else (4096, 1024, 1024)
    rng = np.random.default_rng(0)
    host = [rng.normal(size=s).astype(np.float32) * 0.1 for s in ((m, k), (k, n), (n,), (m, n))]
    out: dict[str, Any] = {"shape": [m, k, n], "activation": activation, "dtype": "float32"}
    for label, kernels in (("fused", True), ("unfused", False)):
        ops = _ops(dry, kernels)
        x, w, b, dy = (ops.asarray(a) for a in host)

        def step(ops=ops, x=x, w=w, b=b, dy=dy) -> None:
            y, z = ops.dense(x, w, b, activation)
            ops.dense_backward(dy, x, w, z, y, activation)

        out[f"{label}_ms"] = timer(step, 5, 30)
        z0 = ops.matmul(x, w)

        def epilogue(ops=ops, z0=z0, b=b, dy=dy) -> None:  # the same step without its three GEMMs
            y, z = ops.bias_activation(z0.copy(), b, activation)
            ops.bias_activation_backward(dy, z, y, activation)

        out[f"{label}_epilogue_ms"] = timer(epilogue, 5, 30)
    out["speedup"] = out["unfused_ms"] / out["fused_ms"]
    out["epilogue_speedup"] = out["unfused_epilogue_ms"] / out["fused_epilogue_ms"]
    return out


def bench_optimizer(dry: bool, timer: Callable, kind: str) -> dict:
    """One step over a 20-weight model (10 Dense layers): one launch vs per-weight loop."""
    from gpukeras.optimizers.adam import ADAM_RULE
    from gpukeras.optimizers.sgd import SGD_RULE

    width = 16 if dry else 512
    shapes = [s for _ in range(10) for s in ((width, width), (width,))]
    rng = np.random.default_rng(1)
    out: dict[str, Any] = {"optimizer": kind, "weights": len(shapes),
                           "parameters": int(sum(np.prod(s) for s in shapes))}
    for label, kernels in (("fused", True), ("per_weight", False)):
        ops = _ops(dry, kernels)
        w = [ops.asarray(rng.normal(size=s).astype(np.float32)) for s in shapes]
        g = [ops.asarray(rng.normal(size=s).astype(np.float32) * 1e-3) for s in shapes]
        m = [ops.zeros(s) for s in shapes]
        v = [ops.zeros(s) for s in shapes]
        state = {"t": 0}

        def step(ops=ops, w=w, g=g, m=m, v=v, state=state) -> None:
            state["t"] += 1
            if kind == "adam":
                scalars = dict(lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, step=state["t"],
                               weight_decay=0.0)
                ops.multi_tensor_apply(ADAM_RULE, [w, g, m, v, None], scalars)
            else:
                scalars = dict(lr=1e-2, momentum=0.9, nesterov=False, weight_decay=0.0)
                ops.multi_tensor_apply(SGD_RULE, [w, g, m], scalars)

        out[f"{label}_ms"] = timer(step, 5, 50)
    out["speedup"] = out["per_weight_ms"] / out["fused_ms"]
    return out


def bench_torch(dry: bool) -> dict | None:
    """PyTorch equivalents for context (cuBLAS + its own kernels), when torch with CUDA is present."""
    if dry:
        return None
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None

    def timed(fn: Callable[[], Any], warmup: int = 5, iters: int = 30) -> float:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(iters):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
        return statistics.median(times)

    dev = "cuda"
    x = torch.randn(4096, 1024, device=dev) * 0.1
    lin = torch.nn.Linear(1024, 1024, device=dev)
    dy = torch.randn(4096, 1024, device=dev)

    def dense() -> None:
        xx = x.detach().requires_grad_(True)
        torch.relu(lin(xx)).backward(dy)

    res = {"version": torch.__version__, "dense_relu_fwd_bwd_ms": timed(dense)}
    params = [torch.nn.Parameter(torch.randn(*s, device=dev)) for _ in range(10) for s in ((512, 512), (512,))]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    for name, kwargs in (("adam_foreach_ms", {"foreach": True}), ("adam_fused_ms", {"fused": True}),
                         ("adam_per_weight_ms", {"foreach": False})):
        try:
            opt = torch.optim.Adam(params, lr=1e-3, **kwargs)
            res[name] = timed(opt.step, 5, 50)
        except Exception as exc:  # older torch without fused
            res[name] = f"unavailable: {exc}"
    return res


def _junit_summary(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        return {"error": str(exc)}
    suites = [root] if root.tag == "testsuite" else list(root)
    keys = ("tests", "failures", "errors", "skipped")
    return {k: sum(int(s.get(k, 0)) for s in suites) for k in keys} | {
        "time_s": round(sum(float(s.get("time", 0)) for s in suites), 1)}


def _gpu_name() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip() or "unknown (nvidia-smi gave no output)"
    except Exception as exc:
        return f"unknown ({exc})"


def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    if not _ON_NUMPY:
        try:
            from gpukeras.backend.cupy_backend import cupy

            v["cupy"] = cupy.__version__
            v["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
            v["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
        except Exception as exc:
            v["cupy"] = f"unavailable: {exc}"
    return v


def _markdown(r: dict) -> str:
    lines = [f"# gpukeras GPU check — {r['date']}", "", f"- GPU: {r['gpu']}", f"- mode: {r['mode']}",
             f"- versions: {json.dumps(r['versions'])}", f"- tests: {json.dumps(r.get('tests'))}", "",
             "| benchmark | ours (ms) | baseline (ms) | speed-up | target |", "|---|---|---|---|---|"]
    for d in r["dense"]:
        lines.append(f"| Dense {d['activation']} fwd+bwd {'x'.join(map(str, d['shape']))} | {d['fused_ms']:.3f} | "
                     f"{d['unfused_ms']:.3f} (unfused CuPy) | {d['speedup']:.2f}x | >= 1.5x |")
        lines.append(f"| ... its bias+activation epilogue alone (no GEMMs) | {d['fused_epilogue_ms']:.3f} | "
                     f"{d['unfused_epilogue_ms']:.3f} (unfused CuPy) | {d['epilogue_speedup']:.2f}x | — |")
    for o in r["optimizer"]:
        lines.append(f"| {o['optimizer']} step, {o['weights']} weights ({o['parameters']} params) | "
                     f"{o['fused_ms']:.3f} | {o['per_weight_ms']:.3f} (per-weight loop) | "
                     f"{o['speedup']:.2f}x | >= 3x |")
    if r.get("torch"):
        lines += ["", f"PyTorch for context: `{json.dumps(r['torch'])}`"]
    if r["mode"] != "gpu":
        lines += ["", f"Dry run ({r['mode']}) at tiny sizes: checks the script only; the numbers mean nothing."]
    return "\n".join(lines) + "\n"


def _write(out: Path, result: dict) -> None:
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "results.md").write_text(_markdown(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for results.json / results.md")
    parser.add_argument("--dry-run", action="store_true", help="no GPU, tiny sizes: rehearse the script")
    parser.add_argument("--junit", type=Path, help="pytest JUnit XML to summarise in the results")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    global _ON_NUMPY
    _ON_NUMPY = args.dry_run and not _emulate_cupy()
    timer = _timer("numpy" if _ON_NUMPY else "cupy")
    mode = "gpu" if not args.dry_run else ("dry-run on numpy" if _ON_NUMPY else "dry-run on emulated cupy")
    versions = _versions()
    if "cpu-emulated" in str(versions.get("cupy")):  # the stand-in reached through PYTHONPATH: never a GPU figure
        mode = "emulated cupy on the CPU, not a GPU"
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": mode, "gpu": "none (dry run)" if mode != "gpu" else _gpu_name(),
        "versions": versions, "argv": sys.argv,
        "tests": _junit_summary(args.junit) if args.junit else None, "dense": [], "optimizer": [], "errors": [],
    }
    for label, fn in [*((f"dense-{a}", lambda a=a: result["dense"].append(bench_dense(args.dry_run, timer, a)))
                        for a in ("relu", "gelu")),
                      *((f"opt-{k}", lambda k=k: result["optimizer"].append(bench_optimizer(args.dry_run, timer, k)))
                        for k in ("adam", "sgd")),
                      ("torch", lambda: result.__setitem__("torch", bench_torch(args.dry_run)))]:
        try:
            fn()
            print(f"[bench] {label}: ok", flush=True)
        except Exception as exc:  # keep going: one broken benchmark must not hide the others
            result["errors"].append(f"{label}: {type(exc).__name__}: {exc}")
            print(f"[bench] {label}: FAILED {exc}", flush=True)
        _write(args.out, result)  # after each one: a run cut short by its time cap keeps what it measured
    print(_markdown(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
