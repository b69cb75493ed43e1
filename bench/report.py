"""Printing benchmark results: an aligned table for people, one JSON line for machines."""

from __future__ import annotations

import json
import platform
from typing import Any

from tabulate import tabulate


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import os

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def emit(title: str, rows: list[tuple[str, str]], result: dict[str, Any], *, as_json: bool) -> None:
    """Print ``rows`` under ``title``; with ``as_json``, also ``result`` as the last line."""
    print(title)
    print(tabulate(rows, headers=["measure", "value"], tablefmt="simple", disable_numparse=True))
    if as_json:
        print(json.dumps({**result, "machine": machine()}, default=str))
