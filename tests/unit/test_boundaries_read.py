"""Unit tests of the boundary file reader, on tiny hand-made files in both real layouts."""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from geo.errors import BoundaryFileError
from pipelines.boundaries.read import COLUMNS, normalise_code, read_boundaries

SUFFIXES = {"geojson": ".geojson", "gpkg": ".gpkg", "shp": ".shp", "zip": ".zip"}


def square(x0: float, y0: float, size: float = 0.01) -> Polygon:
    """A lon/lat square with its lower-left corner at (x0, y0)."""
    return box(x0, y0, x0 + size, y0 + size)


#: Two adjacent squares in Jakarta Selatan, lon 106.80-106.82, lat -6.20..-6.19.
WEST = box(106.80, -6.20, 106.81, -6.19)
EAST = box(106.81, -6.20, 106.82, -6.19)


def bps_frame(
    rows: Sequence[tuple[str, BaseGeometry | None]], *, crs: object = 4326
) -> gpd.GeoDataFrame:
    """A bps2020-layout frame: ``id``-prefixed codes, parents derived from each code."""
    return gpd.GeoDataFrame(
        {
            "village_code": [f"id{code}" for code, _ in rows],
            "village": [f"Kelurahan {code[-3:]}" for code, _ in rows],
            "district_code": [f"id{code[:7]}" for code, _ in rows],
            "district": [f"Kecamatan {code[4:7]}" for code, _ in rows],
            "regency_code": [f"id{code[:4]}" for code, _ in rows],
            "regency": [f"Kota {code[:4]}" for code, _ in rows],
            "source": ["TEST-SOURCE"] * len(rows),
        },
        geometry=[g for _, g in rows],
        crs=crs,
    )


def api_frame(
    rows: Sequence[tuple[int, BaseGeometry | None]], *, crs: object = 4326
) -> gpd.GeoDataFrame:
    """A jakarta-api-layout frame: integer codes, names in upper case."""
    return gpd.GeoDataFrame(
        {
            "kode_kelurahan": [code for code, _ in rows],
            "nama_kelurahan": [f"KELURAHAN {code % 1000}" for code, _ in rows],
            "kode_kecamatan": [code // 1000 for code, _ in rows],
            "nama_kecamatan": [f"KECAMATAN {code // 1000 % 1000}" for code, _ in rows],
            "kode_kota": [code // 1_000_000 for code, _ in rows],
            "nama_kota": [f"KOTA {code // 1_000_000}" for code, _ in rows],
        },
        geometry=[g for _, g in rows],
        crs=crs,
    )


def write(frame: gpd.GeoDataFrame, directory: Path, kind: str, stem: str = "boundaries") -> Path:
    """Write ``frame`` as ``kind`` (geojson, gpkg, shp, or zip = a zipped Shapefile)."""
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # Shapefile writing warns about the 10-character cut
        warnings.simplefilter("ignore")
        if kind == "zip":
            shp_dir = directory / f"{stem}_shp"
            shp = write(frame, shp_dir, "shp", stem)
            target = directory / f"{stem}.zip"
            with zipfile.ZipFile(target, "w") as archive:
                for part in sorted(shp_dir.glob(f"{shp.stem}.*")):
                    archive.write(part, part.name)
            return target
        path = directory / f"{stem}{SUFFIXES[kind]}"
        frame.to_file(path, engine="pyogrio")
        return path


def write_geojson(path: Path, features: list[dict[str, object]]) -> Path:
    """Write raw GeoJSON features (for geometries geopandas would not write itself)."""
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def bps_props(code: str) -> dict[str, str]:
    """The bps2020 properties of kelurahan ``code``."""
    return {
        "village_code": f"id{code}",
        "village": "X",
        "district_code": f"id{code[:7]}",
        "district": "Y",
        "regency_code": f"id{code[:4]}",
        "regency": "Z",
        "source": "TEST-SOURCE",
    }


def error_of(call: Callable[[], object]) -> str:
    """The message of the BoundaryFileError that ``call`` raises."""
    with pytest.raises(BoundaryFileError) as info:
        call()
    return str(info.value)


# -- format detection and file types -------------------------------------------------------------
@pytest.mark.parametrize("kind", ["geojson", "gpkg", "shp", "zip"])
def test_bps2020_layout_detected_in_every_file_type(tmp_path: Path, kind: str) -> None:
    """bps2020 files are recognised as such whatever the container, codes normalised."""
    path = write(bps_frame([("3171010001", WEST), ("3171010002", EAST)]), tmp_path, kind)

    result = read_boundaries(path)

    assert result.format == "bps2020"
    assert result.source == "TEST-SOURCE"
    assert result.rows_read == 2
    assert result.repaired == 0
    assert list(result.frame.columns) == [*COLUMNS, "geometry"]
    assert result.frame.crs.to_epsg() == 4326
    frame = result.frame.set_index("code")
    assert list(frame.index) == ["3171010001", "3171010002"]
    assert frame.loc["3171010001", "source_code"] == "id3171010001"
    assert frame.loc["3171010001", "kecamatan_code"] == "3171010"
    assert frame.loc["3171010001", "kota_code"] == "3171"
    assert frame.loc["3171010002", "name"] == "Kelurahan 002"
    assert frame.loc["3171010002", "kecamatan_name"] == "Kecamatan 010"
    assert frame.loc["3171010002", "kota_name"] == "Kota 3171"
    assert not frame["is_placeholder"].any()
    assert result.kelurahan_count == 2
    assert all(isinstance(g, MultiPolygon) for g in frame.geometry)
    assert frame.geometry.loc["3171010001"].equals(MultiPolygon([WEST]))


@pytest.mark.parametrize("kind", ["geojson", "gpkg", "shp", "zip"])
def test_jakarta_api_layout_detected_in_every_file_type(tmp_path: Path, kind: str) -> None:
    """jakarta-api files (integer codes) are recognised; codes become digit strings."""
    path = write(api_frame([(3171010001, WEST), (3171010002, EAST)]), tmp_path, kind)

    result = read_boundaries(path)

    assert result.format == "jakarta-api"
    assert result.source is None
    frame = result.frame.set_index("code")
    assert list(frame.index) == ["3171010001", "3171010002"]
    assert frame.loc["3171010001", "source_code"] == "3171010001"
    assert frame.loc["3171010001", "kecamatan_code"] == "3171010"
    assert frame.loc["3171010001", "kota_code"] == "3171"
    assert frame.loc["3171010001", "name"] == "KELURAHAN 1"
    assert frame.loc["3171010001", "kota_name"] == "KOTA 3171"
    assert frame.geometry.loc["3171010002"].equals(MultiPolygon([EAST]))


@pytest.mark.parametrize(
    ("make", "truncated"),
    [
        (lambda: bps_frame([("3171010001", WEST)]), ["village_co", "district_c", "regency_co"]),
        (
            lambda: api_frame([(3171010001, WEST)]),
            ["kode_kelur", "nama_kelur", "kode_kecam", "nama_kecam"],
        ),
    ],
    ids=["bps2020", "jakarta-api"],
)
def test_shapefile_column_truncation_still_detected(
    tmp_path: Path, make: Callable[[], gpd.GeoDataFrame], truncated: list[str]
) -> None:
    """A Shapefile cuts names to 10 characters; the layout is still recognised from them."""
    expected_format = "bps2020" if "village_co" in truncated else "jakarta-api"
    path = write(make(), tmp_path, "shp")
    columns = pyogrio.read_info(path)["fields"].tolist()
    assert set(truncated) <= set(columns)  # the file really has the cut names

    for fmt in ("auto", expected_format):
        result = read_boundaries(path, fmt=fmt)
        assert result.format == expected_format
        row = result.frame.iloc[0]
        codes = (row["code"], row["kecamatan_code"], row["kota_code"])
        assert codes == ("3171010001", "3171010", "3171")


def test_explicit_format_is_used(tmp_path: Path) -> None:
    """``fmt`` given explicitly reads the file in that layout."""
    path = write(api_frame([(3171010001, WEST)]), tmp_path, "geojson")
    assert read_boundaries(path, fmt="jakarta-api").format == "jakarta-api"


def test_unknown_format_name_refused(tmp_path: Path) -> None:
    """A format name that does not exist is refused before reading, naming the choices."""
    path = write(api_frame([(3171010001, WEST)]), tmp_path, "geojson")
    message = error_of(lambda: read_boundaries(path, fmt="kemendagri"))
    assert "kemendagri" in message
    assert "bps2020" in message and "jakarta-api" in message


# -- codes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("id3171010001", "3171010001"),
        ("ID3171010001", "3171010001"),
        (" id3171010001 ", "3171010001"),
        ("3171010001", "3171010001"),
        (3171010001, "3171010001"),
        (3171010001.0, "3171010001"),
        ("3171010001.0", "3171010001"),
        ("id3171", "3171"),
        (None, None),
        (float("nan"), None),
        ("", None),
        ("Tebet", None),
        ("31.71.01.1001", None),
        ("3171010001.5", None),
        ("-3171010001", None),
    ],
)
def test_normalise_code(value: object, expected: str | None) -> None:
    """Codes become plain BPS digits; anything else becomes None."""
    assert normalise_code(value) == expected


def test_normalise_code_refuses_non_ascii_digits() -> None:
    """Full-width digits are not BPS digits (the database only accepts [0-9])."""
    assert normalise_code("\uff13\uff11\uff17\uff11\uff10\uff11\uff10\uff10\uff10\uff11") is None


def test_codes_normalised_and_source_code_kept(tmp_path: Path) -> None:
    """bps2020 ``id`` prefixes are stripped in code/kecamatan/kota; source_code keeps the prefix."""
    path = write(bps_frame([("3175020003", WEST)]), tmp_path, "gpkg")
    row = read_boundaries(path).frame.iloc[0]
    assert row["code"] == "3175020003"
    assert row["source_code"] == "id3175020003"
    assert row["kecamatan_code"] == "3175020"
    assert row["kota_code"] == "3175"


def test_placeholder_flagged(tmp_path: Path) -> None:
    """Danau Sunter (3175888888) is a placeholder unit, not counted as a kelurahan."""
    path = write(bps_frame([("3175888888", WEST), ("3175020003", EAST)]), tmp_path, "geojson")
    result = read_boundaries(path)
    flags = dict(zip(result.frame["code"], result.frame["is_placeholder"], strict=True))
    assert flags == {"3175020003": False, "3175888888": True}
    assert result.kelurahan_count == 1


def test_code_change_applied_to_jakarta_api(tmp_path: Path) -> None:
    """jakarta-api's old code 3175040007 (Rawa Badak Utara) becomes BPS 3175040005."""
    path = write(api_frame([(3175040007, WEST)]), tmp_path, "geojson")
    row = read_boundaries(path).frame.iloc[0]
    assert row["code"] == "3175040005"
    assert row["source_code"] == "3175040007"
    assert row["kecamatan_code"] == "3175040"


def test_code_change_not_applied_to_bps2020(tmp_path: Path) -> None:
    """The code-change table is per format: a bps2020 file keeps 3175040007 as it is."""
    path = write(bps_frame([("3175040007", WEST)]), tmp_path, "geojson")
    assert read_boundaries(path).frame.iloc[0]["code"] == "3175040007"


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([("3271010001", WEST)], "not in DKI Jakarta"),
        ([("3171010001", WEST), ("3271010001", EAST)], "'id3271010001'"),
        ([("317101001", WEST)], "not a 10-digit kelurahan code"),
        ([("31710100011", WEST)], "not a 10-digit kelurahan code"),
    ],
    ids=["bogor", "one-of-two", "9-digits", "11-digits"],
)
def test_codes_outside_dki_or_malformed_refused(
    tmp_path: Path, rows: list[tuple[str, Polygon]], needle: str
) -> None:
    """Codes that are not 10-digit DKI (31...) kelurahan codes are refused, naming the code."""
    path = write(bps_frame(rows), tmp_path, "geojson")
    message = error_of(lambda: read_boundaries(path))
    assert needle in message


@pytest.mark.parametrize(
    ("column", "value"),
    [("district_code", "id3171020"), ("regency_code", "id3172"), ("district_code", "")],
)
def test_inconsistent_parent_codes_refused(tmp_path: Path, column: str, value: str) -> None:
    """A kelurahan whose kecamatan / kota code does not prefix its own code is refused."""
    frame = bps_frame([("3171010001", WEST), ("3171010002", EAST)])
    frame.loc[1, column] = value
    path = write(frame, tmp_path, "geojson")
    message = error_of(lambda: read_boundaries(path))
    assert "id3171010002" in message
    assert "do not match" in message
    assert "id3171010001" not in message


def test_inconsistent_parent_codes_refused_jakarta_api(tmp_path: Path) -> None:
    """The same hierarchy check holds for the integer layout."""
    frame = api_frame([(3171010001, WEST)])
    frame.loc[0, "kode_kota"] = 3174
    path = write(frame, tmp_path, "gpkg")
    message = error_of(lambda: read_boundaries(path))
    assert "3171010001" in message and "'3174'" in message


# -- geometry ------------------------------------------------------------------------------------
def test_rows_sharing_a_code_dissolve_into_one_multipolygon(tmp_path: Path) -> None:
    """Island rows of one kelurahan become one MultiPolygon, with the area of the parts."""
    island_a = box(106.550, -5.750, 106.555, -5.745)
    island_b = box(106.600, -5.700, 106.604, -5.696)
    island_c = box(106.604, -5.700, 106.608, -5.696)  # shares an edge with island_b: merges
    rows = [
        (3101010001, island_a),
        (3101010001, island_b),
        (3101010001, island_c),
        (3101010002, square(106.50, -5.60, 0.003)),
    ]
    path = write(api_frame(rows), tmp_path, "geojson")

    result = read_boundaries(path)

    assert result.rows_read == 4
    assert len(result.frame) == 2
    assert "4 rows dissolved into 2 areas by code" in result.notes
    merged = result.frame.set_index("code").loc["3101010001"]
    assert isinstance(merged.geometry, MultiPolygon)
    assert len(merged.geometry.geoms) == 2
    parts_area = island_a.area + island_b.area + island_c.area
    assert merged.geometry.area == pytest.approx(parts_area, rel=1e-9)
    assert merged.geometry.is_valid
    assert merged["source_code"] == "3101010001"
    assert merged["name"] == "KELURAHAN 1"


def test_reprojected_from_utm_48s(tmp_path: Path) -> None:
    """A file in EPSG:32748 comes out in EPSG:4326 at the same place."""
    original = bps_frame([("3171010001", WEST), ("3171010002", EAST)])
    path = write(original.to_crs(32748), tmp_path, "gpkg")

    result = read_boundaries(path)

    assert result.frame.crs.to_epsg() == 4326
    assert any("reprojected" in note and "32748" in note for note in result.notes)
    for code, expected in (("3171010001", WEST), ("3171010002", EAST)):
        got = result.frame.set_index("code").geometry.loc[code]
        coords = shapely.get_coordinates(got)
        assert coords.shape == shapely.get_coordinates(expected).shape
        assert np.allclose(coords, shapely.get_coordinates(expected), rtol=0, atol=1e-6)
        assert shapely.hausdorff_distance(got, expected) < 1e-6


def test_no_crs_with_degrees_taken_as_wgs84(tmp_path: Path) -> None:
    """A Shapefile without .prj but with lon/lat values is read as EPSG:4326, with a note."""
    path = write(bps_frame([("3171010001", WEST)], crs=None), tmp_path, "shp")
    assert not path.with_suffix(".prj").exists()
    result = read_boundaries(path)
    assert result.frame.crs.to_epsg() == 4326
    assert any("no CRS" in note for note in result.notes)
    assert result.frame.geometry.iloc[0].equals(MultiPolygon([WEST]))


def test_no_crs_with_projected_coordinates_refused(tmp_path: Path) -> None:
    """UTM metres without a .prj cannot be guessed: refused, asking for a CRS."""
    utm = bps_frame([("3171010001", WEST)]).to_crs(32748).set_crs(None, allow_override=True)
    path = write(utm, tmp_path, "shp")
    message = error_of(lambda: read_boundaries(path))
    assert "CRS" in message


def test_bow_tie_repaired_and_counted(tmp_path: Path) -> None:
    """A self-intersecting polygon is made valid (two triangles) and counted in ``repaired``."""
    x0, y0, d = 106.80, -6.20, 0.01
    bow_tie = Polygon([(x0, y0), (x0 + d, y0 + d), (x0 + d, y0), (x0, y0 + d), (x0, y0)])
    assert not bow_tie.is_valid
    path = write(bps_frame([("3171010001", bow_tie), ("3171010002", EAST)]), tmp_path, "geojson")

    result = read_boundaries(path)

    assert result.repaired == 1
    assert "1 invalid geometry repaired" in result.notes
    fixed = result.frame.set_index("code").geometry.loc["3171010001"]
    assert fixed.is_valid
    assert isinstance(fixed, MultiPolygon)
    assert len(fixed.geoms) == 2
    assert fixed.area == pytest.approx(d * d / 2, rel=1e-9)


@pytest.mark.parametrize(
    "geometry",
    [
        None,
        {"type": "Polygon", "coordinates": []},
        {"type": "LineString", "coordinates": [[106.80, -6.20], [106.81, -6.19]]},
    ],
    ids=["null", "empty-polygon", "linestring"],
)
def test_empty_or_non_polygonal_geometry_refused(tmp_path: Path, geometry: dict | None) -> None:
    """A feature without a usable polygon is refused, naming its code."""
    good = {
        "type": "Feature",
        "properties": bps_props("3171010001"),
        "geometry": shapely.geometry.mapping(WEST),
    }
    bad = {"type": "Feature", "properties": bps_props("3171010002"), "geometry": geometry}
    path = write_geojson(tmp_path / "b.geojson", [good, bad])
    message = error_of(lambda: read_boundaries(path))
    assert "without a usable polygon" in message
    assert "id3171010002" in message
    assert "id3171010001" not in message


def test_empty_geometry_refused_in_geopackage(tmp_path: Path) -> None:
    """Same check for a GeoPackage holding an empty polygon."""
    path = write(bps_frame([("3171010001", Polygon())]), tmp_path, "gpkg")
    assert "without a usable polygon" in error_of(lambda: read_boundaries(path))


def test_coordinates_far_from_jakarta_refused(tmp_path: Path) -> None:
    """A square in Europe (wrong CRS or wrong file) is refused, asking about the CRS."""
    path = write(
        bps_frame([("3171010001", WEST), ("3171010002", square(10.0, 50.0))]), tmp_path, "geojson"
    )
    message = error_of(lambda: read_boundaries(path))
    assert "outside DKI Jakarta" in message
    assert "CRS" in message
    assert "3171010002" in message


def test_swapped_lat_lon_refused(tmp_path: Path) -> None:
    """Lat/lon written in the wrong order puts Jakarta off the map: refused."""
    swapped = shapely.transform(WEST, lambda coords: coords[:, ::-1])
    path = write(bps_frame([("3171010001", swapped)]), tmp_path, "geojson")
    assert "CRS" in error_of(lambda: read_boundaries(path))


# -- unusable files ------------------------------------------------------------------------------
def test_missing_columns_with_format_given(tmp_path: Path) -> None:
    """With ``fmt`` given, the message names the missing columns and the columns found."""
    frame = bps_frame([("3171010001", WEST)]).drop(columns=["district_code", "regency"])
    path = write(frame, tmp_path, "geojson")
    message = error_of(lambda: read_boundaries(path, fmt="bps2020"))
    missing_part, _, found_part = message.partition("Found:")
    assert "district_code" in missing_part and "regency" in missing_part
    assert "village_code" not in missing_part  # present columns are not called missing
    for column in ("village_code", "village", "district", "regency_code", "source"):
        assert column in found_part
    assert "district_code" not in found_part


def test_missing_columns_with_format_auto(tmp_path: Path) -> None:
    """In auto mode the message lists what each layout needs and the columns found."""
    frame = api_frame([(3171010001, WEST)]).drop(columns=["kode_kecamatan"])
    path = write(frame, tmp_path, "gpkg")
    message = error_of(lambda: read_boundaries(path))
    needs_part, _, found_part = message.partition("Found:")
    assert "kode_kecamatan" in needs_part
    assert "village_code" in needs_part
    for column in ("kode_kelurahan", "nama_kelurahan", "nama_kecamatan", "kode_kota", "nama_kota"):
        assert column in found_part
    assert "kode_kecamatan" not in found_part


def test_wrong_explicit_format_refused(tmp_path: Path) -> None:
    """A jakarta-api file read as bps2020 is refused with the columns it does have."""
    path = write(api_frame([(3171010001, WEST)]), tmp_path, "geojson")
    message = error_of(lambda: read_boundaries(path, fmt="bps2020"))
    assert "village_code" in message
    assert "kode_kelurahan" in message


def test_text_file_named_geojson_refused(tmp_path: Path) -> None:
    """A text file with a .geojson name is refused with BoundaryFileError (no raw error)."""
    path = tmp_path / "x.geojson"
    path.write_text("this is not geojson\n", encoding="utf-8")
    assert "x.geojson" in error_of(lambda: read_boundaries(path))


def test_truncated_geojson_refused(tmp_path: Path) -> None:
    """A GeoJSON cut in the middle is refused with BoundaryFileError."""
    full = write(bps_frame([("3171010001", WEST), ("3171010002", EAST)]), tmp_path, "geojson")
    text = full.read_text(encoding="utf-8")
    cut = tmp_path / "cut.geojson"
    cut.write_text(text[: len(text) // 2], encoding="utf-8")
    error_of(lambda: read_boundaries(cut))


def test_csv_without_geometry_refused(tmp_path: Path) -> None:
    """A table without geometry is refused."""
    path = tmp_path / "codes.csv"
    path.write_text("village_code,village\nid3171010001,A\n", encoding="utf-8")
    assert "geometry" in error_of(lambda: read_boundaries(path))


def test_feature_collection_without_features_refused(tmp_path: Path) -> None:
    """A valid but empty GeoJSON is refused."""
    path = write_geojson(tmp_path / "empty.geojson", [])
    assert "no features" in error_of(lambda: read_boundaries(path))


def test_missing_file_refused(tmp_path: Path) -> None:
    """A path that does not exist is a BoundaryFileError, not FileNotFoundError."""
    assert "not found" in error_of(lambda: read_boundaries(tmp_path / "nope.geojson"))
