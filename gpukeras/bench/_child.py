"""What every runner subprocess shares: arguments, timing, memory, BLAS info, the JSON line.

Stdlib + NumPy only, so runners work from another venv (Keras 3 on JAX).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

RESULT_PREFIX = "GPUKERAS_BENCH_RESULT "


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The runner command line (the parent tool passes all of these)."""
    p = argparse.ArgumentParser(description="One framework, one workload: prints one JSON line.")
    p.add_argument("--workload", required=True)
    p.add_argument("--epochs", type=int, default=5, help="timed epochs after the warm-up")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--samples", type=int, default=0, help="samples per epoch (0 = the workload's default)")
    p.add_argument("--batch", type=int, default=0, help="batch size (0 = the workload's default)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--variant", default="", help="framework variant (Keras backend, gpukeras backend)")
    p.add_argument("--seq-len", type=int, default=0, help="sequence length of a text workload (0 = its own)")
    p.add_argument("--step", choices=("compiled", "plan", "eager"), default="compiled",
                   help="gpukeras: the compiled training step (jit_compile=True), the compiled step without CUDA "
                        "graphs, or the eager one")
    p.add_argument("--policy", default="float32", help="gpukeras: the global dtype policy (mixed_float16, ...)")
    p.add_argument("--ranks", type=int, default=1, help="gpukeras: data-parallel processes (started by mpirun)")
    return p.parse_args(argv)


def sizes(args: argparse.Namespace, w: Any) -> tuple[int, int]:
    """(samples per epoch, batch) rounded so every batch is full."""
    batch = args.batch or (w.batch_gpu if args.device == "gpu" else w.batch)
    n = args.samples or (w.samples_quick if args.quick else w.samples)
    n = max(batch, n // batch * batch)
    return n, batch


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def blas_info() -> list[dict[str, Any]]:
    """BLAS/OpenMP libraries loaded in this process (threadpoolctl), or [] when it is missing."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [{k: d.get(k) for k in keep} for d in threadpool_info()]


def cpu_snapshot() -> tuple[float, float, float] | None:
    """(all CPUs' busy seconds, all CPUs' total seconds, this process's CPU seconds), from /proc/stat."""
    try:
        vals = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    t = os.times()
    total = sum(vals) / hz
    idle = (vals[3] + (vals[4] if len(vals) > 4 else 0)) / hz
    return total - idle, total, t.user + t.system


def others_busy(start: tuple[float, float, float] | None) -> float | None:
    """Fraction of the machine's CPU time that other processes used since `start` (noise indicator)."""
    end = cpu_snapshot()
    if start is None or end is None:
        return None
    busy, total, own = (e - s for e, s in zip(end, start))
    return max(0.0, min(1.0, (busy - own) / max(total, 1e-9)))


def summarize(epoch_times: list[float], n: int, batch: int,
              snapshot: tuple[float, float, float] | None = None,
              epoch_cpu: list[float] | None = None) -> dict[str, Any]:
    """samples/s and ms/step from the median timed epoch (+ others' CPU share since `snapshot`), and from
    the epochs' CPU time (`epoch_cpu`: this process's, all its threads) samples per CPU-second, which other
    jobs on a shared machine barely move when the runner has one thread."""
    med = statistics.median(epoch_times)
    out = {
        "others_cpu": others_busy(snapshot),
        "samples_per_s": n / med,
        "step_ms": 1000.0 * med / (n // batch),
        "epoch_s_median": med,
        "epoch_s": epoch_times,
        "samples": n,
        "batch": batch,
        "steps_per_epoch": n // batch,
    }
    if epoch_cpu:
        out["epoch_cpu_s"] = epoch_cpu
        out["samples_per_cpu_s"] = n / max(statistics.median(epoch_cpu), 1e-9)
        out["cpu_per_wall"] = sum(epoch_cpu) / max(sum(epoch_times), 1e-9)
    return out


def time_repeats(fn: Callable[[], None], repeats: int) -> list[float]:
    """Wall times of `repeats` calls of fn."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def manual_repeats(args: argparse.Namespace) -> int:
    """Timed repeats of the train_on_batch loop (fewer in --quick)."""
    return 2 if args.quick else max(3, args.epochs)


def base_result(framework: str, workload: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Fields every result carries."""
    out = {
        "framework": framework,
        "workload": workload.key if hasattr(workload, "key") else str(workload),
        "device": args.device,
        "python": platform.python_version(),
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }
    if getattr(workload, "is_text", False):
        out["seq_len"] = workload.input_shape[0]
    return out


def emit(result: dict[str, Any]) -> None:
    """Print the one result line the parent reads."""
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


def run_main(framework: str, body: Callable[[argparse.Namespace], dict[str, Any]],
             argv: list[str] | None = None) -> int:
    """Parse args, run body, emit its result; errors become status 'error' (never a traceback only)."""
    args = parse_args(argv)
    try:
        result = body(args)
    except NotInstalled as exc:
        result = {"framework": framework, "workload": args.workload, "status": "not installed", "note": str(exc)}
    except NotAvailable as exc:
        result = {"framework": framework, "workload": args.workload, "status": "not available", "note": str(exc)}
    except Exception as exc:  # report, do not crash the comparison
        traceback.print_exc()
        result = {"framework": framework, "workload": args.workload, "status": "error",
                  "note": f"{type(exc).__name__}: {exc}"[:500]}
    result.setdefault("status", "ok")
    result.setdefault("peak_rss_mb", peak_rss_mb())
    emit(result)
    return 0


class NotInstalled(Exception):
    """The framework cannot be imported in this interpreter."""


class NotAvailable(Exception):
    """The framework is there but lacks what the workload needs (e.g. Conv2D)."""

