"""Every kernels/*.cu compiles with nvcc for sm_80 and sm_90 with no error and no warning.

CuPy compiles through NVRTC, which needs a GPU, so CI checks the sources with `nvcc -cubin`
(warnings are errors). Also compiled: the text the loader hands NVRTC for the float32 module
(headers inlined, -DGK_F32 only), which must not need the CUDA half headers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gpukeras.backend import kernels as K

NVCC = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if os.path.exists("/usr/local/bin/nvcc") else None)
pytestmark = [pytest.mark.skipif(NVCC is None, reason="nvcc (CUDA toolkit) not found; kernel compile check skipped"),
              pytest.mark.any_backend]
ARCHS = ("sm_80", "sm_90")
WERROR = ("-Werror", "all-warnings", "-Xptxas", "-Werror")


def _nvcc(src: Path, arch: str, *extra: str) -> tuple[str, int, str, float]:
    start = time.perf_counter()
    cmd = [NVCC, "-cubin", f"-arch={arch}", "-std=c++17", *WERROR, f"-I{K.kernel_dir()}", *extra,
           "-o", os.devnull, str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return f"{src.name} {arch} {' '.join(extra)}".strip(), proc.returncode, proc.stdout + proc.stderr, \
        time.perf_counter() - start


def test_every_kernel_file_declares_kernels():
    assert {spec.file for spec in K.catalogue().values()} == set(K.kernel_file_names())


def test_every_kernel_compiles_without_warnings(tmp_path):
    jobs = [(src, arch, ()) for src in K.kernel_files() for arch in ARCHS]
    for name in K.kernel_file_names():  # what NVRTC gets for the float32 module
        inlined = tmp_path / f"inlined_{name}"
        inlined.write_text(K.source(name))
        assert '#include "' not in inlined.read_text()
        jobs.append((inlined, "sm_80", ("-DGK_F32=1",)))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda job: _nvcc(job[0], job[1], *job[2]), jobs))
    failures = [f"{label}:\n{out}" for label, rc, out, _ in results if rc != 0 or out.strip()]
    assert not failures, "\n".join(failures)


def test_float32_module_has_no_half_types():
    for name in K.kernel_file_names():
        src = K.source(name)
        assert src.index("#ifdef GK_F16") < src.index("#include <cuda_fp16.h>")
        assert src.index("#ifdef GK_BF16") < src.index("#include <cuda_bf16.h>")
