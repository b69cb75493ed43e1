"""Benchmark runner: ``python -m bench <name> [options] [--json]``.

Each benchmark prints a table of figures and, with ``--json``, one JSON object as the last
line. Figures are compared with a baseline measured in the same run (ratios), because the
machines are noisy.
"""

from __future__ import annotations

import sys

from bench.cli import app
from geo.errors import PantauError


def main() -> int:
    """Run the chosen benchmark; expected failures print one line."""
    try:
        app()
    except PantauError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
