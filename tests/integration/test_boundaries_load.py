"""Loading boundary sets into the real PostGIS test database, and the boundary CLI commands."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
from shapely.geometry import box, mapping

import pipelines.boundaries.load as load_module
from geo import db
from geo.boundaries import boundary_status
from geo.errors import BoundaryFileError, PantauError
from pipelines.boundaries.read import read_boundaries
from pipelines.spatial_join import locate_points
from tests.conftest import load_file

REPO_ROOT = Path(__file__).resolve().parents[2]

PLACEHOLDERS = {"3175888888", "3175555888", "3174080888"}
TEBET = (-6.2261, 106.8532)  # (lat, lng) in Tebet Timur
SEA = (-6.05, 106.85)  # Java Sea, north of Ancol


# -- helpers -------------------------------------------------------------------------------------
def status_of(reader_url: str) -> dict[str, Any]:
    """``boundary_status`` as the dashboard's read-only role sees it."""
    with db.connect(reader_url) as conn:
        return boundary_status(conn)


def snapshot(writer_url: str) -> dict[str, Any]:
    """Everything a failed load must leave untouched."""
    with db.connect(writer_url) as conn:
        load_id, sha256 = conn.execute("SELECT load_id, sha256 FROM api.boundary_source").fetchone()
        areas = conn.execute(
            "SELECT count(*), md5(string_agg(code || ':' || level || ':' "
            "|| md5(ST_AsBinary(geom)), ',' ORDER BY code)) FROM pantau.admin_areas"
        ).fetchone()
        (parts,) = conn.execute("SELECT count(*) FROM pantau.admin_area_parts").fetchone()
        (loads,) = conn.execute("SELECT count(*) FROM pantau.boundary_loads").fetchone()
    return {"load_id": load_id, "sha256": sha256, "areas": areas, "parts": parts, "loads": loads}


def query(url: str, sql_text: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """All rows of one query."""
    with db.connect(url) as conn:
        return conn.execute(sql_text, params).fetchall()


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m pipelines ARGS`` from the repository root, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def bps_feature(code: str, geometry: dict[str, Any] | None) -> dict[str, Any]:
    """One GeoJSON feature in the bps2020 layout."""
    props = {
        "village_code": f"id{code}",
        "village": "Uji",
        "district_code": f"id{code[:7]}",
        "district": "Uji",
        "regency_code": f"id{code[:4]}",
        "regency": "Uji",
        "source": "TEST",
    }
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    """A FeatureCollection file."""
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def broken_file(kind: str, directory: Path, source: Path) -> Path:
    """A boundary file that must be refused: missing columns, truncated, or not in DKI."""
    if kind == "missing-columns":
        frame = gpd.read_file(source, engine="pyogrio").drop(columns=["district_code", "regency"])
        path = directory / "missing_columns.geojson"
        frame.to_file(path, engine="pyogrio")
        return path
    if kind == "truncated":
        path = directory / "truncated.geojson"
        data = source.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path
    if kind == "outside-dki":
        square = mapping(box(106.70, -6.30, 106.71, -6.29))
        return write_geojson(directory / "bogor.geojson", [bps_feature("3271010001", square)])
    raise AssertionError(kind)


@pytest.fixture
def api2016_loaded(writer_url: str, api2016_path: Path) -> str:
    """Make the 2016 Jakarta API set the loaded one (tests after it reload BPS 2020)."""
    load_file(writer_url, api2016_path)
    return writer_url


# -- the official BPS 2020 set -------------------------------------------------------------------
def test_bps2020_counts_and_provenance(bps2020_loaded: str, reader_url: str) -> None:
    """BPS 2020: 6 kota, 44 kecamatan, 267 kelurahan, 3 placeholders, credited from the manifest."""
    status = status_of(reader_url)
    assert {k: status[k] for k in ("kota", "kecamatan", "kelurahan", "placeholder")} == {
        "kota": 6,
        "kecamatan": 44,
        "kelurahan": 267,
        "placeholder": 3,
    }
    assert status["source"] == "HDX-BPS-2020"
    assert status["licence"] == "CC BY-IGO"
    assert status["attribution"] == "BPS / OCHA, via HDX"
    assert status["format"] == "bps2020"
    assert status["file"] == "dki_kelurahan_bps2020.geojson"
    assert status["loaded_at"] is not None


def test_load_returns_counts_and_records_them(writer_url: str, bps2020_path: Path) -> None:
    """``load_boundaries`` returns the counts and stores them with the load's provenance."""
    result = load_file(writer_url, bps2020_path)
    assert result == {
        "kota": 6,
        "kecamatan": 44,
        "kelurahan": 267,
        "placeholder": 3,
        "reports_reassigned": 0,
    }
    (counts,) = query(writer_url, "SELECT counts FROM api.boundary_source")[0]
    assert counts == {"kota": 6, "kecamatan": 44, "kelurahan": 267, "placeholder": 3}
    (parts,) = query(writer_url, "SELECT count(DISTINCT code) FROM pantau.admin_area_parts")[0]
    assert parts == 270  # every kelurahan-level unit, placeholders included, is cut into parts


def _check_nesting(reader_url: str) -> None:
    """Kelurahan areas add up to their kecamatan and kota; each sits inside both."""
    kota = query(
        reader_url,
        """
        SELECT k.code, k.area_km2, sum(u.area_km2)
        FROM api.admin_areas AS k JOIN api.admin_areas AS u
          ON u.level = 'kelurahan' AND u.kota_code = k.code
        WHERE k.level = 'kota' GROUP BY k.code, k.area_km2
        """,
    )
    assert len(kota) == 6
    for code, area, parts in kota:
        assert parts == pytest.approx(area, rel=0.005), code
    total = sum(area for _, area, _ in kota)
    assert 653 <= total <= 660  # README: 654 km2 (geodesic: 653.87 for BPS 2020)

    kecamatan = query(
        reader_url,
        """
        SELECT k.code, k.area_km2, sum(u.area_km2), count(u.code)
        FROM api.admin_areas AS k JOIN api.admin_areas AS u
          ON u.level = 'kelurahan' AND u.kecamatan_code = k.code
        WHERE k.level = 'kecamatan' GROUP BY k.code, k.area_km2
        """,
    )
    assert len(kecamatan) == 44
    for code, area, parts, members in kecamatan:
        assert members >= 1
        assert parts == pytest.approx(area, rel=0.005), code

    misplaced = query(
        reader_url,
        """
        SELECT u.code
        FROM api.admin_areas AS u
        JOIN api.admin_areas AS kota ON kota.code = u.kota_code AND kota.level = 'kota'
        LEFT JOIN api.admin_areas AS kec ON kec.code = u.kecamatan_code AND kec.level = 'kecamatan'
        WHERE u.level = 'kelurahan'
          AND (NOT ST_Covers(kota.geom, ST_PointOnSurface(u.geom))
               OR (u.kecamatan_code IS NOT NULL
                   AND (kec.code IS NULL OR NOT ST_Covers(kec.geom, ST_PointOnSurface(u.geom)))))
        """,
    )
    assert misplaced == []
    (kelurahan_level,) = query(
        reader_url, "SELECT count(*) FROM api.admin_areas WHERE level = 'kelurahan'"
    )[0]
    (with_kota,) = query(
        reader_url,
        "SELECT count(*) FROM api.admin_areas AS u JOIN api.admin_areas AS k "
        "ON k.code = u.kota_code AND k.level = 'kota' WHERE u.level = 'kelurahan'",
    )[0]
    assert with_kota == kelurahan_level


def _check_hierarchy(reader_url: str) -> None:
    """Parents exist at the level above, and codes are prefixes of their children's."""
    bad_kecamatan = query(
        reader_url,
        """
        SELECT k.code, k.parent_code FROM api.admin_areas AS k
        LEFT JOIN api.admin_areas AS p ON p.code = k.parent_code AND p.level = 'kota'
        WHERE k.level = 'kecamatan'
          AND (p.code IS NULL OR k.parent_code <> left(k.code, 4) OR k.kota_code <> p.code)
        """,
    )
    assert bad_kecamatan == []
    bad_kelurahan = query(
        reader_url,
        """
        SELECT u.code FROM api.admin_areas AS u
        LEFT JOIN api.admin_areas AS p ON p.code = u.parent_code
        WHERE u.level = 'kelurahan' AND NOT u.is_placeholder
          AND (p.level IS DISTINCT FROM 'kecamatan' OR u.kecamatan_code <> left(u.code, 7)
               OR u.parent_code <> u.kecamatan_code OR u.kota_code <> left(u.code, 4))
        """,
    )
    assert bad_kelurahan == []
    kota = query(reader_url, "SELECT code, parent_code FROM api.admin_areas WHERE level = 'kota'")
    assert sorted(kota) == [(c, None) for c in ("3101", "3171", "3172", "3173", "3174", "3175")]


def test_bps2020_levels_nest(bps2020_loaded: str, reader_url: str) -> None:
    """Kecamatan and kota are exactly the dissolved kelurahan (areas within 0.5 %)."""
    _check_nesting(reader_url)


def test_bps2020_hierarchy(bps2020_loaded: str, reader_url: str) -> None:
    """Every kecamatan's parent is a kota; every real kelurahan's parent is its kecamatan."""
    _check_hierarchy(reader_url)


def test_bps2020_placeholders(bps2020_loaded: str, reader_url: str) -> None:
    """Prepedan sits in kecamatan Kali Deres; the Danau Sunter units only in Jakarta Utara."""
    rows = query(
        reader_url,
        "SELECT code, name, level, kecamatan_code, kota_code, parent_code FROM api.admin_areas "
        "WHERE is_placeholder ORDER BY code",
    )
    assert rows == [
        ("3174080888", "Prepedan", "kelurahan", "3174080", "3174", "3174080"),
        ("3175555888", "Danau Sunter Dll", "kelurahan", None, "3175", "3175"),
        ("3175888888", "Danau Sunter", "kelurahan", None, "3175", "3175"),
    ]
    # The placeholders' pseudo-kecamatan codes 3175888 / 3175555 are not kecamatan.
    fake = query(
        reader_url, "SELECT code FROM api.admin_areas WHERE code IN ('3175888', '3175555')"
    )
    assert fake == []


# -- a second, differently shaped set ------------------------------------------------------------
def test_api2016_has_the_bps2020_codes(
    api2016_loaded: str, reader_url: str, bps2020_path: Path
) -> None:
    """The 2016 API layer gives the same 267 kelurahan codes as BPS 2020 (minus placeholders)."""
    bps_codes = set(read_boundaries(bps2020_path).frame["code"]) - PLACEHOLDERS
    assert len(bps_codes) == 267

    status = status_of(reader_url)
    assert {k: status[k] for k in ("kota", "kecamatan", "kelurahan", "placeholder")} == {
        "kota": 6,
        "kecamatan": 44,
        "kelurahan": 267,
        "placeholder": 0,
    }
    assert status["format"] == "jakarta-api"
    assert status["licence"] == "CC-BY-4.0"
    assert status["source"].startswith("api.jakarta.go.id")

    rows = query(reader_url, "SELECT code FROM api.admin_areas WHERE level = 'kelurahan'")
    codes = {code for (code,) in rows}
    assert codes == bps_codes
    renamed = query(reader_url, "SELECT source_code FROM api.admin_areas WHERE code = '3175040005'")
    assert renamed == [("3175040007",)]


def test_api2016_levels_nest(api2016_loaded: str, reader_url: str) -> None:
    """The 2016 set, merged from 377 rows, nests too and covers the same territory."""
    _check_nesting(reader_url)
    _check_hierarchy(reader_url)
    (islands,) = query(
        reader_url,
        "SELECT ST_NumGeometries(geom) FROM api.admin_areas WHERE code = '3101010001'",
    )[0]
    assert islands > 1  # Pulau Tidung's island rows became one MultiPolygon


def test_bps2020_reloaded_after_another_set(bps2020_loaded: str, reader_url: str) -> None:
    """The fixture puts BPS 2020 back after a test loaded another set."""
    status = status_of(reader_url)
    assert status["source"] == "HDX-BPS-2020"
    assert status["placeholder"] == 3


# -- failures leave the loaded set unchanged -----------------------------------------------------
@pytest.mark.parametrize("kind", ["missing-columns", "truncated", "outside-dki"])
def test_broken_file_leaves_set_unchanged(
    bps2020_loaded: str, writer_url: str, bps2020_path: Path, tmp_path: Path, kind: str
) -> None:
    """A file that cannot be read raises BoundaryFileError; the loaded set stays as it was."""
    before = snapshot(writer_url)
    path = broken_file(kind, tmp_path, bps2020_path)
    with pytest.raises(BoundaryFileError):
        load_file(writer_url, path)
    assert snapshot(writer_url) == before


def _fail_after_deletes(conn: psycopg.Connection) -> int:
    """Stand-in for the report re-assignment step: the rows are deleted and re-inserted by now."""
    (left,) = conn.execute(
        "SELECT count(*) FROM pantau.admin_areas WHERE level = 'kelurahan'"
    ).fetchone()
    assert left == 267  # the new (2016) kelurahan are in place inside the transaction
    raise RuntimeError("simulated failure in the middle of the load")


@pytest.mark.parametrize("step", ["reassign", "insert-kota"])
def test_failure_inside_transaction_leaves_set_unchanged(
    bps2020_loaded: str,
    writer_url: str,
    reader_url: str,
    api2016_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    """An error after the DELETEs rolls everything back: same areas, parts and provenance."""
    before = snapshot(writer_url)
    if step == "reassign":
        monkeypatch.setattr(load_module, "_reassign_reports", _fail_after_deletes)
        expected: type[Exception] = RuntimeError
    else:
        monkeypatch.setattr(load_module, "_INSERT_KOTA", "SELECT 1 / 0")
        expected = PantauError
    with pytest.raises(expected) as info:
        load_file(writer_url, api2016_path)
    if step == "insert-kota":
        assert isinstance(info.value.__cause__, psycopg.errors.DivisionByZero)
        assert "unchanged" in str(info.value)
    assert snapshot(writer_url) == before
    assert status_of(reader_url)["source"] == "HDX-BPS-2020"

    monkeypatch.undo()  # and the next load works normally
    assert load_file(writer_url, api2016_path)["kelurahan"] == 267


def test_file_with_z_coordinates_loads(writer_url: str, reader_url: str, tmp_path: Path) -> None:
    """A GeoJSON with 3D coordinates (QGIS / KML exports) loads as 2D polygons."""
    ring = [
        [106.80, -6.20, 5.0],
        [106.81, -6.20, 5.0],
        [106.81, -6.19, 5.0],
        [106.80, -6.19, 5.0],
        [106.80, -6.20, 5.0],
    ]
    path = write_geojson(
        tmp_path / "three_d.geojson",
        [bps_feature("3171010001", {"type": "Polygon", "coordinates": [ring]})],
    )
    result = load_file(writer_url, path)
    assert result["kelurahan"] == 1
    (dims,) = query(
        reader_url, "SELECT ST_NDims(geom) FROM api.admin_areas WHERE code = '3171010001'"
    )[0]
    assert dims == 2


# -- reports follow the boundaries ---------------------------------------------------------------
def test_reports_reassigned_when_boundaries_change(
    bps2020_loaded: str, writer_url: str, bps2020_path: Path
) -> None:
    """Stored reports are re-joined to the new polygons in the same transaction."""
    insert = """
        INSERT INTO pantau.reports (source, source_id, category, status, created_at, updated_at,
                                    geom, h3_r12, area_code, kelurahan_code, kecamatan_code,
                                    kota_code, outside)
        VALUES ('jaki', %s, 'Jalan', 'received', now(), now(),
                ST_SetSRID(ST_MakePoint(%s, %s), 4326), 0, %s, %s, %s, %s, %s)
    """
    with db.connect(writer_url) as conn:
        conn.execute("DELETE FROM pantau.reports")
        # Right owner already; wrong owner (stale); stale owner of a point in the sea.
        for source_id, (y, x), code in (
            ("t-ok", TEBET, "3171090003"),
            ("t-stale", TEBET, "3171010001"),
            ("t-sea", SEA, "3175020003"),
        ):
            conn.execute(insert, [source_id, x, y, code, code, code[:7], code[:4], False])
        conn.commit()
    try:
        result = load_file(writer_url, bps2020_path)
        assert result["reports_reassigned"] == 2
        rows = query(
            writer_url,
            "SELECT source_id, area_code, kelurahan_code, kecamatan_code, kota_code, outside "
            "FROM pantau.reports ORDER BY source_id",
        )
        assert rows == [
            ("t-ok", "3171090003", "3171090003", "3171090", "3171", False),
            ("t-sea", None, None, None, None, True),
            ("t-stale", "3171090003", "3171090003", "3171090", "3171", False),
        ]
    finally:
        with db.connect(writer_url) as conn:
            conn.execute("DELETE FROM pantau.reports")
            conn.commit()


# -- shared boundaries ---------------------------------------------------------------------------
_SHARED_VERTEX = """
WITH pairs AS (
    SELECT a.code AS small, b.code AS large,
           ST_CollectionExtract(
               ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom)), 2) AS line
    FROM api.admin_areas AS a
    JOIN api.admin_areas AS b ON a.code < b.code AND ST_Intersects(a.geom, b.geom)
    WHERE a.level = 'kelurahan' AND b.level = 'kelurahan'
      AND NOT a.is_placeholder AND NOT b.is_placeholder
      AND a.kecamatan_code = %(kecamatan)s AND b.kecamatan_code = %(kecamatan)s
), vertices AS (
    SELECT small, large, n, ST_PointN(ST_GeometryN(line, 1), n) AS pt
    FROM pairs, generate_series(1, 50) AS n
    WHERE NOT ST_IsEmpty(line) AND n <= ST_NPoints(ST_GeometryN(line, 1))
)
SELECT v.small, v.large, ST_X(v.pt), ST_Y(v.pt)
FROM vertices AS v
WHERE (SELECT array_agg(u.code ORDER BY u.code) FROM api.admin_areas AS u
       WHERE u.level = 'kelurahan' AND ST_Covers(u.geom, v.pt)) = ARRAY[v.small, v.large]
ORDER BY v.small, v.large, v.n
LIMIT 1
"""


def test_point_on_shared_boundary_goes_to_smaller_code(
    bps2020_loaded: str, writer_url: str, reader_url: str, test_env: dict[str, str], tmp_path: Path
) -> None:
    """A vertex shared by two kelurahan (covered by both) belongs to the smaller code, always."""
    rows = query(reader_url, _SHARED_VERTEX, {"kecamatan": "3171090"})  # Tebet
    assert rows, "no shared vertex found between two Tebet kelurahan"
    small, large, x, y = rows[0]
    assert small < large

    # In-process, in several orders and with neighbours: always the smaller code.
    lngs = np.array([x, TEBET[1], x, SEA[1], x])
    lats = np.array([y, TEBET[0], y, SEA[0], y])
    with db.connect(writer_url) as conn:
        forward = locate_points(conn, lngs, lats)
        backward = locate_points(conn, lngs[::-1].copy(), lats[::-1].copy())
        conn.rollback()
    assert list(forward["area_code"].iloc[[0, 2, 4]]) == [small] * 3
    assert list(backward["area_code"].iloc[[0, 2, 4]]) == [small] * 3
    assert list(forward["kelurahan_code"].iloc[[0, 2, 4]]) == [small] * 3

    # And through the CLI, with the coordinates written in full.
    source = tmp_path / "edge.csv"
    source.write_text(f"id,lat,lng\nedge,{y!r},{x!r}\n", encoding="utf-8")
    out = tmp_path / "edge_out.csv"
    done = run_cli("boundaries", "locate", "--csv", str(source), "--out", str(out), env=test_env)
    assert done.returncode == 0, done.stderr
    row = pd.read_csv(out, dtype=str, keep_default_na=False).iloc[0]
    assert row["kelurahan_code"] == small
    assert row["outside"] == "false"


def test_all_shared_vertices_go_to_smallest_covering_code(
    bps2020_loaded: str, writer_url: str
) -> None:
    """Every vertex shared by kelurahan of Jakarta Selatan goes to the smallest covering code."""
    with db.connect(writer_url) as conn:
        rows = conn.execute(
            """
            WITH pairs AS (
                SELECT ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom)) AS shared
                FROM pantau.admin_areas AS a
                JOIN pantau.admin_areas AS b ON a.code < b.code AND ST_Intersects(a.geom, b.geom)
                WHERE a.level = 'kelurahan' AND b.level = 'kelurahan' AND a.kota_code = '3171'
            ), points AS (SELECT DISTINCT (ST_DumpPoints(shared)).geom AS pt FROM pairs)
            SELECT ST_X(pt), ST_Y(pt),
                   (SELECT min(u.code) FROM pantau.admin_areas AS u
                    WHERE u.level = 'kelurahan' AND ST_Covers(u.geom, pt)),
                   (SELECT count(*) FROM pantau.admin_areas AS u
                    WHERE u.level = 'kelurahan' AND ST_Covers(u.geom, pt))
            FROM points
            """
        ).fetchall()
        assert len(rows) > 1000
        assert all(covering >= 2 for *_, covering in rows)
        lng = np.array([r[0] for r in rows])
        lat = np.array([r[1] for r in rows])
        found = locate_points(conn, lng, lat)
        conn.rollback()
    expected = [r[2] for r in rows]
    assert list(found["area_code"]) == expected


# -- the command line ----------------------------------------------------------------------------
def test_cli_status_json(bps2020_loaded: str, test_env: dict[str, str]) -> None:
    """``boundaries status --json`` prints the counts and provenance as one JSON object."""
    done = run_cli("boundaries", "status", "--json", env=test_env)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout.strip().splitlines()[-1])
    assert {k: status[k] for k in ("kota", "kecamatan", "kelurahan", "placeholder", "source")} == {
        "kota": 6,
        "kecamatan": 44,
        "kelurahan": 267,
        "placeholder": 3,
        "source": "HDX-BPS-2020",
    }
    assert pd.Timestamp(status["loaded_at"]).tzinfo is not None


def test_cli_status_text(bps2020_loaded: str, test_env: dict[str, str]) -> None:
    """Plain ``boundaries status`` names the counts, source and licence."""
    done = run_cli("boundaries", "status", env=test_env)
    assert done.returncode == 0, done.stderr
    assert "6 kota, 44 kecamatan, 267 kelurahan (+3 placeholder units)" in done.stdout
    assert "HDX-BPS-2020 (CC BY-IGO; BPS / OCHA, via HDX)" in done.stdout


@pytest.mark.parametrize("kind", ["missing-columns", "truncated", "outside-dki"])
def test_cli_load_broken_file(
    bps2020_loaded: str,
    writer_url: str,
    bps2020_path: Path,
    test_env: dict[str, str],
    tmp_path: Path,
    kind: str,
) -> None:
    """A broken file: exit 1, one ``error:`` line, no traceback, the loaded set unchanged."""
    before = snapshot(writer_url)
    path = broken_file(kind, tmp_path, bps2020_path)
    done = run_cli("boundaries", "load", str(path), env=test_env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert path.name in lines[0]
    assert "Loaded" not in done.stdout
    assert snapshot(writer_url) == before


def test_cli_load_missing_columns_message(
    bps2020_loaded: str, bps2020_path: Path, test_env: dict[str, str], tmp_path: Path
) -> None:
    """With ``--format``, the CLI error names the missing columns and those found."""
    path = broken_file("missing-columns", tmp_path, bps2020_path)
    done = run_cli("boundaries", "load", str(path), "--format", "bps2020", env=test_env)
    assert done.returncode == 1
    message = done.stderr.strip()
    assert "district_code, regency" in message
    assert "Found:" in message and "village_code" in message


def test_cli_locate(
    bps2020_loaded: str, reader_url: str, test_env: dict[str, str], tmp_path: Path
) -> None:
    """``boundaries locate`` adds owner codes to each row; every row and column is kept."""
    ((sunter_lng, sunter_lat),) = query(
        reader_url,
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
        "FROM api.admin_areas WHERE code = '3175888888') AS s",
    )
    (owners,) = query(
        reader_url,
        "SELECT count(*) FROM api.admin_areas WHERE level = 'kelurahan' "
        "AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326))",
        {"x": sunter_lng, "y": sunter_lat},
    )[0]
    assert owners == 1  # only the placeholder covers it

    source = tmp_path / "points.csv"
    rows = [
        ["id", "lat", "lng", "note"],
        ["tebet", str(TEBET[0]), str(TEBET[1]), "Jl. Tebet Raya, dekat pasar"],
        ["sea", str(SEA[0]), str(SEA[1]), "laut"],
        ["sunter", repr(sunter_lat), repr(sunter_lng), "danau"],
        ["bad", "abc", "106.85", "koordinat rusak"],
        ["empty", "", "", ""],
    ]
    with source.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "located.csv"

    done = run_cli("boundaries", "locate", "--csv", str(source), "--out", str(out), env=test_env)

    assert done.returncode == 0, done.stderr
    assert "5 row(s): 2 inside, 1 outside, 2 without usable coordinates" in done.stdout
    result = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(result.columns) == [
        "id",
        "lat",
        "lng",
        "note",
        "kelurahan_code",
        "kecamatan_code",
        "kota_code",
        "outside",
        "locate_error",
    ]
    assert result[["id", "lat", "lng", "note"]].to_numpy().tolist() == rows[1:]
    by_id = result.set_index("id")
    owner_columns = ["kelurahan_code", "kecamatan_code", "kota_code", "outside"]
    assert by_id.loc["tebet", owner_columns].tolist() == ["3171090003", "3171090", "3171", "false"]
    assert by_id.loc["sea", owner_columns].tolist() == ["", "", "", "true"]
    assert by_id.loc["sunter", owner_columns].tolist() == ["", "", "3175", "false"]
    assert by_id.loc["bad", owner_columns].tolist() == ["", "", "", ""]
    assert "lat" in by_id.loc["bad", "locate_error"]
    assert "not a number" in by_id.loc["bad", "locate_error"]
    assert "missing" in by_id.loc["empty", "locate_error"]
    assert by_id.loc["empty", "outside"] == ""
    assert (by_id.loc[["tebet", "sea", "sunter"], "locate_error"] == "").all()


def test_cli_locate_prepedan_counts_in_its_kecamatan(
    bps2020_loaded: str, reader_url: str, test_env: dict[str, str], tmp_path: Path
) -> None:
    """A point in Prepedan gets no kelurahan but kecamatan Kali Deres and kota Jakarta Barat."""
    ((lng, lat),) = query(
        reader_url,
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
        "FROM api.admin_areas WHERE code = '3174080888') AS s",
    )
    source = tmp_path / "prepedan.csv"
    source.write_text(f"latitude,longitude\n{lat!r},{lng!r}\n", encoding="utf-8")
    out = tmp_path / "prepedan_out.csv"
    done = run_cli("boundaries", "locate", "--csv", str(source), "--out", str(out), env=test_env)
    assert done.returncode == 0, done.stderr
    row = pd.read_csv(out, dtype=str, keep_default_na=False).iloc[0]
    assert [row["kelurahan_code"], row["kecamatan_code"], row["kota_code"], row["outside"]] == [
        "",
        "3174080",
        "3174",
        "false",
    ]
