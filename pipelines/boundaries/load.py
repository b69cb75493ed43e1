"""Replace the boundary set in PostGIS, in one transaction.

Kelurahan-level rows come from the file; kecamatan and kota are derived by dissolving them in
PostGIS, so the three levels always nest exactly. A load that fails anywhere rolls back and
leaves the previous set untouched. Existing reports are re-assigned to the new polygons in the
same transaction, so reports and boundaries never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import shapely
from psycopg import sql

from geo.errors import PantauError
from pipelines.boundaries.read import COLUMNS, BoundarySet
from pipelines.boundaries.squares import build_interior_squares
from pipelines.spatial_join import codes_query, owners_query, staging_table

#: Maximum vertices per piece in ``admin_area_parts`` (see bench/README.md for the choice).
SUBDIVIDE_MAX_VERTICES = 64


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a loaded boundary set came from."""

    source: str
    file_name: str
    sha256: str
    licence: str | None
    attribution: str | None


_STAGE_COLUMNS = (*COLUMNS, "geom")

_INSERT_KELURAHAN = """
INSERT INTO pantau.admin_areas
    (code, level, source_code, name, parent_code, kota_code, kecamatan_code, is_placeholder,
     area_km2, load_id, geom)
SELECT s.code, 'kelurahan', s.source_code, s.name,
       CASE WHEN k.kecamatan_code IS NOT NULL THEN s.kecamatan_code ELSE s.kota_code END,
       s.kota_code, k.kecamatan_code, s.is_placeholder,
       ST_Area(s.geom::geography) / 1e6, %(load_id)s, s.geom
FROM boundary_stage AS s
LEFT JOIN (SELECT DISTINCT kecamatan_code FROM boundary_stage WHERE NOT is_placeholder) AS k
       ON k.kecamatan_code = s.kecamatan_code
"""

# A kecamatan is the union of its kelurahan (a placeholder unit inside a real kecamatan
# included); names are the most frequent spelling among its real kelurahan.
_INSERT_KECAMATAN = """
INSERT INTO pantau.admin_areas
    (code, level, source_code, name, parent_code, kota_code, kecamatan_code, area_km2, load_id,
     geom)
SELECT a.kecamatan_code, 'kecamatan', a.kecamatan_code,
       (SELECT mode() WITHIN GROUP (ORDER BY s.kecamatan_name) FROM boundary_stage AS s
         WHERE s.kecamatan_code = a.kecamatan_code AND NOT s.is_placeholder),
       min(a.kota_code), min(a.kota_code), a.kecamatan_code,
       0, %(load_id)s, ST_Multi(ST_CollectionExtract(ST_Union(a.geom), 3))
FROM pantau.admin_areas AS a
WHERE a.level = 'kelurahan' AND a.kecamatan_code IS NOT NULL
GROUP BY a.kecamatan_code
"""

# A kota is the union of all its kelurahan-level units, placeholders included (a lake inside
# Jakarta Utara is Jakarta Utara's territory).
_INSERT_KOTA = """
INSERT INTO pantau.admin_areas
    (code, level, source_code, name, parent_code, kota_code, area_km2, load_id, geom)
SELECT a.kota_code, 'kota', a.kota_code,
       (SELECT mode() WITHIN GROUP (ORDER BY s.kota_name) FROM boundary_stage AS s
         WHERE s.kota_code = a.kota_code AND NOT s.is_placeholder),
       NULL, a.kota_code, 0, %(load_id)s, ST_Multi(ST_CollectionExtract(ST_Union(a.geom), 3))
FROM pantau.admin_areas AS a
WHERE a.level = 'kelurahan'
GROUP BY a.kota_code
"""

_COUNTS = """
SELECT count(*) FILTER (WHERE level = 'kota'),
       count(*) FILTER (WHERE level = 'kecamatan'),
       count(*) FILTER (WHERE level = 'kelurahan' AND NOT is_placeholder),
       count(*) FILTER (WHERE is_placeholder)
FROM pantau.admin_areas
"""


def load_boundaries(
    conn: psycopg.Connection, boundaries: BoundarySet, provenance: Provenance
) -> dict[str, Any]:
    """Replace the loaded boundaries with ``boundaries``; return the status of the new set.

    Everything runs in one transaction on ``conn``: on any error nothing changes.

    Raises
    ------
    PantauError
        When the database refuses the load (the previous set is then unchanged).
    """
    try:
        return _replace(conn, boundaries, provenance)
    except psycopg.Error as exc:
        conn.rollback()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"The database refused the boundary load ({first}); the loaded set is unchanged."
        raise PantauError(msg) from exc


def _replace(
    conn: psycopg.Connection, boundaries: BoundarySet, provenance: Provenance
) -> dict[str, Any]:
    with conn.transaction():
        _stage(conn, boundaries)
        load_id = _record_load(conn, boundaries, provenance)
        conn.execute("DELETE FROM pantau.admin_area_squares")
        conn.execute("DELETE FROM pantau.admin_area_parts")
        conn.execute("DELETE FROM pantau.admin_areas")
        params = {"load_id": load_id}
        conn.execute(_INSERT_KELURAHAN, params)
        conn.execute(_INSERT_KECAMATAN, params)
        conn.execute(_INSERT_KOTA, params)
        conn.execute(
            "UPDATE pantau.admin_areas SET area_km2 = ST_Area(geom::geography) / 1e6 "
            "WHERE level <> 'kelurahan'"
        )
        conn.execute(
            "INSERT INTO pantau.admin_area_parts (code, geom) "
            "SELECT code, ST_Subdivide(geom, %s) FROM pantau.admin_areas WHERE level = 'kelurahan'",
            [SUBDIVIDE_MAX_VERTICES],
        )
        build_interior_squares(conn)
        reassigned = _reassign_reports(conn)
        kota, kecamatan, kelurahan, placeholder = conn.execute(_COUNTS).fetchone() or (0, 0, 0, 0)
        counts = {
            "kota": kota,
            "kecamatan": kecamatan,
            "kelurahan": kelurahan,
            "placeholder": placeholder,
        }
        conn.execute(
            "UPDATE pantau.boundary_loads SET counts = %s WHERE load_id = %s",
            [json.dumps(counts), load_id],
        )
    conn.commit()
    return {**counts, "reports_reassigned": reassigned}


def _stage(conn: psycopg.Connection, boundaries: BoundarySet) -> None:
    conn.execute(
        """
        CREATE TEMP TABLE boundary_stage (
            code text, source_code text, name text, kecamatan_code text, kecamatan_name text,
            kota_code text, kota_name text, is_placeholder boolean,
            geom geometry(MultiPolygon, 4326)
        ) ON COMMIT DROP
        """
    )
    frame = boundaries.frame
    ewkb = shapely.to_wkb(
        shapely.set_srid(frame.geometry.to_numpy(), 4326), hex=True, include_srid=True
    )
    columns = sql.SQL(", ").join(map(sql.Identifier, _STAGE_COLUMNS))
    with conn.cursor().copy(sql.SQL("COPY boundary_stage ({}) FROM STDIN").format(columns)) as copy:
        for row, geom in zip(frame.itertuples(index=False), ewkb, strict=True):
            copy.write_row(
                (
                    row.code,
                    row.source_code,
                    row.name,
                    row.kecamatan_code,
                    row.kecamatan_name,
                    row.kota_code,
                    row.kota_name,
                    bool(row.is_placeholder),
                    geom,
                )
            )


def _record_load(conn: psycopg.Connection, boundaries: BoundarySet, provenance: Provenance) -> int:
    row = conn.execute(
        """
        INSERT INTO pantau.boundary_loads (source, format, file_name, sha256, licence, attribution,
                                           counts, repaired)
        VALUES (%s, %s, %s, %s, %s, %s, '{}', %s) RETURNING load_id
        """,
        [
            provenance.source,
            boundaries.format,
            provenance.file_name,
            provenance.sha256,
            provenance.licence,
            provenance.attribution,
            boundaries.repaired,
        ],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _reassign_reports(conn: psycopg.Connection) -> int:
    """Re-join every stored report to the new polygons; return how many changed owner."""
    if conn.execute("SELECT NOT EXISTS (SELECT FROM pantau.reports)").fetchone() == (True,):
        return 0
    points = staging_table("report_points")
    conn.execute(
        sql.SQL(
            "CREATE UNLOGGED TABLE {} AS "
            "SELECT row_number() OVER () AS id, source, source_id, geom FROM pantau.reports"
        ).format(points)
    )
    conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(points))
    conn.execute(sql.SQL("ANALYZE {}").format(points))
    cur = conn.execute(
        sql.SQL(
            """
            UPDATE pantau.reports AS r
            SET area_code = c.area_code, kelurahan_code = c.kelurahan_code,
                kecamatan_code = c.kecamatan_code, kota_code = c.kota_code,
                outside = c.area_code IS NULL
            FROM {points} AS p
            LEFT JOIN ({codes}) AS c ON c.id = p.id
            WHERE r.source = p.source AND r.source_id = p.source_id
              AND r.area_code IS DISTINCT FROM c.area_code
            """
        ).format(points=points, codes=codes_query(sql.SQL("({})").format(owners_query(points))))
    )
    conn.execute(sql.SQL("DROP TABLE {}").format(points))
    return cur.rowcount


def file_provenance(
    path: Path, sha256: str, boundaries: BoundarySet, entry: Any | None
) -> Provenance:
    """Credit a file: from the manifest when its checksum matches a known file, else as given."""
    if entry is not None:
        return Provenance(entry.source, path.name, sha256, entry.licence, entry.attribution)
    return Provenance(boundaries.source or path.name, path.name, sha256, None, None)
