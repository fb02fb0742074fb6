"""Run every test once per backend that can run here (NumPy always; CuPy with a GPU).

`GPUKERAS_TEST_BACKENDS=cupy` (comma-separated) restricts the list, e.g. on the GPU box.
"""

from __future__ import annotations

import os

import pytest

import gpukeras
from gpukeras import backend


def _backends() -> list[str]:
    wanted = os.environ.get("GPUKERAS_TEST_BACKENDS", "")
    names = backend.available_backends()
    if wanted:
        names = [n for n in wanted.split(",") if n]
    return names


@pytest.fixture(params=_backends(), autouse=True)
def backend_name(request) -> str:
    """The backend this test runs on; also resets seeds and name counters."""
    previous = backend.backend()
    backend.set_backend(request.param)
    backend.clear_session()
    gpukeras.utils.set_random_seed(1234)
    yield request.param
    backend.set_backend(previous)
