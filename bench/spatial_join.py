"""Spatial join benchmark: points to kelurahan, PostGIS against geopandas, same points.

PostGIS is timed the way the ingest uses it: the points are COPYed into an unlogged staging
table (timed, but outside the ratio, since the ingest COPYs its rows anyway), then get a GiST
index and statistics, then the polygon-outer join of :mod:`pipelines.spatial_join` assigns
each point its owner. geopandas is timed from coordinate arrays to owners:
``points_from_xy`` + ``sjoin(predicate="covered_by")`` + the same smallest-code tie rule. The
polygons are read once, untimed, for both.

Everything runs in one transaction that is rolled back: the database is left as it was.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from bench.report import emit
from geo import db
from geo.boundaries import areas_frame
from geo.errors import PantauError
from pipelines.spatial_join import copy_points, index_points, owners_query, staging_table

#: Jakarta's mainland (the five kota without Kepulauan Seribu), lon/lat.
MAINLAND_BOX = (106.68, -6.38, 106.98, -6.08)


def random_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform points in the mainland box (reproducible by seed)."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = MAINLAND_BOX
    return rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)


def geopandas_owners(polygons: gpd.GeoDataFrame, lng: np.ndarray, lat: np.ndarray) -> pd.Series:
    """Owner code per point with geopandas (NaN when outside); smallest code wins ties."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lng, lat), crs=4326)
    joined = gpd.sjoin(points, polygons[["code", "geometry"]], how="left", predicate="covered_by")
    return joined.groupby(level=0)["code"].min().reindex(range(len(lng)))


def postgis_owners(
    conn: psycopg.Connection, lng: np.ndarray, lat: np.ndarray
) -> tuple[pd.Series, dict[str, float]]:
    """Owner code per point with PostGIS, and the seconds of each stage."""
    points = staging_table("bench_points")
    owners = staging_table("bench_owners")
    clock = [time.perf_counter()]
    copy_points(conn, points, lng, lat)
    clock.append(time.perf_counter())
    index_points(conn, points)
    clock.append(time.perf_counter())
    conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(owners, owners_query(points)))
    clock.append(time.perf_counter())
    found = db.read_frame(conn, sql.SQL("SELECT id, area_code FROM {}").format(owners))
    series = pd.Series(found["area_code"].to_numpy(), index=found["id"].astype(int).to_numpy())
    stages = dict(zip(("copy", "index", "join"), map(float, np.diff(clock)), strict=True))
    return series.reindex(range(len(lng))), stages


def _recut(conn: psycopg.Connection, max_vertices: int) -> None:
    conn.execute("DELETE FROM pantau.admin_area_parts")
    conn.execute(
        "INSERT INTO pantau.admin_area_parts (code, geom) SELECT code, ST_Subdivide(geom, %s) "
        "FROM pantau.admin_areas WHERE level = 'kelurahan'",
        [max_vertices],
    )


def run(*, points: int, seed: int, max_vertices: int | None, as_json: bool) -> dict[str, object]:
    """Run the benchmark and print its figures."""
    if points <= 0:
        msg = "--points must be positive"
        raise PantauError(msg)
    lng, lat = random_points(points, seed)
    with db.connect(db.writer_url()) as conn:
        if max_vertices is not None:
            _recut(conn, max_vertices)
        row = conn.execute("SELECT count(*) FROM pantau.admin_area_parts").fetchone()
        parts = int(row[0]) if row else 0
        if parts == 0:
            msg = "No boundaries loaded: run `python -m pipelines boundaries load` first."
            raise PantauError(msg)
        polygons = areas_frame(conn, "kelurahan")
        pg_owner, stage = postgis_owners(conn, lng, lat)
        conn.rollback()

    t0 = time.perf_counter()
    gp_owner = geopandas_owners(polygons, lng, lat)
    gp_s = time.perf_counter() - t0

    pg_s = stage["index"] + stage["join"]
    agree = float((pg_owner.fillna("-").to_numpy() == gp_owner.fillna("-").to_numpy()).mean())
    result = {
        "benchmark": "spatial_join",
        "points": points,
        "seed": seed,
        "parts": parts,
        "max_vertices": max_vertices,
        "inside": int(pg_owner.notna().sum()),
        "postgis_copy_s": round(stage["copy"], 3),
        "postgis_index_s": round(stage["index"], 3),
        "postgis_join_s": round(stage["join"], 3),
        "postgis_points_per_s": round(points / pg_s),
        "postgis_with_copy_points_per_s": round(points / (pg_s + stage["copy"])),
        "geopandas_s": round(gp_s, 3),
        "geopandas_points_per_s": round(points / gp_s),
        "ratio_postgis_over_geopandas": round(gp_s / pg_s, 2),
        "ratio_with_copy": round(gp_s / (pg_s + stage["copy"]), 2),
        "agreement": agree,
    }
    rows = [
        ("points", f"{points:,}"),
        ("polygon pieces (ST_Subdivide)", f"{parts:,}"),
        ("inside a kelurahan-level unit", f"{result['inside']:,}"),
        ("PostGIS COPY into staging", f"{stage['copy']:.2f} s"),
        ("PostGIS GiST + ANALYZE", f"{stage['index']:.2f} s"),
        ("PostGIS join", f"{stage['join']:.2f} s"),
        ("PostGIS points/s (index + join)", f"{result['postgis_points_per_s']:,}"),
        ("geopandas sjoin", f"{gp_s:.2f} s"),
        ("geopandas points/s", f"{result['geopandas_points_per_s']:,}"),
        ("ratio PostGIS / geopandas", f"{result['ratio_postgis_over_geopandas']:.2f}"),
        ("ratio counting COPY too", f"{result['ratio_with_copy']:.2f}"),
        ("same owner in both", f"{agree:.4%}"),
    ]
    emit("Spatial join: points -> kelurahan", rows, result, as_json=as_json)
    return result
