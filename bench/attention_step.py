"""Time a small transformer encoder's training step on the NumPy backend, on one checkout.

The model: token ids (batch 32, length 64) -> Embedding(1000, 64, mask_zero) -> 2 encoder blocks
(MultiHeadAttention 4 heads x 16 over a padding mask, residual + LayerNormalization, Dense 128 relu
-> Dense 64, residual + LayerNormalization) -> GlobalAveragePooling1D -> Dense(2); Adam,
sparse cross-entropy from logits, `train_on_batch`. `--dropout R` sets the attention dropout.

    python bench/attention_step.py [--steps N] [--repeats R] [--dropout 0.1] [--cpu-time]
    python bench/attention_step.py --compare OLD_ROOT NEW_ROOT --rounds 6 [--cpu-time]

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

BATCH, LENGTH, VOCAB, EMBED, HEADS, FF = 32, 64, 1000, 64, 4, 128


def build(keras, dropout: float):
    """The encoder (functional, with the blocks as custom layers)."""
    layers = keras.layers

    class EncoderBlock(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True
            self.att = layers.MultiHeadAttention(HEADS, EMBED // HEADS, dropout=dropout)
            self.ff1 = layers.Dense(FF, activation="relu")
            self.ff2 = layers.Dense(EMBED)
            self.norm1 = layers.LayerNormalization(epsilon=1e-6)
            self.norm2 = layers.LayerNormalization(epsilon=1e-6)

        def call(self, x, training=False):
            h = self.norm1(x + self.att(x, x, training=training))
            return self.norm2(h + self.ff2(self.ff1(h)))

    ids = keras.Input((LENGTH,), dtype="int32")
    x = layers.Embedding(VOCAB, EMBED, mask_zero=True)(ids)
    x = EncoderBlock()(x)
    x = EncoderBlock()(x)
    out = layers.Dense(2)(layers.GlobalAveragePooling1D()(x))
    model = keras.Model(ids, out)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def measure(steps: int, repeats: int, dropout: float, clock=time.perf_counter) -> list[float]:
    """Milliseconds per step, one figure per repeat (after a warm-up), by `clock` (wall time by default;
    `time.process_time` counts this process's CPU time, which other processes on a shared box disturb less)."""
    import numpy as np

    import gpukeras as keras

    keras.backend.set_backend("numpy")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, VOCAB, size=(BATCH * 8, LENGTH)).astype("int32")
    lengths = rng.integers(LENGTH // 2, LENGTH + 1, size=len(ids))
    ids[np.arange(LENGTH)[None, :] >= lengths[:, None]] = 0  # padding at the end
    labels = rng.integers(0, 2, size=len(ids))
    model = build(keras, dropout)
    batches = [(ids[i:i + BATCH], labels[i:i + BATCH]) for i in range(0, len(ids), BATCH)]
    for i in range(5):
        model.train_on_batch(*batches[i % len(batches)])
    out = []
    for _ in range(repeats):
        t0 = clock()
        for i in range(steps):
            model.train_on_batch(*batches[i % len(batches)])
        out.append((clock() - t0) / steps * 1e3)
    return out


def compare(old: str, new: str, rounds: int, steps: int, repeats: int, dropout: float, cpu: bool) -> None:
    """Alternate fresh processes on two checkouts and print all per-run medians and their ranges."""
    runs: dict[str, list[float]] = {old: [], new: []}
    for r in range(rounds):
        for root in (old, new) if r % 2 == 0 else (new, old):
            env = dict(os.environ, PYTHONPATH=root, GPUKERAS_BACKEND="numpy")
            command = [sys.executable, os.path.abspath(__file__), "--steps", str(steps), "--repeats", str(repeats),
                       "--dropout", str(dropout), "--json", *(["--cpu-time"] if cpu else [])]
            out = subprocess.run(command, env=env, cwd="/", capture_output=True, text=True, check=True)
            value = statistics.median(json.loads(out.stdout))
            runs[root].append(value)
            print(f"round {r} {root}: {value:.2f} ms/step{' (CPU time)' if cpu else ''}", flush=True)
    for root, values in runs.items():
        print(f"{root}: median {statistics.median(values):.2f} ms/step, range {min(values):.2f}-{max(values):.2f} "
              f"over {len(values)} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--compare", nargs=2, metavar=("OLD_ROOT", "NEW_ROOT"))
    parser.add_argument("--json", action="store_true", help="print the per-repeat figures as JSON")
    parser.add_argument("--cpu-time", action="store_true", help="time by the process's CPU time, not wall time")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare, args.rounds, args.steps, args.repeats, args.dropout, args.cpu_time)
        return
    values = measure(args.steps, args.repeats, args.dropout, time.process_time if args.cpu_time else time.perf_counter)
    if args.json:
        print(json.dumps(values))
    else:
        print(f"encoder step: median {statistics.median(values):.2f} ms, range {min(values):.2f}-{max(values):.2f}")


if __name__ == "__main__":
    main()
