"""Refresh and analytics benchmarks on a database holding a million generated reports.

Both use the ``pantau_bench`` database of the ingest benchmark. When it already holds the
feeds of this size and seed (both sources ingested, e.g. by ``python -m bench ingest``) it is
reused; otherwise it is created and loaded first (about a minute, not part of any figure).

``refresh``: ``refresh --full`` over everything, then one more day of about 600 reports is
generated and ingested (the marts are not refreshed by that ingest) and the incremental
refresh of what it touched is timed: the ratio of the two is the point.

``analytics``: Gi* on every res-9 cell of Jakarta, emerging hot spots over 104 weeks at res 8,
SLA by kelurahan x category for a year, each timed cold (first call of the process: study
area and weights computed) and warm (the dashboard's case: those are cached).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg

from bench.ingest import feeds, prepare_database
from bench.report import emit
from geo import db
from geo.errors import PantauError
from geo.settings import READER_ROLE, get_settings
from pipelines.ingest import ingest
from pipelines.refresh import refresh

BENCH_DB = "pantau_bench"
EXTRA_DAY = date(2025, 1, 1)
EXTRA_DAY_START = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=7)))
JAKI_ID_OFFSET = 50_000_000  # the extra day's JAKI ids must not collide with the loaded ones


def ensure_loaded(reports: int, seed: int) -> str:
    """The writer URL of a bench database holding the generated feeds (loaded if needed)."""
    folder = feeds(reports, seed)
    admin = db.with_dbname(db.admin_url(get_settings()), BENCH_DB)
    writer = db.with_user(admin, "pantau_writer")
    try:
        with db.connect(writer) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'succeeded' AND files[1] LIKE %s), "
                "(SELECT count(*) FROM pantau.mart_refreshes) FROM pantau.ingest_runs",
                [f"{folder}/%"],
            ).fetchone()
        if row and row[0] >= 2:
            if not row[1]:
                with db.connect(writer) as conn:
                    refresh(conn, full=True)
            return writer
    except (PantauError, psycopg.Error):  # no bench database yet, or an older schema
        pass
    writer = prepare_database()
    for source in ("jaki", "qlue"):
        ingest(source, [folder / source], url=writer, progress=False, refresh_marts=False)
    with db.connect(writer) as conn:
        refresh(conn, full=True)
    return writer


def _one_more_day(folder: Path, seed: int) -> Path:
    """Feeds of 2025-01-01 (about 600 reports) with JAKI ids moved past the loaded ones."""
    from pipelines.simulate.generate import Options, simulate

    simulate(
        Options(
            start=EXTRA_DAY,
            end=EXTRA_DAY,
            seed=seed + 1,
            out=folder,
            per_day=480,  # about 600 in January (rainy season)
            defects=0.02,
            progress=False,
        )
    )
    for path in (folder / "jaki").glob("*.jsonl"):
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                lines.append(line)  # a planted malformed line stays malformed
                continue
            if isinstance(obj, dict) and isinstance(obj.get("id"), int):
                obj["id"] += JAKI_ID_OFFSET
            lines.append(json.dumps(obj))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def run_refresh(*, reports: int, seed: int, as_json: bool) -> dict[str, Any]:
    """Full rebuild against the incremental refresh of one new day."""
    writer = ensure_loaded(reports, seed)
    with db.connect(writer) as conn:  # the extra day of an earlier run goes first
        conn.execute("DELETE FROM pantau.reports WHERE created_at >= %s", [EXTRA_DAY_START])
        conn.commit()
        full = refresh(conn, full=True)
        loaded = conn.execute("SELECT count(*) FROM pantau.reports").fetchone()
    with tempfile.TemporaryDirectory() as tmp:
        day = _one_more_day(Path(tmp) / "day", seed)
        batches = [
            ingest(src, [day / src], url=writer, progress=False, refresh_marts=False)
            for src in ("jaki", "qlue")
        ]
    with db.connect(writer) as conn:
        t0 = time.perf_counter()
        incremental = refresh(conn)
        seconds = time.perf_counter() - t0
    new = sum(b.inserted + b.updated for b in batches)
    ratio = full.seconds / seconds
    result = {
        "benchmark": "refresh",
        "reports_loaded": int(loaded[0]) if loaded else 0,
        "new_reports": new,
        "full_seconds": full.seconds,
        "incremental_seconds": round(seconds, 4),
        "speedup": round(ratio, 1),
        "incremental": incremental.as_dict(),
        "full": full.as_dict(),
    }
    rows = [
        ("reports loaded", f"{result['reports_loaded']:,}"),
        ("refresh --full", f"{full.seconds:.2f} s ({full.days:,} days, {full.h3_rows:,} H3 rows)"),
        ("one more day ingested", f"{new:,} reports"),
        (
            "incremental refresh",
            f"{seconds:.3f} s ({incremental.days} day(s), {incremental.weeks} week(s)) "
            "(target <= 1 s)",
        ),
        ("full / incremental", f"{ratio:,.0f}x (target >= 50x)"),
    ]
    emit("Marts refresh: one new day against a full rebuild", rows, result, as_json=as_json)
    return result


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def run_analytics(*, reports: int, seed: int, as_json: bool) -> dict[str, Any]:
    """Gi* res 9, emerging res 8 x 104 weeks, SLA kelurahan x category for a year."""
    from geo.analytics import Filters, emerging_cells, hotspot_cells
    from geo.sla import Period, sla_summary

    writer = ensure_loaded(reports, seed)
    reader = db.with_user(writer, READER_ROLE)
    weeks = Filters(start=date(2023, 1, 2), end=date(2024, 12, 29))  # 104 whole weeks
    figures: dict[str, dict[str, float]] = {}
    with db.connect(reader) as conn:
        up_to = conn.execute("SELECT max(data_up_to) FROM api.mart_refreshes").fetchone()
        year = Period(date(2024, 1, 1), date(2024, 12, 31), up_to[0] if up_to else None)  # type: ignore[arg-type]
        cases = {
            "gi_star_res9": lambda: hotspot_cells(conn, res=9, k=1),
            "emerging_res8_104_weeks": lambda: emerging_cells(
                conn, res=8, step="week", filters=weeks
            ),
            "sla_kelurahan_x_category_year": lambda: sla_summary(
                conn, year, level="kelurahan", by="category"
            ),
        }
        sizes = {}
        for name, fn in cases.items():
            frame, cold = _timed(fn)
            _, warm = _timed(fn)
            _, warm2 = _timed(fn)
            figures[name] = {"cold_s": round(cold, 3), "warm_s": round(min(warm, warm2), 3)}
            sizes[name] = len(frame)
    targets = {
        "gi_star_res9": 1.0,
        "emerging_res8_104_weeks": 5.0,
        "sla_kelurahan_x_category_year": 1.0,
    }
    result = {"benchmark": "analytics", "figures": figures, "rows": sizes, "targets_s": targets}
    rows = [
        (
            f"{name} ({sizes[name]:,} rows)",
            f"warm {f['warm_s']:.3f} s, cold {f['cold_s']:.3f} s (target <= {targets[name]:g} s)",
        )
        for name, f in figures.items()
    ]
    emit("Analytics on 1,000,000 reports", rows, result, as_json=as_json)
    return result
