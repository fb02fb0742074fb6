"""GPU benchmarks of issue 11: our LSTM layer and our attention, forward + backward, float16, against
PyTorch's (cuDNN's LSTM, scaled_dot_product_attention) and against our own unfused path.

1. LSTM: `gpukeras.layers.LSTM(64, return_sequences=True, dtype="float16")` (W4's layer: input 128,
   batch 32) over sequences of 512 and 2048 steps; with our kernels (one recurrent GEMM and one fused
   cell kernel per step) and without them (use_kernels off: the cell's elementwise work as separate
   CuPy ops); `torch.nn.LSTM(128, 64, batch_first=True)` in float16 (cuDNN).
2. Attention: `gpukeras.ops.dot_product_attention` on (batch 4, sequence, 8 heads, head size 64) in
   float16 at sequences 512 and 2048; with our kernels (the fused kernel, where this checkout has one)
   and without (the weights stored, softmax and two batched GEMMs); `F.scaled_dot_product_attention`.
Each figure is a CUDA-event median over a few calls of forward + backward (the gradients of the inputs
and, for the LSTM, of its weights), after warm-up calls that also compile the kernels. Issue 11's goals:
ours >= 0.7x torch's speed, fused >= 3x our unfused path.

Parts run most important first, each written out as soon as it is done, and the rest are skipped once
`--budget` seconds are spent, so a run cut short keeps what it measured. Writes sequence.json and
sequence.md under --out. `--dry-run` runs the same code at tiny sizes without a GPU, on the emulated
CuPy (tests/emulation) or else on NumPy, to check the script: its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # a plain checkout: gpukeras importable
sys.path.append(str(HERE))
import bench_kernels_gpu as K  # noqa: E402  (its emulator set-up, GPU name and versions)

LSTM_SHAPE = {"batch": 32, "features": 128, "units": 64}  # W4's LSTM layer
ATTENTION_SHAPE = {"batch": 4, "heads": 8, "head_size": 64}
SEQUENCES = (512, 2048)
DRY_SEQUENCES = (8, 16)
GOALS = {"vs_torch": 0.7, "fused_vs_unfused": 3.0}


def _torch() -> Any:
    """torch with CUDA, or None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _torch_timer(torch: Any, fn: Callable[[], Any], warmup: int, iters: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


# ---------------------------------------------------------------------------- ours
def lstm_ours(keras: Any, timer: Callable, seq: int, dtype: str, iters: int) -> dict[str, float]:
    """Our LSTM layer's forward + backward, with and without our kernels (milliseconds)."""
    B = keras.backend.get()
    shape = LSTM_SHAPE
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.normal(size=(shape["batch"], seq, shape["features"])).astype(dtype))
    dy = B.asarray(rng.normal(size=(shape["batch"], seq, shape["units"])).astype(dtype))
    # glorot_uniform for the recurrent kernel: the default orthogonal initializer cannot make float16 weights
    # (its QR has no float16); the values do not change the timing
    layer = keras.layers.LSTM(shape["units"], return_sequences=True, dtype=dtype,
                              recurrent_initializer="glorot_uniform")
    layer.build(tuple(x.shape))

    def step() -> None:
        with keras.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        tape.gradient(y, [x, *layer.trainable_weights], output_gradients=dy)

    return _fused_and_unfused(B, timer, step, iters)


def attention_ours(keras: Any, timer: Callable, seq: int, dtype: str, iters: int) -> dict[str, Any]:
    """ops.dot_product_attention's forward + backward, with and without our kernels (milliseconds)."""
    B = keras.backend.get()
    s = ATTENTION_SHAPE
    rng = np.random.default_rng(1)
    shape = (s["batch"], seq, s["heads"], s["head_size"])  # Keras's layout: (batch, sequence, heads, head size)
    q, k, v = (keras.ops.convert_to_tensor(rng.normal(size=shape).astype(dtype)) for _ in range(3))
    dout = B.asarray(rng.normal(size=shape).astype(dtype))

    def step() -> None:
        with keras.GradientTape() as tape:
            for t in (q, k, v):
                tape.watch(t)
            out = keras.ops.dot_product_attention(q, k, v)
        tape.gradient(out, [q, k, v], output_gradients=dout)

    available = getattr(B, "flash_attention_available", None)
    fused = bool(available and available(q.data, k.data, v.data, None, None))
    res: dict[str, Any] = _fused_and_unfused(B, timer, step, iters, fused_exists=fused)
    res["fused_kernel"] = fused
    return res


def _fused_and_unfused(B: Any, timer: Callable, step: Callable[[], None], iters: int,
                       fused_exists: bool = True) -> dict[str, float]:
    """Time `step` with our kernels on (when they cover it) and off; a backend without kernels times it once."""
    if not hasattr(B, "use_kernels"):  # NumPy (a dry run without the emulator): one generic path
        return {"generic_ms": timer(step, 1, iters)}
    saved = B.use_kernels
    out = {}
    try:
        if fused_exists:
            B.use_kernels = True
            out["fused_ms"] = timer(step, 2, iters)
        B.use_kernels = False
        out["unfused_ms"] = timer(step, 1, iters)
    finally:
        B.use_kernels = saved
    return out


# ---------------------------------------------------------------------------- torch
def lstm_torch(torch: Any, seq: int, iters: int) -> dict[str, Any]:
    """torch.nn.LSTM (cuDNN) forward + backward in float16, the same sizes."""
    s = LSTM_SHAPE
    lstm = torch.nn.LSTM(s["features"], s["units"], batch_first=True).cuda().half()
    x = torch.randn(s["batch"], seq, s["features"], device="cuda", dtype=torch.float16, requires_grad=True)
    dy = torch.randn(s["batch"], seq, s["units"], device="cuda", dtype=torch.float16)

    def step() -> None:
        y, _ = lstm(x)
        y.backward(dy)

    return {"torch_ms": _torch_timer(torch, step, 3, iters), "cudnn": torch.backends.cudnn.version()}


def attention_torch(torch: Any, seq: int, iters: int) -> dict[str, Any]:
    """F.scaled_dot_product_attention forward + backward in float16 ((batch, heads, sequence, head size))."""
    s = ATTENTION_SHAPE
    shape = (s["batch"], s["heads"], seq, s["head_size"])
    q, k, v = (torch.randn(*shape, device="cuda", dtype=torch.float16, requires_grad=True) for _ in range(3))
    dout = torch.randn(*shape, device="cuda", dtype=torch.float16)

    def step() -> None:
        torch.nn.functional.scaled_dot_product_attention(q, k, v).backward(dout)

    return {"torch_ms": _torch_timer(torch, step, 3, iters)}


# ---------------------------------------------------------------------------- the run
def parts(dry: bool) -> list[tuple[str, str, int]]:
    """(label, kind, sequence) in priority order: both layers at the short sequence, then the long one."""
    seqs = DRY_SEQUENCES if dry else SEQUENCES
    return [(f"{kind}-{seq}", kind, seq) for seq in seqs for kind in ("attention", "lstm")]


def run_part(kind: str, seq: int, keras: Any, timer: Callable, torch: Any, dtype: str, iters: int) -> dict[str, Any]:
    """One row: ours (fused, unfused), torch's, and the ratios issue 11 asks about."""
    row: dict[str, Any] = {"kind": kind, "sequence": seq, "dtype": dtype,
                           "shape": LSTM_SHAPE if kind == "lstm" else ATTENTION_SHAPE}
    row.update((lstm_ours if kind == "lstm" else attention_ours)(keras, timer, seq, dtype, iters))
    if torch is not None:
        row.update((lstm_torch if kind == "lstm" else attention_torch)(torch, seq, iters))
    ours = row.get("fused_ms") or row.get("generic_ms") or row.get("unfused_ms")  # our fastest path here
    if ours and row.get("torch_ms"):
        row["vs_torch"] = row["torch_ms"] / ours  # > 1: ours is faster
    if row.get("fused_ms") and row.get("unfused_ms"):
        row["fused_vs_unfused"] = row["unfused_ms"] / row["fused_ms"]
    return row


def _fmt(v: Any, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def markdown(r: dict[str, Any]) -> str:
    """The rows as a table, with the goals and what was not measured."""
    lines = [f"# gpukeras sequence benchmarks (issue 11) — {r['date']}", "", f"- GPU: {r['gpu']}",
             f"- mode: {r['mode']}", f"- versions: {json.dumps(r['versions'])}",
             f"- LSTM: {json.dumps(LSTM_SHAPE)}; attention: {json.dumps(ATTENTION_SHAPE)}; {r['dtype']}, "
             "forward + backward, CUDA-event medians", "",
             "| part | ours fused (ms) | ours unfused (ms) | torch (ms) | torch ÷ ours (goal ≥ 0.7) "
             "| unfused ÷ fused (goal ≥ 3) |", "|---|---:|---:|---:|---:|---:|"]
    for row in r["rows"]:
        name = f"{'LSTM layer' if row['kind'] == 'lstm' else 'attention'}, sequence {row['sequence']}"
        fused = row.get("fused_ms") or row.get("generic_ms")
        if row["kind"] == "attention" and not row.get("fused_kernel") and "unfused_ms" in row:
            name += " (no fused kernel in this checkout)"
        lines.append(f"| {name} | {_fmt(fused)} | {_fmt(row.get('unfused_ms'))} | {_fmt(row.get('torch_ms'))} "
                     f"| {_fmt(row.get('vs_torch'), '.2f')} | {_fmt(row.get('fused_vs_unfused'), '.2f')} |")
    for label in r["skipped"]:
        lines.append(f"| {label} | skipped: out of time | | | | |")
    if r["errors"]:
        lines += ["", "Errors: " + "; ".join(r["errors"])]
    if r.get("torch") is None:
        lines += ["", "PyTorch with CUDA is not available here: no torch column."]
    if r["mode"] != "gpu":
        lines += ["", f"Not a GPU measurement ({r['mode']}): tiny sizes, to check the script; the numbers mean "
                  "nothing."]
    return "\n".join(lines) + "\n"


def _write(out: Path, result: dict[str, Any]) -> None:
    (out / "sequence.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "sequence.md").write_text(markdown(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for sequence.json / sequence.md")
    parser.add_argument("--dry-run", action="store_true", help="no GPU, tiny sizes: rehearse the script")
    parser.add_argument("--budget", type=float, default=150.0, help="seconds; later parts are skipped after it")
    parser.add_argument("--iters", type=int, default=5, help="timed calls per figure")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    on_numpy = args.dry_run and not K._emulate_cupy()
    K._ON_NUMPY = on_numpy
    import gpukeras as keras

    keras.backend.set_backend("numpy" if on_numpy else "cupy")
    versions = K._versions()
    mode = "gpu" if not args.dry_run else ("dry-run on numpy" if on_numpy else "dry-run on emulated cupy")
    if "cpu-emulated" in str(versions.get("cupy")):
        mode = "emulated cupy on the CPU, not a GPU"
    torch = None if args.dry_run else _torch()
    if torch is not None:
        versions["torch"] = torch.__version__
    dtype = "float16"
    result: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "mode": mode,
                              "gpu": K._gpu_name() if mode == "gpu" else "none (dry run)", "versions": versions,
                              "dtype": dtype, "torch": None if torch is None else torch.__version__,
                              "goals": GOALS, "rows": [], "skipped": [], "errors": [], "argv": sys.argv}
    timer = K._timer("numpy" if on_numpy else "cupy")  # CUDA-event medians on CuPy
    iters = 2 if args.dry_run else args.iters
    for label, kind, seq in parts(args.dry_run):
        if time.monotonic() - t_start > args.budget:
            result["skipped"].append(label)
            print(f"[sequence] {label}: skipped (over {args.budget:.0f} s)", flush=True)
            continue
        t0 = time.monotonic()
        try:
            result["rows"].append(run_part(kind, seq, keras, timer, torch, dtype, iters))
            print(f"[sequence] {label}: ok ({time.monotonic() - t0:.1f} s)", flush=True)
        except Exception as exc:  # one broken part must not hide the others
            result["errors"].append(f"{label}: {type(exc).__name__}: {exc}"[:500])
            print(f"[sequence] {label}: FAILED {type(exc).__name__}: {exc}", flush=True)
        _write(args.out, result)
    _write(args.out, result)
    print(markdown(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
