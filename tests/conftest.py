"""Run every test once per backend that can run here.

NumPy always. CuPy on a GPU; without one, "cupy-emulated": the CuPy backend's own code on a
stand-in `cupy` (NumPy arrays; our `.cu` kernels compiled for the CPU, see tests/emulation/),
when g++ and the CUDA headers are here. `GPUKERAS_TEST_BACKENDS` (comma-separated: numpy,
cupy, cupy-emulated) chooses explicitly, e.g. `cupy` on the GPU box.
"""

from __future__ import annotations

import os

import pytest

EMULATED = "cupy-emulated"


def _choose() -> list[str]:
    wanted = [n for n in os.environ.get("GPUKERAS_TEST_BACKENDS", "").split(",") if n]
    if wanted and EMULATED not in wanted:
        return wanted
    from emulation import cupy_on_numpy, kernel_runner

    if not wanted:
        from gpukeras import backend

        if "cupy" in backend.available_backends():
            return ["numpy", "cupy"]
        try:
            kernel_runner.cuda_include_dir()
            kernel_runner.compiler()
        except kernel_runner.EmulationUnavailable as exc:
            print(f"gpukeras tests: no {EMULATED} backend ({exc})")
            return ["numpy"]
        wanted = ["numpy", EMULATED]
    cupy_on_numpy.install()  # before gpukeras.backend.cupy_backend imports cupy
    return wanted


BACKENDS = _choose()

import gpukeras  # noqa: E402
from gpukeras import backend  # noqa: E402


@pytest.fixture(params=BACKENDS, autouse=True)
def backend_name(request) -> str:
    """The backend this test runs on; also resets seeds and name counters."""
    if request.param != BACKENDS[0] and request.node.get_closest_marker("any_backend"):
        pytest.skip("does not use the backend: run once, under the first")
    previous = backend.active
    backend.set_backend("cupy" if request.param == EMULATED else request.param)
    backend.clear_session()
    gpukeras.utils.set_random_seed(1234)
    yield request.param
    backend.active = previous
