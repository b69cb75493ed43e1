"""Assign points to the administrative unit that covers them, in PostGIS.

The ownership rule, used by ingest, ``boundaries locate`` and the benchmark alike:

- a point belongs to the kelurahan-level unit whose polygon *covers* it (``ST_Covers``: a
  point on the boundary counts as inside);
- a point on a shared boundary is covered by two or more units: the one with the smallest
  code wins, so the answer never depends on row order or plan;
- a point covered by no unit is *outside* (sea, another province): it keeps no owner and is
  never snapped to the nearest area;
- a point in a placeholder unit (Danau Sunter, Prepedan) is inside Jakarta and is counted in
  its kota (and its kecamatan when the unit lies in a real one), but in no kelurahan.

How: the kelurahan polygons are pre-cut into small pieces (``pantau.admin_area_parts``,
``ST_Subdivide``). The points get a GiST index, then the join holds one polygon piece at a time
and scans the points inside it. PostGIS caches the prepared form of the polygon across those
consecutive tests, which makes this several times faster than probing the polygon index once
per point (measured in ``bench/README.md``).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from geo import db

#: Columns describing a point's owner, as added by :func:`locate_points`.
OWNER_COLUMNS = ["area_code", "kelurahan_code", "kecamatan_code", "kota_code", "outside"]


STAGING_SCHEMA = "pantau_staging"


def staging_table(prefix: str) -> sql.Identifier:
    """A per-process name in the staging schema (``pantau_staging.<prefix>_<pid>``)."""
    return sql.Identifier(STAGING_SCHEMA, f"{prefix}_{os.getpid()}")


def owners_query(
    points: sql.Composable, *, id_col: str = "id", geom_col: str = "geom"
) -> sql.Composed:
    """SELECT (id, area_code) for every point covered by a unit, one row per point.

    ``points`` names a table with a unique ``id_col`` and a Point ``geom_col`` in EPSG:4326. It
    must have a GiST index on ``geom_col`` and fresh statistics (``ANALYZE``); an unlogged
    table lets the planner use parallel workers, a temp table does not. Ties on shared
    boundaries go to the smallest code.
    """
    return sql.SQL(
        """
        SELECT pt.{id} AS id, min(p.code) AS area_code
        FROM pantau.admin_area_parts AS p
        JOIN {points} AS pt ON ST_Covers(p.geom, pt.{geom})
        GROUP BY pt.{id}
        """
    ).format(points=points, id=sql.Identifier(id_col), geom=sql.Identifier(geom_col))


def codes_query(owners: sql.Composable) -> sql.Composed:
    """Owner codes for the (id, area_code) rows of ``owners`` (placeholders: no kelurahan)."""
    return sql.SQL(
        """
        SELECT o.id, o.area_code,
               CASE WHEN a.is_placeholder THEN NULL ELSE a.code END AS kelurahan_code,
               a.kecamatan_code, a.kota_code
        FROM {owners} AS o JOIN pantau.admin_areas AS a ON a.code = o.area_code
        """
    ).format(owners=owners)


#: One row of PostgreSQL's binary COPY format for (id bigint, lng float8, lat float8):
#: a field count, then each field as a length and big-endian bytes.
_POINT_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("id_len", ">i4"),
        ("id", ">i8"),
        ("lng_len", ">i4"),
        ("lng", ">f8"),
        ("lat_len", ">i4"),
        ("lat", ">f8"),
    ]
)


def _binary_copy_rows(lng: np.ndarray, lat: np.ndarray) -> bytes:
    """The whole COPY payload, built by numpy in one go (no per-row Python)."""
    rows = np.empty(len(lng), dtype=_POINT_ROW)
    rows["fields"] = 3
    rows["id_len"] = 8
    rows["lng_len"] = 8
    rows["lat_len"] = 8
    rows["id"] = np.arange(len(lng))
    rows["lng"] = lng
    rows["lat"] = lat
    return db.COPY_BINARY_HEADER + rows.tobytes() + db.COPY_BINARY_TRAILER


def copy_points(
    conn: psycopg.Connection, table: sql.Identifier, lng: np.ndarray, lat: np.ndarray
) -> None:
    """Create unlogged table ``table`` (id, lng, lat, geom) from coordinate arrays.

    The rows go through a binary COPY whose payload numpy builds in one call, and the geometry
    is a generated column built by PostGIS. ``id`` is the 0-based position in the arrays; a NaN
    coordinate gives a NULL geometry, which no area covers. Call it inside a transaction that
    is never committed (or drop the table): a crash then leaves nothing behind.
    """
    conn.execute(
        sql.SQL(
            "CREATE UNLOGGED TABLE {} (id bigint, lng float8, lat float8, "
            "geom geometry(Point, 4326) "
            "GENERATED ALWAYS AS (CASE WHEN lng <> 'NaN' AND lat <> 'NaN' "
            "THEN ST_SetSRID(ST_MakePoint(lng, lat), 4326) END) STORED)"
        ).format(table)
    )
    payload = _binary_copy_rows(np.asarray(lng, dtype="float64"), np.asarray(lat, dtype="float64"))
    copy_sql = sql.SQL("COPY {} (id, lng, lat) FROM STDIN (FORMAT binary)").format(table)
    with conn.cursor().copy(copy_sql) as copy:
        copy.write(payload)


def index_points(conn: psycopg.Connection, table: sql.Identifier) -> None:
    """GiST index and statistics on ``table.geom``: what :func:`owners_query` relies on."""
    conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(table))
    conn.execute(sql.SQL("ANALYZE {}").format(table))


def locate_points(conn: psycopg.Connection, lng: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """Owner of each (lng, lat) point, in input order, with the columns of ``OWNER_COLUMNS``.

    NaN coordinates get no owner and ``outside`` = NA (unknown, not outside). Works in the
    caller's transaction and leaves nothing behind (its tables are dropped).
    """
    lng = np.asarray(lng, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    points = staging_table("locate_points")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(points))
    copy_points(conn, points, lng, lat)
    index_points(conn, points)
    with conn.cursor() as cur:
        cur.execute(codes_query(sql.SQL("({})").format(owners_query(points))))
        found = pd.DataFrame(cur.fetchall(), columns=["id", *OWNER_COLUMNS[:4]])
    conn.execute(sql.SQL("DROP TABLE {}").format(points))
    result = pd.DataFrame(index=pd.RangeIndex(len(lng)), columns=OWNER_COLUMNS[:4], dtype=object)
    if not found.empty:
        result.loc[found["id"].to_numpy(), OWNER_COLUMNS[:4]] = found[OWNER_COLUMNS[:4]].to_numpy()
    valid = ~(np.isnan(lng) | np.isnan(lat))
    outside = pd.Series(pd.NA, index=result.index, dtype="boolean")
    outside[valid] = result.loc[valid, "area_code"].isna().to_numpy()
    result["outside"] = outside
    return result
