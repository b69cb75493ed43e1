"""PostGIS owner assignment agrees with an independent geopandas join."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg

from geo import db
from geo.boundaries import areas_frame
from pipelines.spatial_join import locate_points


def _geopandas_owner(polygons: gpd.GeoDataFrame, lng: np.ndarray, lat: np.ndarray) -> pd.Series:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lng, lat), crs=4326)
    joined = gpd.sjoin(points, polygons[["code", "geometry"]], how="left", predicate="covered_by")
    return joined.groupby(level=0)["code"].min().reindex(range(len(lng)))


def test_same_owner_as_geopandas_for_10000_points(bps2020_loaded: str) -> None:
    rng = np.random.default_rng(2024)
    # Jakarta's bounding box including Kepulauan Seribu, plus a dense mainland sample.
    lng = np.concatenate([rng.uniform(106.35, 107.0, 5000), rng.uniform(106.68, 106.98, 5000)])
    lat = np.concatenate([rng.uniform(-6.4, -5.18, 5000), rng.uniform(-6.38, -6.08, 5000)])
    with db.connect(bps2020_loaded) as conn:
        polygons = areas_frame(conn, "kelurahan")
        owners = locate_points(conn, lng, lat)
        conn.rollback()
    expected = _geopandas_owner(polygons, lng, lat)
    assert len(owners) == 10_000
    assert owners["area_code"].notna().sum() > 2500, "over half the mainland box is land"
    assert owners["outside"].sum() > 1000, "most of the box around the islands is sea"
    np.testing.assert_array_equal(
        owners["area_code"].fillna("-").to_numpy(), expected.fillna("-").to_numpy()
    )


def test_placeholder_point_is_inside_but_in_no_kelurahan(bps2020_loaded: str) -> None:
    with db.connect(bps2020_loaded) as conn:
        x, y = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM api.admin_areas WHERE code = '3175888888') AS s"
        ).fetchone() or (None, None)
        owners = locate_points(conn, np.array([x]), np.array([y]))
        conn.rollback()
    row = owners.iloc[0]
    assert row["area_code"] == "3175888888"
    assert pd.isna(row["kelurahan_code"]) and pd.isna(row["kecamatan_code"])
    assert row["kota_code"] == "3175"
    assert not row["outside"]


def test_nan_coordinates_are_unknown_not_outside(
    writer_conn: psycopg.Connection, bps2020_loaded: str
) -> None:
    owners = locate_points(writer_conn, np.array([np.nan, 106.8532]), np.array([-6.2, -6.2261]))
    assert pd.isna(owners.loc[0, "outside"])
    assert owners.loc[1, "kelurahan_code"] == "3171090003"
    assert not owners.loc[1, "outside"]
