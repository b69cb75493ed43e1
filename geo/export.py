"""Write analytical tables as CSV, GeoJSON or GeoPackage, chosen by the file's extension.

Planners open the results in QGIS or a spreadsheet. A table keyed by area ``code`` gets the
area's polygon from ``api.admin_areas``; a table keyed by H3 ``cell`` gets the hexagon from
h3. CSV carries no geometry (the keys join back to it). GeoJSON is written in EPSG:4326 as
RFC 7946 wants; a GeoPackage gets one layer named after the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import h3
import pandas as pd
import psycopg
import shapely

from geo.db import read_geoframe
from geo.errors import PantauError

FORMATS = {".csv": "CSV", ".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}


def output_format(path: Path) -> str:
    """The format of ``path`` by extension, or a clear error listing the supported ones."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = f"Cannot write {path.name}: use one of {', '.join(FORMATS)}."
        raise PantauError(msg)
    if not path.parent.exists():
        msg = f"The folder {path.parent} does not exist."
        raise PantauError(msg)
    return fmt


def cell_polygons(cells: Sequence[str]) -> list[shapely.Polygon]:
    """The hexagon of each H3 cell (hex string id) as a lng/lat polygon."""
    return [
        shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]) for cell in cells
    ]


def area_geometries(conn: psycopg.Connection, codes: Sequence[str]) -> gpd.GeoDataFrame:
    """The polygons of the given area codes (any level), as ``code, geometry``."""
    return read_geoframe(
        conn,
        "SELECT code, ST_AsBinary(geom) AS geom FROM api.admin_areas WHERE code = ANY(%s)",
        [list(codes)],
    )


def write_table(frame: pd.DataFrame, path: Path, *, conn: psycopg.Connection | None = None) -> str:
    """Write ``frame`` to ``path`` (CSV / GeoJSON / GPKG); return the format used.

    For the spatial formats the frame must have a ``code`` (area; ``conn`` needed) or a
    ``cell`` (H3 id as text) column.
    """
    fmt = output_format(path)
    if fmt == "CSV":
        frame.to_csv(path, index=False)
        return fmt
    if "cell" in frame.columns:
        geoms = cell_polygons(frame["cell"].astype(str).tolist())
        out = gpd.GeoDataFrame(frame.copy(), geometry=geoms, crs="EPSG:4326")
    elif "code" in frame.columns and conn is not None:
        shapes = area_geometries(conn, frame["code"].dropna().unique().tolist())
        merged = frame.merge(shapes, on="code", how="left")
        out = gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")
    else:
        msg = "A spatial export needs a 'code' or 'cell' column."
        raise PantauError(msg)
    _write_spatial(out, path, fmt, layer=path.stem)
    return fmt


def _write_spatial(out: gpd.GeoDataFrame, path: Path, fmt: str, *, layer: str) -> None:
    """Write a GeoJSON or a one-layer GeoPackage (``layer``) to ``path``, replacing it."""
    for column in out.columns:  # GDAL has no date type for GeoJSON; write ISO text
        if column != "geometry" and pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].astype(str)
    if path.exists():
        path.unlink()  # a GeoPackage would otherwise gain a second layer
    out.to_file(path, driver=fmt, layer=layer if fmt == "GPKG" else None)


def table_bytes(
    frame: pd.DataFrame, fmt: str, *, geometry: Sequence[object] | None = None
) -> bytes:
    """``frame`` as the bytes of a CSV, GeoJSON or GPKG file (for downloads).

    ``geometry`` (lng/lat shapes in the frame's row order) is required for the spatial formats.
    """
    import tempfile

    suffix = {"CSV": ".csv", "GeoJSON": ".geojson", "GPKG": ".gpkg"}.get(fmt)
    if suffix is None:
        msg = f"Unknown format {fmt!r}: use CSV, GeoJSON or GPKG."
        raise PantauError(msg)
    if fmt == "CSV":
        return frame.to_csv(index=False).encode("utf-8")
    if geometry is None:
        msg = "A spatial export needs the geometry of every row."
        raise PantauError(msg)
    out = gpd.GeoDataFrame(frame.copy(), geometry=list(geometry), crs="EPSG:4326")
    for column in out.columns:  # dates and mixed values as text, as GDAL wants
        if column != "geometry" and out[column].dtype == object:
            out[column] = out[column].astype(str)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"pantau{suffix}"
        _write_spatial(out, path, fmt, layer="pantau")
        return path.read_bytes()
