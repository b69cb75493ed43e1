"""Fixtures shared by the unit tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.simulate.generate import Options, simulate


@pytest.fixture(scope="session")
def defective_feeds(tmp_path_factory: pytest.TempPathFactory, bps2020_path: Path) -> Path:
    """Three months of both generated feeds with 20 % planted defects (the parsers' fast paths
    are compared with their rules on every row of them)."""
    out = tmp_path_factory.mktemp("defective-feeds")
    simulate(
        Options(
            start=date(2024, 1, 1), end=date(2024, 3, 31), seed=3, out=out, per_day=150,
            defects=0.2, boundaries=bps2020_path, progress=False,
        )
    )  # fmt: skip
    return out
