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
    with pytest.raises(ValueError, match="'tensorflow'") as info:
        backend.set_backend("tensorflow")
    assert all(name in str(info.value) for name in [*backend.registered_backends(), "auto"])
    assert backend.backend() in ("numpy", "cupy")


def test_numpy_and_cupy_register_themselves() -> None:
    assert backend.registered_backends()[:2] == ["numpy", "cupy"]


class _TinyOps(backend.Ops):
    name = "tiny"
    xp = __import__("numpy")


@pytest.fixture
def registered(restore_backend):
    """Register test backends by name for one test, then forget them."""
    names = []

    def register(name, factory=_TinyOps, **kwargs):
        backend.register_backend(name, factory, **kwargs)
        names.append(name)

    yield register
    for name in names:
        backend.unregister_backend(name)


def test_a_registered_backend_is_selectable_by_name(registered) -> None:
    registered("tiny")
    assert "tiny" in backend.registered_backends() and "tiny" in backend.available_backends()
    ops = backend.set_backend("TINY")
    assert isinstance(ops, _TinyOps) and backend.backend() == "tiny" and backend.get() is ops
    assert float(ops.sum(ops.asarray([1.0, 2.0]))) == 3.0


def test_an_unavailable_registered_backend_says_why(registered) -> None:
    registered("tiny", problem=lambda: "the tiny device is unplugged", auto_priority=100)
    with pytest.raises(backend.BackendUnavailableError, match="'tiny'.*the tiny device is unplugged"):
        backend.set_backend("tiny")
    assert "tiny" not in backend.available_backends()
    assert backend.set_backend("auto").name in ("numpy", "cupy")  # auto passes over it


def test_a_backend_whose_factory_fails_is_unavailable_not_a_crash(registered) -> None:
    def broken():
        raise ImportError("libtiny.so: cannot open shared object file")

    registered("tiny", broken)
    with pytest.raises(backend.BackendUnavailableError, match="could not be started.*libtiny"):
        backend.set_backend("tiny")


def test_auto_picks_the_highest_priority_backend_that_can_run(registered) -> None:
    registered("tiny", auto_priority=100)
    assert backend.set_backend("auto").name == "tiny"
    assert backend.set_backend(None).name == "tiny"
    backend.unregister_backend("tiny")
    assert backend.set_backend("auto").name in ("numpy", "cupy")
    with pytest.raises(ValueError, match="Unknown backend 'tiny'"):
        backend.set_backend("tiny")


def test_auto_is_not_a_backend_name() -> None:
    with pytest.raises(ValueError, match="cannot name a backend"):
        backend.register_backend("auto", _TinyOps)


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


def test_importing_the_backend_does_not_import_cupy_when_numpy_is_asked_for() -> None:
    import subprocess

    env = {**__import__("os").environ, "GPUKERAS_BACKEND": "numpy"}
    code = "import sys, gpukeras; print('cupy' in sys.modules, gpukeras.backend.available_backends()[0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["False", "numpy"]


def test_only_the_backend_package_imports_cupy() -> None:
    from pathlib import Path

    root = Path(backend.__file__).parents[1]
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "backend" not in p.relative_to(root).parts
                 and any(line.strip().startswith(("import cupy", "from cupy")) for line in p.read_text().splitlines())]
    assert offenders == []
