"""`python -m gpukeras.bench`: the comparison tool (see gpukeras.bench.cli)."""

import sys

from gpukeras.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
