"""``boundaries locate``: add owner codes to every row of a CSV of points, using PostGIS.

Every input row comes out, in order, with all its columns unchanged. Rows whose coordinates
cannot be read get empty codes, an empty ``outside`` (unknown, not outside) and a
``locate_error`` saying why, so nothing disappears silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.db import connect
from geo.errors import PantauError
from pipelines.spatial_join import locate_points

LAT_NAMES = ("lat", "latitude")
LNG_NAMES = ("lng", "lon", "long", "longitude")


@dataclass(frozen=True, slots=True)
class LocateSummary:
    """Counts of one locate run (they add up to ``rows``)."""

    rows: int
    inside: int
    outside: int
    invalid: int


def _find_column(frame: pd.DataFrame, names: tuple[str, ...], path: Path) -> str:
    lookup = {str(c).strip().lower(): c for c in frame.columns}
    for name in names:
        if name in lookup:
            return str(lookup[name])
    found = ", ".join(map(str, frame.columns))
    msg = f"{path.name} has no {names[0]} column (looked for {', '.join(names)}); found: {found}."
    raise PantauError(msg)


def _coordinate(values: pd.Series, low: float, high: float) -> tuple[np.ndarray, pd.Series]:
    """Parse a coordinate column; return floats (NaN when unusable) and the reason per row."""
    text = values.astype("string").str.strip()
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    reason = pd.Series("", index=values.index, dtype=object)
    reason[text.isna() | (text == "")] = "missing"
    reason[(reason == "") & number.isna()] = "not a number"
    bad_range = (reason == "") & ((number < low) | (number > high))
    reason[bad_range] = "out of range"
    number[reason != ""] = np.nan
    return number.to_numpy(), reason


def locate_csv(csv_in: Path, out: Path, url: str) -> LocateSummary:
    """Read ``csv_in``, locate its points in PostGIS, write ``out`` with the owner columns."""
    try:
        frame = pd.read_csv(csv_in, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"Cannot read {csv_in} as CSV: {exc}"
        raise PantauError(msg) from exc
    lat_col = _find_column(frame, LAT_NAMES, csv_in)
    lng_col = _find_column(frame, LNG_NAMES, csv_in)
    lat, lat_reason = _coordinate(frame[lat_col], -90, 90)
    lng, lng_reason = _coordinate(frame[lng_col], -180, 180)

    with connect(url) as conn:
        owners = locate_points(conn, lng, lat)
        conn.rollback()  # temp tables only: nothing to keep

    errors = np.where(lat_reason != "", "lat " + lat_reason, "")
    errors = np.where(
        lng_reason != "", np.where(errors != "", errors + "; ", "") + "lng " + lng_reason, errors
    )
    result = frame.copy()
    for column in ("kelurahan_code", "kecamatan_code", "kota_code"):
        result[column] = owners[column].fillna("").to_numpy()
    result["outside"] = owners["outside"].map({True: "true", False: "false"}).fillna("").to_numpy()
    result["locate_error"] = errors
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out, index=False)
    invalid = int((errors != "").sum())
    outside = int(owners["outside"].fillna(False).sum())
    return LocateSummary(
        rows=len(result), inside=len(result) - outside - invalid, outside=outside, invalid=invalid
    )
