"""The comparison tool: a tiny run writes a table and JSON that parse; repeats, ranges and the text workloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gpukeras.bench import _child, bound, cli, gpukeras_runner, repeats, report, workloads

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
    assert "| PyTorch eager | 25.0k | — | 1.280 | 0.50 |" in md  # no range: no runs, no epochs
    assert "not installed: keras missing" in md
    assert "vs PyTorch eager: 2.00× (target ≥ 1.8×) — met" in md


def test_python_for_families():
    table = cli.interpreters(["keras3=/k/python", "torch=/t/python"])
    assert cli.python_for("keras3-jax", table) == "/k/python"
    assert cli.python_for("torch", table) == "/t/python"
    assert cli.python_for("gpukeras", table) == sys.executable


# ---------------------------------------------------------------- issue 11: text workloads, repeats
@pytest.mark.any_backend
def test_text_workload_data_is_deterministic_and_balanced():
    w4, w5 = workloads.get("W4"), workloads.get("transformer-text")
    x, y = workloads.make_data(w4, 64)
    assert x.shape == (64, 200) and x.dtype == np.int32 and 1 <= x.min() and x.max() < w4.vocab
    assert y.shape == (64, 1) and y.dtype == np.float32 and y.mean() == 0.5  # sigmoid output: float labels
    x5, y5 = workloads.make_data(w5, 64)
    assert y5.shape == (64,) and y5.dtype == np.int32 and set(y5.tolist()) == {0, 1}  # softmax: classes
    again = workloads.make_data(w4, 64)
    assert np.array_equal(again[0], x) and np.array_equal(again[1], y)
    assert workloads.resolve("W4", 8).input_shape == (8,) and workloads.resolve("W4").input_shape == (200,)
    with pytest.raises(ValueError, match="text workloads only"):
        workloads.resolve("W1", 8)


@pytest.mark.any_backend
def test_run_order_rotates_frameworks_each_round():
    fws = ["gpukeras", "keras3-jax", "torch"]
    assert [repeats.run_order(fws, r) for r in range(4)] == [
        fws, ["keras3-jax", "torch", "gpukeras"], ["torch", "gpukeras", "keras3-jax"], fws]


def _run(fw, sps, status="ok", **extra):
    return {"framework": fw, "workload": "W4", "status": status, "samples_per_s": sps, "step_ms": 32e3 / sps,
            "samples": 64, "batch": 32, "epoch_s": [64 / sps], **extra}


@pytest.mark.any_backend
def test_combine_takes_the_median_run_and_the_range():
    runs = [_run("gpukeras", 100.0, others_cpu=0.0), _run("torch", 50.0), _run("gpukeras", 300.0, others_cpu=0.2),
            _run("gpukeras", 200.0, others_cpu=0.1), _run("torch", 1.0, status="error", note="boom")]
    rows = {r["framework"]: r for r in repeats.combine(runs)}
    gk = rows["gpukeras"]
    assert gk["samples_per_s"] == 200.0 and gk["samples_per_s_range"] == [100.0, 300.0]
    assert gk["range_of"] == "runs" and gk["repeats"] == 3 and gk["others_cpu"] == 0.2
    assert [r["samples_per_s"] for r in gk["runs"]] == [100.0, 300.0, 200.0]
    torch_row = rows["torch"]  # one good run: its range is over its epochs; the failure is noted
    assert torch_row["repeats"] == 1 and torch_row["range_of"] == "epochs"
    assert "1 of 2 runs failed (error: boom)" in torch_row["note"]
    failed = repeats.combine([_run("keras3-jax", 1.0, status="timeout")])[0]
    assert failed["status"] == "timeout" and len(failed["runs"]) == 1


@pytest.mark.any_backend
def test_cli_interleaves_repeats_and_reports_the_spread(tmp_path, monkeypatch):
    calls = []

    def fake_run_one(fw, key, args, env, python, device):
        calls.append((key, fw))
        sps = {"gpukeras": 1000.0, "torch": 400.0}[fw] * (1 + 0.1 * len(calls))
        return _run(fw, sps) | {"workload": key, "seq_len": args.seq_len}

    monkeypatch.setattr(cli, "run_one", fake_run_one)
    monkeypatch.setattr(cli, "cpu_busy", lambda interval=1.0: 0.0)
    assert cli.main(["--workloads", "W4", "--frameworks", "gpukeras,torch", "--repeats", "3", "--seq-len", "4",
                     "--out", str(tmp_path), "--no-chart"]) == 0
    assert [fw for _, fw in calls] == ["gpukeras", "torch", "torch", "gpukeras", "gpukeras", "torch"]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["config"]["repeats"] == 3 and len(data["results"]) == 2
    table = (tmp_path / "table.md").read_text()
    assert "## W4 lstm-text (batch 32, sequence 4)" in table
    assert "Command: `python -m gpukeras.bench --workloads W4 --frameworks gpukeras,torch --repeats 3" in table
    assert "| gpukeras (numpy) |" not in table  # fake rows carry no backend
    assert "| gpukeras | 1.4k | 1.1k–1.5k |" in table  # median run and slowest–fastest
    assert "- vs PyTorch eager: 2.69× (target ≥ 1×) — met; 1.72×–3.12× from the ranges" in table


@pytest.mark.any_backend
def test_report_text_targets_say_when_ranges_overlap():
    rows = [_run("gpukeras", 100.0, samples_per_s_range=[80.0, 120.0]),
            _run("keras3-jax", 110.0, samples_per_s_range=[100.0, 130.0]),
            _run("torch", 40.0, samples_per_s_range=[35.0, 45.0])]
    lines = report.targets(rows, "W4", "cpu")
    assert lines[0].startswith("- vs Keras 3 / JAX: 0.91× (target ≥ 1×) — missed by 9%") and "overlap" in lines[0]
    assert lines[1] == "- vs PyTorch eager: 2.50× (target ≥ 1×) — met; 1.78×–3.43× from the ranges"


@pytest.mark.parametrize("key", ["W4", "W5"])
def test_gpukeras_runner_trains_a_tiny_text_workload(key, capsys):
    assert gpukeras_runner.main(["--workload", key, "--quick", "--seq-len", "4", "--samples", "32",
                                 "--epochs", "1", "--warmup", "0"]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("GPUKERAS_BENCH_RESULT ")][-1]
    res = json.loads(line.split(" ", 1)[1])
    assert res["status"] == "ok", res
    assert res["seq_len"] == 4 and res["samples_per_s"] > 0 and res["manual_step_ms"] > 0
    assert 0.0 <= res["final_accuracy"] <= 1.0 and np.isfinite(res["final_loss"])


@pytest.mark.any_backend
def test_torch_text_models_match_the_keras_layout():
    torch = pytest.importorskip("torch")
    from gpukeras.bench import torch_sequence

    w5 = workloads.resolve("W5", 6)
    model, loss_fn, accuracy = torch_sequence.build(w5)
    x = torch.from_numpy(workloads.make_data(w5, 4)[0].astype("int64"))
    logits = model(x)
    assert logits.shape == (4, 2) and model.att.query.out_features == 2 * 32  # 2 heads of key_dim 32
    model4, _, _ = torch_sequence.build(workloads.resolve("W4", 6))
    assert model4(x).shape == (4, 1)


# ---------------------------------------------------------------- issue 12: image workloads
# Keras 3.15.1's (JAX) parameter counts of the same models (vision_models.build), trainable and not.
KERAS3_PARAMS = {"W6": (272474, 1568), "W7": (2236682, 34112), "W8": (25583592, 53120)}


@pytest.mark.any_backend
def test_image_workload_data_and_report():
    w6, w8 = workloads.get("resnet20-cifar"), workloads.get("W8")
    assert w6.is_vision and not w6.is_text and w8.classes == 1000 and w8.batch_gpu == 128
    x, y = workloads.make_data(w6, 16)
    assert x.shape == (16, 32, 32, 3) and x.dtype == np.float32 and y.dtype == np.int32 and 0 <= y.min() <= y.max() < 10
    rows = [_run("gpukeras", 300.0, samples_per_s_range=[290.0, 310.0]) | {"workload": "W8"},
            _run("torch", 600.0, samples_per_s_range=[550.0, 650.0]) | {"workload": "W8"}]
    assert report.targets(rows, "W8", "gpu") == [
        "- vs PyTorch eager (cuDNN): 0.50× (target ≥ 0.6×) — missed by 17%; 0.45×–0.56× from the ranges"]
    assert report.targets(rows, "W8", "cpu") == []  # the GPU goal only


@pytest.mark.any_backend
def test_resnet20_has_keras3s_parameters():
    import gpukeras as keras
    from gpukeras.bench import vision_models

    model = vision_models.build(keras, workloads.get("W6"))
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert (trainable, model.count_params() - trainable) == KERAS3_PARAMS["W6"]
    assert tuple(model.outputs[0].shape) == (None, 10) and len(model.layers) == 73


def test_gpukeras_runner_trains_a_tiny_image_workload(capsys):
    assert gpukeras_runner.main(["--workload", "W6", "--quick", "--batch", "2", "--samples", "4", "--epochs", "1",
                                 "--warmup", "0"]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("GPUKERAS_BENCH_RESULT ")][-1]
    res = json.loads(line.split(" ", 1)[1])
    assert res["status"] == "ok", res
    assert res["batch"] == 2 and res["steps_per_epoch"] == 2 and res["manual_step_ms"] > 0
    assert 0.0 <= res["final_accuracy"] <= 1.0 and np.isfinite(res["final_loss"])


@pytest.mark.any_backend
def test_cli_passes_the_batch_to_every_runner(tmp_path, monkeypatch):
    cmds = []

    def fake_subprocess_run(cmd, **kwargs):
        cmds.append(cmd)
        line = "GPUKERAS_BENCH_RESULT " + json.dumps(_run("gpukeras", 10.0) | {"workload": "W6"})
        return subprocess.CompletedProcess(cmd, 0, stdout=line + "\n", stderr="")

    monkeypatch.setattr(cli.subprocess, "run", fake_subprocess_run)
    monkeypatch.setattr(cli, "cpu_busy", lambda interval=1.0: 0.0)
    assert cli.main(["--workloads", "W6", "--frameworks", "gpukeras", "--batch", "4", "--samples", "8",
                     "--out", str(tmp_path), "--no-chart"]) == 0
    run = [c for c in cmds if any("gpukeras_runner.py" in str(a) for a in c)]
    assert len(run) == 1 and run[0][run[0].index("--batch") + 1] == "4"
    assert "W6: Adam(1e-3), batch norm, softmax output, sparse CE" in (tmp_path / "table.md").read_text()
    with pytest.raises(SystemExit, match="must not be negative"):
        cli.main(["--workloads", "W6", "--batch", "-1", "--out", str(tmp_path)])


@pytest.mark.any_backend
def test_torch_image_models_have_keras3s_parameters():
    torch = pytest.importorskip("torch")
    from gpukeras.bench import torch_vision

    for key, (trainable, frozen) in KERAS3_PARAMS.items():
        model, _, _ = torch_vision.build(workloads.get(key))
        assert sum(p.numel() for p in model.parameters()) == trainable, key  # BN's scale and offset included
        assert sum(b.numel() for b in model.buffers() if b.dtype.is_floating_point) == frozen, key  # running stats
    model, loss_fn, accuracy = torch_vision.build(workloads.get("W6"))
    logits = model(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 10) and 0.0 <= float(accuracy(logits, torch.tensor([0, 1]))) <= 1.0


@pytest.mark.any_backend
def test_one_thread_runs_are_also_timed_by_cpu_time(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    env, _ = cli.child_env("cpu", threads=1)
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert env["XLA_FLAGS"] == ("--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false "
                                "intra_op_parallelism_threads=1")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert "OMP_NUM_THREADS" not in cli.child_env("cpu")[0]  # each library's default unless asked
    summary = _child.summarize([2.0, 4.0, 3.0], 64, 32, None, [1.0, 2.0, 1.5])
    assert summary["samples_per_cpu_s"] == 64 / 1.5 and summary["cpu_per_wall"] == 4.5 / 9.0
    runs = [_run("gpukeras", 100.0, samples_per_cpu_s=200.0), _run("gpukeras", 300.0, samples_per_cpu_s=220.0),
            _run("gpukeras", 200.0, samples_per_cpu_s=260.0), _run("torch", 50.0, samples_per_cpu_s=100.0),
            _run("torch", 60.0, samples_per_cpu_s=110.0)]
    rows = repeats.combine(runs)
    assert rows[0]["samples_per_cpu_s"] == 220.0 and rows[0]["samples_per_cpu_s_range"] == [200.0, 260.0]
    lines = report.targets(rows, "W4", "cpu")
    assert "- vs PyTorch eager by CPU time: 2.10× (target ≥ 1×) — met; 1.82×–2.60× from the ranges" in lines


def test_softmax_output_workloads_are_the_users_model():
    # W1S/W2S (issue 13): W1/W2's shapes with a softmax output, sparse CE on probabilities and accuracy; the
    # hand-written NumPy reference counts correct predictions as the metric does
    import gpukeras as keras
    from gpukeras.bench import numpy_reference

    w1s = workloads.get("mlp-small-softmax")
    assert w1s.softmax_output and w1s.dims() == workloads.get("W1").dims() and w1s.batch == 32
    assert not workloads.get("W1").softmax_output
    x, y = workloads.make_data(w1s, 64)
    keras.utils.set_random_seed(0)
    model = gpukeras_runner.build_model(keras, w1s)
    assert model.layers[-1].activation.__name__ == "softmax"
    logs = model.fit(x, y, batch_size=32, epochs=1, verbose=0).history
    assert set(logs) == {"loss", "accuracy"}
    mlp = numpy_reference.NumpyMLP(w1s.dims(), 32, accuracy=True)
    xb, yb = x[:32], y[:32].astype("int64")
    logits = np.maximum(xb @ mlp.W[0] + mlp.b[0], 0) @ mlp.W[1] + mlp.b[1]  # the weights before the step
    want = int(np.count_nonzero(np.argmax(logits, axis=1) == yb))
    mlp.step(xb, yb)
    assert mlp.correct == want > 0
