"""Running a typer app as a command: expected failures become one line, not a traceback."""

from __future__ import annotations

import sys

import typer

from geo.errors import PantauError


def run_cli(app: typer.Typer) -> int:
    """Run ``app``; a :class:`PantauError` prints ``error: <message>`` and returns 1."""
    try:
        app()
    except PantauError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
