"""Pure pydeck layer builders for the maps (no streamlit: testable with hand-made frames).

Why these choices:

- Every layer has a stable ``id``: Streamlit's map selection events name layers by it.
- The whole :class:`pydeck.Deck` is serialised to JSON and sent to the browser, so geometry
  arrives already simplified (see ``dashboard.data``) and coordinates are rounded to
  :data:`COORD_DECIMALS` (about a metre), which halves the payload at no visible cost.
- ``map_provider=None``: the dashboard must work offline, so no basemap tiles are requested;
  the kota outlines drawn on top give the reader the orientation a basemap would.
- Colours are the Okabe–Ito palette, distinguishable with the common colour-vision
  deficiencies. Placeholder units (BPS polygons coded ``…888``, such as lakes, that are not
  kelurahan) are grey, translucent and dashed so nobody mistakes them for a kelurahan.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from dashboard.components import MISSING, format_decimal

RGBA = tuple[int, int, int, int]

#: Okabe–Ito, in the order kota codes are assigned colours (sorted by code).
KOTA_PALETTE: tuple[tuple[int, int, int], ...] = (
    (86, 180, 233),  # sky blue
    (230, 159, 0),  # orange
    (0, 158, 115),  # bluish green
    (204, 121, 167),  # reddish purple
    (0, 114, 178),  # blue
    (213, 94, 0),  # vermillion
    (240, 228, 66),  # yellow
)
FILL_ALPHA = 190
KELURAHAN_LINE: RGBA = (255, 255, 255, 230)
PLACEHOLDER_FILL: RGBA = (150, 150, 150, 110)
PLACEHOLDER_LINE: RGBA = (70, 70, 70, 255)
KOTA_LINE: RGBA = (49, 51, 63, 255)

#: Decimal places kept in coordinates: 1e-5 degree is about 1.1 m at Jakarta's latitude.
COORD_DECIMALS = 5

#: pydeck turns a bare string into a JavaScript expression; quotes make it a string literal.
_PIXELS = "'pixels'"

#: Layer ids (stable: selection events and tests refer to them).
KELURAHAN_LAYER_ID = "kelurahan"
PLACEHOLDER_LAYER_ID = "kelurahan-placeholder"
KOTA_OUTLINE_LAYER_ID = "kota-outline"

#: Mainland Jakarta; Kepulauan Seribu lies ~50 km north, off-screen, reachable by panning.
JAKARTA_LATITUDE = -6.23
JAKARTA_LONGITUDE = 106.85
JAKARTA_ZOOM = 10.2

PLACEHOLDER_NOTE = "Bukan kelurahan: unit placeholder BPS (kode …888)."

#: One tooltip for every layer; fields are looked up in each feature's ``properties``.
TOOLTIP: dict[str, Any] = {
    "html": (
        "<b>{name}</b><br/>"
        "Kode BPS: {code}<br/>"
        "Kecamatan: {kecamatan}<br/>"
        "Kota: {kota}<br/>"
        "Luas: {luas} km²<br/>"
        "<i>{catatan}</i>"
    ),
    "style": {"fontSize": "13px", "lineHeight": "1.4"},
}


def kota_colours(kota_codes: Iterable[str]) -> dict[str, RGBA]:
    """A fill colour per kota code, assigned in code order so it is stable across runs."""
    codes = sorted(set(kota_codes))
    return {
        code: (*KOTA_PALETTE[i % len(KOTA_PALETTE)], FILL_ALPHA) for i, code in enumerate(codes)
    }


def kelurahan_properties(
    kelurahan: pd.DataFrame, kecamatan: pd.DataFrame, kota: pd.DataFrame
) -> pd.DataFrame:
    """The tooltip fields and fill colour of each kelurahan, in ``kelurahan``'s row order.

    Names of the kecamatan and kota are joined on codes (never on names, which are spelled
    differently across sources). Every feature gets every field, so no tooltip shows a raw
    ``{placeholder}``.

    Parameters
    ----------
    kelurahan
        Rows of ``geo.boundaries.areas_frame(conn, "kelurahan")``.
    kecamatan, kota
        Rows of the two upper levels (``code`` and ``name`` are used).
    """
    colours = kota_colours(kota["code"])
    placeholder = kelurahan["is_placeholder"].astype(bool)
    return pd.DataFrame(
        {
            "code": kelurahan["code"].astype(str),
            "name": kelurahan["name"].astype(str),
            "kecamatan": _names_of(kelurahan["kecamatan_code"], kecamatan),
            "kota": _names_of(kelurahan["kota_code"], kota),
            "luas": [format_decimal(v, 2) for v in kelurahan["area_km2"]],
            "catatan": np.where(placeholder, PLACEHOLDER_NOTE, ""),
            "fill_color": [
                list(PLACEHOLDER_FILL if is_ph else colours.get(k, PLACEHOLDER_FILL))
                for k, is_ph in zip(kelurahan["kota_code"], placeholder, strict=True)
            ],
        },
        index=kelurahan.index,
    )


def feature_collection(geometries: gpd.GeoSeries, properties: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (plain dicts and lists, ready for JSON) from aligned rows.

    Coordinates are rounded to :data:`COORD_DECIMALS` in one vectorised pass; rounding can
    make a sliver invalid, which matters for analysis but not for drawing.
    """
    rounded = shapely.transform(
        np.asarray(geometries.values), lambda xy: np.round(xy, COORD_DECIMALS)
    )
    records = properties.to_dict("records")
    features = [
        {"type": "Feature", "geometry": json.loads(geojson), "properties": props}
        for geojson, props in zip(shapely.to_geojson(rounded), records, strict=True)
        if geojson is not None
    ]
    return {"type": "FeatureCollection", "features": features}


def kelurahan_layers(
    kelurahan: gpd.GeoDataFrame, kecamatan: pd.DataFrame, kota: gpd.GeoDataFrame
) -> list[pdk.Layer]:
    """Kelurahan filled by kota, placeholder units greyed and dashed, kota outlines on top."""
    properties = kelurahan_properties(kelurahan, kecamatan, kota)
    is_placeholder = kelurahan["is_placeholder"].astype(bool).to_numpy()
    regular = feature_collection(kelurahan.geometry[~is_placeholder], properties[~is_placeholder])
    placeholders = feature_collection(
        kelurahan.geometry[is_placeholder], properties[is_placeholder]
    )
    return [
        pdk.Layer(
            "GeoJsonLayer",
            data=regular,
            id=KELURAHAN_LAYER_ID,
            pickable=True,
            stroked=True,
            filled=True,
            get_fill_color="properties.fill_color",
            get_line_color=list(KELURAHAN_LINE),
            line_width_units=_PIXELS,
            get_line_width=0.8,
            auto_highlight=True,
            highlight_color=[255, 255, 255, 90],
        ),
        pdk.Layer(
            "GeoJsonLayer",
            data=placeholders,
            id=PLACEHOLDER_LAYER_ID,
            pickable=True,
            stroked=True,
            filled=True,
            get_fill_color=list(PLACEHOLDER_FILL),
            get_line_color=list(PLACEHOLDER_LINE),
            line_width_units=_PIXELS,
            get_line_width=1.5,
            extensions=[{"@@type": "PathStyleExtension", "dash": True}],
            get_dash_array=[3, 2],
            dash_justified=True,
            auto_highlight=True,
            highlight_color=[255, 255, 255, 90],
        ),
        kota_outline_layer(kota),
    ]


def kota_outline_layer(kota: gpd.GeoDataFrame) -> pdk.Layer:
    """Kota boundaries as lines only: orientation without a basemap, not pickable."""
    properties = pd.DataFrame({"code": kota["code"].astype(str)}, index=kota.index)
    return pdk.Layer(
        "GeoJsonLayer",
        data=feature_collection(kota.geometry, properties),
        id=KOTA_OUTLINE_LAYER_ID,
        pickable=False,
        stroked=True,
        filled=False,
        get_line_color=list(KOTA_LINE),
        line_width_units=_PIXELS,
        get_line_width=1.8,
    )


def jakarta_view() -> pdk.ViewState:
    """The initial view: mainland Jakarta fills a wide map."""
    return pdk.ViewState(
        latitude=JAKARTA_LATITUDE,
        longitude=JAKARTA_LONGITUDE,
        zoom=JAKARTA_ZOOM,
        min_zoom=8,
        max_zoom=16,
        pitch=0,
        bearing=0,
    )


class CompactDeck(pdk.Deck):
    """A :class:`pydeck.Deck` whose JSON has no indentation.

    pydeck indents its JSON by two spaces, one coordinate per line, which makes a polygon map
    several times larger on the wire; Streamlit sends whatever ``to_json`` returns.
    """

    def to_json(self) -> str:
        """The same JSON as pydeck's, without the whitespace."""
        return json.dumps(json.loads(super().to_json()), separators=(",", ":"))


def overview_deck(
    kelurahan: gpd.GeoDataFrame, kecamatan: pd.DataFrame, kota: gpd.GeoDataFrame
) -> pdk.Deck:
    """The overview map: every kelurahan, coloured by kota, with tooltips; no basemap."""
    return CompactDeck(
        layers=kelurahan_layers(kelurahan, kecamatan, kota),
        initial_view_state=jakarta_view(),
        # No basemap. Leave map_style at pydeck's default: with map_provider=None it is sent
        # as the "__MAP_STYLE__" sentinel, which Streamlit reads as "no basemap"; an explicit
        # map_style=None would make Streamlit fetch CARTO's style from the internet instead.
        map_provider=None,
        tooltip=TOOLTIP,
    )


def legend_entries(kota: pd.DataFrame) -> list[tuple[str, RGBA]]:
    """(label, colour) for each kota in code order, then the placeholder units."""
    colours = kota_colours(kota["code"])
    names = dict(zip(kota["code"].astype(str), kota["name"].astype(str), strict=True))
    entries = [(names[code], colour) for code, colour in colours.items()]
    return [*entries, ("Unit placeholder (bukan kelurahan)", PLACEHOLDER_FILL)]


def legend_html(entries: Iterable[tuple[str, RGBA]]) -> str:
    """A one-line HTML legend of coloured swatches (labels escaped)."""
    items = "".join(
        '<span style="display:inline-flex;align-items:center;margin-right:1.1em;'
        'white-space:nowrap">'
        f'<span style="display:inline-block;width:0.9em;height:0.9em;margin-right:0.35em;'
        f'border:1px solid rgba(49,51,63,0.5);background:{_css_rgba(colour)}"></span>'
        f"{html.escape(label)}</span>"
        for label, colour in entries
    )
    return f'<div style="font-size:0.875rem;line-height:1.8">{items}</div>'


def _css_rgba(colour: RGBA) -> str:
    r, g, b, a = colour
    return f"rgba({r},{g},{b},{a / 255:.2f})"


def _names_of(codes: pd.Series, areas: pd.DataFrame) -> list[str]:
    """The name for each code (``MISSING`` when the code is empty or unknown)."""
    names: Mapping[str, str] = dict(
        zip(areas["code"].astype(str), areas["name"].astype(str), strict=True)
    )
    return [names.get(code, MISSING) if isinstance(code, str) else MISSING for code in codes]
