"""Pantau's command line: ``python -m pipelines <command> --help``."""

from __future__ import annotations

import sys

from geo.errors import PantauError
from pipelines.cli import app


def main() -> int:
    """Run the CLI; expected failures print one clear message instead of a traceback."""
    try:
        app()
    except PantauError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
