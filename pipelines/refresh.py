"""``pipelines refresh``: bring the marts up to date with ``pantau.reports``.

Every mart row belongs to one creation day (WIB) of its reports, so "what a batch touched" is a
set of days: each ingest queues them in ``pantau.mart_dirty_days`` (the day of every inserted
report, and the old and the new day of every updated one), in the batch's own transaction.
An incremental refresh takes the queue, deletes the mart rows of those days (of their ISO weeks
for the weekly H3 mart) and recomputes them from the reports with the same SELECT that a full
rebuild runs over everything. That is why both give identical tables (tested), and why a day
of 600 new reports refreshes in milliseconds while a full rebuild reads every report.

The refresh takes an EXCLUSIVE lock on the marts (readers are never blocked), so two
refreshes never interleave. A refresh that fails leaves the queue as it was.
"""

from __future__ import annotations

import time as clock
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from geo.errors import PantauError
from geo.settings import TIMEZONE
from geo.sla import SlaTargets, load_targets, sync_targets

#: Day and ISO week (Monday) of a report in Jakarta time.
_DAY = sql.SQL("(r.created_at AT TIME ZONE {tz})::date").format(tz=sql.Literal(TIMEZONE))
_WEEK = sql.SQL("date_trunc('week', r.created_at AT TIME ZONE {tz})::date").format(
    tz=sql.Literal(TIMEZONE)
)
_WIB = ZoneInfo(TIMEZONE)


def _reports_of(days: list[date], length: int, params: dict[str, Any]) -> sql.Composed:
    """The reports created in the given days (or weeks: ``length`` 7), as ``r``.

    Consecutive periods are merged into one span and each span is one range on created_at with
    its instants as parameters, so the planner sees the real bounds: a join with a list of days
    hid them, and a bulk load's 730 days became 730 index scans where one pass over the table
    is cheaper. Adds the bounds to ``params``.
    """
    spans: list[list[date]] = []
    for day in sorted(set(days)):
        end = date.fromordinal(day.toordinal() + length)
        if spans and spans[-1][1] >= day:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([day, end])
    ranges = []
    for i, (start, end) in enumerate(spans):
        lo, hi = f"span{length}_{i}_lo", f"span{length}_{i}_hi"
        params[lo] = datetime.combine(start, time.min, tzinfo=_WIB)
        params[hi] = datetime.combine(end, time.min, tzinfo=_WIB)
        ranges.append(
            sql.SQL("(created_at >= {} AND created_at < {})").format(
                sql.Placeholder(lo), sql.Placeholder(hi)
            )
        )
    where = sql.SQL(" OR ").join(ranges) if ranges else sql.SQL("false")
    return sql.SQL("(SELECT * FROM pantau.reports WHERE {}) AS r").format(where)


_ALL_REPORTS = sql.SQL("pantau.reports AS r")

# Rows are written in day (week) order: a rebuilt mart then keeps each day's rows on a few
# pages, and the incremental refresh that deletes a week touches ~60 pages instead of 4,500
# (after a checkpoint each first touch writes a full-page image: 0.38 s instead of 0.02 s).
# The reports themselves arrive in creation order, so the SLA facts need no sort.
_DAILY = """
INSERT INTO pantau.mart_daily (day, area_code, kelurahan_code, kecamatan_code, kota_code,
                               category, source, status, reports)
SELECT {day}, r.area_code, r.kelurahan_code, r.kecamatan_code, r.kota_code, r.category,
       r.source, r.status, count(*)
FROM {reports}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
ORDER BY 1
"""
_H3_WEEKLY = """
INSERT INTO pantau.mart_h3_weekly (week, res, cell, category, source, reports)
SELECT {week}, g.res, api.h3_cell_to_parent(r.h3_r12, g.res), r.category, r.source, count(*)
FROM {reports} CROSS JOIN (VALUES (7), (8), (9)) AS g(res)
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1
"""
_SLA_FACTS = """
INSERT INTO pantau.mart_sla_facts (source, source_id, day, week, created_at, coordinated_at,
    completed_at, category, status, area_code, kelurahan_code, kecamatan_code, kota_code,
    coordinate_h, complete_h)
SELECT r.source, r.source_id, {day}, {week}, r.created_at, r.coordinated_at, r.completed_at,
       r.category, r.status, r.area_code, r.kelurahan_code, r.kecamatan_code, r.kota_code,
       extract(epoch FROM r.coordinated_at - r.created_at) / 3600.0,
       extract(epoch FROM r.completed_at - r.created_at) / 3600.0
FROM {reports}
"""
_MARTS = ("mart_daily", "mart_h3_weekly", "mart_sla_facts")


@dataclass
class RefreshResult:
    """What a refresh did (``--json`` prints it)."""

    mode: str
    days: int
    weeks: int
    daily_rows: int
    h3_rows: int
    sla_rows: int
    data_up_to: str | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def refresh(conn: psycopg.Connection, *, full: bool = False) -> RefreshResult:
    """Refresh the marts (the queued days, or everything with ``full``) and commit.

    Also synchronises the SLA targets from ``data/sla.toml`` (a broken file stops the refresh
    before anything changes).
    """
    started = clock.perf_counter()
    targets = load_targets()
    try:
        result = _refresh(conn, targets, full=full, started=started)
    except psycopg.Error as exc:
        conn.rollback()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"Refreshing the marts failed, they are unchanged (the queue is kept): {reason}"
        raise PantauError(msg) from exc
    conn.commit()
    if full:
        _vacuum_marts(conn)
    return result


def _vacuum_marts(conn: psycopg.Connection) -> None:
    """VACUUM ANALYZE the rebuilt marts (outside a transaction, as VACUUM must run).

    Fresh statistics, or the planner takes a year of SLA facts for 2,000 rows and sorts on
    disk; and a visibility map, or every query pays for the rebuild's hint bits (measured on
    a million reports: SLA by kelurahan x category 0.78 -> 0.57 s).
    """
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        for table in _MARTS:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier("pantau", table)))
    finally:
        conn.autocommit = autocommit


def _refresh(
    conn: psycopg.Connection, targets: SlaTargets, *, full: bool, started: float
) -> RefreshResult:
    conn.execute(
        sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
            sql.SQL(", ").join(sql.Identifier("pantau", t) for t in _MARTS)
        )
    )
    sync_targets(conn, targets)
    queued = [row[0] for row in conn.execute("DELETE FROM pantau.mart_dirty_days RETURNING day")]
    days = None if full else sorted(set(queued))
    result = _rebuild(conn) if days is None else _refresh_days(conn, days)
    previous = conn.execute(
        "SELECT data_up_to FROM pantau.mart_refreshes ORDER BY refresh_id DESC LIMIT 1"
    ).fetchone()
    up_to = _data_up_to(conn, days, previous[0] if previous else None)
    result.data_up_to = up_to.isoformat() if up_to else None
    result.seconds = round(clock.perf_counter() - started, 3)
    conn.execute(
        "INSERT INTO pantau.mart_refreshes (mode, days, seconds, data_up_to) "
        "VALUES (%s, %s, %s, %s)",
        [result.mode, result.days, result.seconds, up_to],
    )
    return result


def _rebuild(conn: psycopg.Connection) -> RefreshResult:
    conn.execute(
        sql.SQL("TRUNCATE {}").format(
            sql.SQL(", ").join(sql.Identifier("pantau", t) for t in _MARTS)
        )
    )
    counts = _insert_marts(conn, _ALL_REPORTS, _ALL_REPORTS, {})
    days = conn.execute("SELECT count(DISTINCT day) FROM pantau.mart_daily").fetchone()
    weeks = conn.execute("SELECT count(DISTINCT week) FROM pantau.mart_h3_weekly").fetchone()
    return RefreshResult(
        "full", int(days[0] if days else 0), int(weeks[0] if weeks else 0), *counts, None, 0.0
    )


def _refresh_days(conn: psycopg.Connection, days: list[date]) -> RefreshResult:
    weeks = sorted({date.fromordinal(d.toordinal() - d.weekday()) for d in days})
    params = {"days": days, "weeks": weeks}
    if days:
        conn.execute("DELETE FROM pantau.mart_daily WHERE day = ANY(%(days)s)", params)
        conn.execute("DELETE FROM pantau.mart_sla_facts WHERE day = ANY(%(days)s)", params)
        conn.execute("DELETE FROM pantau.mart_h3_weekly WHERE week = ANY(%(weeks)s)", params)
        of_days = _reports_of(days, 1, params)
        counts = _insert_marts(conn, of_days, _reports_of(weeks, 7, params), params)
    else:
        counts = (0, 0, 0)
    return RefreshResult("incremental", len(days), len(weeks), *counts, None, 0.0)


def _insert_marts(
    conn: psycopg.Connection,
    of_days: sql.Composable,
    of_weeks: sql.Composable,
    params: dict[str, Any],
) -> tuple[int, int, int]:
    daily = conn.execute(sql.SQL(_DAILY).format(day=_DAY, reports=of_days), params).rowcount
    h3 = conn.execute(sql.SQL(_H3_WEEKLY).format(week=_WEEK, reports=of_weeks), params).rowcount
    facts = conn.execute(
        sql.SQL(_SLA_FACTS).format(day=_DAY, week=_WEEK, reports=of_days), params
    ).rowcount
    return max(daily, 0), max(h3, 0), max(facts, 0)


def _data_up_to(conn: psycopg.Connection, days: list[date] | None, previous: Any) -> Any:
    """The latest ``updated_at`` in the marts: of every report (``days`` None), or of the
    refreshed days' reports and what was known before (an updated report's day is refreshed,
    so its new ``updated_at`` is among them)."""
    if days is None:
        row = conn.execute("SELECT max(updated_at) FROM pantau.reports").fetchone()
        return row[0] if row else None
    params: dict[str, Any] = {}
    row = conn.execute(
        sql.SQL("SELECT max(r.updated_at) FROM {}").format(_reports_of(days, 1, params)), params
    ).fetchone()
    candidates = [v for v in (previous, row[0] if row else None) if v is not None]
    return max(candidates) if candidates else None
