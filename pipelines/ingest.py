"""``pipelines ingest``: feeds in, one canonical ``pantau.reports`` table out, every row counted.

One batch = one transaction:

1. a run row in ``pantau.ingest_runs`` (its ``batch_id`` tags everything below);
2. the adapter's canonical rows go through COPY into an unlogged staging table (H3 res-12 cell
   computed on the way), its rejections into ``pantau.rejected_rows`` with the raw row;
3. the same id twice in the batch counts once: the newest ``updated_at`` wins (later line on a
   tie), the others count as ``unchanged``;
4. the spatial join of :mod:`pipelines.spatial_join` gives each point its owner (or
   ``outside``);
5. one set-based upsert keyed on (source, source_id): new ids are inserted, a newer
   ``updated_at`` updates, an equal or older one leaves the row ``unchanged``.

Killing the process at any point leaves nothing of the batch (the transaction and its
unlogged tables vanish); running the same command again gives exact counts. The invariant
``read == inserted + updated + unchanged + rejected`` always holds.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from h3.api import basic_int as h3int
from psycopg import sql
from tqdm import tqdm

from geo import db
from geo.errors import PantauError
from pipelines.parallel_parse import FeedReadError
from pipelines.sources import SOURCES
from pipelines.sources.base import Rejection, Report
from pipelines.spatial_join import codes_query, index_points, owners_query, staging_table

H3_RESOLUTION = 12

_STAGE_COLUMNS = (
    "seq",
    "source_id",
    "ticket_code",
    "category",
    "source_category",
    "status",
    "source_status",
    "created_at",
    "coordinated_at",
    "completed_at",
    "updated_at",
    "agency",
    "lng",
    "lat",
    "h3_r12",
    "photo_url",
    "photo_done_url",
    "text_redacted",
)
#: Binary COPY types of the staging columns (binary rows cost a third of text rows to write).
_STAGE_TYPES = (
    "int8",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "text",
    "float8",
    "float8",
    "int8",
    "text",
    "text",
    "text",
)
_STAGE_TABLE = """
CREATE UNLOGGED TABLE {stage} (
    seq bigint NOT NULL, source_id text NOT NULL, ticket_code text, category text NOT NULL,
    source_category text, status text NOT NULL, source_status text, created_at timestamptz NOT NULL,
    coordinated_at timestamptz, completed_at timestamptz, updated_at timestamptz NOT NULL,
    agency text, lng float8 NOT NULL, lat float8 NOT NULL, h3_r12 bigint NOT NULL,
    photo_url text, photo_done_url text, text_redacted text,
    geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lng, lat), 4326)) STORED
)
"""
# Superseded copies of an id within the batch: all but the newest (latest line on a tie). The
# survivor's coordination time merges the copies' as the upsert merges batches ({merge}). Only
# the ids seen more than once while reading are looked at (``%(ids)s``): finding them in SQL
# (a hash aggregate over every staged id) took 1.6 s per million rows, in Python 0.1 s.
_DEDUPE = """
WITH ranked AS (
    SELECT seq, source_id,
           row_number() OVER (PARTITION BY source_id ORDER BY updated_at DESC, seq DESC) AS rn,
           min(coordinated_at) OVER (PARTITION BY source_id) AS first_coordinated
    FROM {stage}
    WHERE source_id = ANY(%(ids)s)
), keep AS (
    UPDATE {stage} AS s SET coordinated_at = {merge}
    FROM ranked AS r WHERE s.seq = r.seq AND r.rn = 1
)
DELETE FROM {stage} AS s USING ranked AS r WHERE s.seq = r.seq AND r.rn > 1
"""
# The upsert as two statements under a table lock (one batch writes at a time; readers are never
# blocked): newer copies of known ids update them, then unknown ids are inserted. Measured
# against one INSERT .. ON CONFLICT DO UPDATE: the speculative insertion of ON CONFLICT costs
# about a third more per new row (bench/README.md).
_LOCK_REPORTS = "LOCK TABLE pantau.reports IN SHARE ROW EXCLUSIVE MODE"
# Each statement queues the creation days it touched for `pipelines refresh` (the old day of an
# updated report first: its marts rows must go even if its creation time changed).
_QUEUE_OLD_DAYS = """
INSERT INTO pantau.mart_dirty_days (day)
SELECT DISTINCT (r.created_at AT TIME ZONE 'Asia/Jakarta')::date
FROM {stage} AS s JOIN pantau.reports AS r
  ON r.source = %(source)s AND r.source_id = s.source_id AND r.updated_at < s.updated_at
ON CONFLICT DO NOTHING
"""
_QUEUE_DAYS = """
WITH changed AS ({change} RETURNING r.created_at), queued AS (
    INSERT INTO pantau.mart_dirty_days (day)
    SELECT DISTINCT (created_at AT TIME ZONE 'Asia/Jakarta')::date FROM changed
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM changed
"""
_UPDATE = """
UPDATE pantau.reports AS r SET
    ticket_code = s.ticket_code, category = s.category, source_category = s.source_category,
    status = s.status, source_status = s.source_status, created_at = s.created_at,
    coordinated_at = {coordinated}, completed_at = s.completed_at, updated_at = s.updated_at,
    agency = s.agency, geom = s.geom, h3_r12 = s.h3_r12, area_code = c.area_code,
    kelurahan_code = c.kelurahan_code, kecamatan_code = c.kecamatan_code,
    kota_code = c.kota_code, outside = c.area_code IS NULL, photo_url = s.photo_url,
    photo_done_url = s.photo_done_url, text_redacted = s.text_redacted, batch_id = %(batch)s
FROM {stage} AS s LEFT JOIN {codes} AS c ON c.id = s.seq
WHERE r.source = %(source)s AND r.source_id = s.source_id AND r.updated_at < s.updated_at
"""
_INSERT = """
INSERT INTO pantau.reports AS r (
    source, source_id, ticket_code, category, source_category, status, source_status,
    created_at, coordinated_at, completed_at, updated_at, agency, geom, h3_r12, area_code,
    kelurahan_code, kecamatan_code, kota_code, outside, photo_url, photo_done_url,
    text_redacted, batch_id)
SELECT %(source)s, s.source_id, s.ticket_code, s.category, s.source_category, s.status,
       s.source_status, s.created_at, s.coordinated_at, s.completed_at, s.updated_at,
       s.agency, s.geom, s.h3_r12, c.area_code, c.kelurahan_code, c.kecamatan_code,
       c.kota_code, c.area_code IS NULL, s.photo_url, s.photo_done_url, s.text_redacted,
       %(batch)s
FROM {stage} AS s LEFT JOIN {codes} AS c ON c.id = s.seq
WHERE NOT EXISTS (
    SELECT FROM pantau.reports AS x WHERE x.source = %(source)s AND x.source_id = s.source_id)
"""
#: The same merge within a batch: ``s`` is the newest copy, ``r.first_coordinated`` the earliest
#: coordination time among the copies.
_DEDUPE_MERGE = {
    "jaki": "COALESCE(s.coordinated_at, {kept})",
    "qlue": "LEAST(s.coordinated_at, {kept})",
}
#: An earlier copy's coordination time is only kept when it is not before the surviving copy's
#: creation time (a corrected creation time must not leave an impossible lifecycle behind).
_KEPT_FIRST = "CASE WHEN r.first_coordinated >= s.created_at THEN r.first_coordinated END"
_KEPT_STORED = "CASE WHEN r.coordinated_at >= s.created_at THEN r.coordinated_at END"
_BACKFILL_COORDINATION = """
UPDATE pantau.reports AS r SET coordinated_at = s.coordinated_at
FROM {stage} AS s
WHERE r.source = 'qlue' AND r.source_id = s.source_id AND s.coordinated_at IS NOT NULL
  AND s.coordinated_at < COALESCE(r.coordinated_at, 'infinity') AND r.updated_at >= s.updated_at
  AND s.coordinated_at >= r.created_at
"""
#: How an update merges the coordination time: JAKI's newest history is authoritative (unless
#: it has none); Qlue keeps the earliest "process" time ever seen.
_COORDINATED = {
    "jaki": "COALESCE(s.coordinated_at, {kept})",
    "qlue": "LEAST({kept}, s.coordinated_at)",
}


@dataclass
class IngestResult:
    """The summary printed by ``pipelines ingest`` (``--json`` prints it as one object)."""

    batch_id: int
    source: str
    files: int
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    repaired_by_kind: dict[str, int] = field(default_factory=dict)
    outside_area: int = 0
    seconds: float = 0.0
    duplicates_in_batch: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    redacted: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    refresh_error: str | None = None

    def lap(self, stage: str, since: float) -> float:
        """Record the seconds of ``stage`` since ``since``; return now."""
        now = time.perf_counter()
        self.timings[stage] = round(now - since, 3)
        return now

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def ingest(
    source: str,
    paths: list[Path],
    *,
    url: str | None = None,
    progress: bool | None = None,
    refresh_marts: bool = True,
) -> IngestResult:
    """Ingest the files of ``source`` found in ``paths`` as one batch, then refresh the marts.

    The refresh (:mod:`pipelines.refresh`, the days this batch touched) runs after the batch
    has committed: if it fails, the batch stays loaded and its days stay queued for the next
    refresh. ``refresh_marts=False`` leaves them queued (the ingest benchmark measures the
    ingest alone).

    Raises
    ------
    PantauError
        Unknown source, no files, or a database failure (then nothing of the batch remains
        and a ``failed`` run is recorded).
    """
    if source not in SOURCES:
        msg = f"Unknown source {source!r}: use {' or '.join(SOURCES)}."
        raise PantauError(msg)
    adapter = SOURCES[source](paths)
    if not adapter.files:
        where = ", ".join(map(str, paths))
        msg = f"No {source} files ({', '.join(adapter.suffixes)}) found in {where}."
        raise PantauError(msg)
    started = time.perf_counter()
    url = url or db.writer_url()
    with db.connect(url) as conn:
        try:
            result = _run_batch(conn, adapter, progress)
        except (psycopg.Error, OSError, EOFError, zlib.error, FeedReadError) as exc:
            conn.rollback()
            _record_failure(conn, source, adapter.files, exc)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            where = (
                "" if isinstance(exc, psycopg.Error) else f" while reading {adapter.current_file}"
            )
            msg = f"Ingest of {source} failed{where}, nothing was loaded: {reason}"
            raise PantauError(msg) from exc
        except BaseException:
            conn.rollback()
            raise
        if refresh_marts:
            from pipelines.refresh import refresh

            clock = time.perf_counter()
            try:
                refresh(conn)
            except PantauError as exc:  # the batch is in; its days stay queued
                result.refresh_error = str(exc)
            result.lap("refresh_marts", clock)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _run_batch(conn: psycopg.Connection, adapter: Any, progress: bool | None) -> IngestResult:
    source = adapter.name
    files = [str(p) for p in adapter.files]
    row = conn.execute(
        "INSERT INTO pantau.ingest_runs (source, files) VALUES (%s, %s) RETURNING batch_id",
        [source, files],
    ).fetchone()
    assert row is not None
    result = IngestResult(batch_id=int(row[0]), source=source, files=len(files))
    # The dedupe and the upsert hash the whole staging table; with the default work_mem the
    # hash spills to disk in batches (measured: 4 batches for 900k rows).
    conn.execute("SET LOCAL work_mem = '512MB'")
    stage = staging_table(f"ingest_{source}")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
    conn.execute(sql.SQL(_STAGE_TABLE).format(stage=stage))

    clock = time.perf_counter()
    seen = SeenIds()
    rejections = _copy_reports(conn, stage, adapter, result, progress, seen)
    clock = result.lap("parse_and_copy", clock)
    _copy_rejections(conn, rejections, source, result.batch_id)
    result.rejected = len(rejections)
    result.rejected_by_reason = dict(sorted(Counter(r.reason for _, r in rejections).items()))

    # The GiST index must exist before the dedupe UPDATE/DELETE: an index built after rows were
    # updated in the same transaction is invisible to that transaction (pg_index.indcheckxmin),
    # and the spatial join would fall back to comparing every point with every polygon.
    index_points(conn, stage)
    if seen.repeated:
        merge = sql.SQL(_DEDUPE_MERGE[source]).format(kept=sql.SQL(_KEPT_FIRST))
        dedupe = sql.SQL(_DEDUPE).format(stage=stage, merge=merge)
        deleted = conn.execute(dedupe, {"ids": sorted(seen.repeated)}).rowcount
        result.duplicates_in_batch = max(deleted, 0)
    clock = result.lap("index_rejections_dedupe", clock)
    owners = staging_table(f"ingest_{source}_owners")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(owners))
    found = conn.execute(
        sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(
            owners, codes_query(sql.SQL("({})").format(owners_query(stage, id_col="seq")))
        )
    ).rowcount
    conn.execute(sql.SQL("ANALYZE {}").format(owners))  # so the upsert hashes this narrow table
    staged = result.read - result.rejected - result.duplicates_in_batch
    result.outside_area = staged - max(found, 0)
    clock = result.lap("spatial_join", clock)
    params = {"source": source, "batch": result.batch_id}
    conn.execute(_LOCK_REPORTS)
    conn.execute(sql.SQL(_QUEUE_OLD_DAYS).format(stage=stage), params)
    coordinated = sql.SQL(_COORDINATED[source]).format(kept=sql.SQL(_KEPT_STORED))
    update = sql.SQL(_UPDATE).format(stage=stage, codes=owners, coordinated=coordinated)
    result.updated = _count_queued(conn, update, params)
    insert = sql.SQL(_INSERT).format(stage=stage, codes=owners)
    result.inserted = _count_queued(conn, insert, params)
    if source == "qlue":  # an older "process" snapshot arriving late still tells when it began
        backfill = sql.SQL(_BACKFILL_COORDINATION).format(stage=stage)
        backfilled = _count_queued(conn, backfill, params)
        if backfilled > 0:
            adapter.tally.notes["coordination_time_backfilled"] += backfilled
    clock = result.lap("upsert", clock)
    result.unchanged = result.read - result.inserted - result.updated - result.rejected
    result.repaired_by_kind = dict(sorted(adapter.tally.repaired.items()))
    result.notes = dict(sorted(adapter.tally.notes.items()))
    result.redacted = dict(sorted(adapter.tally.redacted.items()))
    conn.execute(sql.SQL("DROP TABLE {}, {}").format(stage, owners))
    _finish_run(conn, result)
    conn.commit()
    result.lap("commit", clock)
    return result


def _count_queued(conn: psycopg.Connection, change: sql.Composed, params: dict[str, Any]) -> int:
    """Run an UPDATE/INSERT of reports, queue the days it touched, return its row count."""
    row = conn.execute(sql.SQL(_QUEUE_DAYS).format(change=change), params).fetchone()
    return int(row[0]) if row else 0


def _copy_reports(
    conn: psycopg.Connection,
    stage: sql.Identifier,
    adapter: Any,
    result: IngestResult,
    progress: bool | None,
    seen: SeenIds,
) -> list[tuple[Any, Rejection]]:
    """COPY every canonical report into ``stage``; return the rejections (kept for later)."""
    from pipelines import parallel_parse

    columns = sql.SQL(", ").join(map(sql.Identifier, _STAGE_COLUMNS))
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(stage, columns)
    workers = parallel_parse.workers_for(adapter.files)
    bar = tqdm(unit=" rows", disable=None if progress is None else not progress)
    try:
        with conn.cursor().copy(copy_sql) as copy:
            if workers > 1:
                return _copy_parallel(copy, adapter, result, bar, workers, seen)
            return _copy_serial(copy, adapter, result, bar, seen)
    finally:
        bar.close()


def _copy_serial(
    copy: Any, adapter: Any, result: IngestResult, bar: tqdm, seen: SeenIds
) -> list[Any]:
    """Parse in this process, one row at a time."""
    rejections: list[tuple[Any, Rejection]] = []
    copy.set_types(list(_STAGE_TYPES))
    seq = 0
    for raw, parsed in adapter.rows():
        seq += 1
        if isinstance(parsed, Report):
            copy.write_row(stage_row(seq, parsed))
            seen.add(parsed.source_id)
        else:
            rejections.append((raw, parsed))
        if seq % 10_000 == 0:
            bar.update(10_000)
    bar.update(seq % 10_000)
    result.read = seq
    return rejections


def _copy_parallel(
    copy: Any, adapter: Any, result: IngestResult, bar: tqdm, workers: int, seen: SeenIds
) -> list[Any]:
    """Parse the files in worker processes; forward their binary COPY payloads in order."""
    from pipelines import parallel_parse

    rejections: list[tuple[Any, Rejection]] = []
    copy.write(parallel_parse.SIGNATURE)
    for part in parallel_parse.parse_files(adapter.name, adapter.files, _STAGE_TYPES, workers):
        adapter.current_file = adapter.files[part.index]
        copy.write(part.payload)
        seen.update(part.ids)
        rejections += part.rejections
        for counter in ("repaired", "notes", "redacted"):
            getattr(adapter.tally, counter).update(getattr(part.tally, counter))
        result.read += part.rows
        bar.update(part.rows)
    copy.write(parallel_parse.TRAILER)
    return rejections


class SeenIds:
    """The ids staged so far, and those staged more than once (the only ones to dedupe)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.repeated: set[str] = set()

    def add(self, source_id: str) -> None:
        """Note one staged id."""
        if source_id in self.ids:
            self.repeated.add(source_id)
        else:
            self.ids.add(source_id)

    def update(self, source_ids: list[str]) -> None:
        """Note a file's staged ids (set operations: about 0.1 s per million ids)."""
        fresh = set(source_ids)
        if len(fresh) != len(source_ids):
            self.repeated.update(i for i, n in Counter(source_ids).items() if n > 1)
        self.repeated |= self.ids & fresh
        self.ids |= fresh


def stage_row(seq: int, r: Report) -> tuple[Any, ...]:
    """One staging row (the column order of ``_STAGE_COLUMNS``), H3 cell computed here."""
    return (
        seq,
        r.source_id,
        r.ticket_code,
        r.category,
        r.source_category,
        r.status,
        r.source_status,
        r.created_at,
        r.coordinated_at,
        r.completed_at,
        r.updated_at,
        r.agency,
        r.lng,
        r.lat,
        h3int.latlng_to_cell(r.lat, r.lng, H3_RESOLUTION),
        r.photo_url,
        r.photo_done_url,
        r.text_redacted,
    )


def _copy_rejections(
    conn: psycopg.Connection, rejections: list[tuple[Any, Rejection]], source: str, batch_id: int
) -> None:
    copy_sql = (
        "COPY pantau.rejected_rows (batch_id, source, file, line_no, reason, detail, raw) "
        "FROM STDIN"
    )
    with conn.cursor().copy(copy_sql) as copy:
        for raw, rejection in rejections:
            copy.write_row(
                (
                    batch_id,
                    source,
                    raw.file,
                    raw.line_no,
                    rejection.reason,
                    rejection.detail or None,
                    raw.text.replace("\x00", ""),
                )
            )


def _finish_run(conn: psycopg.Connection, result: IngestResult) -> None:
    details = {
        "rejected_by_reason": result.rejected_by_reason,
        "repaired_by_kind": result.repaired_by_kind,
        "duplicates_in_batch": result.duplicates_in_batch,
        "notes": result.notes,
        "redacted": result.redacted,
    }
    conn.execute(
        """
        UPDATE pantau.ingest_runs SET status = 'succeeded', finished_at = clock_timestamp(),
            read_count = %s, inserted = %s, updated = %s, unchanged = %s, rejected = %s,
            outside_area = %s, details = %s
        WHERE batch_id = %s
        """,
        [
            result.read,
            result.inserted,
            result.updated,
            result.unchanged,
            result.rejected,
            result.outside_area,
            json.dumps(details),
            result.batch_id,
        ],
    )


def _record_failure(
    conn: psycopg.Connection, source: str, files: list[Path], exc: BaseException
) -> None:
    """Leave a trace of a failed batch (its data is rolled back)."""
    try:
        conn.execute(
            "INSERT INTO pantau.ingest_runs (source, files, status, finished_at, details) "
            "VALUES (%s, %s, 'failed', clock_timestamp(), %s)",
            [source, [str(p) for p in files], json.dumps({"error": str(exc)[:1000]})],
        )
        conn.commit()
    except psycopg.Error:
        conn.rollback()
