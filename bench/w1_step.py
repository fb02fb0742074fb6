"""Time the W1 training step (784-128-10 MLP, batch 32, Adam, `train_on_batch`) on one checkout.

    python bench/w1_step.py [--steps N] [--repeats R] [--jit-compile auto|true|false]
    python bench/w1_step.py --compare OLD_ROOT NEW_ROOT --rounds 6

The second form runs each checkout in a fresh process, alternating old/new, so drifts of a noisy
shared machine hit both; it prints every run's microseconds per step and the range per checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def measure(steps: int, repeats: int, jit_compile: str = "auto") -> list[float]:
    """Microseconds per step, one figure per repeat (after a warm-up), on the NumPy backend."""
    import numpy as np

    import gpukeras as keras

    keras.backend.set_backend("numpy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32 * 16, 784)).astype("float32")
    y = rng.integers(0, 10, size=32 * 16)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10)])
    jit = {"auto": "auto", "true": True, "false": False}[jit_compile]
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, len(x), 32)]
    for i in range(100):
        model.train_on_batch(*batches[i % len(batches)])
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(steps):
            model.train_on_batch(*batches[i % len(batches)])
        out.append((time.perf_counter() - t0) / steps * 1e6)
    return out


def compare(old: str, new: str, rounds: int, steps: int, repeats: int, jit_compile: str = "auto") -> None:
    """Alternate fresh processes on two checkouts and print all per-run medians and their ranges."""
    runs: dict[str, list[float]] = {old: [], new: []}
    for r in range(rounds):
        for root in (old, new) if r % 2 == 0 else (new, old):
            env = dict(os.environ, PYTHONPATH=root, GPUKERAS_BACKEND="numpy")
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--steps", str(steps),
                                  "--repeats", str(repeats), "--json", "--jit-compile", jit_compile], env=env,
                                 cwd="/", capture_output=True, text=True, check=True)
            value = statistics.median(json.loads(out.stdout))
            runs[root].append(value)
            print(f"round {r} {root}: {value:.1f} us/step", flush=True)
    for root, values in runs.items():
        print(f"{root}: median {statistics.median(values):.1f} us/step, range {min(values):.1f}-{max(values):.1f} "
              f"over {len(values)} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--compare", nargs=2, metavar=("OLD_ROOT", "NEW_ROOT"))
    parser.add_argument("--json", action="store_true", help="print the per-repeat figures as JSON")
    parser.add_argument("--jit-compile", choices=("auto", "true", "false"), default="auto",
                        help="compile()'s jit_compile: the compiled step (true), the eager one (false), the default")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare, args.rounds, args.steps, args.repeats, args.jit_compile)
        return
    values = measure(args.steps, args.repeats, args.jit_compile)
    if args.json:
        print(json.dumps(values))
    else:
        print(f"W1 step: median {statistics.median(values):.1f} us, range {min(values):.1f}-{max(values):.1f}")


if __name__ == "__main__":
    main()
