"""GPU check of issue 13: our GEMM kernel (kernels/gemm.cu, for captured CUDA graphs) against cuBLAS.

For each float32 product of the W1 and W2 training steps (forward and both backward products, the
backward ones on transposed views as autodiff forms them) and square 1024^3 / 4096^3: the median of
--runs timed calls (CUDA events, after warm-up) of `kernels.gemm(a, b, out=c)` (the tile it chooses,
then each tile forced, on products up to 2^32 multiply-adds, and without split-K where it splits) and
of `cupy.matmul(a, b, out=c)` (cuBLAS), GFLOP/s, the speed ratio ours/cuBLAS (1.0 = as fast), and the
largest difference between the two relative to the largest |C| (summation order differs; about 1e-6
expected). Timings include each call's host time (the launcher's checks), as an eager step sees it.

Writes --out-json and --out-md (after every case, so a run cut short keeps what it measured).
`--dry-run` runs the same code at tiny sizes on the emulated CuPy (tests/emulation) to check the
script: its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.append(str(HERE))
import bench_kernels_gpu as K  # noqa: E402  (emulator set-up, CUDA-event timer, GPU name and versions)

TILE_LIMIT = 2**32  # multiply-adds above which forced tiles are not timed (the small tiles get slow)

# (label, m, k, n, layout): "nn" a @ b; "tn" a is a transposed view (x.T @ dy); "nt" b is one (dy @ W.T)
CASES = [
    ("W1 fwd x@W1 (batch 32)", 32, 784, 128, "nn"),
    ("W1 fwd h@W2 (batch 32)", 32, 128, 10, "nn"),
    ("W1 bwd x.T@dh (dW1)", 784, 32, 128, "tn"),
    ("W1 bwd dy@W2.T (dh)", 32, 10, 128, "nt"),
    ("W2 fwd x@W1 (batch 256)", 256, 784, 1024, "nn"),
    ("W2 fwd h@W2 (batch 256)", 256, 1024, 1024, "nn"),
    ("W2 bwd h.T@dz (batch 256)", 1024, 256, 1024, "tn"),
    ("W2 bwd dz@W.T (batch 256)", 256, 1024, 1024, "nt"),
    ("W2 fwd x@W1 (batch 4096)", 4096, 784, 1024, "nn"),
    ("W2 fwd h@W2 (batch 4096)", 4096, 1024, 1024, "nn"),
    ("W2 fwd h@W3 (batch 4096)", 4096, 1024, 10, "nn"),
    ("W2 bwd h.T@dz (batch 4096)", 1024, 4096, 1024, "tn"),
    ("W2 bwd dz@W.T (batch 4096)", 4096, 1024, 1024, "nt"),
    ("square 1024^3", 1024, 1024, 1024, "nn"),
    ("square 4096^3", 4096, 4096, 4096, "nn"),
]


def operands(cupy: Any, m: int, k: int, n: int, layout: str) -> tuple[Any, Any]:
    """a (m, k) and b (k, n) on the device, as views of transposed storage where the layout says."""
    rng = np.random.default_rng(0)

    def make(rows: int, cols: int, transposed: bool) -> Any:
        data = rng.standard_normal((cols, rows) if transposed else (rows, cols), dtype=np.float32)
        dev = cupy.asarray(data)
        return dev.T if transposed else dev

    return make(m, k, layout[0] == "t"), make(k, n, layout[1] == "t")


def run_case(ops: Any, cupy: Any, timer: Any, case: tuple, runs: int, warmup: int, dry: bool) -> dict:
    """One product timed as ours (chosen tile, then each tile) and as cuBLAS."""
    label, m, k, n, layout = case
    if dry:
        m, k, n = max(1, m // 64), max(1, k // 4), max(1, n // 64)  # k long enough to split on two "SMs"
    a, b = operands(cupy, m, k, n, layout)
    gemm = ops.kernels.gemm
    ours, ref = cupy.empty((m, n), np.float32), cupy.empty((m, n), np.float32)
    if gemm(a, b, out=ours) is None:
        raise RuntimeError("kernels.gemm declined the product (fell back)")
    cupy.matmul(a, b, out=ref)
    scale = float(cupy.abs(ref).max()) or 1.0
    flop = 2.0 * m * n * k
    tile, _, splits = gemm.plan(m, n, k, 1)
    row: dict[str, Any] = {"case": label, "m": m, "k": k, "n": n, "layout": layout, "tile": tile, "splits": splits,
                           "max_diff_rel": float(cupy.abs(ours - ref).max()) / scale}
    row["ours_ms"] = timer(lambda: gemm(a, b, out=ours), warmup, runs)
    row["cublas_ms"] = timer(lambda: cupy.matmul(a, b, out=ref), warmup, runs)
    if row["splits"] > 1:  # the same tile without split-K, to check the choice
        gemm.splits = 1
        try:
            row["no_split_ms"] = timer(lambda: gemm(a, b, out=ours), warmup, runs)
        finally:
            gemm.splits = None
    if m * n * k <= TILE_LIMIT:
        for tile in ("t128", "t64", "t32"):
            gemm.tile = tile
            try:
                row[f"{tile}_ms"] = timer(lambda: gemm(a, b, out=ours), warmup, runs)
            finally:
                gemm.tile = None
    for side in ("ours", "cublas"):
        row[f"{side}_gflops"] = flop / (row[f"{side}_ms"] * 1e6) if row[f"{side}_ms"] > 0 else float("nan")
    row["ratio"] = row["cublas_ms"] / row["ours_ms"] if row["ours_ms"] > 0 else float("nan")
    return row


def markdown(result: dict) -> str:
    lines = [f"# GEMM kernel vs cuBLAS (float32) — {result['date']}", "", f"- GPU: {result['gpu']}",
             f"- mode: {result['mode']}", f"- versions: {json.dumps(result['versions'])}",
             f"- median of {result['runs']} runs after {result['warmup']} warm-up calls (CUDA events); "
             f"CUPY_TF32={result['cupy_tf32']}; ratio = ours/cuBLAS speed (1.0 = as fast)", "",
             "| product | m x k x n | layout | tile, splits | ours ms | cuBLAS ms | ours GFLOP/s | cuBLAS GFLOP/s "
             "| ratio | t128 / t64 / t32 ms | unsplit ms | max diff / max abs |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        tiles = " / ".join(f"{r[t]:.3f}" if t in r else "—" for t in ("t128_ms", "t64_ms", "t32_ms"))
        unsplit = f"{r['no_split_ms']:.3f}" if "no_split_ms" in r else "—"
        lines.append(f"| {r['case']} | {r['m']}x{r['k']}x{r['n']} | {r['layout']} | {r['tile']}, {r['splits']} "
                     f"| {r['ours_ms']:.3f} | {r['cublas_ms']:.3f} | {r['ours_gflops']:.0f} | {r['cublas_gflops']:.0f} "
                     f"| {r['ratio']:.2f} | {tiles} | {unsplit} | {r['max_diff_rel']:.1e} |")
    for what in ("skipped", "errors"):
        if result[what]:
            lines += ["", f"{what}: " + "; ".join(result[what])]
    if result["mode"] != "gpu":
        lines += ["", f"Dry run ({result['mode']}) at tiny sizes: checks the script only; the numbers mean nothing."]
    return "\n".join(lines) + "\n"


def write(args: argparse.Namespace, result: dict) -> None:
    for path, text in ((args.out_json, json.dumps(result, indent=2, default=str)), (args.out_md, markdown(result))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-json", type=Path, required=True, help="where the JSON results go")
    parser.add_argument("--out-md", type=Path, required=True, help="where the markdown table goes")
    parser.add_argument("--dry-run", action="store_true", help="no GPU, tiny sizes on the emulated CuPy")
    parser.add_argument("--runs", type=int, default=50, help="timed calls per figure")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls before them")
    parser.add_argument("--budget", type=float, default=35.0, help="seconds; later cases are skipped after it")
    args = parser.parse_args(argv)
    t_start = time.monotonic()
    if args.dry_run and not K._emulate_cupy():
        print("[gemm] dry run needs the emulated CuPy (g++ and the CUDA headers); nothing to do", flush=True)
        return 0
    import gpukeras as keras

    keras.backend.set_backend("cupy")
    from gpukeras.backend.cupy_backend import CupyOps, cupy

    ops = CupyOps()
    versions = K._versions()
    mode = "gpu" if not args.dry_run else "dry-run on emulated cupy"
    runs, warmup = (3, 1) if args.dry_run else (args.runs, args.warmup)
    result: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "mode": mode,
                              "gpu": K._gpu_name() if mode == "gpu" else "none (dry run)", "versions": versions,
                              "runs": runs, "warmup": warmup, "cupy_tf32": os.environ.get("CUPY_TF32", "unset"),
                              "rows": [], "skipped": [], "errors": [], "argv": sys.argv}
    timer = K._timer("cupy")
    for case in CASES:
        if time.monotonic() - t_start > args.budget:
            result["skipped"].append(case[0])
            print(f"[gemm] {case[0]}: skipped (over {args.budget:.0f} s)", flush=True)
            continue
        t0 = time.monotonic()
        try:
            result["rows"].append(run_case(ops, cupy, timer, case, runs, warmup, args.dry_run))
            print(f"[gemm] {case[0]}: ok ({time.monotonic() - t0:.1f} s)", flush=True)
        except Exception as exc:  # one broken case must not hide the others
            result["errors"].append(f"{case[0]}: {type(exc).__name__}: {exc}"[:500])
            print(f"[gemm] {case[0]}: FAILED {type(exc).__name__}: {exc}", flush=True)
        write(args, result)
    write(args, result)
    print(markdown(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
