"""Ingest benchmark: generated feeds end to end into PostGIS, against a plain COPY floor.

A separate database (``pantau_bench``) is created, migrated and loaded with the BPS 2020
boundaries, so the benchmark never touches the demo data. The feeds (both sources, two years,
2 % defects) are generated once per size and seed and kept in ``.cache/bench/``.

End to end means what ``pipelines ingest`` does: read and parse both sources' files,
validate, redact, compute H3, find owners, COPY into ``pantau.reports``, dedupe and upsert the
repeats, log. The floor, measured in the same run, is a plain COPY of the same canonical rows
(exported from ``pantau.reports`` after the ingest) into an unindexed table: an ordinary table,
written to the WAL like ``pantau.reports``, so that the ratio measures what the ingest adds
(parsing, checks, owners, indexes, upsert), not the durability both need. A COPY into an
unlogged table, which skips the WAL (and could never hold the reports), is printed beside it.

Each batch also reports where its CPU went: the loader process, its parsing workers, and the
PostgreSQL server's processes (read from ``/proc``; only when the server runs on this machine,
and every cluster running on it counts).
On two cores the ingest is CPU-bound, so these say what a change must cut.
"""

from __future__ import annotations

import io
import os
import resource
import time
from datetime import date
from pathlib import Path

from psycopg import sql

from bench.report import emit
from geo import db
from geo.settings import WRITER_ROLE, get_settings
from pipelines.boundaries.load import file_provenance, load_boundaries
from pipelines.boundaries.read import read_boundaries
from pipelines.boundaries.sources import (
    default_boundary_source,
    entry_for_checksum,
    fetch,
    sha256_of,
)
from pipelines.cluster import ensure_database
from pipelines.ingest import IngestResult, ingest
from pipelines.migrate import migrate
from pipelines.simulate.generate import Options, simulate

BENCH_DB = "pantau_bench"
FLOOR_COLUMNS = (
    "source, source_id, ticket_code, category, source_category, status, source_status, "
    "created_at, coordinated_at, completed_at, updated_at, agency, geom, h3_r12, area_code, "
    "kelurahan_code, kecamatan_code, kota_code, outside, photo_url, photo_done_url, text_redacted"
)


def prepare_database() -> str:
    """A fresh, migrated bench database with the official boundaries; its writer URL."""
    settings = get_settings()
    admin = db.admin_url(settings)
    with db.connect(db.with_dbname(admin, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
        )
    ensure_database(db.with_dbname(admin, "postgres"), BENCH_DB)
    bench_admin = db.with_dbname(admin, BENCH_DB)
    migrate(bench_admin)
    writer = db.with_user(bench_admin, WRITER_ROLE)
    path = fetch(default_boundary_source(), settings)
    boundaries = read_boundaries(path)
    checksum = sha256_of(path)
    with db.connect(writer) as conn:
        load_boundaries(
            conn,
            boundaries,
            file_provenance(path, checksum, boundaries, entry_for_checksum(checksum)),
        )
    return writer


def feeds(reports: int, seed: int) -> Path:
    """Generated feeds for this size and seed (made once, then reused from the cache)."""
    folder = get_settings().cache_dir / "bench" / f"feeds-{reports}-seed{seed}"
    if not (folder / "manifest.json").exists():
        simulate(
            Options(
                start=date(2023, 1, 1),
                end=date(2024, 12, 31),
                seed=seed,
                out=folder,
                reports=reports,
                defects=0.02,
                progress=False,
            )
        )
    return folder


#: Each floor is measured this many times, the two kinds alternating, and the fastest kept.
FLOOR_ROUNDS = 2
_CREATE_FLOOR = "CREATE {} pantau_staging.floor AS SELECT {} FROM pantau.reports WITH NO DATA"


def _floor(writer: str) -> tuple[int, float, float]:
    """Plain COPY of the loaded canonical rows into an unindexed table, and an unlogged one.

    The table exists (committed) before the COPY, as ``pantau.reports`` does, so no server
    setting (``wal_level = minimal`` skips the WAL of a table created in the same transaction)
    changes what is measured; the timing includes the commit, as the ingest's does. Returns the
    rows and the fastest seconds of each kind (ordinary table, unlogged).
    """
    with db.connect(writer) as conn:
        buffer = io.BytesIO()
        with conn.cursor().copy(
            sql.SQL("COPY (SELECT {} FROM pantau.reports) TO STDOUT").format(sql.SQL(FLOOR_COLUMNS))
        ) as copy:
            for block in copy:
                buffer.write(block)
        rows = conn.execute("SELECT count(*) FROM pantau.reports").fetchone()
        conn.commit()
        data = buffer.getvalue()
        seconds: dict[str, list[float]] = {"TABLE": [], "UNLOGGED TABLE": []}
        for round_ in range(FLOOR_ROUNDS):
            for kind in sorted(seconds, reverse=round_ % 2 == 1):
                conn.execute(sql.SQL(_CREATE_FLOOR).format(sql.SQL(kind), sql.SQL(FLOOR_COLUMNS)))
                conn.commit()
                t0 = time.perf_counter()
                with conn.cursor().copy("COPY pantau_staging.floor FROM STDIN") as copy:
                    for start in range(0, len(data), 1 << 20):
                        copy.write(data[start : start + (1 << 20)])
                conn.commit()
                seconds[kind].append(time.perf_counter() - t0)
                conn.execute("DROP TABLE pantau_staging.floor")
                conn.commit()
    return int(rows[0] if rows else 0), min(seconds["TABLE"]), min(seconds["UNLOGGED TABLE"])


def run(*, reports: int, seed: int, as_json: bool) -> dict[str, object]:
    """Generate (or reuse) the feeds, ingest both sources, measure the floor, print."""
    folder = feeds(reports, seed)
    writer = prepare_database()
    results, cpu = {}, {}
    t0 = time.perf_counter()
    for src in ("jaki", "qlue"):
        before = _cpu_seconds()
        results[src] = ingest(src, [folder / src], url=writer, progress=False, refresh_marts=False)
        cpu[src] = {k: round(v - before[k], 2) for k, v in _cpu_seconds().items()}
    seconds = time.perf_counter() - t0
    read = sum(r.read for r in results.values())
    loaded, floor_s, unlogged_s = _floor(writer)
    rate, floor_rate, unlogged_rate = read / seconds, loaded / floor_s, loaded / unlogged_s
    # the ratio compares the times of the same rows: the loaded ones (the ingest also reads the
    # rejected ones, which its reports/s counts)
    ratio, unlogged_ratio = floor_s / seconds, unlogged_s / seconds
    stages: dict[str, float] = {}
    for r in results.values():
        for stage, s in r.timings.items():
            stages[stage] = round(stages.get(stage, 0.0) + s, 3)
    result = {
        "benchmark": "ingest",
        "reports": reports,
        "read": read,
        "seconds": round(seconds, 2),
        "reports_per_s": round(rate),
        "floor_rows": loaded,
        "floor_seconds": round(floor_s, 2),
        "floor_rows_per_s": round(floor_rate),
        "ratio_to_floor": round(ratio, 3),
        "unlogged_floor_seconds": round(unlogged_s, 2),
        "ratio_to_unlogged_floor": round(unlogged_ratio, 3),
        "stages": stages,
        "cpu_seconds": cpu,
        "batches": {k: v.as_dict() for k, v in results.items()},
    }
    rows = [
        ("rows read (both sources)", f"{read:,}"),
        *(
            (f"{src}: inserted / rejected", f"{r.inserted:,} / {r.rejected:,}")
            for src, r in results.items()
        ),
        ("end to end", f"{seconds:.1f} s = {rate:,.0f} reports/s (target >= 100,000)"),
        *(
            (f"  {src}: seconds; CPU s of loader, workers, PostgreSQL", _cpu_line(r, cpu[src]))
            for src, r in results.items()
        ),
        *((f"  stage {k}", f"{v:.2f} s") for k, v in stages.items()),
        (
            f"plain COPY of the same canonical rows (fastest of {FLOOR_ROUNDS})",
            f"{floor_s:.2f} s = {floor_rate:,.0f} rows/s",
        ),
        ("ingest / plain COPY (same rows)", f"{ratio:.3f} (target >= 0.3)"),
        (
            "  the same COPY into an unlogged table",
            f"{unlogged_s:.2f} s = {unlogged_rate:,.0f} rows/s; ingest / it: {unlogged_ratio:.3f}",
        ),
    ]
    emit(
        "Ingest end to end (generated 2023-2024 feeds, 2 % defects)", rows, result, as_json=as_json
    )
    return result


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this process, its ended workers, and the local PostgreSQL server."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "loader": me.ru_utime + me.ru_stime,
        "workers": workers.ru_utime + workers.ru_stime,
        "postgres": _postgres_cpu_seconds(),
    }


def _postgres_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL servers on this machine (Linux ``/proc``; else 0).

    Every process named ``postgres``: its own time, and that of its ended children (the
    server's backends and parallel workers, counted by the postmaster once it reaps them).
    """
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        name, _, rest = text.partition(" (")[2].rpartition(") ")
        if name == "postgres":
            fields = rest.split()  # from field 3 (state): utime, stime, cutime, cstime = 14-17
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def _cpu_line(result: IngestResult, cpu: dict[str, float]) -> str:
    postgres = f"{cpu['postgres']:.1f}" if cpu["postgres"] > 0 else "n/a (remote server)"
    return f"{result.seconds:.1f} s; {cpu['loader']:.1f}, {cpu['workers']:.1f}, {postgres}"
