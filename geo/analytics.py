"""The analytics the dashboard and the command line share: counts from the marts, then statistics.

Each public function reads what it needs through the read-only ``api`` views (so the
dashboard's reader role can call it), hands plain arrays to the statistics modules
(:mod:`geo.hotspots`, :mod:`geo.emerging`, :mod:`geo.trends`) and returns a DataFrame keyed by
H3 ``cell`` (15-hex-digit text) or area ``code``, ready for :func:`geo.export.write_table`.

Where the counts come from: H3 counts at resolutions 7-9 for whole weeks come from the weekly
H3 mart; any other period, resolution or a status filter is counted exactly from the reports
(same answer, slower). Area counts come from the daily mart (exact days). The study area of an
H3 analysis is every cell overlapping Jakarta's land (:func:`geo.hotspots.study_cells`), cells
without reports included: leaving them out would bias Gi*. Reports in cells outside it (at sea,
outside the province) are counted in ``outside_study_area``, not silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from geo.db import read_frame, read_geoframe
from geo.errors import PantauError
from geo.settings import TIMEZONE
from geo.taxonomy import load_taxonomy

WIB = ZoneInfo(TIMEZONE)
SOURCES = ("jaki", "qlue")
STATUSES = ("received", "coordinated", "in_progress", "completed")
MART_RESOLUTIONS = (7, 8, 9)
AREA_LEVELS = ("kota", "kecamatan", "kelurahan")


@dataclass(frozen=True)
class Filters:
    """What to count: creation days (WIB, inclusive), categories, sources, current statuses.

    Empty tuples mean "all". Unknown values are refused with the list of known ones.
    """

    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.start and self.end and self.end < self.start:
            msg = f"The period ends ({self.end}) before it starts ({self.start})."
            raise PantauError(msg)
        known = load_taxonomy().categories
        for name, given, allowed in (
            ("category", self.categories, (*known, "unmapped")),
            ("source", self.sources, SOURCES),
            ("status", self.statuses, STATUSES),
        ):
            unknown = sorted(set(given) - set(allowed))
            if unknown:
                msg = f"Unknown {name} {', '.join(unknown)}: use {', '.join(allowed)}."
                raise PantauError(msg)

    def params(self) -> dict[str, Any]:
        """Query parameters: NULL arrays mean "no filter"."""
        return {
            "categories": list(self.categories) or None,
            "sources": list(self.sources) or None,
            "statuses": list(self.statuses) or None,
            "day0": self.start,
            "day1": self.end,
            "t0": _wib_midnight(self.start) if self.start else None,
            "t1": _wib_midnight(self.end + timedelta(days=1)) if self.end else None,
        }

    @property
    def whole_weeks(self) -> bool:
        """True when the period starts on a Monday and ends on a Sunday (or is open)."""
        return (self.start is None or self.start.weekday() == 0) and (
            self.end is None or self.end.weekday() == 6
        )


def _wib_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=WIB)


_FILTER_SQL = """
    (%(categories)s::text[] IS NULL OR category = ANY(%(categories)s))
    AND (%(sources)s::text[] IS NULL OR source = ANY(%(sources)s))
"""
_WEEKS_SQL = (
    "(%(day0)s::date IS NULL OR week >= %(day0)s) AND (%(day1)s::date IS NULL OR week <= %(day1)s)"
)
_DAYS_SQL = (
    "(%(day0)s::date IS NULL OR day >= %(day0)s) AND (%(day1)s::date IS NULL OR day <= %(day1)s)"
)


def _query(template: str, **parts: sql.Composable) -> sql.Composed:
    """A query template with the shared filter fragments (constant SQL, never values)."""
    return sql.SQL(template).format(
        filters=sql.SQL(_FILTER_SQL), weeks=sql.SQL(_WEEKS_SQL), days=sql.SQL(_DAYS_SQL), **parts
    )


_CELLS_FROM_MART = """
SELECT cell, sum(reports)::bigint AS reports
FROM api.h3_weekly
WHERE res = %(res)s AND {filters}
  AND {weeks}
GROUP BY cell
"""
_CELLS_FROM_REPORTS = """
SELECT api.h3_cell_to_parent(h3_r12, %(res)s) AS cell, count(*) AS reports
FROM api.reports
WHERE {filters}
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
  AND (%(t0)s::timestamptz IS NULL OR created_at >= %(t0)s)
  AND (%(t1)s::timestamptz IS NULL OR created_at < %(t1)s)
GROUP BY 1
"""
_AREA_COUNTS = """
SELECT a.code, a.name, a.area_km2, COALESCE(c.reports, 0)::bigint AS reports
FROM api.admin_areas AS a
LEFT JOIN (
    SELECT {code} AS code, sum(reports) AS reports
    FROM api.daily_counts
    WHERE {filters}
      AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
      AND {days}
    GROUP BY 1
) AS c ON c.code = a.code
WHERE a.level = %(level)s AND NOT a.is_placeholder
ORDER BY a.code
"""


@dataclass
class _BoundaryCache:
    """Derived geometry of the loaded boundary set, recomputed when another set is loaded."""

    load_id: int | None = None
    land: Any = None
    cells: dict[int, np.ndarray] = field(default_factory=dict)
    areas: dict[str, Any] = field(default_factory=dict)


_CACHE = _BoundaryCache()


def _boundary_cache(conn: psycopg.Connection) -> _BoundaryCache:
    row = conn.execute("SELECT load_id FROM api.boundary_source").fetchone()
    if row is None:
        msg = "No boundaries loaded: run `python -m pipelines boundaries load` first."
        raise PantauError(msg)
    global _CACHE
    if _CACHE.load_id != row[0]:
        _CACHE = _BoundaryCache(load_id=row[0])
    return _CACHE


def land(conn: psycopg.Connection) -> shapely.Geometry:
    """Jakarta's land: the union of the kota polygons (islands of Kepulauan Seribu included)."""
    cache = _boundary_cache(conn)
    if cache.land is None:
        frame = read_geoframe(
            conn,
            "SELECT ST_AsBinary(ST_Union(geom)) AS geom FROM api.admin_areas WHERE level = 'kota'",
        )
        cache.land = frame.geometry.iloc[0]
    return cache.land


def study_area(conn: psycopg.Connection, res: int) -> np.ndarray:
    """Every H3 cell (int64, sorted) at ``res`` overlapping Jakarta's land."""
    from geo.hotspots import study_cells

    if not 0 <= res <= 12:
        msg = f"H3 resolution must be 0-12 (reports store res 12), not {res}."
        raise PantauError(msg)
    cache = _boundary_cache(conn)
    if res not in cache.cells:
        cache.cells[res] = study_cells(land(conn), res)
    return cache.cells[res]


def cell_counts(conn: psycopg.Connection, res: int, filters: Filters) -> pd.Series:
    """Reports per H3 cell at ``res`` (int64 index; cells without reports absent)."""
    use_mart = res in MART_RESOLUTIONS and filters.whole_weeks and not filters.statuses
    query = _query(_CELLS_FROM_MART if use_mart else _CELLS_FROM_REPORTS)
    frame = read_frame(conn, query, {**filters.params(), "res": res})
    if frame.empty:
        return pd.Series(dtype="int64", name="reports")
    return frame.set_index("cell")["reports"].astype("int64")


def _on_study_area(
    conn: psycopg.Connection, res: int, counts: pd.Series
) -> tuple[np.ndarray, np.ndarray, int]:
    cells = study_area(conn, res)
    values = counts.reindex(cells, fill_value=0).to_numpy(dtype="float64")
    outside = int(counts[~counts.index.isin(cells)].sum())
    return cells, values, outside


def _cell_ids(cells: np.ndarray) -> list[str]:
    return [h3.int_to_str(int(c)) for c in cells]


def hotspot_cells(
    conn: psycopg.Connection,
    *,
    res: int = 8,
    k: int = 1,
    filters: Filters | None = None,
    per_km2: bool = False,
    fdr: bool = True,
) -> pd.DataFrame:
    """Getis-Ord Gi* on the H3 cells of the study area (binary k-ring weights).

    Columns: ``cell, reports, [reports_per_km2,] z, p, p_fdr, gi_bin``, one row per cell.
    With ``per_km2`` the statistic runs on reports per km2 of the cell (h3's exact cell area;
    H3 cells of one resolution differ in area by a few percent over Jakarta). ``attrs`` holds
    the reports counted outside the study area and the denominator's label.
    """
    from geo.hotspots import hotspots, kring_weights

    if k < 1:
        msg = f"k must be at least 1, not {k}."
        raise PantauError(msg)
    filters = filters or Filters()
    cells, values, outside = _on_study_area(conn, res, cell_counts(conn, res, filters))
    frame = pd.DataFrame({"cell": _cell_ids(cells), "reports": values.astype("int64")})
    if per_km2:
        area = np.array([h3.cell_area(c, unit="km^2") for c in frame["cell"]])
        values = values / area
        frame["reports_per_km2"] = values
    result = hotspots(values, kring_weights(cells, k), fdr=fdr)
    frame["z"], frame["p"], frame["p_fdr"], frame["gi_bin"] = (
        result.z,
        result.p,
        result.p_fdr,
        result.gi_bin,
    )
    frame.attrs.update(
        outside_study_area=outside,
        denominator="reports per km2 of H3 cell" if per_km2 else "reports",
        res=res,
        k=k,
    )
    return frame


def area_counts(conn: psycopg.Connection, level: str, filters: Filters) -> pd.DataFrame:
    """Reports per area of ``level``, 0 where none: ``code, name, area_km2, reports``."""
    if level not in AREA_LEVELS:
        msg = f"Unknown level {level!r}: use {', '.join(AREA_LEVELS)}."
        raise PantauError(msg)
    query = _query(_AREA_COUNTS, code=sql.Identifier(f"{level}_code"))
    return read_frame(conn, query, {**filters.params(), "level": level})


def hotspot_areas(
    conn: psycopg.Connection,
    *,
    level: str = "kelurahan",
    filters: Filters | None = None,
    per_km2: bool = False,
    fdr: bool = True,
) -> pd.DataFrame:
    """Getis-Ord Gi* per area with queen contiguity (islands joined to their nearest area).

    Columns: ``code, name, reports, [reports_per_km2,] z, p, p_fdr, gi_bin, island``.
    """
    from geo.hotspots import hotspots

    filters = filters or Filters()
    frame = area_counts(conn, level, filters)
    weights, islands = _area_weights(conn, level)
    values = frame["reports"].to_numpy(dtype="float64")
    if per_km2:
        values = values / frame["area_km2"].to_numpy(dtype="float64")
        frame["reports_per_km2"] = values
    result = hotspots(values, weights, fdr=fdr)
    frame["z"], frame["p"], frame["p_fdr"], frame["gi_bin"] = (
        result.z,
        result.p,
        result.p_fdr,
        result.gi_bin,
    )
    frame["island"] = frame["code"].isin(islands)
    frame.attrs.update(denominator="reports per km2 of area" if per_km2 else "reports", level=level)
    return frame.drop(columns=["area_km2"])


def _area_weights(conn: psycopg.Connection, level: str) -> tuple[Any, list[str]]:
    from geo.hotspots import contiguity_weights

    cache = _boundary_cache(conn)
    if level not in cache.areas:
        shapes = read_geoframe(
            conn,
            "SELECT code, ST_AsBinary(geom) AS geom FROM api.admin_areas "
            "WHERE level = %s AND NOT is_placeholder ORDER BY code",
            [level],
        )
        cache.areas[level] = contiguity_weights(shapes["code"].tolist(), shapes.geometry.values)
    return cache.areas[level]


# -- emerging hot spots -----------------------------------------------------------------------
_STEPS = ("week", "month")
_CUBE_FROM_MART = """
SELECT week AS step, cell, sum(reports)::bigint AS reports
FROM api.h3_weekly
WHERE res = %(res)s AND {filters}
  AND {weeks}
GROUP BY 1, 2
"""
_CUBE_FROM_REPORTS = """
SELECT date_trunc(%(step)s, created_at AT TIME ZONE 'Asia/Jakarta')::date AS step,
       api.h3_cell_to_parent(h3_r12, %(res)s) AS cell, count(*) AS reports
FROM api.reports
WHERE {filters}
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
  AND (%(t0)s::timestamptz IS NULL OR created_at >= %(t0)s)
  AND (%(t1)s::timestamptz IS NULL OR created_at < %(t1)s)
GROUP BY 1, 2
"""


def count_cube(
    conn: psycopg.Connection, *, res: int, step: str, filters: Filters
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, int]:
    """Counts by time step x study-area cell: (steps, cells, cube, reports outside the area).

    Every step from the first to the last of the period is present (a quiet week is a row of
    zeros); without a period, from the first to the last step with data.
    """
    if step not in _STEPS:
        msg = f"Unknown step {step!r}: use week or month."
        raise PantauError(msg)
    use_mart = (
        step == "week" and res in MART_RESOLUTIONS and filters.whole_weeks and not filters.statuses
    )
    query = _query(_CUBE_FROM_MART if use_mart else _CUBE_FROM_REPORTS)
    frame = read_frame(conn, query, {**filters.params(), "res": res, "step": step})
    cells = study_area(conn, res)
    freq = "W-MON" if step == "week" else "MS"
    first = _step_start(filters.start, step) if filters.start else None
    last = _step_start(filters.end, step) if filters.end else None
    if frame.empty and (first is None or last is None):
        msg = "No reports for these filters: nothing to analyse."
        raise PantauError(msg)
    first = first or frame["step"].min()
    last = last or frame["step"].max()
    steps = pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq=freq)
    inside = frame[frame["cell"].isin(cells)]
    outside = int(frame.loc[~frame["cell"].isin(cells), "reports"].sum())
    cube = np.zeros((len(steps), len(cells)))
    if not inside.empty:
        rows = steps.get_indexer(pd.to_datetime(inside["step"]))
        cols = np.searchsorted(cells, inside["cell"].to_numpy(dtype="int64"))
        keep = rows >= 0
        np.add.at(cube, (rows[keep], cols[keep]), inside["reports"].to_numpy()[keep])
    return steps, cells, cube, outside


def _step_start(day: date, step: str) -> date:
    if step == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def emerging_cells(
    conn: psycopg.Connection,
    *,
    res: int = 8,
    step: str = "week",
    k: int = 1,
    time_window: int = 1,
    filters: Filters | None = None,
    fdr: bool = False,
) -> pd.DataFrame:
    """Emerging hot spot patterns per study-area cell: ``cell, pattern, trend_z, trend_p, ...``.

    ``fdr`` applies Benjamini-Hochberg over all bins before a bin counts as hot or cold (as
    ArcGIS Pro does); it halves the "sporadic" patterns of sparse categories.
    """
    from geo.emerging import emerging_hotspots
    from geo.hotspots import kring_weights

    filters = filters or Filters()
    steps, cells, cube, outside = count_cube(conn, res=res, step=step, filters=filters)
    if len(steps) < 4:
        msg = f"Emerging hot spots need at least 4 {step}s of data, the period has {len(steps)}."
        raise PantauError(msg)
    result = emerging_hotspots(cube, kring_weights(cells, k), time_window=time_window, fdr=fdr)
    frame = result.reset_index(drop=True)
    frame.insert(0, "cell", _cell_ids(cells))
    frame.insert(1, "reports", cube.sum(axis=0).astype("int64"))
    frame.attrs.update(
        steps=len(steps),
        first_step=str(steps[0].date()),
        last_step=str(steps[-1].date()),
        outside_study_area=outside,
    )
    return frame


# -- trends --------------------------------------------------------------------------------------
_TREND_COUNTS = """
SELECT date_trunc(%(freq)s, day)::date AS period, {code} AS code, category,
       sum(reports)::bigint AS reports
FROM api.daily_counts
WHERE {code} IS NOT NULL AND {filters}
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
  AND {days}
GROUP BY 1, 2, 3
"""


def trend_table(
    conn: psycopg.Connection,
    *,
    level: str,
    freq: str = "week",
    filters: Filters | None = None,
) -> pd.DataFrame:
    """Counts per period x area x category with a rolling baseline and an anomaly flag.

    Columns: ``period, code, name, category, reports, baseline, p, p_fdr, anomaly`` over the
    complete grid (every area of the level, every category seen, every period: zeros
    included). The test is :func:`geo.trends.anomalies`'.
    """
    from geo.trends import anomalies, complete_grid

    if level not in AREA_LEVELS:
        msg = f"Unknown level {level!r}: use {', '.join(AREA_LEVELS)}."
        raise PantauError(msg)
    if freq not in _STEPS:
        msg = f"Unknown frequency {freq!r}: use week or month."
        raise PantauError(msg)
    filters = filters or Filters()
    query = _query(_TREND_COUNTS, code=sql.Identifier(f"{level}_code"))
    counts = read_frame(conn, query, {**filters.params(), "freq": freq})
    columns = ["period", "code", "name", "category", "reports", "baseline", "p", "p_fdr", "anomaly"]
    if counts.empty:  # nothing to test: an empty table, for the caller to say so
        return pd.DataFrame(columns=columns)
    counts["period"] = pd.to_datetime(counts["period"])
    areas = read_frame(
        conn,
        "SELECT code, name FROM api.admin_areas WHERE level = %s AND NOT is_placeholder "
        "ORDER BY code",
        [level],
    )
    first = _step_start(filters.start, freq) if filters.start else counts["period"].min()
    last = _step_start(filters.end, freq) if filters.end else counts["period"].max()
    periods = pd.date_range(
        pd.Timestamp(first), pd.Timestamp(last), freq="W-MON" if freq == "week" else "MS"
    )
    categories = list(filters.categories) or sorted(counts["category"].unique())
    grid = complete_grid(
        counts, periods=periods, codes=areas["code"].tolist(), categories=categories
    )
    result = anomalies(grid, freq=freq)  # type: ignore[arg-type]
    result = result.merge(areas, on="code", how="left")
    result["period"] = pd.to_datetime(result["period"]).dt.date
    return result[columns].sort_values(["code", "category", "period"]).reset_index(drop=True)


# -- details for the dashboard ----------------------------------------------------------------
_CELL_CATEGORIES = """
SELECT category, count(*) AS reports
FROM api.reports
WHERE api.h3_cell_to_parent(h3_r12, %(res)s) = %(cell)s AND {filters}
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
  AND (%(t0)s::timestamptz IS NULL OR created_at >= %(t0)s)
  AND (%(t1)s::timestamptz IS NULL OR created_at < %(t1)s)
GROUP BY category ORDER BY reports DESC, category
"""
#: The fields of a single report a map may show: no text, no photo, no ticket, the time to
#: the day. Locations are already public in the apps; the person behind a report is not.
_AREA_REPORTS = """
SELECT round(lat::numeric, 5)::float8 AS lat, round(lng::numeric, 5)::float8 AS lng,
       category, status, source, (created_at AT TIME ZONE 'Asia/Jakarta')::date AS day
FROM api.reports
WHERE kelurahan_code = %(code)s AND {filters}
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
  AND (%(t0)s::timestamptz IS NULL OR created_at >= %(t0)s)
  AND (%(t1)s::timestamptz IS NULL OR created_at < %(t1)s)
ORDER BY created_at DESC
LIMIT %(limit)s
"""


def cell_categories(conn: psycopg.Connection, *, cell: str, filters: Filters) -> pd.DataFrame:
    """Reports per category inside one H3 cell (hex id) for the filters: ``category, reports``."""
    try:
        cell_int = h3.str_to_int(cell)
    except (ValueError, TypeError, h3.H3BaseException) as exc:
        msg = f"Not an H3 cell: {cell!r}"
        raise PantauError(msg) from exc
    res = h3.get_resolution(cell)
    params = {**filters.params(), "cell": cell_int, "res": res}
    return read_frame(conn, _query(_CELL_CATEGORIES), params)


def area_reports(
    conn: psycopg.Connection, *, code: str, filters: Filters, limit: int = 2000
) -> pd.DataFrame:
    """The latest ``limit`` reports of one kelurahan, privacy-safe fields only."""
    params = {**filters.params(), "code": code, "limit": limit}
    return read_frame(conn, _query(_AREA_REPORTS), params)
