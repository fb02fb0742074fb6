"""Issue 13's latency targets on the NumPy backend: the per-step time of fit() on an 8 -> 10 softmax model
(batch 64; target <= 0.1 ms) and predict() of one 64-row batch (target <= 0.3 ms), plus train_on_batch,
predict_on_batch and a plain model(x) call for context. CPU time of this process (time.process_time),
one BLAS thread, median and range over --repeats runs of --steps steps each.

    OPENBLAS_NUM_THREADS=1 python bench/step_overhead.py [--repeats 7] [--steps 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gpukeras as keras  # noqa: E402


def per_call_us(fn: Callable[[], None], calls: int, repeats: int) -> list[float]:
    """Microseconds of CPU time per call, one figure per repeat."""
    out = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        out.append((time.process_time() - start) / calls * 1e6)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    keras.backend.set_backend("numpy")
    rng = np.random.default_rng(0)
    n = 64 * args.steps
    x = rng.normal(size=(n, 8)).astype("float32")
    y = rng.integers(0, 10, size=n)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # trace, confirm, warm
    batch = x[:64]
    model.predict(batch, verbose=0)

    def fit() -> None:
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)

    def many(fn: Callable[[int], object]) -> Callable[[], None]:
        def run() -> None:
            for i in range(args.steps):
                fn(i)
        return run

    cases = {
        "fit, per step (target <= 100 us)": (fit, args.steps),
        "predict(64 rows) (target <= 300 us)": (many(lambda i: model.predict(batch, verbose=0)), args.steps),
        "train_on_batch": (many(lambda i: model.train_on_batch(x[i * 64:(i + 1) * 64], y[i * 64:(i + 1) * 64])),
                           args.steps),
        "predict_on_batch": (many(lambda i: model.predict_on_batch(batch)), args.steps),
        "model(x)": (many(lambda i: model(batch)), args.steps),
    }
    results = {}
    for name, (fn, calls) in cases.items():
        runs = per_call_us(fn, calls, args.repeats)
        results[name] = {"median_us": statistics.median(runs), "min_us": min(runs), "max_us": max(runs)}
        print(f"{name:40s} {statistics.median(runs):8.1f} us  (range {min(runs):.1f}-{max(runs):.1f})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
