"""pytest-benchmark suites: `pytest bench/ --benchmark-only` (not collected by `make test`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # a plain checkout, gpukeras not installed
    sys.path.insert(0, str(ROOT))

import gpukeras as keras  # noqa: E402
from gpukeras import backend as _backend  # noqa: E402


def _backends() -> list[str]:
    return _backend.available_backends()


@pytest.fixture(params=_backends())
def ops(request):
    """The backend's Ops, made active for the test (restored after)."""
    saved = _backend.backend()
    B = _backend.set_backend(request.param)
    yield B
    _backend.set_backend(saved)


@pytest.fixture
def gk():
    """The gpukeras module."""
    return keras
