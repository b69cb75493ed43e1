"""Benchmark runner: ``python -m bench <name> [options] [--json]``.

Each benchmark prints a table of figures and, with ``--json``, one JSON object as the last
line. Figures are compared with a baseline measured in the same run (ratios), because the
machines are noisy.
"""

import sys

from bench.cli import app
from pipelines.run import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(app))
