"""Read-side queries about the loaded administrative areas (through the ``api`` views)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import psycopg

from geo.db import read_geoframe

LEVELS = ("kota", "kecamatan", "kelurahan")

_STATUS = """
SELECT count(*) FILTER (WHERE level = 'kota') AS kota,
       count(*) FILTER (WHERE level = 'kecamatan') AS kecamatan,
       count(*) FILTER (WHERE level = 'kelurahan' AND NOT is_placeholder) AS kelurahan,
       count(*) FILTER (WHERE is_placeholder) AS placeholder
FROM api.admin_areas
"""

_SOURCE = (
    "SELECT source, licence, attribution, file_name, format, loaded_at FROM api.boundary_source"
)


def boundary_status(conn: psycopg.Connection) -> dict[str, Any]:
    """Counts per level and the provenance of the loaded set (``source`` None when empty)."""
    kota, kecamatan, kelurahan, placeholder = conn.execute(_STATUS).fetchone() or (0, 0, 0, 0)
    row = conn.execute(_SOURCE).fetchone()
    source, licence, attribution, file_name, fmt, loaded_at = row or (None,) * 6
    return {
        "kota": kota,
        "kecamatan": kecamatan,
        "kelurahan": kelurahan,
        "placeholder": placeholder,
        "source": source,
        "loaded_at": loaded_at.isoformat() if loaded_at else None,
        "licence": licence,
        "attribution": attribution,
        "file": file_name,
        "format": fmt,
    }


def areas_frame(
    conn: psycopg.Connection, level: str, *, simplify_m: float = 0.0
) -> gpd.GeoDataFrame:
    """The areas of one level with their attributes, geometry simplified for display.

    ``simplify_m`` is a tolerance in metres (topology-preserving); 0 keeps full detail. A map
    of 267 kelurahan needs about 20 m to stay well under a megabyte.
    """
    if level not in LEVELS:
        msg = f"level must be one of {', '.join(LEVELS)}, not {level!r}"
        raise ValueError(msg)
    degrees = simplify_m / 111_320.0
    return read_geoframe(
        conn,
        """
        SELECT level, code, name, parent_code, kota_code, kecamatan_code, is_placeholder, area_km2,
               ST_AsBinary(CASE WHEN %(tol)s > 0 THEN ST_SimplifyPreserveTopology(geom, %(tol)s)
                                ELSE geom END) AS geom
        FROM api.admin_areas WHERE level = %(level)s ORDER BY code
        """,
        {"level": level, "tol": degrees},
    )
