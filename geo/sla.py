"""Service levels of Governor Regulation (Pergub) 128/2017: coordinate in 6 h, complete in 7 days.

The targets are data (``data/sla.toml``: a default and per-category overrides), synchronised
into ``pantau.sla_targets`` by every refresh. The per-report facts (hours to coordinate and to
complete) are a mart; the *state* of a report depends on the targets and on the moment it is
judged at, so it is computed here, in SQL, when asked:

=================  ==========================================================================
state              meaning (for each of the two targets)
=================  ==========================================================================
``met``            the event happened within the target
``breached``       the event happened, later than the target
``open_within``    not happened yet, and the report is younger than the target
``open_overdue``   not happened yet, and the report is older than the target
``unknown``        coordination only: the report moved on but the feed never said when (a Qlue
                   report first seen completed, a JAKI report without history)
=================  ==========================================================================

Shares within a target are ``met / (met + breached + open_overdue)``: an open report inside its
target has not been decided yet, an overdue one can no longer be met, an unknown time is not
counted either way. Medians and 90th percentiles (``percentile_cont``) are over the reports
whose event happened. "Judged at" defaults to the data's latest update (``data_up_to`` of the
last refresh), so a report still open when the feed ends is open, not overdue since the feed
stopped.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

from geo.db import read_frame
from geo.errors import PantauError
from geo.settings import REPO_ROOT
from geo.taxonomy import load_taxonomy

SLA_FILE = REPO_ROOT / "data" / "sla.toml"
LEVELS = ("kota", "kecamatan", "kelurahan")
GROUPINGS = ("category", "week")
#: Columns of :func:`sla_summary` (and of ``pipelines sla``), in order.
SUMMARY_COLUMNS = [
    "reports",
    "median_coordinate_h",
    "p90_coordinate_h",
    "within_coordinate_pct",
    "median_complete_h",
    "p90_complete_h",
    "within_complete_pct",
    "open_overdue",
]
#: A target longer than ten years is a typo (and ``inf`` would overflow PostgreSQL intervals).
MAX_TARGET_HOURS = 87_600
#: Age buckets of the open overdue backlog (days since the report was created).
AGE_BUCKETS = (("7-14 hari", 7, 14), ("14-30 hari", 14, 30), ("30-90 hari", 30, 90))


class SlaConfigError(PantauError):
    """``data/sla.toml`` is missing, malformed or names an unknown category."""


@dataclass(frozen=True)
class SlaTargets:
    """Targets in hours: a default pair and per-category overrides."""

    coordinate_h: float
    complete_h: float
    overrides: dict[str, dict[str, float]] = field(default_factory=dict)

    def for_category(self, category: str) -> tuple[float, float]:
        """(coordinate, complete) hours for ``category``."""
        own = self.overrides.get(category, {})
        return own.get("coordinate_h", self.coordinate_h), own.get("complete_h", self.complete_h)

    def rows(self) -> list[tuple[str, float, float]]:
        """Rows of ``pantau.sla_targets``: ``*`` for the default, then each override."""
        return [("*", self.coordinate_h, self.complete_h)] + [
            (cat, *self.for_category(cat)) for cat in sorted(self.overrides)
        ]


def load_targets(path: Path | None = None) -> SlaTargets:
    """Read and check the SLA file (hours must be positive numbers, categories known)."""
    path = path or SLA_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"SLA targets file not found: {path}"
        raise SlaConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path} is not valid TOML: {exc}"
        raise SlaConfigError(msg) from None
    default = data.get("default")
    if not isinstance(default, dict):
        msg = f"{path}: a [default] table with coordinate_hours and complete_hours is required."
        raise SlaConfigError(msg)
    coordinate = _hours(default, "coordinate_hours", path, "default", required=True)
    complete = _hours(default, "complete_hours", path, "default", required=True)
    known = load_taxonomy().categories
    overrides: dict[str, dict[str, float]] = {}
    categories = data.get("category", {})
    if not isinstance(categories, dict):
        msg = f"{path}: category must be tables such as [category.sampah], not {categories!r}."
        raise SlaConfigError(msg)
    for category, table in categories.items():
        if category not in known:
            msg = (
                f"{path}: [category.{category}] is not a canonical category "
                f"(data/taxonomy/categories.csv: {', '.join(sorted(known))})."
            )
            raise SlaConfigError(msg)
        if not isinstance(table, dict):
            msg = f"{path}: [category.{category}] must be a table."
            raise SlaConfigError(msg)
        keys = (("coordinate_h", "coordinate_hours"), ("complete_h", "complete_hours"))
        own = {
            key: value
            for key, name in keys
            if (value := _hours(table, name, path, category, required=False)) is not None
        }
        overrides[category] = own
    unknown_keys = set(data) - {"default", "category"}
    if unknown_keys:
        msg = f"{path}: unknown table(s) {', '.join(sorted(unknown_keys))}."
        raise SlaConfigError(msg)
    return SlaTargets(coordinate, complete, overrides)  # type: ignore[arg-type]


def _hours(
    table: dict[str, Any], key: str, path: Path, where: str, *, required: bool
) -> float | None:
    extra = set(table) - {"coordinate_hours", "complete_hours"}
    if extra:
        msg = f"{path}: [{where}] has unknown key(s) {', '.join(sorted(extra))}."
        raise SlaConfigError(msg)
    value = table.get(key)
    if value is None:
        if required:
            msg = f"{path}: [{where}] needs {key}."
            raise SlaConfigError(msg)
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_TARGET_HOURS
    ):
        msg = (
            f"{path}: [{where}] {key} must be a number of hours above 0 and at most "
            f"{MAX_TARGET_HOURS:,} (ten years), not {value!r}."
        )
        raise SlaConfigError(msg)
    return float(value)


def sync_targets(conn: psycopg.Connection, targets: SlaTargets) -> None:
    """Make ``pantau.sla_targets`` equal to ``targets`` (in the caller's transaction)."""
    conn.execute("DELETE FROM pantau.sla_targets")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO pantau.sla_targets (category, coordinate_h, complete_h) "
            "VALUES (%s, %s, %s)",
            targets.rows(),
        )


# The facts of the period with their targets and their two states, judged at %(as_of)s.
_STATES = """
SELECT {columns}, tg.coordinate_target, tg.complete_target,
    CASE
        WHEN f.coordinate_h IS NOT NULL THEN
            CASE WHEN f.coordinate_h <= tg.coordinate_target THEN 'met' ELSE 'breached' END
        WHEN f.status <> 'received' THEN 'unknown'
        WHEN %(as_of)s - f.created_at > tg.coordinate_target * interval '1 hour'
            THEN 'open_overdue'
        ELSE 'open_within'
    END AS coordinate_state,
    CASE
        WHEN f.complete_h IS NOT NULL THEN
            CASE WHEN f.complete_h <= tg.complete_target THEN 'met' ELSE 'breached' END
        WHEN %(as_of)s - f.created_at > tg.complete_target * interval '1 hour'
            THEN 'open_overdue'
        ELSE 'open_within'
    END AS complete_state
FROM api.sla_facts AS f
CROSS JOIN (
    SELECT coordinate_h AS coordinate_default, complete_h AS complete_default
    FROM api.sla_targets WHERE category = '*'
) AS d
LEFT JOIN api.sla_targets AS c ON c.category = f.category
CROSS JOIN LATERAL (
    SELECT COALESCE(c.coordinate_h, d.coordinate_default) AS coordinate_target,
           COALESCE(c.complete_h, d.complete_default) AS complete_target
) AS tg
WHERE f.day >= %(start)s AND f.day <= %(end)s AND f.{code} IS NOT NULL
  AND (%(categories)s::text[] IS NULL OR f.category = ANY(%(categories)s))
  AND (%(sources)s::text[] IS NULL OR f.source = ANY(%(sources)s))
  AND (%(statuses)s::text[] IS NULL OR f.status = ANY(%(statuses)s))
"""
_SUMMARY = """
WITH s AS ({states})
SELECT s.{code} AS code{by_select},
    count(*) AS reports,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY s.coordinate_h) AS median_coordinate_h,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY s.coordinate_h) AS p90_coordinate_h,
    100.0 * count(*) FILTER (WHERE s.coordinate_state = 'met')
        / NULLIF(count(*) FILTER (
            WHERE s.coordinate_state IN ('met', 'breached', 'open_overdue')), 0)
        AS within_coordinate_pct,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY s.complete_h) AS median_complete_h,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY s.complete_h) AS p90_complete_h,
    100.0 * count(*) FILTER (WHERE s.complete_state = 'met')
        / NULLIF(count(*) FILTER (
            WHERE s.complete_state IN ('met', 'breached', 'open_overdue')), 0)
        AS within_complete_pct,
    count(*) FILTER (WHERE s.complete_state = 'open_overdue') AS open_overdue
FROM s
GROUP BY s.{code}{by_group}
"""


@dataclass(frozen=True)
class Period:
    """Creation days (WIB, inclusive), the moment states are judged at, optional filters.

    Empty ``categories``, ``sources`` or ``statuses`` mean all.
    """

    start: date
    end: date
    as_of: datetime
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


def resolve_period(
    conn: psycopg.Connection,
    start: date | None = None,
    end: date | None = None,
    as_of: datetime | None = None,
    *,
    categories: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    statuses: tuple[str, ...] = (),
) -> Period:
    """Fill open ends from the data: first and last report day, and ``data_up_to``."""
    row = conn.execute("SELECT min(day), max(day) FROM api.daily_counts").fetchone() or (None, None)
    first, last = row
    if as_of is None:
        up_to = conn.execute(
            "SELECT data_up_to FROM api.mart_refreshes ORDER BY refresh_id DESC LIMIT 1"
        ).fetchone()
        as_of = up_to[0] if up_to and up_to[0] is not None else datetime.now().astimezone()
    start = start or first or date.today()
    end = end or last or date.today()
    if end < start:
        msg = f"The period ends ({end}) before it starts ({start})."
        raise PantauError(msg)
    return Period(start, end, as_of, tuple(categories), tuple(sources), tuple(statuses))


def _check_level(level: str, by: str | None) -> sql.Identifier:
    if level not in LEVELS:
        msg = f"Unknown level {level!r}: use {', '.join(LEVELS)}."
        raise PantauError(msg)
    if by is not None and by not in GROUPINGS:
        msg = f"Unknown grouping {by!r}: use {' or '.join(GROUPINGS)}."
        raise PantauError(msg)
    return sql.Identifier(f"{level}_code")


def report_states(
    conn: psycopg.Connection, period: Period, *, level: str = "kelurahan"
) -> pd.DataFrame:
    """One row per report of the period: facts, targets and the two states."""
    code = _check_level(level, None)
    query = sql.SQL(_STATES).format(code=code, columns=sql.SQL("f.*"))
    return read_frame(conn, query, _params(period))


def sla_summary(
    conn: psycopg.Connection, period: Period, *, level: str, by: str | None = None
) -> pd.DataFrame:
    """SLA per area of ``level`` (x category or x week) for the period.

    Columns: ``code, name, [category|week],`` then :data:`SUMMARY_COLUMNS`. Without ``by``
    every area of the level is listed, those without reports with 0 reports.
    """
    code = _check_level(level, by)
    by_col = sql.Identifier(by) if by else None
    # Only the columns the aggregates need: a narrow sort stays in memory.
    columns = sql.SQL(", ").join(
        sql.SQL("f.{}").format(sql.Identifier(c))
        for c in (f"{level}_code", "category", "week", "coordinate_h", "complete_h")
    )
    query = sql.SQL(_SUMMARY).format(
        states=sql.SQL(_STATES).format(code=code, columns=columns),
        code=code,
        by_select=sql.SQL(", s.{} AS {}").format(by_col, by_col) if by_col else sql.SQL(""),
        by_group=sql.SQL(", s.{}").format(by_col) if by_col else sql.SQL(""),
    )
    with room_to_sort(conn):
        stats = read_frame(conn, query, _params(period))
    areas = read_frame(
        conn,
        "SELECT code, name FROM api.admin_areas WHERE level = %s AND NOT is_placeholder",
        [level],
    )
    keys = ["code", by] if by else ["code"]
    if by:
        frame = stats.merge(areas, on="code", how="left")
    else:
        frame = areas.merge(stats, on="code", how="left")
        frame["reports"] = frame["reports"].fillna(0)
        frame["open_overdue"] = frame["open_overdue"].fillna(0)
    frame = frame[["code", "name", *keys[1:], *SUMMARY_COLUMNS]]
    for column in ("reports", "open_overdue"):
        frame[column] = frame[column].astype("int64")
    for column in SUMMARY_COLUMNS:  # hours to 0.01 h (36 s), shares to 0.1 point
        if column not in ("reports", "open_overdue"):
            digits = 1 if column.endswith("_pct") else 2
            frame[column] = pd.to_numeric(frame[column]).astype("float64").round(digits)
    return frame.sort_values(keys).reset_index(drop=True)


def overdue_backlog(conn: psycopg.Connection, period: Period, *, level: str) -> pd.DataFrame:
    """Open overdue reports (completion target passed) per area, by age since creation.

    Columns: ``code, name, open_overdue``, then ``< 7 hari``, one column per bucket of
    :data:`AGE_BUCKETS` and ``> 90 hari``; the buckets add up to ``open_overdue``. A report
    enters the backlog when its completion target passes (7 days by default), so ``< 7 hari``
    stays empty unless a category has a shorter target.
    """
    code = _check_level(level, None)
    buckets = [
        sql.SQL(
            "count(*) FILTER (WHERE age >= {lo} * interval '1 day' "
            "AND age < {hi} * interval '1 day') AS {name}"
        ).format(lo=sql.Literal(lo), hi=sql.Literal(hi), name=sql.Identifier(name))
        for name, lo, hi in AGE_BUCKETS
    ]
    last = AGE_BUCKETS[-1][2]
    query = sql.SQL(
        """
        WITH s AS ({states}), o AS (
            SELECT s.{code} AS code, %(as_of)s - s.created_at AS age
            FROM s WHERE s.complete_state = 'open_overdue'
        )
        SELECT o.code, count(*) AS open_overdue,
               count(*) FILTER (WHERE age < {first} * interval '1 day') AS {below},
               {buckets},
               count(*) FILTER (WHERE age >= {last} * interval '1 day') AS {above}
        FROM o GROUP BY o.code
        """
    ).format(
        states=sql.SQL(_STATES).format(code=code, columns=sql.SQL("f.*")),
        code=code,
        first=sql.Literal(AGE_BUCKETS[0][1]),
        below=sql.Identifier(f"< {AGE_BUCKETS[0][1]} hari"),
        buckets=sql.SQL(", ").join(buckets),
        last=sql.Literal(last),
        above=sql.Identifier(f"> {last} hari"),
    )
    stats = read_frame(conn, query, _params(period))
    areas = read_frame(
        conn,
        "SELECT code, name FROM api.admin_areas WHERE level = %s AND NOT is_placeholder",
        [level],
    )
    frame = stats.merge(areas, on="code", how="left")
    columns = ["code", "name", *[c for c in stats.columns if c != "code"]]
    return frame[columns].sort_values("open_overdue", ascending=False).reset_index(drop=True)


@contextmanager
def room_to_sort(conn: psycopg.Connection) -> Iterator[None]:
    """Settings for the percentile queries, for their transaction only.

    Percentiles sort up to a year of facts per area: ``work_mem`` keeps the sort in memory
    (64 MB), and cheaper parallel costs let the planner split the scan and the sort between
    two workers (measured on a million reports, kelurahan x category for a year: 0.80 ->
    0.66 s). In its own transaction on an autocommit connection (the dashboard's); inside the
    caller's transaction otherwise (a savepoint), where the settings last until it ends.
    """
    with conn.transaction():
        conn.execute("SET LOCAL work_mem = '64MB'")
        conn.execute("SET LOCAL parallel_setup_cost = 100")
        conn.execute("SET LOCAL parallel_tuple_cost = 0.001")
        yield


def _params(period: Period) -> dict[str, Any]:
    return {
        "start": period.start,
        "end": period.end,
        "as_of": period.as_of,
        "categories": list(period.categories) or None,
        "sources": list(period.sources) or None,
        "statuses": list(period.statuses) or None,
    }
