"""The built wheel ships the CUDA sources (gpukeras/kernels/*.cu) and the bundled digits data.

Builds the wheel with plain `pip wheel` (build deps from the package index), installs it with
--no-deps into a fresh venv, and inspects the installed package from that venv's Python with
PYTHONPATH unset and without importing gpukeras (the venv has no numpy).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.any_backend]  # ~25 s: copies the tree, builds a wheel, makes a venv

CHECK = """
import importlib.util, json, pathlib
spec = importlib.util.find_spec("gpukeras")  # locates the package without running its __init__
pkg = pathlib.Path(list(spec.submodule_search_locations)[0])
print(json.dumps({"pkg": str(pkg), "kernels": sorted(p.name for p in (pkg / "kernels").glob("*")),
                  "digits": (pkg / "datasets" / "data" / "digits.npz").is_file()}))
"""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, **kw)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_wheel_contains_kernels_and_data(tmp_path):
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".benchmarks"))
    wheel_dir = tmp_path / "wheel"
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(wheel_dir)], cwd=tmp_path)
    wheels = list(wheel_dir.glob("gpukeras-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
          str(wheels[0])], cwd=tmp_path)
    info = json.loads(_run([str(py), "-c", CHECK], cwd=tmp_path).stdout)
    assert Path(info["pkg"]).resolve().is_relative_to(env_dir.resolve()), info["pkg"]
    expected = sorted(p.name for p in (ROOT / "kernels").glob("*") if p.suffix in (".cu", ".cuh"))
    assert info["kernels"] == expected
    assert {"activations.cu", "dense.cu", "softmax_xent.cu", "optimizers.cu", "dropout.cu"} <= set(expected)
    assert info["digits"]
