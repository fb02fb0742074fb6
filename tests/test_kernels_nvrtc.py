"""Every kernel module compiles with NVRTC exactly as CuPy will build it: same text, same options.

nvcc (test_kernels_compile.py) sees the host's headers; NVRTC, what CuPy runs on the GPU box,
does not (no <math.h>: no INFINITY), so a source can pass nvcc and still fail at run time, where
the backend would quietly fall back to generic code. Warnings fail the test too.
"""

from __future__ import annotations

import pytest
from nvrtc_compiler import compile_source, load, version

from gpukeras.backend import kernels as K

NVRTC = load()
pytestmark = [pytest.mark.skipif(NVRTC is None, reason="NVRTC not found (pip install nvidia-cuda-nvrtc)"),
              pytest.mark.any_backend]


@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
@pytest.mark.parametrize("suffix", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("filename", K.kernel_file_names())
def test_module_compiles_with_nvrtc(filename, suffix, arch):
    if suffix != "f32" and K.half_header_dir() is None:
        pytest.skip("no cuda_fp16.h here: the half-precision modules cannot be built (the backend falls back)")
    ok, log = compile_source(NVRTC, K.source(filename), filename,
                             [*K.compile_options(suffix), f"--gpu-architecture={arch}"])
    assert ok and not log, f"NVRTC {version(NVRTC)} on {filename} ({suffix}, {arch}):\n{log}"


def test_nvrtc_reports_errors():
    ok, log = compile_source(NVRTC, 'extern "C" __global__ void k(float* x) { x[0] = INFINITY; }', "bad.cu",
                             ["--gpu-architecture=compute_80"])
    assert not ok and "INFINITY" in log
