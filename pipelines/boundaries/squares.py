"""Squares of longitude and latitude wholly inside one unit: the ingest's shortcut for most points.

Testing a point against polygons costs PostgreSQL a GiST index and a few microseconds per
point; looking its square up in a table of squares known to lie inside one kelurahan-level
unit costs a hash probe. PostGIS decides which squares those are, from the loaded polygons
(below); the ingest's parsing workers look each point's square up in that table (a dict), and
only the other points go through ``ST_Covers`` in PostGIS (:mod:`pipelines.spatial_join`).

The squares are cut on a fixed grid of longitude and latitude, so a point's square is two
multiplications away (0.1 us in Python; the H3 res-11 cells used before took 0.4 us), and
they come in two levels: squares of 1/2500 degree (about 44 m), then, inside those
that are not listed (along the boundaries), squares of half the side. In Jakarta about 90 % of
the reports fall in a listed square (84 % did in the H3 res-11 cells; bench/README.md).

The rule, which makes the shortcut give exactly the owner the full join would give:

- a square is listed with owner *A* when the square, enlarged by a millionth of its side
  (0.04 mm, far more than the rounding of the key's arithmetic), is *properly* contained by
  A's polygon (no point on A's boundary) and touches no polygon piece of any other unit;
- then every point whose key is that square's lies in A's interior and in no other unit, so
  ``ST_Covers`` finds A alone and the smallest-code tie rule never comes into play;
- candidates are the squares whose centre lies in a unit (a square inside A has its centre in
  A); at the second level, only those whose first-level square is not listed.

The table is rebuilt in the transaction of every boundary load, and by the ingest when a
database migrated after its boundaries were loaded has none yet.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import psycopg
import shapely

T = TypeVar("T")

#: Squares per degree at the first level (side 1/2500 degree: 44 m); each level halves the side.
SQUARES_PER_DEGREE = 2500
LEVELS = 2
#: A key: the level, the row (latitude) and the column (longitude) of the square, in bits
#: 48 and up, 24 - 47 and 0 - 23 (a column is below 360 x 5000 = 1.8 million < 2**24).
LEVEL_SHIFT, ROW_SHIFT = 48, 24
#: The enlargement of a square on each side, as a fraction of its side.
MARGIN = 1e-6


def square_key(lat: float, lng: float, level: int) -> int:
    """The key of the square of ``level`` (1 or 2) that holds the point."""
    per_degree = _per_degree(level)
    return _key(level, int((lat + 90.0) * per_degree), int((lng + 180.0) * per_degree))


def square_owner(owners: dict[int, T], lat: float, lng: float) -> T | None:
    """The owner the lookup gives the point: its first-level square's, else its second's.

    None for a point off the globe (or NaN): it has no square, and a key computed regardless
    could alias another square's. The ingest's compiled encoder (``pipelines/_rowcodec.c``)
    follows the same rule; the tests compare the two.
    """
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0):
        return None
    for level in range(1, LEVELS + 1):
        owner = owners.get(square_key(lat, lng, level))
        if owner is not None:
            return owner
    return None


def _per_degree(level: int) -> int:
    """Squares per degree at ``level``."""
    return SQUARES_PER_DEGREE << (level - 1)


def _key(level: int, row: Any, column: Any) -> Any:
    """The key of the square at ``row`` and ``column`` of ``level`` (numbers or numpy arrays)."""
    return level << LEVEL_SHIFT | row << ROW_SHIFT | column


_CANDIDATES = """
CREATE TEMP TABLE area_square_candidates (
    square bigint NOT NULL, code text NOT NULL, geom geometry(Polygon, 4326) NOT NULL
) ON COMMIT DROP
"""
# Squares touched by a piece of another unit: a polygon-outer join over the candidates' GiST
# index. Kept as a table: as a NOT IN subquery the planner re-ran it for every candidate.
_TOUCHED = """
CREATE TEMP TABLE area_squares_touched ON COMMIT DROP AS
SELECT DISTINCT t.square FROM pantau.admin_area_parts AS p
JOIN area_square_candidates AS t ON ST_Intersects(p.geom, t.geom)
WHERE p.code <> t.code
"""
# Then the proper containment in the candidate's own unit (candidates arrive sorted by unit, so
# PostGIS reuses each unit's prepared polygon).
_BUILD = """
INSERT INTO pantau.admin_area_squares (square, area_code)
SELECT c.square, a.code
FROM area_square_candidates AS c
JOIN pantau.admin_areas AS a ON a.code = c.code
WHERE ST_ContainsProperly(a.geom, c.geom)
  AND NOT EXISTS (SELECT FROM area_squares_touched AS t WHERE t.square = c.square)
RETURNING square
"""


def build_interior_squares(conn: psycopg.Connection) -> dict[str, float]:
    """Rebuild ``pantau.admin_area_squares`` from the loaded polygons, in ``conn``'s transaction.

    Returns the numbers of candidate and listed squares and the seconds it took.
    """
    started = time.perf_counter()
    conn.execute("DELETE FROM pantau.admin_area_squares")
    rows = conn.execute(
        "SELECT code, ST_AsBinary(geom) FROM pantau.admin_areas WHERE level = 'kelurahan' "
        "ORDER BY code"
    ).fetchall()
    areas = [(code, shapely.from_wkb(wkb)) for code, wkb in rows]
    shapely.prepare([geom for _, geom in areas])
    counts: dict[str, float] = {}
    listed = np.empty(0, dtype=np.int64)
    for level in range(1, LEVELS + 1):
        keys, codes, squares = _candidates(areas, level, listed)
        conn.execute(_CANDIDATES)
        with conn.cursor().copy(
            "COPY area_square_candidates (square, code, geom) FROM STDIN (FORMAT binary)"
        ) as copy:
            copy.set_types(["int8", "text", "bytea"])
            for row in zip(keys.tolist(), codes, squares, strict=True):
                copy.write_row(row)
        conn.execute("CREATE INDEX ON area_square_candidates USING gist (geom)")
        conn.execute("ANALYZE area_square_candidates")
        conn.execute(_TOUCHED)
        conn.execute("ANALYZE area_squares_touched")
        found = [square for (square,) in conn.execute(_BUILD).fetchall()]
        conn.execute("DROP TABLE area_square_candidates, area_squares_touched")
        listed = np.sort(np.concatenate([listed, np.array(found, dtype=np.int64)]))
        counts[f"level{level}_candidates"] = len(keys)
        counts[f"level{level}_squares"] = len(found)
    counts["seconds"] = round(time.perf_counter() - started, 2)
    return counts


def square_bounds(level: int, row: Any, column: Any) -> tuple[Any, Any, Any, Any]:
    """West, south, east and north of squares (numbers or numpy arrays), each enlarged by
    :data:`MARGIN` of its side: what the build tests, and what holds every point of the key."""
    per_degree = _per_degree(level)
    side, margin = 1.0 / per_degree, MARGIN / per_degree
    south, west = row * side - 90.0, column * side - 180.0
    return west - margin, south - margin, west + side + margin, south + side + margin


def _candidates(
    areas: list[tuple[str, shapely.Geometry]], level: int, listed: np.ndarray
) -> tuple[np.ndarray, list[str], list[bytes]]:
    """The squares of ``level`` whose centre lies in a unit and none of whose ancestors is
    listed: their keys, units and enlarged squares (EWKB, SRID 4326)."""
    per_degree = _per_degree(level)
    keys, codes, boxes = [np.empty(0, dtype=np.int64)], [], [np.empty(0, dtype=object)]
    for code, geom in areas:
        minx, miny, maxx, maxy = geom.bounds
        rows = np.arange(int((miny + 90.0) * per_degree), int((maxy + 90.0) * per_degree) + 1)
        columns = np.arange(int((minx + 180.0) * per_degree), int((maxx + 180.0) * per_degree) + 1)
        row, column = (a.ravel() for a in np.meshgrid(rows, columns, indexing="ij"))
        centre_lng, centre_lat = (
            (column + 0.5) / per_degree - 180.0,
            (row + 0.5) / per_degree - 90.0,
        )
        inside = shapely.contains_xy(geom, centre_lng, centre_lat)
        for above in range(1, level):  # not inside a listed square of a level above
            shift = level - above
            inside &= ~_member(_key(above, row >> shift, column >> shift), listed)
        row, column = row[inside], column[inside]
        keys.append(_key(level, row, column))
        codes += [code] * len(row)
        boxes.append(shapely.box(*square_bounds(level, row, column)))
    squares = shapely.set_srid(np.concatenate(boxes), 4326)
    return np.concatenate(keys), codes, list(shapely.to_wkb(squares, include_srid=True))


def _member(keys: np.ndarray, listed: np.ndarray) -> np.ndarray:
    """Which of ``keys`` are in ``listed`` (sorted)."""
    if not len(listed):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(listed, keys), len(listed) - 1)
    return listed[at] == keys


def interior_lookup(conn: psycopg.Connection, value: Callable[[str], T]) -> dict[int, T]:
    """The lookup with ``value(area code)`` for each square (one object per unit, shared).

    Fetched as one binary array of squares per unit: row by row took twice as long. Each square
    goes into the dict once (``dict.fromkeys`` and then ``update`` inserted it twice: 13 ms more
    per batch).
    """
    lookup: dict[int, T] = {}
    with conn.cursor(binary=True) as cur:
        cur.execute(
            "SELECT area_code, array_agg(square) FROM pantau.admin_area_squares GROUP BY area_code"
        )
        for code, squares in cur:
            lookup.update(zip(squares, itertools.repeat(value(code))))
    return lookup


def ensure_interior_squares(conn: psycopg.Connection) -> None:
    """Build and commit the lookup if boundaries are loaded but it is empty.

    That is a database whose boundaries were loaded before migration 0009; every later load
    builds the lookup itself. Without it the ingest is still right, only slower (every point
    then goes through ``ST_Covers``).
    """
    query = (
        "SELECT EXISTS (SELECT FROM pantau.admin_areas) "
        "AND NOT EXISTS (SELECT FROM pantau.admin_area_squares)"
    )
    if conn.execute(query).fetchone() != (True,):
        conn.rollback()
        return
    conn.execute("LOCK TABLE pantau.admin_area_squares IN EXCLUSIVE MODE")  # one builder at a time
    if conn.execute(query).fetchone() == (True,):
        build_interior_squares(conn)
    conn.commit()
