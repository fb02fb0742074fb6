"""Backend selection: names, auto fallback, and clear errors when CuPy cannot run."""

from __future__ import annotations

import sys
import types

import pytest

from gpukeras import backend


@pytest.fixture
def restore_backend():
    # Put the op set object back rather than re-selecting by name: this teardown may run while
    # a test's monkeypatch still hides CuPy.
    previous = backend.active
    yield
    backend.active = previous


def test_numpy_is_always_available(restore_backend) -> None:
    assert backend.set_backend("numpy").name == "numpy"
    assert backend.backend() == "numpy"
    assert "numpy" in backend.available_backends()


def test_unknown_backend_is_refused_by_name(restore_backend) -> None:
    with pytest.raises(ValueError, match="'tensorflow'"):
        backend.set_backend("tensorflow")
    assert backend.backend() in ("numpy", "cupy")


def test_cupy_not_installed(monkeypatch, restore_backend) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    with pytest.raises(backend.BackendUnavailableError, match="'cupy'.*not installed"):
        backend.set_backend("cupy")
    assert backend.set_backend("auto").name == "numpy"
    assert backend.set_backend("").name == "numpy"


def _fake_cupy(available: bool, op_error: Exception | None = None) -> types.ModuleType:
    fake = types.ModuleType("cupy")
    fake.is_available = lambda: available

    def arange(n):
        if op_error is not None:
            raise op_error
        raise AssertionError("unreachable in these tests")

    fake.arange = arange
    return fake


def test_cupy_installed_but_no_gpu(monkeypatch, restore_backend) -> None:
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(available=False))
    with pytest.raises(backend.BackendUnavailableError, match="no usable NVIDIA GPU"):
        backend.set_backend("cupy")
    assert backend.set_backend("auto").name == "numpy"
    assert backend.available_backends() == ["numpy"]


def test_cupy_smoke_op_failure(monkeypatch, restore_backend) -> None:
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(True, RuntimeError("cudaErrorNoDevice")))
    with pytest.raises(backend.BackendUnavailableError, match="smoke-test op.*cudaErrorNoDevice"):
        backend.set_backend("cupy")
    assert backend.set_backend("auto").name == "numpy"


def test_environment_variable_selects_backend(monkeypatch) -> None:
    import subprocess

    env = {**__import__("os").environ, "GPUKERAS_BACKEND": "numpy"}
    out = subprocess.run([sys.executable, "-c", "import gpukeras; print(gpukeras.backend.backend())"],
                         capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "numpy"
    env["GPUKERAS_BACKEND"] = "bogus"
    bad = subprocess.run([sys.executable, "-c", "import gpukeras"], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "Unknown backend 'bogus'" in bad.stderr


def test_only_the_backend_package_imports_cupy() -> None:
    from pathlib import Path

    root = Path(backend.__file__).parents[1]
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "backend" not in p.relative_to(root).parts
                 and any(line.strip().startswith(("import cupy", "from cupy")) for line in p.read_text().splitlines())]
    assert offenders == []
