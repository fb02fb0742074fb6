"""Import hook for whole-process runs without a GPU: with tests/emulation/site on PYTHONPATH,
`import cupy` (and cupyx) loads the CPU stand-in (tests/emulation/cupy_on_numpy.py) instead.

    PYTHONPATH=tests/emulation/site GPUKERAS_BACKEND=cupy python -m gpukeras.demo
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the tests/ directory
from emulation import cupy_on_numpy  # noqa: E402

cupy_on_numpy.install()  # replaces this module in sys.modules; the import returns the stand-in
