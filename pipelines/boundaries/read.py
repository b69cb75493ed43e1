"""Read a kelurahan boundary file into one normalised GeoDataFrame.

Two real layouts are supported (see ``../shared/data/README.md``):

- ``bps2020``: HDX / BPS 2020, codes prefixed ``id`` (``id3171010001``), 270 MultiPolygons
  including 3 placeholder units that are not kelurahan;
- ``jakarta-api``: the 2016 Jakarta open-data API layer, integer codes, 377 Polygon rows for
  267 kelurahan (the islands of Kepulauan Seribu are one row each).

Any of GeoJSON, GeoPackage or Shapefile (also zipped) is read through pyogrio, reprojected to
EPSG:4326, repaired where invalid and dissolved to one MultiPolygon per code. Codes become
plain BPS digits; the source's own code is kept. Anything that would make a wrong boundary
set (missing columns, codes outside DKI Jakarta, inconsistent hierarchy, empty geometry,
coordinates outside Jakarta) raises :class:`BoundaryFileError` naming the problem.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.errors import BoundaryFileError
from geo.settings import JAKARTA_BOX, REPO_ROOT

#: Output columns, in order.
COLUMNS = [
    "code",
    "source_code",
    "name",
    "kecamatan_code",
    "kecamatan_name",
    "kota_code",
    "kota_name",
    "is_placeholder",
]

#: DKI Jakarta's BPS province code: every kelurahan code starts with it.
PROVINCE_CODE = "31"


PLACEHOLDERS_CSV = REPO_ROOT / "data" / "placeholder_units.csv"
CODE_CHANGES_CSV = REPO_ROOT / "data" / "kelurahan_code_changes.csv"


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """Which source column holds each normalised attribute."""

    name: str
    code: str
    kelurahan_name: str
    kecamatan_code: str
    kecamatan_name: str
    kota_code: str
    kota_name: str
    source_column: str | None = None

    @property
    def required(self) -> list[str]:
        """The columns a file must have to be read in this format."""
        return [
            self.code,
            self.kelurahan_name,
            self.kecamatan_code,
            self.kecamatan_name,
            self.kota_code,
            self.kota_name,
        ]


FORMATS: dict[str, FormatSpec] = {
    "bps2020": FormatSpec(
        name="bps2020",
        code="village_code",
        kelurahan_name="village",
        kecamatan_code="district_code",
        kecamatan_name="district",
        kota_code="regency_code",
        kota_name="regency",
        source_column="source",
    ),
    "jakarta-api": FormatSpec(
        name="jakarta-api",
        code="kode_kelurahan",
        kelurahan_name="nama_kelurahan",
        kecamatan_code="kode_kecamatan",
        kecamatan_name="nama_kecamatan",
        kota_code="kode_kota",
        kota_name="nama_kota",
    ),
}


@dataclass(slots=True)
class BoundarySet:
    """A normalised kelurahan-level boundary set, ready to load."""

    frame: gpd.GeoDataFrame
    format: str
    source: str | None
    rows_read: int
    repaired: int
    notes: list[str] = field(default_factory=list)

    @property
    def kelurahan_count(self) -> int:
        """Kelurahan, not counting placeholder units."""
        return int((~self.frame["is_placeholder"]).sum())


def read_boundaries(path: Path, *, fmt: str = "auto") -> BoundarySet:
    """Read and normalise the boundary file at ``path``.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile, or a ``.zip`` holding one of them.
    fmt
        ``auto`` (detect from the columns), ``bps2020`` or ``jakarta-api``.
    """
    if fmt != "auto" and fmt not in FORMATS:
        msg = f"Unknown boundary format {fmt!r}: use auto, {', '.join(FORMATS)}."
        raise BoundaryFileError(msg)
    raw = _read_file(path)
    columns = _column_lookup(raw.columns)
    spec = (
        _detect_format(path, columns)
        if fmt == "auto"
        else _check_format(path, FORMATS[fmt], columns)
    )
    raw = raw.rename(columns={columns[c]: c for c in _all_columns(spec) if c in columns})
    raw, notes = _to_wgs84(path, raw)
    return _normalise(path, raw, spec, notes)


# -- reading ---------------------------------------------------------------------------------
def _read_file(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        msg = f"Boundary file not found: {path}"
        raise BoundaryFileError(msg)
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several error types for unreadable input
        msg = f"Cannot read {path} as a GeoJSON, GeoPackage or Shapefile: {exc}"
        raise BoundaryFileError(msg) from exc
    if frame.empty:
        msg = f"{path} holds no features."
        raise BoundaryFileError(msg)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry is None:
        msg = f"{path} has no geometry column."
        raise BoundaryFileError(msg)
    return frame


def _column_lookup(columns: pd.Index) -> dict[str, str]:
    """Map wanted (lower-case) names to actual column names, allowing Shapefile's 10-char cut."""
    lookup: dict[str, str] = {}
    for actual in columns:
        lower = str(actual).lower()
        lookup.setdefault(lower, actual)
    wanted = {c for spec in FORMATS.values() for c in _all_columns(spec)}
    for name in wanted:
        if name not in lookup and len(name) > 10 and name[:10] in lookup:
            lookup[name] = lookup[name[:10]]
    return lookup


def _all_columns(spec: FormatSpec) -> list[str]:
    return spec.required + ([spec.source_column] if spec.source_column else [])


def _found(columns: dict[str, str]) -> str:
    names = sorted({v for v in columns.values() if v != "geometry"}, key=str)
    return ", ".join(map(str, names)) or "(none)"


def _check_format(path: Path, spec: FormatSpec, columns: dict[str, str]) -> FormatSpec:
    missing = [c for c in spec.required if c not in columns]
    if missing:
        msg = (
            f"{path.name} lacks the columns needed for format {spec.name}: {', '.join(missing)}. "
            f"Found: {_found(columns)}."
        )
        raise BoundaryFileError(msg)
    return spec


def _detect_format(path: Path, columns: dict[str, str]) -> FormatSpec:
    for spec in FORMATS.values():
        if all(c in columns for c in spec.required):
            return spec
    needs = "; ".join(f"{s.name} needs {', '.join(s.required)}" for s in FORMATS.values())
    msg = f"{path.name} matches no known boundary format ({needs}). Found: {_found(columns)}."
    raise BoundaryFileError(msg)


def _to_wgs84(path: Path, frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    notes: list[str] = []
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            msg = f"{path.name} has no CRS and its coordinates are not degrees: add a .prj / CRS."
            raise BoundaryFileError(msg)
        notes.append("no CRS in the file: coordinates taken as EPSG:4326")
        return frame.set_crs(4326), notes
    if frame.crs.to_2d().to_epsg() == 4326:  # EPSG:4326 itself, or 3D WGS 84 (EPSG:4979)
        return frame.set_crs(4326, allow_override=True), notes
    if frame.crs.to_epsg() != 4326:
        notes.append(f"reprojected from {frame.crs.to_string()} to EPSG:4326")
        frame = frame.to_crs(4326)
    return frame, notes


# -- normalising -----------------------------------------------------------------------------
_DIGITS = re.compile(r"^[0-9]+$")


def normalise_code(value: object) -> str | None:
    """Plain BPS digits from ``id3171010001``, ``3171010001``, ``3171010001.0`` or an int."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    if text.lower().startswith("id"):
        text = text[2:]
    if text.endswith(".0") and _DIGITS.match(text[:-2]):
        text = text[:-2]
    return text if _DIGITS.match(text) else None


def _load_placeholders() -> set[str]:
    with PLACEHOLDERS_CSV.open(newline="", encoding="utf-8") as fh:
        return {row["code"] for row in csv.DictReader(fh)}


def _load_code_changes(fmt: str) -> dict[str, str]:
    with CODE_CHANGES_CSV.open(newline="", encoding="utf-8") as fh:
        return {r["source_code"]: r["code"] for r in csv.DictReader(fh) if r["format"] == fmt}


def _polygonal(geom: BaseGeometry | None) -> tuple[MultiPolygon | None, bool]:
    """The polygonal part of ``geom`` as a MultiPolygon, repaired when invalid."""
    if geom is None or geom.is_empty:
        return None, False
    geom = shapely.force_2d(geom)  # heights (QGIS / KML exports) mean nothing here
    repaired = False
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        repaired = True
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon | MultiPolygon)]
    polys = [q for p in parts for q in (p.geoms if isinstance(p, MultiPolygon) else [p])]
    polys = [p for p in polys if not p.is_empty]
    if not polys:
        return None, repaired
    return MultiPolygon(polys), repaired


def _normalise(
    path: Path, raw: gpd.GeoDataFrame, spec: FormatSpec, notes: list[str]
) -> BoundarySet:
    rows_read = len(raw)
    changes = _load_code_changes(spec.name)
    placeholders = _load_placeholders()
    frame = pd.DataFrame(
        {
            "source_code": raw[spec.code].astype(str).str.strip(),
            "code": raw[spec.code].map(normalise_code),
            "name": raw[spec.kelurahan_name].astype(str).str.strip(),
            "kecamatan_code": raw[spec.kecamatan_code].map(normalise_code),
            "kecamatan_name": raw[spec.kecamatan_name].astype(str).str.strip(),
            "kota_code": raw[spec.kota_code].map(normalise_code),
            "kota_name": raw[spec.kota_name].astype(str).str.strip(),
        }
    )
    frame["code"] = frame["code"].map(lambda c: changes.get(c, c) if c else c)
    _check_codes(path, frame)

    fixed = [_polygonal(g) for g in raw.geometry]
    frame["geometry"] = [g for g, _ in fixed]
    repaired = sum(1 for _, r in fixed if r)
    empty = frame.loc[frame["geometry"].isna(), "source_code"].tolist()
    if empty:
        listed = ", ".join(empty[:5])
        msg = f"{path.name}: {len(empty)} feature(s) without a usable polygon: {listed}."
        raise BoundaryFileError(msg)

    dissolved = _dissolve(frame)
    _check_extent(path, dissolved)
    dissolved["is_placeholder"] = dissolved["code"].isin(placeholders)
    if repaired:
        notes.append(f"{repaired} invalid geometr{'y' if repaired == 1 else 'ies'} repaired")
    if len(dissolved) < rows_read:
        notes.append(f"{rows_read} rows dissolved into {len(dissolved)} areas by code")
    source = None
    if spec.source_column and spec.source_column in raw:
        values = raw[spec.source_column].dropna().astype(str).unique()
        source = values[0] if len(values) == 1 else None
    gdf = gpd.GeoDataFrame(dissolved[[*COLUMNS, "geometry"]], geometry="geometry", crs=4326)
    return BoundarySet(gdf, spec.name, source, rows_read, repaired, notes)


def _check_codes(path: Path, frame: pd.DataFrame) -> None:
    """Every row must carry a 10-digit DKI kelurahan code consistent with its parents."""
    problems: list[str] = []
    for row in frame.itertuples(index=False):
        code, kec, kota = row.code, row.kecamatan_code, row.kota_code
        if not code or len(code) != 10:
            problems.append(f"{row.source_code!r}: not a 10-digit kelurahan code")
        elif not code.startswith(PROVINCE_CODE):
            problems.append(f"{row.source_code!r}: not in DKI Jakarta (codes start with 31)")
        elif kec != code[:7] or kota != code[:4]:
            problems.append(f"{row.source_code!r}: kecamatan {kec!r} / kota {kota!r} do not match")
        if len(problems) >= 5:
            break
    if problems:
        msg = f"{path.name} has codes that are not DKI Jakarta kelurahan codes: " + "; ".join(
            problems
        )
        raise BoundaryFileError(msg)


def _most_common(values: pd.Series) -> str:
    return Counter(values).most_common(1)[0][0]


def _dissolve(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per code: several rows of a code (islands) become one MultiPolygon."""
    out = []
    for code, group in frame.groupby("code", sort=True):
        geom = (
            group["geometry"].iloc[0]
            if len(group) == 1
            else shapely.union_all(group["geometry"].to_numpy())
        )
        multi, _ = _polygonal(geom)
        out.append(
            {
                "code": code,
                "source_code": ";".join(sorted(set(group["source_code"]))),
                "name": _most_common(group["name"]),
                "kecamatan_code": group["kecamatan_code"].iloc[0],
                "kecamatan_name": _most_common(group["kecamatan_name"]),
                "kota_code": group["kota_code"].iloc[0],
                "kota_name": _most_common(group["kota_name"]),
                "geometry": multi,
            }
        )
    return pd.DataFrame(out)


def _check_extent(path: Path, frame: pd.DataFrame) -> None:
    minx, miny, maxx, maxy = JAKARTA_BOX
    bounds = shapely.bounds(frame["geometry"].to_numpy())
    outside = ~(
        (bounds[:, 0] >= minx)
        & (bounds[:, 2] <= maxx)
        & (bounds[:, 1] >= miny)
        & (bounds[:, 3] <= maxy)
    )
    if outside.any():
        codes = frame.loc[outside, "code"].tolist()
        msg = (
            f"{path.name}: {len(codes)} area(s) lie outside DKI Jakarta ({', '.join(codes[:5])}); "
            "is the file's CRS right?"
        )
        raise BoundaryFileError(msg)
