"""Smoke test of the comparison tool: a tiny gpukeras-only run writes a table and JSON that parse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gpukeras.bench import bound, cli, report, workloads

ROOT = Path(__file__).resolve().parents[1]


def test_tool_runs_and_writes_outputs(tmp_path):
    out = tmp_path / "res"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run(
        [sys.executable, "-m", "gpukeras.bench", "--quick", "--frameworks", "gpukeras,bound,keras3-jax",
         "--workloads", "W1", "--epochs", "1", "--samples", "512", "--out", str(out), "--no-chart",
         "--python-for", "keras3=/nonexistent/python"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((out / "results.json").read_text())
    rows = {r["framework"]: r for r in data["results"]}
    assert rows["gpukeras"]["status"] == "ok", rows["gpukeras"]
    assert rows["gpukeras"]["samples_per_s"] > 0 and rows["gpukeras"]["manual_step_ms"] > 0
    assert rows["bound"]["status"] == "ok"
    assert rows["keras3-jax"]["status"] == "not installed"
    table = (out / "table.md").read_text()
    assert "## W1 mlp-small (batch 32)" in table and "| gpukeras (numpy) |" in table
    assert "| gpukeras (numpy) |" in proc.stdout  # the table goes to stdout too
    assert data["machine"]["nproc"] >= 1 and data["machine"]["cpu_model"]


def test_bound_gemm_list():
    w1 = bound.gemms(workloads.get("W1"), 32)
    assert [g[0] for g in w1] == ["dense0 784x128 fwd", "dense0 784x128 dW", "dense1 128x10 fwd",
                                  "dense1 128x10 dW", "dense1 128x10 dX"]  # no dX for the first layer
    assert bound.flops(w1) == 2 * 32 * (784 * 128 * 2 + 128 * 10 * 3)
    assert len(bound.gemms(workloads.get("cnn-small"), 128)) == 8


def test_report_ratios_and_targets():
    rows = [
        {"framework": "gpukeras", "workload": "W1", "status": "ok", "samples_per_s": 50000.0, "step_ms": 0.64,
         "batch": 32, "backend": "numpy"},
        {"framework": "torch", "workload": "W1", "status": "ok", "samples_per_s": 25000.0, "step_ms": 1.28},
        {"framework": "keras3-jax", "workload": "W1", "status": "not installed", "note": "keras missing"},
    ]
    data = {"machine": {"date": "d", "cpu_model": "cpu", "nproc": 2, "mem_gib": 1.0, "platform": "p",
                        "python": "3"}, "versions": {}, "results": rows,
            "config": {"quick": True, "device": "cpu", "epochs": 1, "warmup": 1}}
    md = report.markdown(data)
    assert "| PyTorch eager | 25.0k | 1.280 | 0.50 |" in md
    assert "not installed: keras missing" in md
    assert "vs PyTorch eager: 2.00× (target ≥ 1.8×) — met" in md


def test_python_for_families():
    table = cli.interpreters(["keras3=/k/python", "torch=/t/python"])
    assert cli.python_for("keras3-jax", table) == "/k/python"
    assert cli.python_for("torch", table) == "/t/python"
    assert cli.python_for("gpukeras", table) == sys.executable
