"""Time the training step of an LSTM text model on the CPU: Embedding(20000, 128) -> LSTM(64) ->
Dense(1, sigmoid), sequences of 200 tokens, batch 32, Adam, `train_on_batch`, NumPy backend (the model
of the bench tool's W4). Milliseconds of the process's CPU time per step: on a shared, loaded machine
wall time mostly measures the other jobs. Run it with OPENBLAS_NUM_THREADS=1 (one core's work).

    python bench/lstm_step.py [--steps N] [--repeats R]        # this checkout (or PYTHONPATH's)
    python bench/lstm_step.py --compare OLD_ROOT NEW_ROOT --rounds 6

The second form runs each checkout in a fresh process, alternating old/new, so drifts of a noisy
shared machine hit both; it prints every run's milliseconds per step and the range per checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def measure(steps: int, repeats: int, backend: str = "numpy") -> list[float]:
    """CPU milliseconds per step, one figure per repeat (after two warm-up steps)."""
    import numpy as np

    import gpukeras as keras

    keras.backend.set_backend(backend)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20000, size=(32 * 4, 200)).astype("int32")
    y = rng.integers(0, 2, size=(32 * 4, 1)).astype("float32")
    model = keras.Sequential([keras.Input((200,), dtype="int32"), keras.layers.Embedding(20000, 128),
                              keras.layers.LSTM(64), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, len(x), 32)]
    for i in range(2):
        model.train_on_batch(*batches[i % len(batches)])
    out = []
    for _ in range(repeats):
        t0 = time.process_time()
        for i in range(steps):
            model.train_on_batch(*batches[i % len(batches)])
        out.append((time.process_time() - t0) / steps * 1e3)
    return out


def compare(old: str, new: str, rounds: int, steps: int, repeats: int) -> None:
    """Alternate fresh processes on two checkouts and print all per-run medians and their ranges."""
    runs: dict[str, list[float]] = {old: [], new: []}
    for r in range(rounds):
        for root in (old, new) if r % 2 == 0 else (new, old):
            env = dict(os.environ, PYTHONPATH=root, GPUKERAS_BACKEND="numpy")
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--steps", str(steps),
                                  "--repeats", str(repeats), "--json"], env=env, cwd="/", capture_output=True,
                                 text=True, check=True)
            value = statistics.median(json.loads(out.stdout))
            runs[root].append(value)
            print(f"round {r} {root}: {value:.2f} CPU ms/step", flush=True)
    for root, values in runs.items():
        print(f"{root}: median {statistics.median(values):.2f} CPU ms/step, range {min(values):.2f}-{max(values):.2f} "
              f"over {len(values)} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--compare", nargs=2, metavar=("OLD_ROOT", "NEW_ROOT"))
    parser.add_argument("--json", action="store_true", help="print the per-repeat figures as JSON")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare, args.rounds, args.steps, args.repeats)
        return
    values = measure(args.steps, args.repeats)
    if args.json:
        print(json.dumps(values))
    else:
        print(f"LSTM text step: median {statistics.median(values):.2f} CPU ms, "
              f"range {min(values):.2f}-{max(values):.2f}")


if __name__ == "__main__":
    main()
