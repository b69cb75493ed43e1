"""Parsing in worker processes loads exactly what parsing in the loader loads."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from geo import db
from geo.errors import PantauError
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


def _blocks() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("pantau-*")}


_parse_file = parallel_parse._parse_file


def _scripted_parse(job: tuple[str, str, int]) -> parallel_parse.FilePart:
    """The first file is slow and the second broken, so later files finish before the error."""
    index = job[2]
    if index == 0:
        time.sleep(1.5)
    if index == 1:
        msg = "scripted failure"
        raise parallel_parse.FeedReadError(msg)
    return _parse_file(job)


@pytest.mark.parametrize("broken", ["last", "scripted"])
def test_a_failed_parallel_batch_loads_nothing_and_leaves_no_shared_memory(
    bps2020_loaded: str,
    feeds: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    broken: str,
) -> None:
    """The workers hand their rows over in shared memory blocks: a failure frees them all.

    "scripted": files 2 and 3 are parsed (their blocks made) while file 0 is still being parsed
    and file 1 fails: the loader never takes them, the failed batch must free them.
    """
    url = bps2020_loaded
    clear_reports(url)
    monkeypatch.setattr(parallel_parse, "MIN_PARALLEL_BYTES", 0)
    files = sorted((feeds / "jaki").iterdir())
    assert len(files) >= 3
    for path in files:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    if broken == "scripted":
        monkeypatch.setattr(parallel_parse, "_parse_file", _scripted_parse)
    else:
        (tmp_path / "z_last.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00 not gzip at all")
    before = _blocks()
    with pytest.raises(PantauError, match="nothing was loaded"):
        ingest("jaki", [tmp_path], url=url, progress=False)
    assert _blocks() <= before
    with db.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pantau.reports").fetchone() == (0,)
    monkeypatch.setattr(parallel_parse, "_parse_file", _parse_file)
    result = ingest(
        "jaki",
        [p for p in tmp_path.iterdir() if p.name != "z_last.jsonl.gz"],
        url=url,
        progress=False,
    )
    assert result.inserted > 0
    assert _blocks() <= before
    clear_reports(url)
