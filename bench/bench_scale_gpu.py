"""GPU checks of issue 14 (scale): the one-rank NCCL path of data-parallel training, and mixed precision.

1. NCCL, one rank: a ProcessGroup over a one-process communicator on the CuPy backend picks the NCCL
   transport (cupy.cuda.nccl); its gradient sum (share 1) and broadcast must return the inputs, and the
   median time of one 25 MiB bucket all-reduce is recorded.
2. Mixed precision: training samples/s of W2 (784-1024-1024-10 MLP, softmax, accuracy) at batch 4096
   and of keras.io's MNIST convnet at batch 128, under float32, float32 with TF32 matmuls
   (config.enable_tf32), mixed_float16 and mixed_bfloat16 (each
   timed as the second of two fit() calls, after a device synchronize).

Writes scale.json and scale.md under --out. `--dry-run` runs the same code at tiny sizes on the
emulated CuPy (tests/emulation) or NumPy to check the script; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.append(str(HERE))
import bench_kernels_gpu as K  # noqa: E402  (emulator set-up, versions)


class OneRank:
    """mpi4py's communicator interface for a job of one process (no MPI needed)."""

    def Get_rank(self) -> int:
        return 0

    def Get_size(self) -> int:
        return 1

    def bcast(self, value: Any, root: int = 0) -> Any:
        return value

    def Allreduce(self, _in_place: Any, buf: Any) -> None:
        pass

    def Bcast(self, buf: Any, root: int = 0) -> None:
        pass


POLICIES = ("float32", "float32+tf32", "mixed_float16", "mixed_bfloat16")


def check_nccl(dry: bool) -> dict:
    import os

    from gpukeras import backend
    from gpukeras.backend import collectives

    os.environ.setdefault("OMPI_COMM_WORLD_LOCAL_RANK", "0")
    B = backend.active
    group = collectives.ProcessGroup(OneRank(), B)
    rng = np.random.default_rng(0)
    grads = [B.asarray(rng.normal(size=s).astype("float32")) for s in ((784, 1024), (1024,), (1024, 10))]
    summed = group.reduce_gradients(grads)
    same = all(np.array_equal(B.to_numpy(a), B.to_numpy(b)) for a, b in zip(grads, summed))
    shared = group.broadcast_arrays(grads)
    same_bcast = all(np.array_equal(B.to_numpy(a), B.to_numpy(b)) for a, b in zip(grads, shared))
    flat = B.asarray(np.ones((25 << 20) // 4 if not dry else 1024, "float32"))
    times = []
    for i in range(12):
        B.synchronize()
        t0 = time.perf_counter()
        group.device.allreduce_(flat)
        B.synchronize()
        if i >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    return {"backend": B.name, "transport": group.device.name, "reduce_equal": same, "broadcast_equal": same_bcast,
            "bucket_mib": round(flat.size * 4 / 2**20, 3), "allreduce_ms_median": statistics.median(times)}


def _mlp(keras: Any) -> Any:
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(1024, activation="relu"),
                             keras.layers.Dense(1024, activation="relu"), keras.layers.Dense(10, activation="softmax")])


def _convnet(keras: Any) -> Any:
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3, activation="relu"),
                             keras.layers.MaxPooling2D(2), keras.layers.Conv2D(64, 3, activation="relu"),
                             keras.layers.MaxPooling2D(2), keras.layers.Flatten(), keras.layers.Dropout(0.5),
                             keras.layers.Dense(10, activation="softmax")])


def samples_per_second(policy: str, build: Any, shape: tuple, batch: int, steps: int) -> float:
    """Training samples/s under `policy` ("float32+tf32": float32 with TF32 matmuls)."""
    import gpukeras as keras
    from gpukeras import backend

    keras.config.enable_tf32(policy.endswith("+tf32"))
    keras.mixed_precision.set_global_policy(policy.removesuffix("+tf32"))
    try:
        model = build(keras)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        x = rng.random((batch * steps,) + shape, dtype=np.float32)
        y = rng.integers(0, 10, batch * steps)
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        backend.active.synchronize()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        backend.active.synchronize()
        return batch * steps / (time.perf_counter() - t0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.config.enable_tf32(False)


def mixed_precision_rows(dry: bool, budget: float) -> list[dict]:
    start = time.perf_counter()
    cases = [("W2 MLP", _mlp, (784,), 64 if dry else 4096, 2 if dry else 12),
             ("MNIST convnet", _convnet, (28, 28, 1), 16 if dry else 128, 2 if dry else 40)]
    rows = []
    for name, build, shape, batch, steps in cases:
        row: dict[str, Any] = {"model": name, "batch": batch}
        for policy in POLICIES:
            if time.perf_counter() - start > budget:
                row[policy] = None
                continue
            row[policy] = samples_per_second(policy, build, shape, batch, steps)
        rows.append(row)
    return rows


def _cell(row: dict, policy: str) -> str:
    """samples/s, and the ratio to float32 for the mixed policies."""
    v = row[policy]
    if v is None:
        return "skipped (budget)"
    ratio = f" ({v / row['float32']:.2f}x)" if policy != "float32" and row["float32"] else ""
    return f"{v:,.0f}{ratio}"


def _markdown(result: dict) -> str:
    n = result["nccl"]
    lines = [f"# Scale checks ({result['mode']})", "",
             f"NCCL one rank: backend {n['backend']}, transport {n['transport']}, sum equal {n['reduce_equal']}, "
             f"broadcast equal {n['broadcast_equal']}, {n['bucket_mib']} MiB all-reduce "
             f"{n['allreduce_ms_median']:.3f} ms (median)", "",
             "| model | batch | float32 samples/s | float32 + TF32 | mixed_float16 | mixed_bfloat16 |",
             "|---|---|---|---|---|---|"]
    for r in result["mixed_precision"]:
        cells = [_cell(r, policy) for policy in POLICIES]
        lines.append(f"| {r['model']} | {r['batch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.dry_run:
        K._emulate_cupy()
    from gpukeras import backend

    if args.dry_run and "cupy" in backend.available_backends():
        backend.set_backend("cupy")
    mode = "gpu" if not args.dry_run else f"dry run on {backend.backend()} (not a GPU figure)"
    try:
        nccl = check_nccl(args.dry_run)
    except Exception as exc:  # no NCCL library here, say: record it and go on to mixed precision
        nccl = {"backend": backend.backend(), "transport": f"failed: {type(exc).__name__}: {exc}",
                "reduce_equal": False, "broadcast_equal": False, "bucket_mib": 0, "allreduce_ms_median": float("nan")}
    result: dict[str, Any] = {"mode": mode, "versions": K._versions(), "nccl": nccl}
    result["mixed_precision"] = mixed_precision_rows(args.dry_run, args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(result, indent=2, default=str))
    (args.out / "scale.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0 if result["nccl"]["reduce_equal"] and result["nccl"]["broadcast_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
