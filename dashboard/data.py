"""The dashboard's data boundary: the only module that talks to the database or caches.

Why it looks like this:

- **Read-only.** Connections use :func:`geo.db.reader_url` (role ``pantau_reader``, which can
  only read the ``api`` views) and, as a second guard, ``default_transaction_read_only``.
- **One pool per URL** (``st.cache_resource``), shared by every session of the server
  process; it is closed when the cache entry is released.
- **Query results are cached** with ``st.cache_data(ttl=...)``. Cached functions are private
  and take every input as an argument (the URL, the level, the tolerance, the version of the
  boundary set), so a cache entry can never answer a different question. The public
  functions are thin front doors that resolve the URL and validate the arguments.
- **Geometry is keyed by the boundary set's ``loaded_at``.** Loading a new set changes the
  key, so the map follows within :data:`STATUS_TTL` although geometry is cached for hours.
- **Failures are :class:`geo.errors.PantauError`** with a message that says what to do, so a
  page can show a banner instead of a traceback. Exceptions are never cached by Streamlit,
  so the next run (or the retry button) tries again.

Configuration comes from the environment through :mod:`geo.settings` (``DATABASE_URL``,
``PANTAU_READER_URL``). Root-level keys of ``.streamlit/secrets.toml`` work too: Streamlit
copies them into ``os.environ`` when the server starts (see ``secrets.toml.example``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import streamlit as st
from psycopg_pool import ConnectionPool, PoolTimeout

from geo import analytics as analytics_mod
from geo import boundaries, db, sla
from geo.analytics import Filters
from geo.errors import DatabaseUnavailableError, PantauError

#: How long counts and provenance are reused before asking the database again.
STATUS_TTL = timedelta(minutes=1)
#: Geometry changes only when a new boundary set is loaded (and the cache key changes then).
AREAS_TTL = timedelta(hours=6)
#: Simplification tolerance for maps: 267 kelurahan stay well under a megabyte at 20 m.
MAP_SIMPLIFY_M = 20.0
#: Seconds to wait for a server: short, because a person is waiting for the page.
CONNECT_TIMEOUT_S = 3
POOL_MAX_SIZE = 4

_CONNECTION_KWARGS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": CONNECT_TIMEOUT_S,
    "application_name": "pantau-dashboard",
    "options": "-c default_transaction_read_only=on",
}


# -- public front doors ------------------------------------------------------------------------
def reader_url() -> str:
    """The read-only connection URL, resolved from the environment on every run.

    Raises
    ------
    DatabaseUnavailableError
        When nothing is configured and the project-local server was never started.
    """
    return db.reader_url()


def boundary_status() -> dict[str, Any]:
    """Counts per level and provenance of the loaded boundary set (``source`` None if empty).

    Raises
    ------
    PantauError
        When the database cannot be reached or queried.
    """
    return _boundary_status(reader_url())


def areas(
    level: str, *, loaded_at: str | None, simplify_m: float = MAP_SIMPLIFY_M
) -> gpd.GeoDataFrame:
    """The areas of one level, simplified for display (EPSG:4326).

    Parameters
    ----------
    level
        ``"kota"``, ``"kecamatan"`` or ``"kelurahan"``.
    loaded_at
        ``boundary_status()["loaded_at"]``: only part of the cache key, so that loading a
        new boundary set is never answered with the old geometry.
    simplify_m
        Topology-preserving tolerance in metres; 0 keeps full detail.

    Raises
    ------
    ValueError
        For an unknown level or a negative tolerance.
    PantauError
        When the database cannot be reached or queried.
    """
    if level not in boundaries.LEVELS:
        msg = f"level must be one of {', '.join(boundaries.LEVELS)}, not {level!r}"
        raise ValueError(msg)
    if simplify_m < 0:
        msg = f"simplify_m must be >= 0, not {simplify_m}"
        raise ValueError(msg)
    return _areas(reader_url(), level, float(simplify_m), loaded_at)


def kota_summary(*, loaded_at: str | None) -> pd.DataFrame:
    """One row per kota: code, name, number of kecamatan and kelurahan, area in km².

    Placeholder units are not counted as kelurahan (their area is part of the kota's).
    """
    frames = {level: areas(level, loaded_at=loaded_at) for level in boundaries.LEVELS}
    return _kota_summary(frames["kota"], frames["kecamatan"], frames["kelurahan"])


# -- cached ------------------------------------------------------------------------------------
@st.cache_data(ttl=STATUS_TTL, show_spinner=False)
def _boundary_status(url: str) -> dict[str, Any]:
    with _connection(url) as conn:
        return boundaries.boundary_status(conn)


@st.cache_data(ttl=AREAS_TTL, show_spinner="Memuat batas wilayah…")
def _areas(url: str, level: str, simplify_m: float, loaded_at: str | None) -> gpd.GeoDataFrame:
    del loaded_at  # cache key only
    with _connection(url) as conn:
        return boundaries.areas_frame(conn, level, simplify_m=simplify_m)


def _close_pool(pool: ConnectionPool) -> None:
    pool.close()


@st.cache_resource(
    show_spinner=False, validate=lambda pool: not pool.closed, on_release=_close_pool
)
def _pool(url: str) -> ConnectionPool:
    """A small pool for ``url``, created only once the server has answered.

    The probe goes through :func:`geo.db.connect` so that an unreachable server fails here,
    with libpq's reason, and nothing is cached; a pool opened blindly would instead retry in
    the background and later time out without saying why.
    """
    db.connect(url, autocommit=True, timeout=CONNECT_TIMEOUT_S).close()
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=POOL_MAX_SIZE,
        kwargs=_CONNECTION_KWARGS,
        check=ConnectionPool.check_connection,
        name="pantau-dashboard",
        open=False,
    )
    pool.open()
    return pool


# -- helpers -----------------------------------------------------------------------------------
@contextmanager
def _connection(url: str) -> Iterator[psycopg.Connection]:
    """A pooled connection; database failures come out as :class:`PantauError`."""
    try:
        with _pool(url).connection(timeout=CONNECT_TIMEOUT_S * 2) as conn:
            yield conn
    except PoolTimeout as exc:
        msg = f"No connection to {db.redact_url(url)} became available: {exc}"
        raise DatabaseUnavailableError(msg) from exc
    except psycopg.OperationalError as exc:
        msg = f"Lost the connection to {db.redact_url(url)}: {_first_line(exc)}"
        raise DatabaseUnavailableError(msg) from exc
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
        msg = (
            f"The database schema is missing ({_first_line(exc)}): "
            "run `python -m pipelines migrate`."
        )
        raise PantauError(msg) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        msg = (
            f"The read-only role may not read this ({_first_line(exc)}): "
            "run `python -m pipelines migrate` to refresh the grants."
        )
        raise PantauError(msg) from exc
    except psycopg.Error as exc:
        msg = f"The database refused a query: {_first_line(exc)}"
        raise PantauError(msg) from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _kota_summary(
    kota: pd.DataFrame, kecamatan: pd.DataFrame, kelurahan: pd.DataFrame
) -> pd.DataFrame:
    """Counts of kecamatan and (real) kelurahan per kota, joined on codes."""
    real = kelurahan[~kelurahan["is_placeholder"].astype(bool)]
    n_kecamatan = kecamatan.groupby("kota_code").size()
    n_kelurahan = real.groupby("kota_code").size()
    codes = kota["code"]
    return pd.DataFrame(
        {
            "code": codes.to_numpy(),
            "name": kota["name"].to_numpy(),
            "kecamatan": codes.map(n_kecamatan).fillna(0).astype(int).to_numpy(),
            "kelurahan": codes.map(n_kelurahan).fillna(0).astype(int).to_numpy(),
            "area_km2": kota["area_km2"].astype(float).to_numpy(),
        }
    ).sort_values("code", ignore_index=True)


# -- analytics ---------------------------------------------------------------------------------
#: Analytics are recomputed at most this often; new data (a refresh) changes the cache key.
ANALYTICS_TTL = timedelta(minutes=10)
#: Bounded, so a wall screen cycling through views for days keeps a flat memory.
ANALYTICS_MAX_ENTRIES = 128


def filters_key(filters: Filters) -> tuple[Any, ...]:
    """A plain, hashable form of the filters for cache keys."""
    return (filters.start, filters.end, filters.categories, filters.sources, filters.statuses)


def data_version() -> tuple[Any, ...]:
    """What identifies the data: the latest marts refresh (changes when new data arrives)."""
    return _data_version(reader_url())


def analytics(name: str, filters: Filters | None = None, **kwargs: Any) -> Any:
    """Run the ``geo`` analytics function ``name`` through the cache.

    ``name`` is one of :data:`ANALYTICS`; ``kwargs`` must be hashable values. The result is
    cached per (URL, data version, function, filters, arguments).

    Raises
    ------
    PantauError
        When the database cannot be reached or the arguments are refused.
    """
    if name not in ANALYTICS:
        msg = f"Unknown analytics function {name!r}"
        raise ValueError(msg)
    key = filters_key(filters) if filters is not None else None
    return _analytics(reader_url(), data_version(), name, key, tuple(sorted(kwargs.items())))


def _run(
    name: str, conn: psycopg.Connection, filters: Filters | None, kwargs: dict[str, Any]
) -> Any:
    fn = ANALYTICS[name]
    if filters is not None:
        kwargs = {**kwargs, "filters": filters}
    return fn(conn, **kwargs)


def _period(conn: psycopg.Connection, filters: Filters) -> sla.Period:
    return sla.resolve_period(
        conn,
        filters.start,
        filters.end,
        categories=filters.categories,
        sources=filters.sources,
        statuses=filters.statuses,
    )


def _sla_summary(conn: psycopg.Connection, *, filters: Filters, level: str, by: str | None) -> Any:
    return sla.sla_summary(conn, _period(conn, filters), level=level, by=by)


def _overdue_backlog(conn: psycopg.Connection, *, filters: Filters, level: str) -> Any:
    return sla.overdue_backlog(conn, _period(conn, filters), level=level)


def _data_range(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute(
        "SELECT min(day), max(day), sum(reports) FROM api.daily_counts"
    ).fetchone() or (None, None, None)
    up_to = conn.execute(
        "SELECT data_up_to, refreshed_at FROM api.mart_refreshes ORDER BY refresh_id DESC LIMIT 1"
    ).fetchone() or (None, None)
    ingest = conn.execute(
        "SELECT max(finished_at) FROM api.ingest_runs WHERE status = 'succeeded'"
    ).fetchone() or (None,)
    return {
        "first_day": row[0],
        "last_day": row[1],
        "reports": int(row[2] or 0),
        "data_up_to": up_to[0],
        "refreshed_at": up_to[1],
        "last_ingest": ingest[0],
    }


ANALYTICS: dict[str, Any] = {
    "hotspot_cells": analytics_mod.hotspot_cells,
    "hotspot_areas": analytics_mod.hotspot_areas,
    "emerging_cells": analytics_mod.emerging_cells,
    "trend_table": analytics_mod.trend_table,
    "area_counts": lambda conn, filters, level: analytics_mod.area_counts(conn, level, filters),
    "sla_summary": _sla_summary,
    "overdue_backlog": _overdue_backlog,
    "data_range": _data_range,
    "cell_categories": analytics_mod.cell_categories,
    "area_reports": analytics_mod.area_reports,
}


@st.cache_data(ttl=STATUS_TTL, show_spinner=False)
def _data_version(url: str) -> tuple[Any, ...]:
    with _connection(url) as conn:
        row = conn.execute(
            "SELECT max(refresh_id), max(refreshed_at) FROM api.mart_refreshes"
        ).fetchone()
    return tuple(row) if row else (None, None)


@st.cache_data(ttl=ANALYTICS_TTL, max_entries=ANALYTICS_MAX_ENTRIES, show_spinner="Menghitung…")
def _analytics(
    url: str,
    version: tuple[Any, ...],
    name: str,
    filters: tuple[Any, ...] | None,
    kwargs: tuple[tuple[str, Any], ...],
) -> Any:
    del version  # cache key only
    rebuilt = Filters(*filters) if filters is not None else None
    with _connection(url) as conn:
        return _run(name, conn, rebuilt, dict(kwargs))


def area_list() -> pd.DataFrame:
    """Every area without geometry: ``code, level, name, parent_code, is_placeholder, area_km2``."""
    return _area_list(reader_url(), data_version())


@st.cache_data(ttl=AREAS_TTL, show_spinner=False)
def _area_list(url: str, version: tuple[Any, ...]) -> pd.DataFrame:
    del version
    with _connection(url) as conn:
        return db.read_frame(
            conn,
            "SELECT code, level, name, parent_code, is_placeholder, area_km2, kota_code, "
            "kecamatan_code FROM api.admin_areas ORDER BY code",
        )


def overview(name: str, filters: Filters, *, area: str | None, **kwargs: Any) -> Any:
    """Run the :mod:`geo.overview` function ``name`` for the scope ``area`` through the cache."""
    if name not in OVERVIEW:
        msg = f"Unknown overview function {name!r}"
        raise ValueError(msg)
    return _overview(
        reader_url(),
        data_version(),
        name,
        filters_key(filters),
        area,
        tuple(sorted(kwargs.items())),
    )


OVERVIEW = ("kpis_with_change", "subarea_measures", "top_categories", "daily_trend", "area_rank")


@st.cache_data(ttl=ANALYTICS_TTL, max_entries=ANALYTICS_MAX_ENTRIES, show_spinner="Menghitung…")
def _overview(
    url: str,
    version: tuple[Any, ...],
    name: str,
    filters: tuple[Any, ...],
    area: str | None,
    kwargs: tuple[tuple[str, Any], ...],
) -> Any:
    del version  # cache key only
    from geo import overview as overview_mod

    with _connection(url) as conn:
        fn = getattr(overview_mod, name)
        if name == "area_rank":
            return fn(conn, Filters(*filters), area, **dict(kwargs))
        return fn(conn, Filters(*filters), overview_mod.Scope(area=area), **dict(kwargs))


@contextmanager
def reader_connection() -> Iterator[psycopg.Connection]:
    """A pooled read-only connection for work that is not cached (static map rendering)."""
    with _connection(reader_url()) as conn:
        yield conn
