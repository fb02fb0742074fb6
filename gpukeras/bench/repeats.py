"""Repeated, interleaved runs and their spread: the order frameworks run in, and one row per framework.

On a shared machine a single run says little: other processes come and go. The tool runs every
framework once per round, rotating who goes first, so a slow spell hits all of them; each
(framework, workload) row then carries every run, the median run's samples/s and the range
(slowest and fastest run). With one run the range is that run's slowest and fastest timed epoch.
"""

from __future__ import annotations

import statistics
from typing import Any

RUN_FIELDS = ("status", "samples_per_s", "step_ms", "manual_step_ms", "epoch_s", "samples_per_cpu_s", "epoch_cpu_s",
              "cpu_per_wall", "others_cpu", "cpu_busy_before", "measured_at", "wall_s", "final_loss",
              "final_accuracy", "peak_rss_mb", "note")


def run_order(frameworks: list[str], round_index: int) -> list[str]:
    """The frameworks of one round, rotated by the round's index (round 0 keeps the given order)."""
    if not frameworks:
        return []
    k = round_index % len(frameworks)
    return frameworks[k:] + frameworks[:k]


def combine(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (framework, workload), in first-run order, from every run of it (see `summarize`)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["framework"], r["workload"]), []).append(r)
    return [summarize(g) for g in groups.values()]


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The row for the runs of one framework on one workload.

    Its fields are those of the median run (by samples/s), with samples/s, ms/step and the
    train_on_batch ms/step replaced by the medians over the runs that succeeded, `samples_per_s_range`
    (min, max), `range_of` ("runs" or "epochs"), samples per CPU-second's median and range over the runs
    (`samples_per_cpu_s`, `samples_per_cpu_s_range`, when the runs measured it), `repeats` (runs that
    succeeded), `others_cpu` the worst run's, and `runs` (each run's own figures). With no successful run
    it is the last run's row.
    """
    ok = [r for r in runs if r.get("status") == "ok"]
    if not ok:
        row = dict(runs[-1])
        row["runs"] = [_brief(r) for r in runs]
        return row
    ranked = sorted(ok, key=lambda r: r["samples_per_s"])
    row = dict(ranked[(len(ranked) - 1) // 2])
    sps = [r["samples_per_s"] for r in ok]
    row["samples_per_s"] = statistics.median(sps)
    row["step_ms"] = statistics.median(r["step_ms"] for r in ok)
    manual = [r["manual_step_ms"] for r in ok if r.get("manual_step_ms") is not None]
    row["manual_step_ms"] = statistics.median(manual) if manual else None
    others = [r["others_cpu"] for r in ok if r.get("others_cpu") is not None]
    row["others_cpu"] = max(others) if others else None
    row["repeats"] = len(ok)
    per_cpu = [r["samples_per_cpu_s"] for r in ok if r.get("samples_per_cpu_s")]
    if per_cpu:
        row["samples_per_cpu_s"] = statistics.median(per_cpu)
        row["samples_per_cpu_s_range"] = [min(per_cpu), max(per_cpu)]
    if len(ok) > 1:
        row["samples_per_s_range"], row["range_of"] = [min(sps), max(sps)], "runs"
    elif row.get("epoch_s") and row.get("samples"):
        rates = [row["samples"] / t for t in row["epoch_s"]]
        row["samples_per_s_range"], row["range_of"] = [min(rates), max(rates)], "epochs"
    failed = [r for r in runs if r.get("status") != "ok"]
    if failed:
        row["note"] = (f"{len(failed)} of {len(runs)} runs failed ({failed[-1].get('status')}: "
                       f"{failed[-1].get('note', '')})")
    row["runs"] = [_brief(r) for r in runs]
    return row


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    """One run's own figures, as kept in a combined row."""
    return {k: r[k] for k in RUN_FIELDS if k in r}
