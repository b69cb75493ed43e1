"""``pipelines ingest``: feeds in, one canonical ``pantau.reports`` table out, every row counted.

One batch = one transaction:

1. a run row in ``pantau.ingest_runs`` (its ``batch_id`` tags everything below);
2. the adapter's canonical rows are encoded as rows of ``pantau.reports`` (binary COPY, H3
   res-12 cell included) by the process that parses them, worker processes for large batches
   (:mod:`pipelines.ingest_rows`); a point whose square of longitude and latitude lies wholly
   inside one unit gets that owner there (:mod:`pipelines.boundaries.squares`); the rejections
   go to ``pantau.rejected_rows`` with the raw row;
3. chunk by chunk, while the next files are parsed, PostGIS gives the other points their owner
   (``ST_Covers``; none: ``outside``), and every row with an id new to the table and not (yet)
   repeated in the batch is COPYed straight into ``pantau.reports``; the others wait in a
   staging table;
4. then the same id twice in the batch counts once: the newest ``updated_at`` wins (later line
   on a tie), the others count as ``unchanged`` (a copy COPYed by an earlier chunk is taken
   back out first);
5. the waiting rows get their owner the same way, and one set-based upsert keyed on (source,
   source_id) applies them: new ids are inserted, a newer ``updated_at`` updates, an equal or
   older one leaves the row ``unchanged``.

The result does not depend on how the batch is cut into chunks, nor on whether it is parsed by
workers (both tested against the simplest way).

Killing the process at any point leaves nothing of the batch (the transaction and its
unlogged tables vanish); running the same command again gives exact counts. The invariant
``read == inserted + updated + unchanged + rejected`` always holds.
"""

from __future__ import annotations

import contextlib
import json
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from tqdm import tqdm

from geo import db
from geo.errors import PantauError
from pipelines import ingest_rows as layout
from pipelines import parallel_parse
from pipelines.boundaries.squares import ensure_interior_squares, interior_lookup
from pipelines.parallel_parse import FeedReadError
from pipelines.sources import SOURCES
from pipelines.sources.base import RawRow, Rejection
from pipelines.spatial_join import codes_query, owners_query, staging_table

#: Rows loaded at a time while the rest of the batch is still being parsed (see _ChunkLoader).
CHUNK_ROWS = 50_000
#: A batch parsed by workers is cut into about this many chunks, of at least ``MIN_CHUNK_ROWS``
#: rows (each chunk costs a few fixed statements, ~5 ms): in a small batch, PostgreSQL's work
#: then overlaps the parsing instead of following it (Qlue, 90,000 rows: 1.3 -> 1.2 s).
CHUNKS_PER_BATCH = 8
MIN_CHUNK_ROWS = 10_000

#: Staging rows: ``seq`` (the line's place in the batch), then the columns of a report row.
_STAGE_TABLE = "CREATE UNLOGGED TABLE {stage} (seq bigint NOT NULL, LIKE pantau.reports)"
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
# Reports from the staging table whose owner has been written into them (none: outside): the
# set-based path's inserts.
_INSERT_REPORTS = """
INSERT INTO pantau.reports AS r ({columns})
SELECT {columns} FROM {stage} AS s WHERE s.source_id <> ALL(%(known)s)
"""
# The creation days (Jakarta, days since 1970-01-01) of the rows COPYed into the table, queued
# for the marts.
_QUEUE_EPOCH_DAYS = """
INSERT INTO pantau.mart_dirty_days (day)
SELECT DATE '1970-01-01' + d FROM unnest(%s::int[]) AS d ON CONFLICT DO NOTHING
"""
# Does the table hold a report of this source? In primary-key order: as EXISTS the planner
# scanned the heap, where one source's rows may all come after the other's (0.2 s).
_ANY_STORED = "SELECT 1 FROM pantau.reports WHERE source = %s ORDER BY source, source_id LIMIT 1"
# Which of a chunk's ids are stored: one primary-key probe per id (as "source_id = ANY(...)"
# the planner scanned every id of the source and filtered: 0.3 s per chunk at 900k rows).
_KNOWN_IDS = """
SELECT r.source_id FROM unnest(%s::text[]) AS i(id)
JOIN pantau.reports AS r ON r.source = %s AND r.source_id = i.id
"""
# Owners for the staged rows without one: their points are copied to a small table with a GiST
# index and joined with ``ST_Covers`` (pipelines.spatial_join), and their owner's codes are
# written into the row; rows outside every unit keep no owner and ``outside``. (A chunk's
# points take the same join, but their owners go back to the loader, which completes the
# encoded rows: _ChunkLoader._point_owners.)
_UNLOCATED_POINTS = """
INSERT INTO {points} (id, geom) SELECT seq, geom FROM {rows} WHERE area_code IS NULL
"""
_LOCATE = """
UPDATE {rows} AS c SET area_code = o.area_code, kelurahan_code = o.kelurahan_code,
    kecamatan_code = o.kecamatan_code, kota_code = o.kota_code, outside = false
FROM ({codes}) AS o WHERE c.seq = o.id
"""
# An id inserted early in the batch and met again in a later file: its inserted copy goes back
# to the staging table, as the first of its copies (negative seq: before every line), so that
# the in-batch dedupe sees all of them, with the owner it was given. Only rows of this batch are
# taken back, and before the set-based path has run, every such row was COPYed by a chunk (a
# new id: nothing to restore). One primary-key probe per id, found as a row address: right
# after the chunks' COPY the table's statistics are stale, and as a join (or "= ANY") the
# planner scanned every report of the source (0.4 s per million).
_TAKE_BACK = """
WITH gone AS (
    DELETE FROM pantau.reports AS r
    WHERE r.ctid = ANY(ARRAY(
        SELECT (SELECT x.ctid FROM pantau.reports AS x
                WHERE x.source = %(source)s AND x.source_id = i.id)
        FROM unnest(%(ids)s::text[]) AS i(id)))
      AND r.batch_id = %(batch)s
    RETURNING r.*
), moved AS (
    INSERT INTO {stage} ({stage_columns})
    SELECT -row_number() OVER (ORDER BY source_id), {columns} FROM gone
)
SELECT count(*), count(*) FILTER (WHERE outside) FROM gone
"""
# The upsert of the rest as two statements under a table lock (one batch writes at a time;
# readers are never blocked): newer copies of known ids update them, then unknown ids are
# inserted. Measured against one INSERT .. ON CONFLICT DO UPDATE: the speculative insertion of
# ON CONFLICT costs about a third more per new row (bench/README.md).
_LOCK_REPORTS = "LOCK TABLE pantau.reports IN SHARE ROW EXCLUSIVE MODE"
# Each statement queues the creation days it touched for `pipelines refresh` (the old day of an
# updated report first: its marts rows must go even if its creation time changed).
_QUEUE_OLD_DAYS = """
INSERT INTO pantau.mart_dirty_days (day)
SELECT DISTINCT (r.created_at AT TIME ZONE 'Asia/Jakarta')::date
FROM {stage} AS s JOIN pantau.reports AS r
  ON r.source = %(source)s AND r.source_id = s.source_id AND r.updated_at < s.updated_at
WHERE s.source_id = ANY(%(known)s)
ON CONFLICT DO NOTHING
"""
_QUEUE_DAYS = """
WITH changed AS ({change} RETURNING r.created_at, r.outside), queued AS (
    INSERT INTO pantau.mart_dirty_days (day)
    SELECT DISTINCT (created_at AT TIME ZONE 'Asia/Jakarta')::date FROM changed
    ON CONFLICT DO NOTHING
)
SELECT count(*), count(*) FILTER (WHERE outside) FROM changed
"""
_UPDATE = """
UPDATE pantau.reports AS r SET ({columns}) = ({values})
FROM {stage} AS s
WHERE r.source = %(source)s AND r.source_id = s.source_id AND r.updated_at < s.updated_at
  AND s.source_id = ANY(%(known)s)
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
  AND s.coordinated_at >= r.created_at AND s.source_id = ANY(%(known)s)
"""
#: How an update merges the coordination time: JAKI's newest history is authoritative (unless
#: it has none); Qlue keeps the earliest "process" time ever seen.
_COORDINATED = {
    "jaki": "COALESCE(s.coordinated_at, {kept})",
    "qlue": "LEAST({kept}, s.coordinated_at)",
}


def chunk_rows_for(batch_rows: int) -> int:
    """Rows per chunk for a batch of about ``batch_rows`` rows (see ``CHUNKS_PER_BATCH``)."""
    return min(CHUNK_ROWS, max(MIN_CHUNK_ROWS, batch_rows // CHUNKS_PER_BATCH))


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
            ensure_interior_squares(conn)
            result = _run_batch(conn, adapter, progress)
        except (psycopg.Error, OSError, EOFError, zlib.error, FeedReadError) as exc:
            conn.rollback()
            _record_failure(conn, source, adapter.files, exc)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # a database error is not about a file; a worker's read error names its file
            where = (
                ""
                if isinstance(exc, psycopg.Error | FeedReadError)
                else f" while reading {adapter.current_file}"
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
    # Rows are inserted while later files are still being parsed: one batch writes at a time
    # from the start (readers are never blocked).
    conn.execute(_LOCK_REPORTS)
    stage = staging_table(f"ingest_{source}")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
    conn.execute(sql.SQL(_STAGE_TABLE).format(stage=stage))

    clock = time.perf_counter()
    seen = SeenIds()
    loader = _ChunkLoader(
        conn, stage, params={"source": source, "batch": result.batch_id}, seen=seen
    )
    # While the files are parsed, the cores are the workers': a chunk's owner query split over
    # PostgreSQL's parallel workers only adds processes to start and switch between (JAKI: 0.5
    # CPU-s more and 0.4 s longer, bench/README.md). The set-based path after may use them.
    conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    rejections = _load(loader, adapter, result, progress)
    conn.execute("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
    result.timings["load_during_parse"] = round(loader.seconds, 3)
    clock = result.lap("parse_and_copy", clock)
    _copy_rejections(conn, rejections, source, result.batch_id)
    result.rejected = len(rejections)
    result.rejected_by_reason = dict(sorted(Counter(r.reason for _, r in rejections).items()))

    params = {"source": source, "batch": result.batch_id, "known": sorted(loader.known)}
    taken_back = 0
    if seen.repeated and loader.inserted:
        take_back = sql.SQL(_TAKE_BACK).format(
            stage=stage, stage_columns=_STAGE_COLUMNS, columns=_COLUMNS
        )
        repeated = {**params, "ids": sorted(seen.repeated)}
        counted = conn.execute(take_back, repeated).fetchone()
        taken_back, outside_back = (int(counted[0]), int(counted[1])) if counted else (0, 0)
        loader.outside -= outside_back  # counted again if the staging table stores it
    if seen.repeated:
        merge = sql.SQL(_DEDUPE_MERGE[source]).format(kept=sql.SQL(_KEPT_FIRST))
        dedupe = sql.SQL(_DEDUPE).format(stage=stage, merge=merge)
        deleted = conn.execute(dedupe, {"ids": sorted(seen.repeated)}).rowcount
        result.duplicates_in_batch = max(deleted, 0)
    clock = result.lap("rejections_dedupe", clock)
    loader.locate(stage)
    clock = result.lap("spatial_join", clock)
    # outside_area: the reports this batch stored (inserted or updated) outside every unit
    outside = loader.outside
    if loader.known:  # updates are only possible for ids stored before the batch
        conn.execute(sql.SQL(_QUEUE_OLD_DAYS).format(stage=stage), params)
        coordinated = sql.SQL(_COORDINATED[source]).format(kept=sql.SQL(_KEPT_STORED))
        update = sql.SQL(_UPDATE).format(
            stage=stage, columns=_COLUMNS, values=_updated_values(coordinated)
        )
        result.updated, outside_updated = _count_queued(conn, update, params)
        outside += outside_updated
    insert = sql.SQL(_INSERT_REPORTS).format(columns=_COLUMNS, stage=stage)
    inserted, outside_inserted = _count_queued(conn, insert, params)
    result.inserted = loader.inserted - taken_back + inserted
    result.outside_area = outside + outside_inserted
    if source == "qlue" and loader.known:  # an older "process" snapshot still tells when it began
        backfill = sql.SQL(_BACKFILL_COORDINATION).format(stage=stage)
        backfilled, _ = _count_queued(conn, backfill, params)
        if backfilled > 0:
            adapter.tally.notes["coordination_time_backfilled"] += backfilled
    clock = result.lap("upsert", clock)
    result.unchanged = result.read - result.inserted - result.updated - result.rejected
    result.repaired_by_kind = dict(sorted(adapter.tally.repaired.items()))
    result.notes = dict(sorted(adapter.tally.notes.items()))
    result.redacted = dict(sorted(adapter.tally.redacted.items()))
    conn.execute(sql.SQL("DROP TABLE {}, {}").format(stage, loader.points))
    _finish_run(conn, result)
    conn.commit()
    result.lap("commit", clock)
    return result


def _names(columns: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


_COLUMNS = _names(layout.REPORT_COLUMNS)
_STAGE_COLUMNS = _names(layout.STAGE_COLUMNS)


def _updated_values(coordinated: sql.Composable) -> sql.Composed:
    """The staging row ``s`` as the new values of a report (coordination time merged).

    Staged rows carry this batch's id.
    """
    values = [
        coordinated
        if column == "coordinated_at"
        else sql.SQL("s.{}").format(sql.Identifier(column))
        for column in layout.REPORT_COLUMNS
    ]
    return sql.SQL(", ").join(values)


def _count_queued(
    conn: psycopg.Connection, change: sql.Composed, params: dict[str, Any]
) -> tuple[int, int]:
    """Run an UPDATE/INSERT of reports, queue the days it touched; its rows, and those outside."""
    row = conn.execute(sql.SQL(_QUEUE_DAYS).format(change=change), params).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


@dataclass
class _ChunkRows:
    """What a chunk sends: rows for ``pantau.reports``, held rows for the staging table, and
    the creation days of the former (for the marts)."""

    new: list[bytes | memoryview] = field(default_factory=list)
    staged: list[bytes] = field(default_factory=list)
    days: set[int] = field(default_factory=set)


class _ChunkLoader:
    """Load the encoded rows chunk by chunk while the next files are parsed.

    Rows arrive encoded for binary COPY (:class:`pipelines.ingest_rows.EncodedRows`) and are
    gathered until ``chunk_rows`` (:func:`chunk_rows_for`). Then PostGIS gives the owners of the
    points the lookup could not place (``ST_Covers`` over a small indexed points table), the
    loader completes those rows with their owner's columns, and every row with an id new to the
    table and not repeated so far is COPYed straight into ``pantau.reports``; the held ones are
    COPYed into the staging table for the set-based path. PostgreSQL does this while the
    workers parse the next files, so little is left for after the last one.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        stage: sql.Identifier,
        params: dict[str, Any],
        seen: SeenIds,
    ) -> None:
        self.conn = conn
        self.params = params
        self.seen = seen
        self.copy_reports = sql.SQL("COPY pantau.reports ({}) FROM STDIN (FORMAT binary)").format(
            _COLUMNS
        )
        self.copy_stage = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            stage, _STAGE_COLUMNS
        )
        self.points = staging_table(f"ingest_{params['source']}_points")
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self.points))
        conn.execute(
            sql.SQL(
                "CREATE UNLOGGED TABLE {} (id bigint NOT NULL, geom geometry(Point, 4326) NOT NULL)"
            ).format(self.points)
        )
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(self.points))
        self.copy_points = sql.SQL("COPY {} (id, geom) FROM STDIN (FORMAT binary)").format(
            self.points
        )
        self.areas = layout.area_owners(conn)
        self.owner_columns = layout.OwnerColumns(self.areas)
        # Does the table hold any report of this source? If not (a first load), no id can be
        # known and the per-chunk lookups are skipped.
        self.source_stored = conn.execute(_ANY_STORED, [params["source"]]).fetchone() is not None
        self.known: set[str] = set()  # ids of the batch stored before it
        # the interior-squares lookup (filled by _load for batches parsed by workers)
        self.owners: dict[int, layout.Owner] = {}
        self.parts: list[layout.EncodedRows] = []
        self.rows = 0  # in self.parts
        self.queued_days: set[int] = set()
        self.inserted = 0  # rows inserted by the chunks
        self.outside = 0  # of which outside every unit
        self.seconds = 0.0
        self.chunk_rows = CHUNK_ROWS

    def add(self, rows: layout.EncodedRows) -> None:
        """Encoded rows (a worker's file, or a slice of a batch parsed by the loader)."""
        self.parts.append(rows)
        self.rows += len(rows)
        if self.rows >= self.chunk_rows:
            self.flush()

    def locate(self, rows: sql.Identifier) -> None:
        """Give the rows of ``rows`` without an owner theirs (``_LOCATE``), outside: none."""
        self.conn.execute(sql.SQL("TRUNCATE {}").format(self.points))
        self.conn.execute(sql.SQL(_UNLOCATED_POINTS).format(points=self.points, rows=rows))
        self.conn.execute(sql.SQL("ANALYZE {}").format(self.points))  # the join's plan needs it
        owners = sql.SQL("({})").format(owners_query(self.points))
        self.conn.execute(sql.SQL(_LOCATE).format(rows=rows, codes=codes_query(owners)))

    def flush(self) -> None:
        """Load the gathered rows."""
        if not self.rows:
            return
        clock = time.perf_counter()
        ids = [i for part in self.parts for i in (*part.located.ids, *part.pending.ids)]
        # the ids this batch has not met before this chunk (only asked for when the table holds
        # reports of the source: 6 ms a chunk)
        first_seen = set(ids) - self.seen.ids if self.source_stored else set()
        held = self.seen.update(ids)
        if self.source_stored:
            # ids stored before this batch go the set-based way (update or unchanged): index
            # probes for the ids this batch has not met yet (the others are held anyway)
            found = self.conn.execute(_KNOWN_IDS, [sorted(first_seen), self.params["source"]])
            self.known.update(r[0] for r in found)
            held |= self.known & first_seen
        out = _ChunkRows()
        for part in self.parts:
            self._split_located(part.located, held, out)
        if any(part.pending.ids for part in self.parts):
            self._complete_pending(self._point_owners(), held, out)
        self._copy(self.copy_reports, out.new)
        self._copy(self.copy_stage, out.staged)
        self.parts, self.rows = [], 0
        new_days = out.days - self.queued_days
        if new_days:
            self.conn.execute(_QUEUE_EPOCH_DAYS, [sorted(new_days)])
            self.queued_days |= new_days
        self.seconds += time.perf_counter() - clock

    def _split_located(self, rows: layout.Encoded, held: set[str], out: _ChunkRows) -> None:
        """A part's located rows: the runs between held rows go in as they are."""
        data, offsets, count = memoryview(rows.data), rows.offsets, len(rows.ids)
        held_rows = (
            []
            if held.isdisjoint(rows.ids)
            else [i for i, source_id in enumerate(rows.ids) if source_id in held]
        )
        start = 0
        for i in [*held_rows, count]:
            if i > start:  # the run of rows start .. i - 1
                out.new.append(data[offsets[start] : rows.end(i - 1)])
                out.days.update(rows.days[start:i])
                self.inserted += i - start
            if i < count:
                out.staged.append(layout.staged(rows.seqs[i], data[offsets[i] : rows.end(i)]))
            start = i + 1

    def _point_owners(self) -> dict[int, str]:
        """The owner of each pending point of the chunk, by ``seq`` (none: outside)."""
        self.conn.execute(sql.SQL("TRUNCATE {}").format(self.points))
        self._copy(self.copy_points, [part.points for part in self.parts])
        # no ANALYZE (20 ms a chunk): from the table's size alone the planner takes the same
        # polygon-outer plan for 50 points as for 12,000 (EXPLAIN ANALYZE in bench/README.md)
        found = self.conn.execute(owners_query(self.points)).fetchall()
        return dict(found)

    def _complete_pending(self, owners: dict[int, str], held: set[str], out: _ChunkRows) -> None:
        """The pending rows with their owner's columns: into the table, or staged if held."""
        complete = self.owner_columns.complete
        pieces: list[bytes | memoryview] = []
        for part in self.parts:
            for seq, row, source_id, day in part.pending.rows():
                if source_id in held:  # located with the staging table later
                    out.staged.append(layout.staged(seq, row))
                    continue
                code = owners.get(seq)
                pieces += complete(row, code)
                out.days.add(day)
                self.outside += code is None
                self.inserted += 1
        out.new.append(b"".join(pieces))

    def _copy(self, statement: sql.Composed, payloads: list[Any]) -> None:
        """One binary COPY of the encoded rows (nothing when there are none)."""
        if not any(payloads):
            return
        with self.conn.cursor().copy(statement) as copy:
            copy.write(db.COPY_BINARY_HEADER)
            for payload in payloads:
                copy.write(payload)
            copy.write(db.COPY_BINARY_TRAILER)


def _load(
    loader: _ChunkLoader,
    adapter: Any,
    result: IngestResult,
    progress: bool | None,
) -> list[tuple[Any, Rejection]]:
    """Parse every file and load its rows chunk by chunk; return the rejections."""
    sizes = [path.stat().st_size for path in adapter.files]
    workers = parallel_parse.workers_for(sizes)
    if workers > 1:
        # Fetching the lookup costs ~0.08 s; a batch small enough to be parsed in the loader
        # (under 32 MiB) locates all its points with ST_Covers faster than that.
        loader.owners = interior_lookup(loader.conn, loader.areas.__getitem__)
    bar = tqdm(unit=" rows", disable=None if progress is None else not progress)
    try:
        if workers > 1:
            rejections = _load_parallel(loader, adapter, result, bar, workers, sizes)
        else:
            rejections = _load_serial(loader, adapter, result, bar)
        loader.flush()
        return rejections
    finally:
        bar.close()


def _load_serial(loader: _ChunkLoader, adapter: Any, result: IngestResult, bar: tqdm) -> list[Any]:
    """Parse in this process, one row at a time (memory flat: a chunk at a time)."""
    rejections: list[tuple[Any, Rejection]] = []
    encoder = layout.RowEncoder(loader.owners, loader.params["batch"])
    add, seq = encoder.add, 0
    for path in adapter.files:
        adapter.current_file = path
        for number, data, parsed in adapter.read(path):
            seq += 1
            if isinstance(parsed, Rejection):
                rejections.append((RawRow(path.name, number, data), parsed))
            else:
                add(seq, parsed)
                if len(encoder) == CHUNK_ROWS:
                    loader.add(encoder.take())
            if seq % 10_000 == 0:
                bar.update(10_000)
    loader.add(encoder.take())
    bar.update(seq % 10_000)
    result.read = seq
    return rejections


def _load_parallel(
    loader: _ChunkLoader,
    adapter: Any,
    result: IngestResult,
    bar: tqdm,
    workers: int,
    sizes: list[int],
) -> list[Any]:
    """Parse the files in worker processes; load their encoded rows in file order."""
    rejections: list[tuple[Any, Rejection]] = []
    total = sum(sizes)
    parts = contextlib.closing(  # a failed batch stops the workers at once
        parallel_parse.parse_files(
            adapter.name, adapter.files, workers, loader.owners, loader.params["batch"], total
        )
    )
    # once the last files are being parsed, nothing more is worth waiting for: each part is
    # loaded as it comes, while the workers finish the others (a shorter tail after the last)
    draining = len(adapter.files) - workers
    with parts as each:
        for part in each:
            adapter.current_file = adapter.files[part.index]
            if part.index == 0:  # the batch's size in rows, from its first file's density
                loader.chunk_rows = chunk_rows_for(part.rows * total // max(1, sizes[0]))
            loader.add(part.encoded)
            if part.index >= draining:
                loader.flush()
            rejections += part.rejections
            for counter in ("repaired", "notes", "redacted"):
                getattr(adapter.tally, counter).update(getattr(part.tally, counter))
            result.read += part.rows
            bar.update(part.rows)
    return rejections


class SeenIds:
    """The ids loaded so far, and those met more than once (the only ones to dedupe)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.repeated: set[str] = set()

    def update(self, source_ids: list[str]) -> set[str]:
        """Note a chunk's ids; return those of them known to repeat so far.

        Set operations: about 0.1 s per million ids.
        """
        fresh = set(source_ids)
        held = self.ids & fresh
        if len(fresh) != len(source_ids):
            held.update(i for i, n in Counter(source_ids).items() if n > 1)
        self.repeated |= held
        self.ids |= fresh
        return held


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
