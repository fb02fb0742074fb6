"""`python -m gpukeras.bench` / `gpukeras-bench`: run the workloads in every framework, side by side.

Each (framework, workload) runs in its own subprocess (a runner script of this package,
run by path so other venvs need not import gpukeras) and prints one JSON line. Frameworks
that are missing are reported as "not installed"; a runner that fails is reported, never fatal.
`--repeats N` runs every framework N times, interleaved (see gpukeras.bench.repeats), and the
table gives the median run and the range.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gpukeras.bench import repeats as R
from gpukeras.bench import report
from gpukeras.bench import workloads as W
from gpukeras.bench._child import RESULT_PREFIX

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]  # the directory that holds the gpukeras package
UNSET_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # NumPy's BLAS, torch, MKL

# framework -> (runner script, variant passed as --variant)
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "gpukeras": ("gpukeras_runner.py", ""),  # the compiled step (compile(jit_compile=True))
    "gpukeras-eager": ("gpukeras_runner.py", ""),  # the same model with the eager step (jit_compile=False)
    "gpukeras-nographs": ("gpukeras_runner.py", ""),  # the compiled step without CUDA graphs (GPU only; issue 13)
    # issue 14: the same model under a mixed precision policy, and data-parallel on 2 processes (mpirun)
    "gpukeras-mixed_float16": ("gpukeras_runner.py", ""),
    "gpukeras-mixed_bfloat16": ("gpukeras_runner.py", ""),
    "gpukeras-2ranks": ("gpukeras_runner.py", ""),
    "bound": ("bound.py", ""),
    "numpy-ref": ("numpy_reference.py", ""),
    "keras3-jax": ("keras3_runner.py", "jax"),
    "torch": ("torch_runner.py", ""),
    "keras3-tensorflow": ("keras3_runner.py", "tensorflow"),
    "keras3-torch": ("keras3_runner.py", "torch"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The tool's command line."""
    p = argparse.ArgumentParser(prog="gpukeras-bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small epochs, 2 timed epochs (< 2 min on 2 cores)")
    p.add_argument("--workloads", default="W1,W2,W3",
                   help="comma list of W1,W2,W3 (or mlp-small, ...); W4 (lstm-text) and W5 (transformer-text) "
                        "are the text models, W6 (resnet20-cifar) and W7 (mobilenetv2-cifar) the CIFAR-shaped "
                        "image models, W8 (resnet50) and W9 (mobilenetv2) the ImageNet-shaped ones (for a GPU); "
                        "W1S and W2S are W1 and W2 as users write them (softmax output, sparse CE, accuracy)")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                   help=f"comma list of {', '.join(FRAMEWORKS)}")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=None, help="gpukeras backend")
    p.add_argument("--gpu", action="store_true", help="run on the GPU (cupy, CUDA); W2 at batch 4096")
    p.add_argument("--epochs", type=int, default=None, help="timed epochs (default 5, quick 2)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up epochs, not timed")
    p.add_argument("--samples", type=int, default=0, help="samples per epoch for every workload (0 = default)")
    p.add_argument("--batch", type=int, default=0, help="batch size for every workload (0 = each one's own)")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs per framework and workload, interleaved (each round rotates the frameworks' "
                        "order); the table gives the median run and the range")
    p.add_argument("--seq-len", type=int, default=0, help="sequence length of the text workloads (0 = 200)")
    p.add_argument("--python-for", action="append", default=[], metavar="FW=PYTHON",
                   help="interpreter for a framework, e.g. keras3=/venv/bin/python (keras3 covers keras3-*)")
    p.add_argument("--out", default=None, help="output folder (default bench/results/<date>-<host>)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per runner (default 900, quick 180)")
    p.add_argument("--profile", action="store_true", help="also run the profile mode (profile.md)")
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--update", action="store_true",
                   help="keep the other rows of an existing results.json in --out; replace only the rows run now")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before each runner, wait up to this long for the CPUs to be idle (shared machines)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads of every runner (OpenMP, OpenBLAS, MKL, XLA); 0 = each library's default. "
                        "One thread stays readable while other jobs load a shared machine")
    return p.parse_args(argv)


def _split(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def interpreters(pairs: list[str]) -> dict[str, str]:
    """Parse --python-for FW=PATH pairs."""
    out = {}
    for pair in pairs:
        fw, sep, path = pair.partition("=")
        if not sep or not path:
            raise SystemExit(f"--python-for expects FW=PYTHON, got {pair!r}")
        out[fw.strip()] = path.strip()
    return out


def python_for(fw: str, table: dict[str, str]) -> str:
    """The interpreter that runs `fw`: an exact --python-for, its family (keras3), or this one."""
    return table.get(fw) or table.get(fw.split("-")[0]) or sys.executable


def child_env(device: str, threads: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    """The runners' environment (same for all, `threads` CPU threads each when set) and the BLAS variables
    removed from it."""
    env = dict(os.environ)
    removed = {k: env.pop(k) for k in UNSET_ENV if k in env}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("PYTHONHASHSEED", "0")
    if device == "cpu":
        env.setdefault("JAX_PLATFORMS", "cpu")
    if threads:
        env.update(dict.fromkeys(THREAD_ENV, str(threads)))
        eigen = "false" if threads == 1 else "true"
        xla = f"--xla_cpu_multi_thread_eigen={eigen} intra_op_parallelism_threads={threads}"
        env["XLA_FLAGS"] = f"{env['XLA_FLAGS']} {xla}" if env.get("XLA_FLAGS") else xla
    return env, removed


def cpu_busy(interval: float = 1.0) -> float | None:
    """Fraction of all CPU time that was busy over `interval` seconds (/proc/stat), None if unknown."""
    def sample() -> tuple[int, int]:
        vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(vals), vals[3] + (vals[4] if len(vals) > 4 else 0)

    try:
        t0, i0 = sample()
        time.sleep(interval)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


def wait_idle(budget: float, threshold: float = 0.15) -> float | None:
    """Wait (at most `budget` s) until the CPUs are idle; returns the last busy fraction seen."""
    deadline = time.monotonic() + budget
    busy = cpu_busy()
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy


def run_one(fw: str, key: str, args: argparse.Namespace, env: dict[str, str], python: str,
            device: str) -> dict[str, Any]:
    """Run one runner subprocess; always returns a result dict."""
    script, variant = FRAMEWORKS[fw]
    if fw.startswith("gpukeras"):
        variant = args.backend or ("cupy" if device == "gpu" else "numpy")
    cmd = [python, str(HERE / script), "--workload", key, "--epochs", str(args.epochs),
           "--warmup", str(args.warmup), "--device", device]
    if fw in ("gpukeras-eager", "gpukeras-nographs"):
        cmd += ["--step", "eager" if fw == "gpukeras-eager" else "plan"]
    if fw.startswith("gpukeras-mixed"):
        cmd += ["--policy", fw.removeprefix("gpukeras-")]
    if fw == "gpukeras-nographs" and device == "cpu":
        return {"framework": fw, "workload": key, "status": "not applicable",
                "note": "CUDA graphs exist on the GPU only: on the CPU this row is the gpukeras row"}
    if fw == "gpukeras-2ranks":
        cmd, env = _under_mpirun(cmd, 2, python, env)
        if cmd is None:
            return {"framework": fw, "workload": key, "status": "not installed", "note": "no mpirun beside " + python}
    if variant:
        cmd += ["--variant", variant]
    if args.quick:
        cmd.append("--quick")
    if args.samples:
        cmd += ["--samples", str(args.samples)]
    if args.batch:
        cmd += ["--batch", str(args.batch)]
    if args.seq_len and W.get(key).is_text:
        cmd += ["--seq-len", str(args.seq_len)]
    if not os.path.exists(python):
        return {"framework": fw, "workload": key, "status": "not installed", "note": f"no interpreter {python}"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"framework": fw, "workload": key, "status": "timeout", "note": f"over {args.timeout:.0f} s"}
    wall = time.perf_counter() - t0
    for line in reversed(proc.stdout.splitlines()):
        # a data-parallel run prints one line per rank: rank 0's is the row
        if line.startswith(RESULT_PREFIX) and ('"rank": ' not in line or '"rank": 0' in line):
            res = json.loads(line[len(RESULT_PREFIX):])
            res["wall_s"] = wall
            res["python_exe"] = python
            if res.get("status") == "error":
                res["stderr_tail"] = proc.stderr[-2000:]
            return res
    tail = (proc.stderr or proc.stdout)[-600:].strip().splitlines()
    return {"framework": fw, "workload": key, "status": "error", "wall_s": wall,
            "note": f"exit {proc.returncode}: {tail[-1] if tail else 'no output'}",
            "stderr_tail": proc.stderr[-2000:]}


def _under_mpirun(cmd: list[str], ranks: int, python: str, env: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """`cmd` started as `ranks` processes by the mpirun beside `python` (the test extra's Open MPI), each with
    an equal part of the CPU's threads; (None, env) when there is no mpirun."""
    mpirun = Path(python).parent / "mpirun"
    if not mpirun.exists():
        return None, env
    threads = str(max(1, (os.cpu_count() or 1) // ranks))
    env = dict(env, **dict.fromkeys(THREAD_ENV, threads))
    launch = [str(mpirun), "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)]
    return launch + cmd + ["--ranks", str(ranks)], env


def machine_info() -> dict[str, Any]:
    """Date, host, cores, CPU model, memory, load, GPU, git commit."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 2**20
    except OSError:
        pass
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": socket.gethostname(), "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(), "cpu_model": cpu, "mem_gib": mem, "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        info["loadavg_start"] = os.getloadavg()[0]
    except OSError:
        pass
    try:
        gpu = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        if gpu.returncode == 0 and gpu.stdout.strip():
            info["gpu"] = gpu.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            info["git"] = head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def _blas_summary(results: list[dict[str, Any]]) -> str:
    for r in results:
        if r["framework"] == "gpukeras" and r.get("blas"):
            b = next((x for x in r["blas"] if x.get("user_api") == "blas"), None)
            if b:
                return f"{b['internal_api']} {b['version']}, {b['num_threads']} threads, kernel {b['architecture']}"
    return ""


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print the Markdown table; write table.md, results.json, chart.png."""
    args = parse_args(argv)
    command = ["python", "-m", "gpukeras.bench", *(sys.argv[1:] if argv is None else argv)]
    device = "gpu" if args.gpu or args.backend == "cupy" else "cpu"
    if args.epochs is None:
        args.epochs = 2 if args.quick else 5
    if args.timeout is None:
        args.timeout = 180.0 if args.quick else 900.0
    if args.repeats < 1:
        raise SystemExit(f"--repeats must be at least 1, got {args.repeats}")
    if min(args.batch, args.samples, args.threads) < 0:
        raise SystemExit(f"--batch, --samples and --threads must not be negative, got {args.batch}, {args.samples} "
                         f"and {args.threads}")
    keys = [W.get(k).key for k in _split(args.workloads)]
    fws = _split(args.frameworks)
    unknown = [f for f in fws if f not in FRAMEWORKS]
    if unknown:
        raise SystemExit(f"unknown framework(s) {unknown}; expected some of {list(FRAMEWORKS)}")
    pythons = interpreters(args.python_for)
    env, removed = child_env(device, args.threads)
    info = machine_info()
    info["unset_env"] = removed
    date = _dt.date.today().isoformat()
    out_dir = Path(args.out or Path("bench") / "results" / f"{date}-{info['host']}")
    runs = []
    t_start = time.perf_counter()
    for key in keys:
        for round_index in range(args.repeats):
            for fw in R.run_order(fws, round_index):
                busy = wait_idle(args.wait_idle) if args.wait_idle else cpu_busy(0.2)
                res = run_one(fw, key, args, env, python_for(fw, pythons), device)
                res["cpu_busy_before"] = busy
                res["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
                res["round"] = round_index
                runs.append(res)
                sps = f"{res['samples_per_s']:.0f} samples/s" if res.get("status") == "ok" else res.get("status")
                print(f"[bench] {key} {fw} (run {round_index + 1}/{args.repeats}): {sps} "
                      f"({res.get('wall_s', 0):.1f} s)", file=sys.stderr, flush=True)
    results = R.combine(runs)
    try:
        info["loadavg_end"] = os.getloadavg()[0]
    except OSError:
        pass
    previous = out_dir / "results.json"
    if args.update and previous.exists():
        done = {(r["framework"], r["workload"]) for r in results}
        old = json.loads(previous.read_text())
        kept = [r for r in old.get("results", []) if (r["framework"], r["workload"]) not in done]
        results = kept + results
        info["updated_rows"] = sorted(f"{w} {f}" for f, w in done)
        info["first_run"] = old.get("machine", {}).get("first_run") or old.get("machine", {}).get("date")
    info["blas"] = _blas_summary(results)
    versions: dict[str, str] = {}
    for r in results:
        for k, v in (r.get("versions") or {}).items():
            versions.setdefault(k, v)
    data = {"machine": info, "versions": versions, "results": results, "total_s": time.perf_counter() - t_start,
            "config": {"quick": args.quick, "device": device, "epochs": args.epochs, "warmup": args.warmup,
                       "workloads": sorted({r["workload"] for r in results}), "frameworks": fws,
                       "backend": args.backend, "python_for": pythons, "samples": args.samples, "batch": args.batch,
                       "threads": args.threads,
                       "repeats": args.repeats, "seq_len": args.seq_len, "command": command}}
    paths = report.write(data, out_dir, make_chart=not args.no_chart)
    print(paths["table"].read_text())
    if args.profile:
        prof = run_profile(keys, args, env, device)
        (out_dir / "profile.md").write_text(prof)
        paths["profile"] = out_dir / "profile.md"
        print(prof)
    print("[bench] wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0


def run_profile(keys: list[str], args: argparse.Namespace, env: dict[str, str], device: str) -> str:
    """Run profile.py in a subprocess (same clean environment); returns its Markdown."""
    cmd = [sys.executable, str(HERE / "profile.py"), "--workloads", ",".join(keys),
           "--backend", args.backend or ("cupy" if device == "gpu" else "numpy")]
    if args.quick:
        cmd.append("--quick")
    if args.seq_len:
        cmd += ["--seq-len", str(args.seq_len)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=max(args.timeout, 600))
    except subprocess.TimeoutExpired:
        return "# profile\n\ntimed out\n"
    if proc.returncode != 0:
        return f"# profile\n\nfailed (exit {proc.returncode}):\n\n```\n{proc.stderr[-3000:]}\n```\n"
    return proc.stdout
