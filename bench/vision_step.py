"""Time training steps of the convolution family on the CPU (NumPy backend, Adam, `train_on_batch`, batch 32):

  depthwise  a MobileNetV2-style block: Conv2D(96, 1, relu) -> DepthwiseConv2D(3, same, relu)
             -> DepthwiseConv2D(3, strides 2, same) -> Conv2D(32, 1) -> GAP -> Dense(10), on 28x28x32
  decoder    keras.io's convolutional autoencoder's decoder: two Conv2DTranspose(32, 3, strides 2, same,
             relu) from 7x7x64 to 28x28, then Conv2D(1, 3, same, sigmoid), binary cross-entropy
  bilinear   UpSampling2D(2, bilinear) on 16x16x32 -> Conv2D(16, 3, same, relu) -> UpSampling2D(2,
             bilinear) -> Conv2D(1, 3, same), mse
  W6, W7     the benchmark's ResNet-20 and MobileNetV2 on CIFAR shapes (gpukeras/bench/vision_models.py:
             batch 128, batch norm, softmax, sparse cross-entropy, accuracy); not run unless named

    python bench/vision_step.py [--steps N] [--repeats R] [--only NAME] [--clock cpu]   # this checkout
    python bench/vision_step.py --compare OLD_ROOT NEW_ROOT --rounds 6 [--only W6] [--clock cpu]

The second form runs each checkout in a fresh process, alternating old/new (so the drifts of a noisy
shared machine hit both), and prints every run's median milliseconds per step and the range per
checkout and workload. `--clock cpu` times the process's CPU time instead of the wall clock: on a
shared machine with one BLAS thread (OPENBLAS_NUM_THREADS=1) it hardly moves with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = ("depthwise", "decoder", "bilinear")
BENCH_WORKLOADS = ("W6", "W7")  # from gpukeras.bench, run only when named
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _model(keras, name: str):
    L = keras.layers
    if name == "depthwise":
        return keras.Sequential([keras.Input((28, 28, 32)), L.Conv2D(96, 1, activation="relu"),
                                 L.DepthwiseConv2D(3, padding="same", activation="relu"),
                                 L.DepthwiseConv2D(3, strides=2, padding="same"), L.Conv2D(32, 1),
                                 L.GlobalAveragePooling2D(), L.Dense(10)]), (28, 28, 32), (10,), "mse"
    if name == "decoder":
        return keras.Sequential([keras.Input((7, 7, 64)),
                                 L.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
                                 L.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
                                 L.Conv2D(1, 3, padding="same", activation="sigmoid")]), (7, 7, 64), (28, 28, 1), \
            "binary_crossentropy"
    return keras.Sequential([keras.Input((16, 16, 32)), L.UpSampling2D(2, interpolation="bilinear"),
                             L.Conv2D(16, 3, padding="same", activation="relu"),
                             L.UpSampling2D(2, interpolation="bilinear"), L.Conv2D(1, 3, padding="same")]), \
        (16, 16, 32), (64, 64, 1), "mse"


def _bench_model(keras, name: str):
    """A benchmark workload (W6, W7) as gpukeras.bench builds it, with a batch of its synthetic data."""
    from gpukeras.bench import vision_models, workloads

    w = workloads.WORKLOADS[name]
    x, y = workloads.make_data(w, w.batch)
    return vision_models.build(keras, w), x, y


def measure(name: str, steps: int, repeats: int, clock: str = "wall") -> list[float]:
    """Milliseconds per step on `clock`, one figure per repeat (after two warm-up steps)."""
    import numpy as np

    import gpukeras as keras

    keras.backend.set_backend("numpy")
    if name in BENCH_WORKLOADS:
        model, x, y = _bench_model(keras, name)
    else:
        model, x_shape, y_shape, loss = _model(keras, name)
        model.compile(optimizer="adam", loss=loss)
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 1, size=(32, *x_shape)).astype("float32")
        y = rng.uniform(0, 1, size=(32, *y_shape)).astype("float32")
    for _ in range(2):
        model.train_on_batch(x, y)
    now = CLOCKS[clock]
    out = []
    for _ in range(repeats):
        t0 = now()
        for _ in range(steps):
            model.train_on_batch(x, y)
        out.append((now() - t0) / steps * 1e3)
    return out


def compare(old: str, new: str, names: list[str], rounds: int, steps: int, repeats: int, clock: str) -> None:
    """Alternate fresh processes on two checkouts; print every run's median and the ranges."""
    runs = {(root, n): [] for root in (old, new) for n in names}
    for r in range(rounds):
        for root in (old, new) if r % 2 == 0 else (new, old):
            env = dict(os.environ, PYTHONPATH=root, GPUKERAS_BACKEND="numpy")
            for n in names:
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--only", n, "--steps", str(steps),
                                      "--repeats", str(repeats), "--clock", clock, "--json"], env=env, cwd="/",
                                     capture_output=True, text=True, check=True)
                value = statistics.median(json.loads(out.stdout)[n])
                runs[(root, n)].append(value)
                print(f"round {r} {root} {n}: {value:.2f} ms/step", flush=True)
    for (root, n), values in runs.items():
        print(f"{n:10s} {root}: median {statistics.median(values):.2f} ms/step, "
              f"range {min(values):.2f}-{max(values):.2f} over {len(values)} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--only", choices=WORKLOADS + BENCH_WORKLOADS, action="append")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall time, or the process's CPU time (steadier on a shared machine)")
    parser.add_argument("--compare", nargs=2, metavar=("OLD_ROOT", "NEW_ROOT"))
    parser.add_argument("--json", action="store_true", help="print the per-repeat figures as JSON")
    args = parser.parse_args()
    names = args.only or list(WORKLOADS)
    if args.compare:
        compare(*args.compare, names, args.rounds, args.steps, args.repeats, args.clock)
        return
    values = {n: measure(n, args.steps, args.repeats, args.clock) for n in names}
    if args.json:
        print(json.dumps(values))
        return
    for n, v in values.items():
        print(f"{n}: median {statistics.median(v):.2f} ms/step, range {min(v):.2f}-{max(v):.2f}")


if __name__ == "__main__":
    main()
