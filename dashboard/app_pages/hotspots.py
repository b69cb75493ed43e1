"""Titik panas: H3 hexagons by reports or by Gi* bin, emerging patterns, details on click.

Layout only. The numbers are :func:`geo.analytics.hotspot_cells` and
:func:`geo.analytics.emerging_cells`, exactly what ``pipelines hotspots`` / ``emerging`` export.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, frame
from dashboard.components import format_count, format_decimal
from dashboard.components.hexmap import (
    HEX_LAYER_ID,
    HEX_TOOLTIP,
    base_layer,
    deck,
    hex_layer,
    hex_records,
    outline_layer,
    points_layer,
    view_of,
)
from dashboard.components.labels import GI_BIN_LABELS, PATTERN_LABELS, category_label
from dashboard.components.layers import legend_html
from dashboard.sidebar import choice
from geo.errors import PantauError

VIEWS = {
    "reports": "Jumlah laporan",
    "gi_bin": "Gi* (titik panas/dingin)",
    "emerging": "Pola baru muncul",
}
MAX_POINTS = 2000

state, filters, info = frame.current()
st.header(f"Titik panas — {frame.scope_title(state, info)}", anchor=False)

left, middle, right = st.columns([2, 1, 1])
view = choice(left, "segmented_control", "Tampilan", "view", list(VIEWS), VIEWS)
res = choice(
    middle,
    "selectbox",
    "Resolusi H3",
    "res",
    [7, 8, 9],
    {7: "7 (≈ 5,2 km²)", 8: "8 (≈ 0,74 km²)", 9: "9 (≈ 0,11 km²)"},
)
basemap = right.toggle("Peta dasar (butuh internet)", value=False, key="basemap")


try:
    if view == "emerging":
        cells = data.analytics("emerging_cells", filters, res=int(res), step="week")
    else:
        cells = data.analytics("hotspot_cells", filters, res=int(res), k=1)
except PantauError as exc:
    st.warning(f"Analisis tidak dapat dihitung untuk filter ini: {exc}")
    st.stop()
if int(cells["reports"].sum()) == 0:
    frame.no_data()
    st.stop()

kelurahan = data.areas("kelurahan", loaded_at=data.boundary_status()["loaded_at"])
layers = [base_layer(kelurahan, highlight=state.area)]
records, legend = hex_records(cells, view)
layers.insert(0, hex_layer(records))
map_view = None
if state.area and len(state.area) == 10:  # one kelurahan: its reports, capped, no personal data
    points = data.analytics("area_reports", filters, code=state.area, limit=MAX_POINTS)
    if not points.empty:
        layers.append(points_layer(points))
    shape = kelurahan[kelurahan["code"] == state.area]
    if not shape.empty:
        map_view = view_of(tuple(shape.total_bounds))
elif state.area:
    areas = data.areas(
        "kecamatan" if len(state.area) == 7 else "kota",
        loaded_at=data.boundary_status()["loaded_at"],
    )
    shape = areas[areas["code"] == state.area]
    if not shape.empty:
        map_view = view_of(tuple(shape.total_bounds))
        layers.append(outline_layer(shape))

event = st.pydeck_chart(
    deck(layers, tooltip=HEX_TOOLTIP, view=map_view, basemap=basemap),
    height=600,
    on_select="rerun",
    selection_mode="single-object",
    key="hexmap",
)
st.html(legend_html(legend))
hot = int((cells["gi_bin"] >= 2).sum()) if "gi_bin" in cells else None
caption = (
    f"{format_count(len(cells))} sel H3 res {res} yang menutupi daratan Jakarta (sel tanpa "
    f"laporan ikut dihitung); {format_count(int(cells['reports'].sum()))} laporan."
)
if hot is not None and view == "gi_bin":
    caption += f" {format_count(hot)} sel titik panas pada 95 % (koreksi FDR Benjamini-Hochberg)."
if state.area:
    caption += (
        " Statistik dihitung untuk seluruh Jakarta (tetangga melintasi batas wilayah); "
        "peta diperbesar ke wilayah pilihan."
    )
st.caption(caption)

selected = event.selection.get("objects", {}).get(HEX_LAYER_ID, []) if event else []
if selected:
    cell = selected[0]["cell"]
    row = cells[cells["cell"] == cell]
    st.subheader(f"Sel {cell}", anchor=False)
    if not row.empty:
        r = row.iloc[0]
        c1, c2, c3 = st.columns(3)
        c1.metric("Laporan", format_count(int(r["reports"])))
        if "z" in r:
            c2.metric("Skor z Gi*", format_decimal(float(r["z"]), 2))
            c3.metric("Kelas", GI_BIN_LABELS[int(r["gi_bin"])])
        if "pattern" in r:
            c2.metric("Pola", PATTERN_LABELS.get(r["pattern"], r["pattern"]))
            c3.metric("Tren z (Mann-Kendall)", format_decimal(float(r["trend_z"]), 2))
    details = data.analytics("cell_categories", filters, cell=cell)
    if not details.empty:
        st.dataframe(
            pd.DataFrame(
                {
                    "Kategori": details["category"].map(category_label),
                    "Laporan": details["reports"].map(format_count),
                }
            ),
            hide_index=True,
        )
else:
    st.caption("Klik sebuah heksagon untuk melihat rinciannya.")
