"""Pure pydeck builders for the analytic maps: H3 hexagons, area choropleths, report points.

Only ids and values travel to the browser (``H3HexagonLayer`` draws the hexagon from its id),
so a res-9 map of Jakarta is about 7,000 small records, not polygons. Base layer: kelurahan
outlines (simplified upstream), no tiles: the maps work offline. A tile basemap can be
switched on by the page when the machine is online (``basemap=True``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk

from dashboard.components import format_count, format_decimal
from dashboard.components.labels import GI_BIN_LABELS, PATTERN_LABELS
from dashboard.components.layers import (
    COORD_DECIMALS,
    CompactDeck,
    feature_collection,
    jakarta_view,
)

RGBA = tuple[int, int, int, int]
HEX_LAYER_ID = "hexagons"
AREA_LAYER_ID = "areas"
BASE_LAYER_ID = "kelurahan-base"
POINTS_LAYER_ID = "reports"

#: ColorBrewer RdYlBu (reversed): red hot, blue cold, light grey not significant.
GI_BIN_COLOURS: dict[int, RGBA] = {
    3: (215, 48, 39, 220),
    2: (252, 141, 89, 210),
    1: (254, 224, 144, 200),
    0: (200, 200, 200, 40),
    -1: (224, 243, 248, 200),
    -2: (145, 191, 219, 210),
    -3: (69, 117, 180, 220),
}
#: Sequential YlOrRd, five classes (counts are cut at quantiles of the non-zero values).
SEQUENTIAL: tuple[RGBA, ...] = (
    (255, 255, 178, 170),
    (254, 204, 92, 185),
    (253, 141, 60, 200),
    (240, 59, 32, 215),
    (189, 0, 38, 230),
)
ZERO_COLOUR: RGBA = (220, 220, 220, 30)
PATTERN_COLOURS: dict[str, RGBA] = {
    "new hot spot": (255, 0, 255, 220),
    "consecutive hot spot": (204, 0, 102, 220),
    "intensifying hot spot": (153, 0, 0, 230),
    "persistent hot spot": (215, 48, 39, 210),
    "diminishing hot spot": (252, 141, 89, 210),
    "sporadic hot spot": (254, 224, 144, 210),
    "oscillating hot spot": (255, 153, 204, 210),
    "historical hot spot": (191, 129, 45, 210),
    "no pattern detected": (200, 200, 200, 30),
}
_COLD_DEFAULT: RGBA = (69, 117, 180, 200)
BASE_LINE: RGBA = (90, 90, 90, 160)


def class_breaks(values: Sequence[float] | np.ndarray, classes: int = 5) -> list[float]:
    """Upper bounds of ``classes`` quantile classes of the positive values (for the legend)."""
    positive = np.asarray(values, dtype=float)
    positive = positive[positive > 0]
    if positive.size == 0:
        return []
    qs = np.quantile(positive, np.linspace(0, 1, classes + 1)[1:])
    return sorted(set(np.round(qs, 6).tolist()))


def sequential_colours(values: Sequence[float] | np.ndarray, breaks: list[float]) -> list[RGBA]:
    """The class colour of each value (zero and missing: almost transparent)."""
    out: list[RGBA] = []
    palette = SEQUENTIAL[-len(breaks) :] if breaks else SEQUENTIAL
    for v in np.asarray(values, dtype=float):
        if not v > 0:
            out.append(ZERO_COLOUR)
            continue
        index = int(np.searchsorted(breaks, v, side="left"))
        out.append(palette[min(index, len(palette) - 1)])
    return out


def pattern_colour(pattern: str) -> RGBA:
    """Colour of an emerging pattern (cold patterns in blues)."""
    if pattern in PATTERN_COLOURS:
        return PATTERN_COLOURS[pattern]
    return _COLD_DEFAULT


def hex_records(
    frame: pd.DataFrame, view: str
) -> tuple[list[dict[str, Any]], list[tuple[str, RGBA]]]:
    """Records for the hexagon layer and the legend entries, for ``view``.

    ``view`` is ``reports`` (counts in quantile classes), ``gi_bin`` (Gi* bins) or
    ``emerging`` (pattern; ``frame`` then has a ``pattern`` column).
    """
    if view == "gi_bin":
        colours = [GI_BIN_COLOURS[int(b)] for b in frame["gi_bin"]]
        legend = [(GI_BIN_LABELS[b], GI_BIN_COLOURS[b]) for b in (3, 2, 1, 0, -1, -2, -3)]
    elif view == "emerging":
        colours = [pattern_colour(p) for p in frame["pattern"]]
        present = [p for p in PATTERN_LABELS if p in set(frame["pattern"])]
        legend = [(PATTERN_LABELS[p], pattern_colour(p)) for p in present]
    else:
        breaks = class_breaks(frame["reports"])
        colours = sequential_colours(frame["reports"], breaks)
        legend = _count_legend(breaks)
    records = []
    for row, colour in zip(frame.to_dict("records"), colours, strict=True):
        # Every record carries every tooltip field: deck.gl prints a missing one as "{name}".
        record = {
            "cell": row["cell"],
            "color": list(colour),
            "reports": int(row["reports"]),
            "label": format_count(int(row["reports"])),
            "detail": "",  # deck.gl inserts field values as text: one line each, no markup
            "score": "",
        }
        if "pattern" in row:
            record["detail"] = PATTERN_LABELS.get(row["pattern"], row["pattern"])
            record["score"] = f"tren z = {format_decimal(float(row.get('trend_z', 0.0)), 2)}"
        elif "z" in row:
            record["detail"] = GI_BIN_LABELS.get(int(row.get("gi_bin", 0)), "")
            record["score"] = f"z = {format_decimal(float(row['z']), 2)}"
        records.append(record)
    return records, legend


def _count_legend(breaks: list[float]) -> list[tuple[str, RGBA]]:
    legend: list[tuple[str, RGBA]] = [("0", ZERO_COLOUR)]
    palette = SEQUENTIAL[-len(breaks) :] if breaks else SEQUENTIAL
    low = 0.0
    for bound, colour in zip(breaks, palette, strict=False):
        legend.append((f"{format_decimal(low, 0)}–{format_decimal(bound, 0)}", colour))
        low = bound
    return legend


def hex_layer(records: list[dict[str, Any]]) -> pdk.Layer:
    """H3 hexagons from their ids, pickable (selection events name it ``hexagons``)."""
    return pdk.Layer(
        "H3HexagonLayer",
        data=records,
        id=HEX_LAYER_ID,
        get_hexagon="cell",
        get_fill_color="color",
        pickable=True,
        stroked=False,
        filled=True,
        extruded=False,
        auto_highlight=True,
        highlight_color=[0, 0, 0, 80],
    )


def base_layer(kelurahan: gpd.GeoDataFrame, *, highlight: str | None = None) -> pdk.Layer:
    """Kelurahan outlines (the offline base map); the scope's kelurahan drawn bolder."""
    props = pd.DataFrame(
        {
            "code": kelurahan["code"].astype(str),
            "name": kelurahan["name"].astype(str),
            "width": np.where(kelurahan["code"].astype(str) == (highlight or ""), 3.0, 0.6),
        },
        index=kelurahan.index,
    )
    return pdk.Layer(
        "GeoJsonLayer",
        data=feature_collection(kelurahan.geometry, props),
        id=BASE_LAYER_ID,
        pickable=False,
        stroked=True,
        filled=False,
        get_line_color=list(BASE_LINE),
        line_width_units="'pixels'",
        get_line_width="properties.width",
    )


def area_layer(
    areas: gpd.GeoDataFrame,
    values: Mapping[str, float],
    colours: Mapping[str, RGBA],
    labels: Mapping[str, str],
) -> pdk.Layer:
    """Areas filled by a measure (choropleth), pickable, with the value in the tooltip."""
    codes = areas["code"].astype(str)
    props = pd.DataFrame(
        {
            "code": codes,
            "name": areas["name"].astype(str),
            "fill_color": [list(colours.get(c, ZERO_COLOUR)) for c in codes],
            "value": [labels.get(c, "–") for c in codes],
        },
        index=areas.index,
    )
    return pdk.Layer(
        "GeoJsonLayer",
        data=feature_collection(areas.geometry, props),
        id=AREA_LAYER_ID,
        pickable=True,
        stroked=True,
        filled=True,
        get_fill_color="properties.fill_color",
        get_line_color=[255, 255, 255, 200],
        line_width_units="'pixels'",
        get_line_width=0.8,
        auto_highlight=True,
        highlight_color=[0, 0, 0, 60],
    )


def points_layer(points: pd.DataFrame) -> pdk.Layer:
    """Individual reports (privacy-safe fields only) as small dots."""
    records = [
        {
            "position": [
                round(float(r["lng"]), COORD_DECIMALS),
                round(float(r["lat"]), COORD_DECIMALS),
            ],
            "category": str(r["category"]),
            "status": str(r["status"]),
            "day": str(r["day"]),
        }
        for r in points.to_dict("records")
    ]
    return pdk.Layer(
        "ScatterplotLayer",
        data=records,
        id=POINTS_LAYER_ID,
        get_position="position",
        get_radius=12,
        radius_units="'meters'",
        radius_min_pixels=2,
        get_fill_color=[33, 33, 33, 200],
        pickable=True,
    )


HEX_TOOLTIP = {
    "html": "<b>{label}</b> laporan<br/>{detail}<br/>{score}",
    "style": {"fontSize": "13px"},
}
AREA_TOOLTIP = {"html": "<b>{name}</b><br/>{value}", "style": {"fontSize": "13px"}}


def deck(
    layers: list[pdk.Layer],
    *,
    tooltip: dict[str, Any],
    view: pdk.ViewState | None = None,
    basemap: bool = False,
) -> pdk.Deck:
    """A deck without tiles (offline), or with CARTO's light tiles when ``basemap``."""
    if basemap:
        return CompactDeck(
            layers=layers,
            initial_view_state=view or city_view(),
            map_provider="carto",
            map_style="light",
            tooltip=tooltip,
        )
    return CompactDeck(
        layers=layers,
        initial_view_state=view or city_view(),
        map_provider=None,
        tooltip=tooltip,
    )


#: The hexagon maps' zoom: wider maps than the overview's, so Jakarta can be drawn larger.
CITY_ZOOM = 10.6


def city_view(zoom: float = CITY_ZOOM) -> pdk.ViewState:
    """Mainland Jakarta filling a wide map (the hexagon maps are wider than the overview's)."""
    view = jakarta_view()
    view.zoom = zoom
    return view


def outline_layer(shapes: gpd.GeoDataFrame) -> pdk.Layer:
    """A bold outline of the scope (kota or kecamatan) on top of the hexagons."""
    props = pd.DataFrame({"code": shapes["code"].astype(str)}, index=shapes.index)
    return pdk.Layer(
        "GeoJsonLayer",
        data=feature_collection(shapes.geometry, props),
        id="scope-outline",
        pickable=False,
        stroked=True,
        filled=False,
        get_line_color=[20, 20, 20, 230],
        line_width_units="'pixels'",
        get_line_width=3,
    )


def view_of(bounds: tuple[float, float, float, float]) -> pdk.ViewState:
    """A view centred on a bounding box, zoomed to fit it roughly."""
    minx, miny, maxx, maxy = bounds
    span = max(maxx - minx, maxy - miny, 1e-3)
    zoom = float(np.clip(np.log2(360 / span) - 0.6, 9, 16))
    return pdk.ViewState(
        latitude=(miny + maxy) / 2, longitude=(minx + maxx) / 2, zoom=zoom, min_zoom=8, max_zoom=17
    )
