"""Benchmarks: the comparison tool (`python -m gpukeras.bench`), its runners, the bound and the profiler.

Runners (`*_runner.py`, `numpy_reference.py`, `bound.py`) are scripts the tool runs in
subprocesses, one framework and workload each; they need only the stdlib, NumPy and
their framework. `report` renders the results; `profile` splits a gpukeras step's time.
"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of `gpukeras-bench`."""
    from gpukeras.bench.cli import main as _main

    return _main(argv)
