"""Shared fixtures: a fresh, migrated test database on the real PostGIS server.

``make test`` starts the project-local server (or uses ``DATABASE_URL``) before pytest runs.
The tests then create the database ``pantau_test`` from scratch (``PANTAU_TEST_DB`` to rename
it), apply the migrations and load boundaries from ``../shared/data``. A missing server or a
missing ``../shared/data`` fails the run: nothing here is mocked or skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from geo import db
from geo.errors import PantauError
from geo.settings import READER_ROLE, WRITER_ROLE, get_settings
from geo.sla import SLA_FILE, load_targets, sync_targets
from pipelines.boundaries.load import file_provenance, load_boundaries
from pipelines.boundaries.read import read_boundaries
from pipelines.boundaries.sources import boundary_sources, entry_for_checksum, sha256_of
from pipelines.migrate import migrate

TEST_DB = os.environ.get("PANTAU_TEST_DB", "pantau_test")


@pytest.fixture(scope="session")
def admin_url() -> str:
    """Admin URL of a freshly created and migrated test database."""
    try:
        base = db.admin_url()
        with db.connect(db.with_dbname(base, "postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEST_DB))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEST_DB)))
    except PantauError as exc:
        pytest.fail(f"No PostGIS server for the tests ({exc}). Run `make test`, which starts one.")
    url = db.with_dbname(base, TEST_DB)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def writer_url(admin_url: str) -> str:
    """The pipelines' role on the test database."""
    return db.with_user(admin_url, WRITER_ROLE)


@pytest.fixture(scope="session")
def reader_url(admin_url: str) -> str:
    """The dashboard's read-only role on the test database."""
    return db.with_user(admin_url, READER_ROLE)


@pytest.fixture
def test_env(admin_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing the CLI and the dashboard at the test database."""
    monkeypatch.setenv("DATABASE_URL", admin_url)
    monkeypatch.delenv("PANTAU_WRITER_URL", raising=False)
    monkeypatch.delenv("PANTAU_READER_URL", raising=False)
    return {**os.environ}


@pytest.fixture
def writer_conn(writer_url: str) -> Iterator[psycopg.Connection]:
    """A writer connection, rolled back and closed after the test."""
    with db.connect(writer_url) as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def reader_conn(reader_url: str) -> Iterator[psycopg.Connection]:
    """A reader connection."""
    with db.connect(reader_url) as conn:
        yield conn


def _shared_file(key: str) -> Path:
    mirror = get_settings().data_mirror
    if mirror is None:
        pytest.fail("../shared/data is missing (or PANTAU_DATA_MIRROR unset): the tests need it.")
    path = mirror / boundary_sources()[key].mirror_path
    if not path.exists():
        pytest.fail(f"{path} is missing from the data mirror.")
    return path


@pytest.fixture(scope="session")
def bps2020_path() -> Path:
    """The official BPS 2020 boundary file (read from ../shared/data)."""
    return _shared_file("bps2020")


@pytest.fixture(scope="session")
def api2016_path() -> Path:
    """The 2016 Jakarta API boundary file (read from ../shared/data)."""
    return _shared_file("jakarta-api-2016")


def load_file(url: str, path: Path, fmt: str = "auto") -> dict[str, object]:
    """Load a boundary file the way the CLI does (used by fixtures and tests)."""
    boundaries = read_boundaries(path, fmt=fmt)
    checksum = sha256_of(path)
    provenance = file_provenance(path, checksum, boundaries, entry_for_checksum(checksum))
    with db.connect(url) as conn:
        return load_boundaries(conn, boundaries, provenance)


def ensure_bps2020(writer_url: str, bps2020_path: Path) -> str:
    """Make sure the official BPS 2020 set is the loaded one (reloading only when needed).

    A plain function, so that module- and session-scoped fixtures can call it too.
    """
    with db.connect(writer_url) as conn:
        row = conn.execute(
            "SELECT b.sha256, (SELECT count(*) FROM pantau.admin_area_parts) "
            "FROM api.boundary_source AS b"
        ).fetchone()
    if row is None or row[0] != sha256_of(bps2020_path) or row[1] == 0:
        load_file(writer_url, bps2020_path)
    return writer_url


@pytest.fixture
def bps2020_loaded(writer_url: str, bps2020_path: Path) -> str:
    """Make sure the official BPS 2020 set is the loaded one (reloading only when needed)."""
    return ensure_bps2020(writer_url, bps2020_path)


#: What ingested reports fill: the reports, their runs and rejections, the marts and their queue.
REPORT_TABLES = (
    ("pantau", "mart_daily"),
    ("pantau", "mart_h3_weekly"),
    ("pantau", "mart_sla_facts"),
    ("pantau", "mart_dirty_days"),
    ("pantau", "mart_refreshes"),
    ("pantau", "reports"),
    ("pantau", "rejected_rows"),
    ("pantau", "ingest_runs"),
)


#: What an ingest counts (IngestResult fields): two ways of loading the same batch must agree on
#: all of them.
BATCH_COUNTS = (
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


def clear_reports(url: str) -> None:
    """Empty every table of :data:`REPORT_TABLES` and put the default SLA targets back."""
    with db.connect(url) as conn:
        for table in REPORT_TABLES:
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(*table)))
        sync_targets(conn, load_targets(SLA_FILE))  # the committed file, even if patched
        conn.commit()


def ingest_generated(url: str, out: Path, *, min_inserted: int = 1, **options: object) -> Path:
    """Generate feeds into ``out`` (``options``: :class:`Options` fields) and ingest both.

    Each ingest refreshes the marts; a refresh error or fewer than ``min_inserted`` new
    reports per source fails the fixture.
    """
    from pipelines.ingest import ingest
    from pipelines.simulate.generate import Options, simulate

    simulate(Options(out=out, progress=False, **options))  # type: ignore[arg-type]
    for source in ("jaki", "qlue"):
        result = ingest(source, [out / source], url=url, progress=False)
        assert result.refresh_error is None, result.refresh_error
        assert result.inserted >= min_inserted, result
    return out
