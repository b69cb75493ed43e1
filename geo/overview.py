"""What the dashboard's Overview and Area pages show: KPIs, sub-areas, categories, trend, rank.

Every function answers for a :class:`Scope` (all of Jakarta, or one kota, kecamatan or
kelurahan given by its BPS code) and a :class:`geo.analytics.Filters` (creation days in WIB,
categories, sources, current statuses), reads only the ``api`` views (the dashboard connects as
the read-only ``pantau_reader``) and returns plain dicts or DataFrames.

Where the numbers come from, and why:

- **Counts** (reports, completed, per category, per day) come from the daily mart
  ``api.daily_counts``: exact creation days, already summed per area.
- **Service levels** come from the per-report facts ``api.sla_facts`` through
  :mod:`geo.sla`'s own SQL (``_STATES`` for the state of each report, ``_SUMMARY`` for the
  KPI aggregates), so the Overview shows the numbers the SLA page and ``pipelines sla`` show,
  rounded the same way (hours to 0.01 h, shares to 0.1 point). States are judged at ``as_of``,
  by default the data's latest update (:func:`data_up_to`).
- **The city** is every report inside Jakarta (``kota_code`` set): reports outside the
  province or at sea are in neither the city nor any area. Sub-areas need not add up to their
  scope: a report in a placeholder unit (a lake) belongs to its kota (and kecamatan, where
  the unit has one) but to no kelurahan.

The period is always made concrete first (:func:`resolve_filters`: open ends from the data),
so every query gets a plain day range and the previous period (:func:`previous_period`) is
well defined.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from geo.analytics import AREA_LEVELS, Filters
from geo.db import read_frame
from geo.errors import PantauError
from geo.sla import _STATES, _SUMMARY, SUMMARY_COLUMNS, resolve_period, room_to_sort
from geo.taxonomy import UNMAPPED, load_taxonomy

#: The level of the sub-areas of an area of each level (a kelurahan has none: itself).
CHILD_LEVEL = {"kota": "kecamatan", "kecamatan": "kelurahan", "kelurahan": "kelurahan"}
#: Digits of a BPS code at each level (placeholder units are kelurahan-level codes).
CODE_DIGITS = {"kota": 4, "kecamatan": 7, "kelurahan": 10}
#: Keys of :func:`kpis`, in the order the Overview shows them.
KPI_NAMES = ("reports", "completed_share", *SUMMARY_COLUMNS[1:])
#: KPIs that are counts: their change is also given relative to the previous period.
COUNT_KPIS = ("reports", "open_overdue")
#: Unit of each KPI, so a page can format the value and its change (percent *points*).
KPI_UNITS = {
    "reports": "count",
    "completed_share": "share",
    "median_coordinate_h": "hours",
    "p90_coordinate_h": "hours",
    "within_coordinate_pct": "percent",
    "median_complete_h": "hours",
    "p90_complete_h": "hours",
    "within_complete_pct": "percent",
    "open_overdue": "count",
}
FREQS = ("day", "week", "month")
RANK_MEASURES = ("reports", "reports_per_km2", "within_complete_pct")
#: Label of the reports whose source label is not in the taxonomy yet.
UNMAPPED_LABEL = "Belum dipetakan"

_PANDAS_FREQ = {"day": "D", "week": "W-MON", "month": "MS"}


# -- scope -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """Where: all of Jakarta (``area`` None) or one area of any level, by its BPS code.

    ``level`` is the level of the sub-areas listed by :func:`subarea_measures`. For the city
    it may be any level ("kota": the six kota). Inside an area, a level finer than the area's
    is used as given (``Scope("kelurahan", "3171")``: the kelurahan of Jakarta Selatan);
    otherwise, the default included, the sub-areas are the next finer level (kota ->
    kecamatan -> kelurahan; a kelurahan has none and lists itself).

    The code's format is checked here; whether it exists is checked against the loaded
    boundaries when the scope is first used (:meth:`scope_level`).
    """

    level: str = "kota"
    area: str | None = None

    def __post_init__(self) -> None:
        if self.level not in AREA_LEVELS:
            msg = f"Unknown level {self.level!r}: use {', '.join(AREA_LEVELS)}."
            raise PantauError(msg)
        if self.area is not None and not (
            isinstance(self.area, str)
            and self.area.isascii()
            and self.area.isdigit()
            and len(self.area) in CODE_DIGITS.values()
        ):
            msg = (
                f"Unknown area code {self.area!r}: a BPS code has 4 (kota), 7 (kecamatan) or "
                "10 (kelurahan) digits, e.g. 3171, 3171090, 3171090003."
            )
            raise PantauError(msg)

    def scope_level(self, conn: psycopg.Connection) -> str | None:
        """The level of ``area`` in the loaded boundaries (None for the whole city).

        Raises
        ------
        PantauError
            When no area has the code, or the code is a placeholder unit (a lake).
        """
        return _where(conn, self).level

    def child_level(self, conn: psycopg.Connection) -> str:
        """The level of the sub-areas :func:`subarea_measures` lists for this scope."""
        return _where(conn, self).sub_level


@dataclass(frozen=True)
class _Where:
    """A scope checked against the boundaries, and the SQL that restricts rows to it."""

    level: str | None  # None: the city
    area: str | None
    name: str
    parent_code: str | None
    parent_name: str | None
    sub_level: str

    @property
    def rows(self) -> sql.Composable:
        """Condition on a mart row (``api.daily_counts``, ``api.sla_facts``, their states)."""
        if self.level is None:
            return sql.SQL("kota_code IS NOT NULL")
        return sql.SQL("{} = %(area)s").format(sql.Identifier(f"{self.level}_code"))

    @property
    def code_column(self) -> sql.Identifier:
        """The mart column that must be set for a row to be inside the scope."""
        return sql.Identifier(f"{self.level or 'kota'}_code")

    @property
    def areas(self) -> sql.Composable:
        """Condition on ``api.admin_areas AS a``: the area itself or an area inside it."""
        if self.level is None:
            return sql.SQL("TRUE")
        column = "code" if self.level == "kelurahan" else f"{self.level}_code"
        return sql.SQL("{} = %(area)s").format(sql.Identifier("a", column))


_AREA = """
SELECT a.level, a.name, a.is_placeholder, a.parent_code, p.name AS parent_name
FROM api.admin_areas AS a
LEFT JOIN api.admin_areas AS p ON p.code = a.parent_code
WHERE a.code = %s
"""


def _where(conn: psycopg.Connection, scope: Scope) -> _Where:
    if scope.area is None:
        return _Where(None, None, "DKI Jakarta", None, None, scope.level)
    row = conn.execute(_AREA, [scope.area]).fetchone()
    if row is None:
        msg = (
            f"Unknown area code {scope.area!r}: no kota, kecamatan or kelurahan of the loaded "
            "boundaries has it (see api.admin_areas)."
        )
        raise PantauError(msg)
    level, name, placeholder, parent_code, parent_name = row
    if placeholder:
        msg = (
            f"Area {scope.area} ({name}) is a placeholder unit (a lake or a leftover), not a "
            f"kelurahan: choose its kecamatan or kota ({parent_code})."
        )
        raise PantauError(msg)
    finer = AREA_LEVELS.index(scope.level) > AREA_LEVELS.index(level)
    sub_level = scope.level if finer else CHILD_LEVEL[level]
    return _Where(level, scope.area, name, parent_code, parent_name, sub_level)


# -- periods ---------------------------------------------------------------------------------------
def resolve_filters(
    conn: psycopg.Connection, filters: Filters, *, as_of: datetime | None = None
) -> tuple[Filters, datetime]:
    """The filters with open period ends filled from the data, and the moment to judge at.

    Open ends become the first and the last creation day in the daily mart (today when it is
    empty) and ``as_of`` defaults to :func:`data_up_to`, exactly as
    :func:`geo.sla.resolve_period` does, so the SLA page and the Overview agree.
    """
    period = resolve_period(conn, filters.start, filters.end, as_of)
    return replace(filters, start=period.start, end=period.end), period.as_of


def previous_period(filters: Filters) -> Filters:
    """The same filters over the period of the same length that ends the day before ``start``.

    Same number of days, not the same calendar unit: March (31 days) is compared with 30
    January - 29 February 2024, so counts compare like with like. Categories, sources and
    statuses are kept.

    Raises
    ------
    PantauError
        When the period is open at either end (fill it first with :func:`resolve_filters`).
    """
    if filters.start is None or filters.end is None:
        msg = (
            "The previous period needs a start and an end: fill the open ends from the data "
            "first (resolve_filters)."
        )
        raise PantauError(msg)
    days = (filters.end - filters.start).days + 1
    end = filters.start - timedelta(days=1)
    return replace(filters, start=end - timedelta(days=days - 1), end=end)


# -- shared SQL ------------------------------------------------------------------------------------
# Filters on a mart row or a report's states (same column names). Values are parameters; a NULL
# array means "no filter".
_FILTERS = """
    (%(categories)s::text[] IS NULL OR category = ANY(%(categories)s))
    AND (%(sources)s::text[] IS NULL OR source = ANY(%(sources)s))
    AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
"""
_DAILY_WHERE = "{in_scope} AND {filters} AND day >= %(start)s AND day <= %(end)s"
#: The columns of the facts that the scope, the filters and the aggregates need.
_FACT_COLUMNS = (
    "kota_code",
    "kecamatan_code",
    "kelurahan_code",
    "category",
    "source",
    "status",
    "coordinate_h",
    "complete_h",
)


def _states(where: _Where) -> sql.Composed:
    """geo.sla's states of the period's reports, restricted to the scope and the filters.

    ``scope`` is a constant: grouped by it, geo.sla's ``_SUMMARY`` aggregates the whole scope
    as one group without sorting the rows first.
    """
    states = sql.SQL(_STATES).format(
        code=where.code_column,
        columns=sql.SQL(", ").join(
            sql.SQL("f.{}").format(sql.Identifier(c)) for c in _FACT_COLUMNS
        ),
    )
    return sql.SQL(
        "SELECT x.*, 'scope'::text AS scope FROM ({states}) AS x WHERE {rows} AND {filters}"
    ).format(states=states, rows=where.rows, filters=sql.SQL(_FILTERS))


def _params(filters: Filters, as_of: datetime, where: _Where) -> dict[str, Any]:
    return {
        "categories": list(filters.categories) or None,
        "sources": list(filters.sources) or None,
        "statuses": list(filters.statuses) or None,
        "start": filters.start,
        "end": filters.end,
        "as_of": as_of,
        "area": where.area,
    }


def _round_sla(column: str, value: Any) -> float | None:
    """Hours to 0.01 h (36 s), shares to 0.1 point: what :func:`geo.sla.sla_summary` shows.

    numpy's rounding, as sla_summary's pandas ``round`` (Python's ``round`` differs on ties).
    """
    if value is None or pd.isna(value):
        return None
    return float(np.round(np.float64(value), 1 if column.endswith("_pct") else 2))


# -- KPIs ------------------------------------------------------------------------------------------
_KPI_COUNTS = (
    "SELECT COALESCE(sum(reports), 0)::bigint AS reports, "
    "COALESCE(sum(reports) FILTER (WHERE status = 'completed'), 0)::bigint AS completed "
    "FROM api.daily_counts WHERE " + _DAILY_WHERE
)


def kpis(
    conn: psycopg.Connection, filters: Filters, scope: Scope, *, as_of: datetime | None = None
) -> dict[str, int | float | None]:
    """The headline numbers of a scope and period: keys :data:`KPI_NAMES`.

    ``reports`` and ``completed_share`` (reports now completed / reports, a fraction) come
    from the daily mart; the medians, 90th percentiles, shares within target (percent) and
    ``open_overdue`` are :func:`geo.sla.sla_summary`'s, over the same reports, judged at
    ``as_of`` (default: :func:`data_up_to`). A measure without reports to measure is None.

    Raises
    ------
    PantauError
        Unknown area code (see :class:`Scope`).
    """
    where = _where(conn, scope)
    filters, as_of = resolve_filters(conn, filters, as_of=as_of)
    return _kpis(conn, filters, where, as_of)


def _kpis(
    conn: psycopg.Connection, filters: Filters, where: _Where, as_of: datetime
) -> dict[str, int | float | None]:
    params = _params(filters, as_of, where)
    counts = sql.SQL(_KPI_COUNTS).format(in_scope=where.rows, filters=sql.SQL(_FILTERS))
    reports, completed = conn.execute(counts, params).fetchone() or (0, 0)
    summary = sql.SQL(_SUMMARY).format(
        states=_states(where),
        code=sql.Identifier("scope"),  # one constant group: the whole scope, no sort
        by_select=sql.SQL(""),
        by_group=sql.SQL(""),
    )
    with room_to_sort(conn):
        frame = read_frame(conn, summary, params)
    sla = frame.iloc[0].to_dict() if not frame.empty else {}
    result: dict[str, int | float | None] = {
        "reports": int(reports),
        "completed_share": completed / reports if reports else None,
    }
    for column in SUMMARY_COLUMNS[1:]:
        result[column] = _round_sla(column, sla.get(column))
    result["open_overdue"] = int(sla.get("open_overdue") or 0)
    return result


def kpis_with_change(
    conn: psycopg.Connection,
    filters: Filters,
    scope: Scope,
    *,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """:func:`kpis` for the period and the one before it (:func:`previous_period`), compared.

    Index ``kpi`` (:data:`KPI_NAMES`), columns ``unit, current, previous, change,
    change_pct``: ``change`` is current - previous in the KPI's unit (percent *points* for the
    shares within target), ``change_pct`` the relative change of the counts
    (:data:`COUNT_KPIS`) in percent, NaN for the other KPIs and when the previous count is 0.

    Both periods are judged at the same ``as_of``, on the data as it is now: a report of the
    previous period completed since counts as completed. ``attrs`` holds both periods and
    ``as_of``.
    """
    where = _where(conn, scope)
    current, as_of = resolve_filters(conn, filters, as_of=as_of)
    previous = previous_period(current)
    now = _kpis(conn, current, where, as_of)
    before = _kpis(conn, previous, where, as_of)
    frame = pd.DataFrame(
        {
            "unit": [KPI_UNITS[k] for k in KPI_NAMES],
            "current": [now[k] for k in KPI_NAMES],
            "previous": [before[k] for k in KPI_NAMES],
        },
        index=pd.Index(KPI_NAMES, name="kpi"),
    )
    for column in ("current", "previous"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    frame["change"] = frame["current"] - frame["previous"]
    counts = frame.index.isin(COUNT_KPIS) & (frame["previous"] > 0)
    frame["change_pct"] = float("nan")
    frame.loc[counts, "change_pct"] = (
        100.0 * frame.loc[counts, "change"] / frame.loc[counts, "previous"]
    )
    frame.attrs.update(
        current=(current.start, current.end),
        previous=(previous.start, previous.end),
        as_of=as_of,
        scope=where.name,
    )
    return frame


# -- sub-areas -------------------------------------------------------------------------------------
_AREA_COUNTS = """
WITH counts AS (
    SELECT {sub_code} AS code, sum(reports)::bigint AS reports
    FROM api.daily_counts
    WHERE {daily_where}
    GROUP BY 1
)
SELECT a.code, a.name, a.parent_code, a.area_km2, COALESCE(c.reports, 0)::bigint AS reports
FROM api.admin_areas AS a
LEFT JOIN counts AS c ON c.code = a.code
WHERE a.level = %(sub_level)s AND NOT a.is_placeholder AND {areas}
ORDER BY a.code
"""
# The shares within target and the backlog of geo.sla's _SUMMARY, per area, without its
# percentiles: those would sort every group, which the sub-area table does not show.
_AREA_SLA = """
SELECT s.{sub_code} AS code,
    100.0 * count(*) FILTER (WHERE s.coordinate_state = 'met')
        / NULLIF(count(*) FILTER (
            WHERE s.coordinate_state IN ('met', 'breached', 'open_overdue')), 0)
        AS within_coordinate_pct,
    100.0 * count(*) FILTER (WHERE s.complete_state = 'met')
        / NULLIF(count(*) FILTER (
            WHERE s.complete_state IN ('met', 'breached', 'open_overdue')), 0)
        AS within_complete_pct,
    count(*) FILTER (WHERE s.complete_state = 'open_overdue') AS open_overdue
FROM ({states}) AS s
WHERE s.{sub_code} IS NOT NULL
GROUP BY 1
"""
SUBAREA_COLUMNS = [
    "code",
    "name",
    "reports",
    "area_km2",
    "reports_per_km2",
    "within_complete_pct",
    "within_coordinate_pct",
    "open_overdue",
]


def subarea_measures(
    conn: psycopg.Connection,
    filters: Filters,
    scope: Scope,
    *,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """One row per sub-area of the scope (:meth:`Scope.child_level`), those without reports too.

    Columns :data:`SUBAREA_COLUMNS`, sorted by code. ``reports_per_km2`` divides by the land
    area of the boundary set (``api.admin_areas.area_km2``): areas differ in size by two
    orders of magnitude, so raw counts mostly rank sizes. Shares within target are NaN where
    no report was decided; ``open_overdue`` is judged at ``as_of`` (default :func:`data_up_to`).
    Placeholder units (lakes) are not listed (see the module notes).

    Raises
    ------
    PantauError
        Unknown area code (see :class:`Scope`).
    """
    where = _where(conn, scope)
    filters, as_of = resolve_filters(conn, filters, as_of=as_of)
    frame = _area_measures(conn, filters, where, as_of, with_sla=True)
    frame.attrs.update(level=where.sub_level, scope=where.name, denominator="reports per km2")
    return frame[SUBAREA_COLUMNS]


def _area_measures(
    conn: psycopg.Connection,
    filters: Filters,
    where: _Where,
    as_of: datetime,
    *,
    with_sla: bool,
) -> pd.DataFrame:
    params = {**_params(filters, as_of, where), "sub_level": where.sub_level}
    sub_code = sql.Identifier(f"{where.sub_level}_code")
    counts = sql.SQL(_AREA_COUNTS).format(
        sub_code=sub_code,
        daily_where=sql.SQL(_DAILY_WHERE).format(in_scope=where.rows, filters=sql.SQL(_FILTERS)),
        areas=where.areas,
    )
    frame = read_frame(conn, counts, params)
    frame["reports"] = frame["reports"].astype("int64")
    frame["area_km2"] = frame["area_km2"].astype("float64")
    frame["reports_per_km2"] = frame["reports"] / frame["area_km2"]
    if not with_sla:
        return frame
    shares = read_frame(
        conn, sql.SQL(_AREA_SLA).format(sub_code=sub_code, states=_states(where)), params
    )
    if shares.empty:
        shares = pd.DataFrame(columns=["code", *SUBAREA_COLUMNS[-3:]])
    frame = frame.merge(shares, on="code", how="left")
    for column in ("within_complete_pct", "within_coordinate_pct"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64").round(1)
    frame["open_overdue"] = frame["open_overdue"].fillna(0).astype("int64")
    return frame


# -- categories and trend --------------------------------------------------------------------------
_TOP_CATEGORIES = """
SELECT category, sum(reports)::bigint AS reports,
       (sum(reports)::float8 / sum(sum(reports)) OVER ()) AS share,
       (sum(sum(reports)) OVER ())::bigint AS total
FROM api.daily_counts
WHERE {daily_where}
GROUP BY category
ORDER BY reports DESC, category
LIMIT %(n)s
"""


def top_categories(
    conn: psycopg.Connection, filters: Filters, scope: Scope, n: int = 10
) -> pd.DataFrame:
    """The ``n`` most reported categories: ``category, label, reports, share``.

    ``share`` is of *all* the scope's reports under the filters, so the shares of the listed
    categories add up to 1 only when no category is left out; ``attrs["total"]`` and
    ``attrs["other"]`` give the denominator and what the list leaves out. Ties are broken by
    the category key, so the list is stable. ``label`` is the Indonesian label of the taxonomy.

    Raises
    ------
    PantauError
        Unknown area code, or ``n`` below 1.
    """
    if n < 1:
        msg = f"n must be at least 1, not {n}."
        raise PantauError(msg)
    where = _where(conn, scope)
    filters, as_of = resolve_filters(conn, filters)
    query = sql.SQL(_TOP_CATEGORIES).format(
        daily_where=sql.SQL(_DAILY_WHERE).format(in_scope=where.rows, filters=sql.SQL(_FILTERS))
    )
    frame = read_frame(conn, query, {**_params(filters, as_of, where), "n": n})
    total = int(frame["total"].iloc[0]) if not frame.empty else 0
    labels = {**load_taxonomy().categories, UNMAPPED: UNMAPPED_LABEL}
    frame["label"] = frame["category"].map(lambda c: labels.get(c, c))
    frame["reports"] = frame["reports"].astype("int64")
    frame["share"] = frame["share"].astype("float64")
    frame = frame[["category", "label", "reports", "share"]]
    frame.attrs.update(total=total, other=total - int(frame["reports"].sum()), scope=where.name)
    return frame


_TREND = """
SELECT date_trunc(%(freq)s, day::timestamp)::date AS period, sum(reports)::bigint AS reports
FROM api.daily_counts
WHERE {daily_where}
GROUP BY 1
"""


def daily_trend(
    conn: psycopg.Connection, filters: Filters, scope: Scope, *, freq: str = "day"
) -> pd.DataFrame:
    """Reports per day, ISO week (from Monday) or calendar month of creation (WIB).

    Columns ``period, reports, days``: every period from the one holding ``start`` to the one
    holding ``end`` is a row, 0 where nothing was reported (a chart without gaps that lie).
    ``days`` is how many days of the period fall inside the filter's period, so a page can
    mark the partial first and last week or month instead of showing them as a drop.

    Raises
    ------
    PantauError
        Unknown area code or frequency.
    """
    if freq not in FREQS:
        msg = f"Unknown frequency {freq!r}: use {', '.join(FREQS)}."
        raise PantauError(msg)
    where = _where(conn, scope)
    filters, as_of = resolve_filters(conn, filters)
    assert filters.start is not None and filters.end is not None  # resolved above
    query = sql.SQL(_TREND).format(
        daily_where=sql.SQL(_DAILY_WHERE).format(in_scope=where.rows, filters=sql.SQL(_FILTERS))
    )
    counts = read_frame(conn, query, {**_params(filters, as_of, where), "freq": freq})
    start, end = filters.start, filters.end
    periods = pd.date_range(
        pd.Timestamp(_period_start(start, freq)),
        pd.Timestamp(_period_start(end, freq)),
        freq=_PANDAS_FREQ[freq],
    ).date
    by_period = dict(zip(counts["period"], counts["reports"], strict=True))
    days = []
    for first in periods:
        last = _next_period(first, freq) - timedelta(days=1)
        days.append((min(last, end) - max(first, start)).days + 1)
    frame = pd.DataFrame(
        {
            "period": list(periods),
            "reports": [int(by_period.get(p, 0)) for p in periods],
            "days": days,
        }
    )
    frame.attrs.update(freq=freq, start=start, end=end, scope=where.name)
    return frame


def _period_start(day: date, freq: str) -> date:
    if freq == "week":
        return day - timedelta(days=day.weekday())
    if freq == "month":
        return day.replace(day=1)
    return day


def _next_period(first: date, freq: str) -> date:
    if freq == "week":
        return first + timedelta(days=7)
    if freq == "month":
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first + timedelta(days=1)


# -- rank ------------------------------------------------------------------------------------------
def area_rank(
    conn: psycopg.Connection,
    filters: Filters,
    code: str,
    *,
    measure: str = "reports",
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Where an area stands among the areas of its level: in Jakarta, and within its parent.

    Rank 1 is the highest value of ``measure`` (:data:`RANK_MEASURES`); ties share the best
    rank and the next rank skips ("competition" ranking: 1, 1, 3). Areas without a value
    (a share within target where no report was decided) are not ranked and not counted among
    the peers. Shares are ranked as shown, at 0.1 point. A kota has no parent: its
    ``parent_rank`` and ``parent_peers`` are None.

    Returns
    -------
    dict
        ``code, name, level, measure, value, rank, peers, parent_code, parent_name,
        parent_rank, parent_peers``.

    Raises
    ------
    PantauError
        Unknown area code or measure.
    """
    if measure not in RANK_MEASURES:
        msg = f"Unknown measure {measure!r}: use {', '.join(RANK_MEASURES)}."
        raise PantauError(msg)
    area = _where(conn, Scope(area=code))
    assert area.level is not None  # an area code was given
    filters, as_of = resolve_filters(conn, filters, as_of=as_of)
    city = _where(conn, Scope(level=area.level))
    frame = _area_measures(
        conn, filters, city, as_of, with_sla=measure == "within_complete_pct"
    ).set_index("code")
    values = frame[measure].dropna()
    rank = values.rank(method="min", ascending=False)
    value = frame.at[code, measure]
    result: dict[str, Any] = {
        "code": code,
        "name": area.name,
        "level": area.level,
        "measure": measure,
        "value": None if pd.isna(value) else (int(value) if measure == "reports" else float(value)),
        "rank": int(rank[code]) if code in rank.index else None,
        "peers": len(values),
        "parent_code": area.parent_code,
        "parent_name": area.parent_name,
        "parent_rank": None,
        "parent_peers": None,
    }
    if area.parent_code is not None:
        siblings = values[frame.loc[values.index, "parent_code"] == area.parent_code]
        in_parent = siblings.rank(method="min", ascending=False)
        result["parent_rank"] = int(in_parent[code]) if code in in_parent.index else None
        result["parent_peers"] = len(siblings)
    return result


# -- freshness -------------------------------------------------------------------------------------
_FRESHNESS = """
SELECT (SELECT data_up_to FROM api.mart_refreshes ORDER BY refresh_id DESC LIMIT 1),
       (SELECT refreshed_at FROM api.mart_refreshes ORDER BY refresh_id DESC LIMIT 1),
       (SELECT max(finished_at) FROM api.ingest_runs WHERE status = 'succeeded')
"""


def data_up_to(conn: psycopg.Connection) -> datetime | None:
    """The latest report update the marts hold (None before the first refresh).

    This is the data's own time, the default moment SLA states are judged at; the wall-clock
    time of the last ingest is in :func:`data_freshness`.
    """
    return data_freshness(conn)["data_up_to"]


def data_freshness(conn: psycopg.Connection) -> dict[str, Any]:
    """How current the marts are: ``data_up_to, refreshed_at, last_ingest_at, marts_behind``.

    ``data_up_to`` is the latest ``updated_at`` of a report in the marts (what "data up to"
    means on the page); ``refreshed_at`` when the marts were last refreshed and
    ``last_ingest_at`` when the last successful ingest finished (wall-clock times). An ingest
    refreshes the marts after it commits, so ``marts_behind`` is True only when that refresh
    failed: the ingested reports are not counted yet (run ``pipelines refresh``).
    """
    row = conn.execute(_FRESHNESS).fetchone() or (None, None, None)
    up_to, refreshed_at, ingest_at = row
    behind = ingest_at is not None and (refreshed_at is None or ingest_at > refreshed_at)
    return {
        "data_up_to": up_to,
        "refreshed_at": refreshed_at,
        "last_ingest_at": ingest_at,
        "marts_behind": behind,
    }
