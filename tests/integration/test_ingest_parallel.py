"""Parsing in worker processes loads exactly what parsing in the loader loads."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from geo import db
from geo.errors import PantauError
from pipelines import ingest as ingest_module
from pipelines import parallel_parse
from pipelines.ingest import ingest
from pipelines.simulate.generate import Options, simulate
from tests.conftest import BATCH_COUNTS, clear_reports

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


def _sizes(folder: Path) -> list[int]:
    return [path.stat().st_size for path in sorted(folder.iterdir())]


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
    bps2020_loaded: str, feeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one process, in workers handing over through /dev/shm, and through the pipe."""
    url = bps2020_loaded
    monkeypatch.setattr(parallel_parse, "MIN_PARALLEL_BYTES", 2**62)
    assert parallel_parse.workers_for(_sizes(feeds / "jaki")) == 1
    serial = _load(url, feeds)

    monkeypatch.setattr(parallel_parse, "MIN_PARALLEL_BYTES", 0)
    assert parallel_parse.workers_for(_sizes(feeds / "jaki")) > 1
    handed_over = _load(url, feeds)
    monkeypatch.setattr(parallel_parse, "SHM", tmp_path / "no-such-folder")
    piped = _load(url, feeds)
    clear_reports(url)

    for parallel in (handed_over, piped):
        for one, other in zip(serial[0], parallel[0], strict=True):
            assert {k: one[k] for k in BATCH_COUNTS} == {k: other[k] for k in BATCH_COUNTS}
            assert (
                one["read"] == one["inserted"] + one["updated"] + one["unchanged"] + one["rejected"]
            )
        assert serial[1] == parallel[1], "the same reports, field by field"
        assert serial[2] == parallel[2], "the same rejected rows"
    assert serial[0][0]["duplicates_in_batch"] > 0, "the feeds exercise in-batch dedupe"


@pytest.fixture
def parallel_url(bps2020_loaded: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test database with no reports, every batch parsed by workers; emptied after."""
    clear_reports(bps2020_loaded)
    monkeypatch.setattr(parallel_parse, "MIN_PARALLEL_BYTES", 0)
    yield bps2020_loaded
    clear_reports(bps2020_loaded)


def _handover_folders() -> set[str]:
    return {p.name for p in parallel_parse.SHM.glob(f"{parallel_parse.HANDOVER_PREFIX}*")}


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


def _copy_feed(feeds: Path, into: Path) -> list[Path]:
    files = sorted((feeds / "jaki").iterdir())
    assert len(files) >= 3
    for path in files:
        (into / path.name).write_bytes(path.read_bytes())
    return sorted(into.iterdir())


@pytest.mark.parametrize("broken", ["last", "scripted"])
def test_a_worker_failure_loads_nothing_and_leaves_no_handed_over_rows(
    parallel_url: str,
    feeds: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    broken: str,
) -> None:
    """A failed batch removes its hand-over folder, rows of files never loaded included.

    "scripted": files 2 and 3 are parsed (their rows handed over) while file 0 is still being
    parsed and file 1 fails: the loader never takes them.
    """
    url = parallel_url
    files = _copy_feed(feeds, tmp_path)
    if broken == "scripted":
        monkeypatch.setattr(parallel_parse, "_parse_file", _scripted_parse)
    else:
        (tmp_path / "z_last.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00 not gzip at all")
    before = _handover_folders()
    with pytest.raises(PantauError, match="nothing was loaded"):
        ingest("jaki", [tmp_path], url=url, progress=False)
    assert _handover_folders() <= before
    assert not multiprocessing.active_children()
    with db.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pantau.reports").fetchone() == (0,)
    monkeypatch.setattr(parallel_parse, "_parse_file", _parse_file)
    result = ingest("jaki", files, url=url, progress=False)
    assert result.inserted > 0
    assert _handover_folders() <= before


def test_a_loader_failure_stops_the_workers_at_once(
    parallel_url: str, feeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database error while loading: the workers and the hand-over folder go at once, not
    when the exception (kept here by pytest) is forgotten."""
    url = parallel_url
    _copy_feed(feeds, tmp_path)

    def failing_flush(self: object) -> None:
        raise psycopg.errors.DiskFull("scripted: could not extend file")

    monkeypatch.setattr(ingest_module._ChunkLoader, "flush", failing_flush)
    before = _handover_folders()
    with pytest.raises(PantauError, match="could not extend file") as failure:
        ingest("jaki", [tmp_path], url=url, progress=False)
    assert failure.value.__cause__ is not None  # the traceback is still referenced
    assert _handover_folders() <= before
    assert not multiprocessing.active_children()
    with db.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pantau.reports").fetchone() == (0,)


def test_rows_go_through_the_pipe_when_the_handover_cannot_be_written(
    parallel_url: str, feeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full /dev/shm fails the write: the worker sends its rows through the pipe instead."""
    url = parallel_url

    @contextlib.contextmanager
    def unwritable(size: int) -> Iterator[Path]:
        yield tmp_path / "gone" / "folder"  # every write fails (FileNotFoundError)

    monkeypatch.setattr(parallel_parse, "_handover_folder", unwritable)
    result = ingest("jaki", [feeds / "jaki"], url=url, progress=False)
    assert result.inserted > 0
    assert result.read == result.inserted + result.updated + result.unchanged + result.rejected


def test_the_next_batch_removes_the_folders_of_dead_loaders(
    parallel_url: str, feeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loader killed with -9 leaves its folder; the next batch removes it, not a live one."""
    url = parallel_url
    monkeypatch.setattr(parallel_parse, "SHM", tmp_path)  # not /dev/shm: it may not exist
    orphan = parallel_parse.SHM / f"{parallel_parse.HANDOVER_PREFIX}{_ended_pid()}-x"
    alive = parallel_parse.SHM / f"{parallel_parse.HANDOVER_PREFIX}{os.getpid()}-keep"
    for folder in (orphan, alive):
        folder.mkdir()
        (folder / "0").write_bytes(b"rows")
    try:
        ingest("jaki", [feeds / "jaki"], url=url, progress=False)
        assert not orphan.exists()
        assert alive.exists()
    finally:
        shutil.rmtree(orphan, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)


def _ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
