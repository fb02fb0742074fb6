"""Before/after ratios from the bench runs in this folder: gpukeras's samples per CPU-second over Keras 3/JAX's
and PyTorch's, paired run by run (the i-th run of each framework in one invocation ran in the same round).

    python bench/results/2026-12-03-cpu-resnet/ratios.py [FOLDER]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

FOLDER = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent


def runs(results: list[dict], framework: str, workload: str) -> list[float]:
    """samples/CPU-s of each run of one framework on one workload, in round order."""
    row = next(r for r in results if r["framework"] == framework and r["workload"] == workload)
    return [run["samples_per_cpu_s"] for run in row.get("runs", [row]) if run.get("status", "ok") == "ok"]


def main() -> None:
    for workload in ("W6", "W7"):
        for side in ("before", "after"):
            own, vs = [], {"keras3-jax": [], "torch": []}
            for path in sorted(FOLDER.glob(f"{side}-*/results.json")):
                results = json.loads(path.read_text())["results"]
                mine = runs(results, "gpukeras", workload)
                own += mine
                for fw, ratios in vs.items():
                    ratios += [a / b for a, b in zip(mine, runs(results, fw, workload))]
            if not own:
                continue
            line = (f"{workload} {side:6s} gpukeras {statistics.median(own):6.1f} samples/CPU-s "
                    f"({min(own):.1f}-{max(own):.1f})")
            for fw, ratios in vs.items():
                line += (f" | vs {fw}: median {statistics.median(ratios):.2f}x, range {min(ratios):.2f}-"
                         f"{max(ratios):.2f}x over {len(ratios)} paired runs")
            print(line)


if __name__ == "__main__":
    main()
