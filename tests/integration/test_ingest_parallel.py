"""Parsing in worker processes loads exactly what parsing in the loader loads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from geo import db
from pipelines import parallel_parse
from pipelines.ingest import ingest
from pipelines.simulate.generate import Options, simulate
from tests.conftest import clear_reports

SNAPSHOT = """
SELECT source, source_id, category, status, created_at, coordinated_at, completed_at,
       updated_at, kelurahan_code, outside, h3_r12, text_redacted
FROM pantau.reports ORDER BY source, source_id
"""


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory, bps2020_path: Path) -> Path:
    """Three months of both feeds with 10 % defects: several files per source."""
    out = tmp_path_factory.mktemp("parallel-feeds")
    simulate(
        Options(
            start=date(2024, 1, 20),
            end=date(2024, 3, 10),
            seed=5,
            out=out,
            per_day=300,
            defects=0.1,
            boundaries=bps2020_path,
            progress=False,
        )
    )
    return out


def _load(
    url: str, feeds: Path
) -> tuple[list[dict[str, object]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    clear_reports(url)
    results = [
        ingest(src, [feeds / src], url=url, progress=False).as_dict() for src in ("jaki", "qlue")
    ]
    with db.connect(url) as conn:
        reports = conn.execute(SNAPSHOT).fetchall()
        rejected = conn.execute(
            "SELECT source, file, line_no, reason, raw FROM pantau.rejected_rows ORDER BY 1, 2, 3"
        ).fetchall()
    return results, reports, rejected


def test_parallel_parse_loads_the_same_as_serial(
    bps2020_loaded: str, feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = bps2020_loaded
    monkeypatch.setattr(parallel_parse, "MIN_PARALLEL_BYTES", 2**62)
    assert parallel_parse.workers_for(sorted((feeds / "jaki").iterdir())) == 1
    serial = _load(url, feeds)

    monkeypatch.setattr(parallel_parse, "MIN_PARALLEL_BYTES", 0)
    assert parallel_parse.workers_for(sorted((feeds / "jaki").iterdir())) > 1
    parallel = _load(url, feeds)
    clear_reports(url)

    keys = (
        "read",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "rejected_by_reason",
        "repaired_by_kind",
        "outside_area",
        "duplicates_in_batch",
        "notes",
        "redacted",
    )
    for one, other in zip(serial[0], parallel[0], strict=True):
        assert {k: one[k] for k in keys} == {k: other[k] for k in keys}
        assert one["read"] == one["inserted"] + one["updated"] + one["unchanged"] + one["rejected"]
    assert serial[0][0]["duplicates_in_batch"] > 0, "the feeds exercise in-batch dedupe"
    assert serial[1] == parallel[1], "the same reports, field by field"
    assert serial[2] == parallel[2], "the same rejected rows"
