"""Ringkasan: KPIs against the previous period, a choropleth of the scope's sub-areas, top
categories and the trend.

Layout only; the numbers are :mod:`geo.overview` (same definitions as the SLA command).
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import data, frame
from dashboard.components import format_decimal
from dashboard.components.charts import date_axis, indonesian
from dashboard.components.hexmap import (
    AREA_LAYER_ID,
    AREA_TOOLTIP,
    area_layer,
    class_breaks,
    deck,
    sequential_colours,
    view_of,
)
from dashboard.components.labels import LEVEL_LABELS
from dashboard.components.layers import kota_outline_layer, legend_html
from dashboard.sidebar import choice
from dashboard.widgets import chart_frame, full_weeks, show_kpis
from geo.errors import PantauError

MEASURES = {
    "reports": ("Jumlah laporan", "laporan"),
    "reports_per_km2": ("Laporan per km²", "laporan per km² luas wilayah"),
    "within_complete_pct": ("% selesai ≤ 7 hari", "% laporan selesai dalam 7 hari"),
}
state, filters, info = frame.current()
st.header(f"Ringkasan — {frame.scope_title(state, info)}", anchor=False)
st.caption(
    f"Laporan dibuat {state.start:%d/%m/%Y} – {state.end:%d/%m/%Y} (WIB); perubahan "
    "dibandingkan periode sebelumnya dengan panjang yang sama."
)
try:
    kpis = data.overview("kpis_with_change", filters, area=state.area)
    subareas = data.overview("subarea_measures", filters, area=state.area)
    categories = data.overview("top_categories", filters, area=state.area, n=8)
    trend = data.overview("daily_trend", filters, area=state.area, freq="week")
except PantauError as exc:
    st.warning(f"Ringkasan tidak dapat dihitung: {exc}")
    st.stop()
if int(kpis.loc["reports", "current"] or 0) == 0:
    frame.no_data()
    st.stop()
show_kpis(kpis)

left, right = st.columns([3, 2])
with left:
    measure = choice(
        st,
        "segmented_control",
        "Ukuran peta",
        "measure",
        list(MEASURES),
        {m: label for m, (label, _) in MEASURES.items()},
    )
    level = subareas.attrs.get("level", "kota")
    loaded_at = data.boundary_status()["loaded_at"]
    shapes = data.areas(level, loaded_at=loaded_at)
    shapes = shapes[shapes["code"].isin(subareas["code"])]
    values = dict(zip(subareas["code"], subareas[measure], strict=True))
    breaks = class_breaks(list(values.values()))
    colours = dict(zip(values, sequential_colours(list(values.values()), breaks), strict=True))
    unit = MEASURES[measure][1]
    labels = {
        c: f"{format_decimal(v, 1 if measure != 'reports' else 0)} {unit}"
        for c, v in values.items()
    }
    layers = [area_layer(shapes, values, colours, labels)]
    if level != "kota":
        layers.append(kota_outline_layer(data.areas("kota", loaded_at=loaded_at)))
    view = view_of(tuple(shapes.total_bounds)) if state.area else None
    event = st.pydeck_chart(
        deck(layers, tooltip=AREA_TOOLTIP, view=view),
        height=460,
        on_select="rerun",
        selection_mode="single-object",
        key="choropleth",
    )
    legend = [
        (f"≤ {format_decimal(b, 1 if measure != 'reports' else 0)}", c)
        for b, c in zip(breaks, sequential_colours(breaks, breaks), strict=True)
    ]
    st.html(legend_html(legend))
    st.caption(f"{LEVEL_LABELS[level]} di cakupan ini, diwarnai menurut: {unit}.")
    picked = event.selection.get("objects", {}).get(AREA_LAYER_ID, []) if event else []
    # A GeoJsonLayer selection is the GeoJSON Feature: its fields are under "properties".
    props = (picked[0].get("properties") or picked[0]) if picked else {}
    if props.get("code") and props["code"] != state.area:
        st.button(
            f"Buka {props.get('name', props['code'])}",
            icon=":material/zoom_in:",
            on_click=st.session_state.update,
            kwargs={"w_area": props["code"]},
        )
with right:
    st.subheader("Kategori teratas", anchor=False)
    bars = (
        alt.Chart(chart_frame(categories))
        .mark_bar(color="#0072B2")
        .encode(
            x=alt.X("reports:Q", title="Laporan"),
            y=alt.Y("label:N", title=None, sort="-x", axis=alt.Axis(labelLimit=260)),
            tooltip=[
                alt.Tooltip("label:N", title="Kategori"),
                alt.Tooltip("reports:Q", title="Laporan"),
            ],
        )
        .properties(height=300)
    )
    st.altair_chart(indonesian(bars), width="stretch")
    st.subheader("Laporan per minggu", anchor=False)
    line = (
        alt.Chart(full_weeks(trend))
        .mark_area(line=True, opacity=0.3, color="#0072B2")
        .encode(
            x=alt.X("period:T", title=None, axis=date_axis()),
            y=alt.Y("reports:Q", title="Laporan"),
        )
        .properties(height=180)
    )
    st.altair_chart(indonesian(line), width="stretch")
