"""H3 cells wholly inside one kelurahan-level unit: the ingest's shortcut for most points.

Testing a point against polygons costs PostgreSQL a GiST index and a few microseconds per
point; looking its H3 cell up in a table of cells known to lie inside one unit costs a hash
probe. In Jakarta about 84 % of reports fall in such a res-11 cell (edge about 25 m). PostGIS
decides which cells those are, from the loaded polygons (below); the ingest's parsing workers
then look each point's res-11 cell up in that table (a dict, next to the res-12 cell they
compute anyway), and only the other points go through ``ST_Covers`` in PostGIS
(:mod:`pipelines.spatial_join`).

The rule, which makes the shortcut give exactly the owner the full join would give:

- a cell is listed with owner *A* when its hexagon, enlarged by 0.1 % about its centre (a few
  centimetres), is *properly* contained by A's polygon (no point on A's boundary) and touches
  no polygon piece of any other unit;
- then every point H3 assigns to that cell lies in A's interior and in no other unit, so
  ``ST_Covers`` finds A alone and the smallest-code tie rule never comes into play. The
  enlargement covers the difference between H3's own cell edges (great-circle arcs) and the
  straight longitude/latitude edges PostGIS draws between the same vertices.
- candidates are the cells whose centre lies in a unit (``h3shape_to_cells``): a cell inside A
  has its centre in A.

H3 is not a strict hierarchy (a res-12 cell's parent does not contain all of it), so the
lookup key is the point's own res-11 cell, computed from its coordinates, never a parent of
its stored res-12 cell.

The table is rebuilt in the transaction of every boundary load, and by the ingest when a
database migrated after its boundaries were loaded has none yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import h3
import numpy as np
import psycopg
import shapely
from h3.api import basic_int as h3int

T = TypeVar("T")

#: Resolution of the lookup (about 301,000 candidate cells over Jakarta, 91 % of them inside
#: one unit; res 10 would cover 71 % of the points, res 11 84 %).
CELL_RESOLUTION = 11
#: Enlargement of each hexagon about its centre before the containment test.
MARGIN_SCALE = 1.001

_CANDIDATES = """
CREATE TEMP TABLE area_cell_candidates (
    cell bigint NOT NULL, code text NOT NULL, geom geometry(Polygon, 4326) NOT NULL
) ON COMMIT DROP
"""
# Cells touched by a piece of another unit: a polygon-outer join over the candidates' GiST index
# (0.3 s). Kept as a table: as a NOT IN subquery the planner re-ran it for every candidate.
_TOUCHED = """
CREATE TEMP TABLE area_cells_touched ON COMMIT DROP AS
SELECT DISTINCT t.cell FROM pantau.admin_area_parts AS p
JOIN area_cell_candidates AS t ON ST_Intersects(p.geom, t.geom)
WHERE p.code <> t.code
"""
# Then the proper containment in the candidate's own unit (candidates arrive sorted by unit, so
# PostGIS reuses each unit's prepared polygon: 0.4 s for 301,000 cells).
_BUILD = """
INSERT INTO pantau.admin_area_cells (cell, area_code, kelurahan_code, kecamatan_code, kota_code)
SELECT c.cell, a.code, CASE WHEN a.is_placeholder THEN NULL ELSE a.code END,
       a.kecamatan_code, a.kota_code
FROM area_cell_candidates AS c
JOIN pantau.admin_areas AS a ON a.code = c.code
WHERE ST_ContainsProperly(a.geom, c.geom)
  AND NOT EXISTS (SELECT FROM area_cells_touched AS t WHERE t.cell = c.cell)
"""


def build_area_cells(conn: psycopg.Connection) -> dict[str, float]:
    """Rebuild ``pantau.admin_area_cells`` from the loaded polygons, in ``conn``'s transaction.

    Returns the numbers of candidate and listed cells and the seconds it took.
    """
    started = time.perf_counter()
    conn.execute("DELETE FROM pantau.admin_area_cells")
    areas = conn.execute(
        "SELECT code, ST_AsBinary(geom) FROM pantau.admin_areas WHERE level = 'kelurahan' "
        "ORDER BY code"
    ).fetchall()
    cells: list[int] = []
    codes: list[str] = []
    for code, wkb in areas:
        shape = h3.geo_to_h3shape(shapely.from_wkb(wkb).__geo_interface__)
        found = h3int.h3shape_to_cells(shape, CELL_RESOLUTION)
        cells.extend(found)
        codes.extend([code] * len(found))
    conn.execute(_CANDIDATES)
    with conn.cursor().copy(
        "COPY area_cell_candidates (cell, code, geom) FROM STDIN (FORMAT binary)"
    ) as copy:
        copy.set_types(["int8", "text", "bytea"])
        for cell, code, wkb in zip(cells, codes, _enlarged_hexagons(cells), strict=True):
            copy.write_row((cell, code, wkb))
    conn.execute("CREATE INDEX ON area_cell_candidates USING gist (geom)")
    conn.execute("ANALYZE area_cell_candidates")
    conn.execute(_TOUCHED)
    conn.execute("ANALYZE area_cells_touched")
    listed = conn.execute(_BUILD).rowcount
    conn.execute("DROP TABLE area_cell_candidates, area_cells_touched")
    return {
        "candidates": len(cells),
        "cells": listed,
        "seconds": round(time.perf_counter() - started, 2),
    }


def interior_lookup(conn: psycopg.Connection, value: Callable[[str], T]) -> dict[int, T]:
    """The lookup with ``value(area code)`` for each cell (one object per unit, shared).

    Fetched as one binary array of cells per unit: row by row took twice as long.
    """
    lookup: dict[int, T] = {}
    with conn.cursor(binary=True) as cur:
        cur.execute(
            "SELECT area_code, array_agg(cell) FROM pantau.admin_area_cells GROUP BY area_code"
        )
        for code, cells in cur:
            lookup.update(dict.fromkeys(cells, value(code)))
    return lookup


def ensure_area_cells(conn: psycopg.Connection) -> None:
    """Build and commit the lookup if boundaries are loaded but it is empty.

    That is a database whose boundaries were loaded before migration 0007; every later load
    builds the lookup itself. Without it the ingest is still right, only slower (every point
    then goes through ``ST_Covers``).
    """
    query = (
        "SELECT EXISTS (SELECT FROM pantau.admin_areas) "
        "AND NOT EXISTS (SELECT FROM pantau.admin_area_cells)"
    )
    if conn.execute(query).fetchone() != (True,):
        conn.rollback()
        return
    conn.execute("LOCK TABLE pantau.admin_area_cells IN EXCLUSIVE MODE")  # one builder at a time
    if conn.execute(query).fetchone() == (True,):
        build_area_cells(conn)
    conn.commit()


def _enlarged_hexagons(cells: list[int]) -> list[bytes]:
    """EWKB polygons (SRID 4326) of the cells, each enlarged by ``MARGIN_SCALE``."""
    boundaries = [h3int.cell_to_boundary(cell) for cell in cells]
    geoms = np.empty(len(cells), dtype=object)
    sizes = np.array([len(b) for b in boundaries])
    for size in np.unique(sizes):  # hexagons, and the odd cell with extra distortion vertices
        where = np.flatnonzero(sizes == size)
        rings = np.array([boundaries[i] for i in where])[:, :, ::-1]  # (lat, lng) -> (lng, lat)
        centres = rings.mean(axis=1, keepdims=True)
        geoms[where] = shapely.polygons(centres + (rings - centres) * MARGIN_SCALE)
    geoms = shapely.set_srid(geoms, 4326)
    return list(shapely.to_wkb(geoms, include_srid=True))
