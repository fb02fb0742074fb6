"""Turn a comparison run into Markdown (ratios to gpukeras, each row's range), JSON and a PNG bar chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpukeras.bench import workloads as W

# Table order; anything else follows in the order run.
ORDER = ("gpukeras", "gpukeras-nographs", "gpukeras-eager", "bound", "numpy-ref", "keras3-jax", "torch",
         "keras3-tensorflow", "keras3-torch")
LABELS = {
    "gpukeras": "gpukeras",
    "gpukeras-eager": "gpukeras, eager step",
    "gpukeras-nographs": "gpukeras, compiled step without CUDA graphs",
    "bound": "GEMM-only bound",
    "numpy-ref": "hand-written NumPy",
    "keras3-jax": "Keras 3 / JAX",
    "keras3-torch": "Keras 3 / torch",
    "keras3-tensorflow": "Keras 3 / TF",
    "torch": "PyTorch eager",
}
OTHERS = ("keras3-jax", "torch", "keras3-tensorflow", "keras3-torch")  # "other frameworks" for targets


def label(r: dict[str, Any]) -> str:
    """Display name of a result row, with the backend where it matters."""
    name = LABELS.get(r["framework"], r["framework"])
    if r["framework"] in ("gpukeras", "gpukeras-eager", "gpukeras-nographs", "bound", "numpy-ref") and r.get("backend"):
        name += f" ({r['backend']})"
    return name


def _num(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "—"
    if digits == 0 and v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.{digits}f}"


def spread(r: dict[str, Any], key: str = "samples_per_s") -> str:
    """A row's samples/s (or `key`'s) range, "min–max" ("—" when the row has none)."""
    lo_hi = r.get(f"{key}_range")
    if not lo_hi:
        return "—"
    return f"{_num(lo_hi[0])}–{_num(lo_hi[1])}"


def _by_workload(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        out.setdefault(r["workload"], []).append(r)
    for rows in out.values():
        rows.sort(key=lambda r: ORDER.index(r["framework"]) if r["framework"] in ORDER else len(ORDER))
    return out


def _ok(rows: list[dict[str, Any]], fw: str) -> dict[str, Any] | None:
    for r in rows:
        if r["framework"] == fw and r.get("status") == "ok":
            return r
    return None


def targets(rows: list[dict[str, Any]], key: str, device: str) -> list[str]:
    """Issue 5's, 11's and 12's targets for this workload: met or missed, and by how much."""
    gk, bound, torch = _ok(rows, "gpukeras"), _ok(rows, "bound"), _ok(rows, "torch")
    if gk is None:
        return []
    sps = gk["samples_per_s"]
    others = [r for r in rows if r["framework"] in OTHERS and r.get("status") == "ok"]
    best = max(others, key=lambda r: r["samples_per_s"], default=None)
    lines = []

    def check(what: str, ratio: float, need: float) -> None:
        verdict = "met" if ratio >= need else f"missed by {100 * (1 - ratio / need):.0f}%"
        lines.append(f"- {what}: {ratio:.2f}× (target ≥ {need:g}×) — {verdict}")

    if bound is not None:
        lines.append(f"- gpukeras reaches {100 * sps / bound['samples_per_s']:.0f}% of the GEMM-only bound")
    gpu = device == "gpu"
    if key == "W1":
        if best is not None and not gpu:
            check(f"vs best other framework ({label(best)})", sps / best["samples_per_s"], 1.0)
        if torch is not None:
            check("vs PyTorch eager", sps / torch["samples_per_s"], 2.0 if gpu else 1.8)
    elif key == "W2" and bound is not None:
        check("vs GEMM-only bound", sps / bound["samples_per_s"], 0.90 if gpu else 0.95)
    elif key == "W3" and best is not None and not gpu:
        check(f"vs best other framework ({label(best)})", sps / best["samples_per_s"], 1.0)
    elif key in ("W4", "W5", "W6", "W7") and not gpu:  # issues 11, 12: ahead of both Keras 3/JAX and PyTorch
        for other in (_ok(rows, "keras3-jax"), torch):
            if other is not None:
                check(f"vs {label(other)}", sps / other["samples_per_s"], 1.0)
                lines[-1] += _overlap(gk, other)
                if gk.get("samples_per_cpu_s") and other.get("samples_per_cpu_s"):
                    check(f"vs {label(other)} by CPU time", gk["samples_per_cpu_s"] / other["samples_per_cpu_s"],
                          1.0)
                    lines[-1] += _overlap(gk, other, "samples_per_cpu_s")
    elif key in ("W8", "W9") and gpu and torch is not None:  # issue 12: cuDNN is the strongest peer
        check("vs PyTorch eager (cuDNN)", sps / torch["samples_per_s"], 0.6)
        lines[-1] += _overlap(gk, torch)
    return lines


def _overlap(gk: dict[str, Any], other: dict[str, Any], key: str = "samples_per_s") -> str:
    """"; the ranges overlap" when gpukeras's and the other row's run ranges (of `key`) overlap (the order is
    not settled)."""
    a, b = gk.get(f"{key}_range"), other.get(f"{key}_range")
    if not a or not b:
        return ""
    if a[0] <= b[1] and b[0] <= a[1]:
        return "; the ranges overlap"
    ratio_lo, ratio_hi = a[0] / b[1], a[1] / b[0]
    return f"; {ratio_lo:.2f}×–{ratio_hi:.2f}× from the ranges"


def markdown(data: dict[str, Any]) -> str:
    """The comparison as Markdown: a header with machine and versions, one table per workload."""
    m, cfg = data["machine"], data["config"]
    out = [f"# gpukeras benchmark — {m['date']}", ""]
    out.append(f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['mem_gib']:.0f} GiB, {m['platform']}"
               + (f"; GPU: {m['gpu']}" if m.get("gpu") else "") + ".")
    out.append(f"Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in sorted(data.get("versions", {}).items()))
               + ".")
    if m.get("blas"):
        out.append(f"BLAS (NumPy, via threadpoolctl): {m['blas']}.")
    unset = m.get("unset_env") or {}
    out.append("OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset in every runner's environment"
               + (f" (were {unset})" if unset else " (not set here)") + ".")
    if cfg.get("threads"):
        out.append(f"Threads: {cfg['threads']} per runner (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS "
                   "and XLA_FLAGS set for every framework).")
    noisy = [(r.get("others_cpu") or 0, r) for r in data["results"] if r.get("status") == "ok"]
    if noisy:
        worst, r = max(noisy, key=lambda t: t[0])
        out.append(f"Other processes' share of the CPUs while a runner ran: at most {100 * worst:.0f}% "
                   f"({r['workload']} {label(r)})" + (" — **rows marked noisy are unreliable**" if worst > 0.1
                                                       else "") + ".")
    if m.get("updated_rows"):
        out.append(f"First run {m.get('first_run')}; re-measured at {m['date']}: {', '.join(m['updated_rows'])}.")
    repeats = cfg.get("repeats", 1)
    runs = (f"{repeats} runs per framework, interleaved (each round rotates the frameworks' order); samples/s "
            "is the median run's, range the slowest and fastest run's" if repeats > 1
            else "one run per framework; range is its slowest and fastest timed epoch")
    keys = sorted({r["workload"] for r in data["results"]})
    texts = [k for k in keys if W.get(k).is_text]
    images = [k for k in keys if W.get(k).is_vision]
    softmax = [k for k in keys if W.get(k).softmax_output]
    others = [k for k in keys if k not in texts and k not in images and k not in softmax]
    losses = "; ".join([f"{', '.join(others)}: Adam(1e-3), sparse CE from logits"] * bool(others)
                       + [f"{', '.join(softmax)}: Adam(1e-3), softmax output, sparse CE, metrics=['accuracy'] "
                          "(hand-written NumPy: softmax CE from logits and a count of correct predictions)"]
                       * bool(softmax)
                       + [f"{', '.join(texts)}: Adam(1e-3), the model as keras.io writes it (sigmoid/softmax "
                          "output, cross-entropy, metrics=['accuracy']; PyTorch: the loss from logits)"] * bool(texts)
                       + [f"{', '.join(images)}: Adam(1e-3), batch norm, softmax output, sparse CE, "
                          "metrics=['accuracy'] (PyTorch: the loss from logits)"] * bool(images))
    out.append(f"Mode: {'quick' if cfg['quick'] else 'full'}; device {cfg['device']}; warm-up {cfg['warmup']} "
               f"epoch, median of {cfg['epochs']} timed epochs per run; {runs}; {losses}; float32.")
    if cfg.get("command"):
        out.append(f"Command: `{' '.join(cfg['command'])}`.")
    out.append("")
    out.append("`× gpukeras` = that framework's samples/s ÷ gpukeras's in this run (> 1: faster than gpukeras). "
               "`train_on_batch` = per-step time of a manual loop. The bound times only the step's GEMMs. "
               "A note 'noisy' means other processes used that share of the machine's CPU time during the run.")
    by_cpu = any(r.get("samples_per_cpu_s") for r in data["results"])
    if by_cpu:
        out.append("`samples/CPU-s` = samples per second of the runner's own CPU time (all its threads; median "
                   "run and range), which other jobs barely move when each runner has one thread; "
                   "`CPU ÷ wall` = the median run's CPU time over its wall time (below 1: it waited for a core).")
    cpu_cols = 4 if by_cpu else 0
    for key, rows in _by_workload(data["results"]).items():
        w = W.get(key)
        gk = _ok(rows, "gpukeras")
        batch = next((r.get("batch") for r in rows if r.get("batch")), None)
        seq = next((r.get("seq_len") for r in rows if r.get("seq_len")), None)
        out += ["", f"## {key} {w.name} (batch {batch}" + (f", sequence {seq})" if seq else ")"), ""]
        out.append("| framework | samples/s | range | ms/step | × gpukeras | "
                   + ("samples/CPU-s | CPU range | × gpukeras (CPU) | CPU ÷ wall | " if by_cpu else "")
                   + "train_on_batch ms/step | peak RSS MiB | GPU peak MiB | note |")
        out.append("|---|---:|---:|---:|---:|" + "---:|" * cpu_cols + "---:|---:|---:|---|")
        for r in rows:
            if r.get("status") != "ok":
                out.append(f"| {label(r)} | — | — | — | — | " + "— | " * cpu_cols + f"— | — | — | {r.get('status')}"
                           + (f": {r['note']}" if r.get("note") else "") + " |")
                continue
            ratio = _num(r["samples_per_s"] / gk["samples_per_s"], 2) if gk else "—"
            if by_cpu:
                per_cpu = r.get("samples_per_cpu_s")
                cpu_ratio = _num(per_cpu / gk["samples_per_cpu_s"], 2) if per_cpu and gk and gk.get(
                    "samples_per_cpu_s") else "—"
                ratio += (f" | {_num(per_cpu)} | {spread(r, 'samples_per_cpu_s')} | {cpu_ratio} "
                          f"| {_num(r.get('cpu_per_wall'), 2)}")
            note = r.get("note", "")
            if (r.get("others_cpu") or 0) > 0.1:
                note = (note + "; " if note else "") + f"noisy: other processes used {100 * r['others_cpu']:.0f}% CPU"
            if r["framework"] == "bound":
                note = note or f"{r.get('gflops', 0):.0f} GFLOP/s"
            rss = None if r["framework"] == "bound" else r.get("peak_rss_mb")
            out.append(f"| {label(r)} | {_num(r['samples_per_s'])} | {spread(r)} | {_num(r['step_ms'], 3)} | {ratio} "
                       f"| {_num(r.get('manual_step_ms'), 3)} | {_num(rss)} | {_num(r.get('gpu_peak_mb'))} "
                       f"| {note} |")
        lines = targets(rows, key, cfg["device"])
        if lines:
            out += ["", *lines]
    return "\n".join(out) + "\n"


def chart(data: dict[str, Any], path: Path) -> bool:
    """Horizontal bars of samples/s per framework, one panel per workload; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    groups = [(k, [r for r in rows if r.get("status") == "ok"]) for k, rows in _by_workload(data["results"]).items()]
    groups = [(k, rows) for k, rows in groups if rows]
    if not groups:
        return False
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 1.2 + 0.45 * sum(len(r) for _, r in groups) + len(groups)),
                             squeeze=False)
    for ax, (key, rows) in zip(axes[:, 0], groups):
        names = [label(r) for r in rows][::-1]
        vals = [r["samples_per_s"] for r in rows][::-1]
        ranges = [r.get("samples_per_s_range") or (r["samples_per_s"], r["samples_per_s"]) for r in rows][::-1]
        err = [[v - lo for v, (lo, _) in zip(vals, ranges)], [hi - v for v, (_, hi) in zip(vals, ranges)]]
        colors = ["#d62728" if r["framework"] == "gpukeras" else "#bbbbbb" if r["framework"] == "bound"
                  else "#1f77b4" for r in rows][::-1]
        bars = ax.barh(names, vals, color=colors, xerr=err, error_kw={"elinewidth": 1, "capsize": 3})
        for b, v, (_, hi) in zip(bars, vals, ranges):
            ax.text(max(hi, b.get_width()), b.get_y() + b.get_height() / 2, " " + _num(v), va="center", fontsize=8)
        ax.set_title(f"{key} {W.get(key).name}" + (" (bars: median run; whiskers: slowest and fastest)"
                                                   if any(r.get("range_of") == "runs" for r in rows) else ""),
                     fontsize=10, loc="left")
        ax.set_xlabel("samples/s (higher is better)", fontsize=8)
        ax.set_xlim(0, max(hi for _, hi in ranges) * 1.22)
        ax.tick_params(labelsize=8)
    m = data["machine"]
    fig.suptitle(f"gpukeras bench {m['date'][:10]} — {m['cpu_model']}, {m['nproc']} cores ({data['config']['device']})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(data: dict[str, Any], out_dir: Path, make_chart: bool = True) -> dict[str, Path]:
    """Write table.md, results.json and (when possible) chart.png into out_dir; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"table": out_dir / "table.md", "json": out_dir / "results.json"}
    paths["table"].write_text(markdown(data))
    paths["json"].write_text(json.dumps(data, indent=1, default=str) + "\n")
    if make_chart and chart(data, out_dir / "chart.png"):
        paths["chart"] = out_dir / "chart.png"
    return paths
