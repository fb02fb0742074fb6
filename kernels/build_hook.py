"""setuptools hook: ship kernels/*.cu and *.cuh inside the package as gpukeras/kernels/.

`packages.find` cannot map a top-level folder into the package, so pyproject.toml points
build_py and sdist here: the wheel gets gpukeras/kernels/*.cu{,h} and the sdist keeps kernels/.
Loaded by setuptools from this file alone (no gpukeras import, no numpy needed at build time).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py as _build_py
from setuptools.command.sdist import sdist as _sdist

_HERE = Path(__file__).resolve().parent
_PATTERNS = ("*.cu", "*.cuh")


def _sources() -> list[Path]:
    return sorted(p for pattern in _PATTERNS for p in _HERE.glob(pattern))


class BuildPy(_build_py):
    """build_py that also copies the CUDA sources into <build_lib>/gpukeras/kernels."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable installs read the sources from the checkout
        target = Path(self.build_lib) / "gpukeras" / "kernels"
        target.mkdir(parents=True, exist_ok=True)
        for src in _sources():
            shutil.copyfile(src, target / src.name)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        target = Path(self.build_lib) / "gpukeras" / "kernels"
        return list(super().get_outputs(include_bytecode)) + [str(target / p.name) for p in _sources()]


class SDist(_sdist):
    """sdist that keeps kernels/ (sources and this hook), so wheels built from it have them."""

    def add_defaults(self) -> None:
        super().add_defaults()
        root = _HERE.parent
        self.filelist.extend(str(p.relative_to(root)) for p in [*_sources(), Path(__file__).resolve()])
