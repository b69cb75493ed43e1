"""Profil wilayah: one area (any level) on one page, with its rank among its peers.

What a lurah opens every morning (``/area?area=<kelurahan code>``): the KPIs against the
previous period, where it ranks, what piles up (categories, trend), how late (SLA per
category, the overdue backlog by age).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, frame
from dashboard.components import format_count, format_decimal
from dashboard.components.charts import date_axis, indonesian
from dashboard.components.labels import LEVEL_LABELS, category_label
from dashboard.widgets import chart_frame, full_weeks, show_kpis
from geo.errors import PantauError

RANK_MEASURES = {
    "reports": "Jumlah laporan (1 = terbanyak)",
    "reports_per_km2": "Laporan per km² (1 = terpadat)",
    "within_complete_pct": "% selesai ≤ 7 hari (1 = terbaik)",
}

state, filters, info = frame.current()
if state.area is None:
    st.header("Profil wilayah", anchor=False)
    st.info(
        "Pilih sebuah kota, kecamatan atau kelurahan pada **Wilayah** di panel kiri. "
        "Tautan `?area=<kode>` membuka halaman ini langsung pada wilayah tersebut.",
        icon=":material/location_city:",
    )
    st.stop()

level = {4: "kota", 7: "kecamatan", 10: "kelurahan"}[len(state.area)]
st.header(frame.scope_title(state, info), anchor=False)
st.caption(f"{LEVEL_LABELS[level]} · kode BPS {state.area}")
try:
    kpis = data.overview("kpis_with_change", filters, area=state.area)
    categories = data.overview("top_categories", filters, area=state.area, n=10)
    trend = data.overview("daily_trend", filters, area=state.area, freq="week")
    ranks = {
        m: data.overview("area_rank", filters, area=state.area, measure=m) for m in RANK_MEASURES
    }
    sla = data.analytics("sla_summary", filters, level=level, by="category")
    backlog = data.analytics("overdue_backlog", filters, level=level)
except PantauError as exc:
    st.warning(f"Profil tidak dapat dihitung: {exc}")
    st.stop()
if int(kpis.loc["reports", "current"] or 0) == 0:
    frame.no_data()
    st.stop()
show_kpis(kpis)

st.subheader("Peringkat", anchor=False)
cols = st.columns(len(RANK_MEASURES))
for col, (measure, label) in zip(cols, RANK_MEASURES.items(), strict=True):
    rank = ranks[measure]
    col.metric(
        label,
        f"{rank['rank']} dari {rank['peers']}",
        help=f"Di antara semua {LEVEL_LABELS[level].lower()} di Jakarta."
        + (
            f" Di dalam wilayah induknya: {rank['parent_rank']} dari {rank['parent_peers']}."
            if rank.get("parent_rank") is not None
            else ""
        ),
        border=True,
    )

left, right = st.columns(2)
with left:
    st.subheader("Kategori", anchor=False)
    st.altair_chart(
        indonesian(
            alt.Chart(chart_frame(categories))
            .mark_bar(color="#0072B2")
            .encode(
                x=alt.X("reports:Q", title="Laporan"),
                y=alt.Y("label:N", title=None, sort="-x", axis=alt.Axis(labelLimit=260)),
            )
            .properties(height=300)
        ),
        width="stretch",
    )
with right:
    st.subheader("Laporan per minggu", anchor=False)
    st.altair_chart(
        indonesian(
            alt.Chart(full_weeks(trend))
            .mark_area(line=True, opacity=0.3, color="#0072B2")
            .encode(
                x=alt.X("period:T", title=None, axis=date_axis()),
                y=alt.Y("reports:Q", title="Laporan"),
            )
            .properties(height=300)
        ),
        width="stretch",
    )

st.subheader("SLA per kategori", anchor=False)
own = sla[sla["code"] == state.area].sort_values("reports", ascending=False)
st.dataframe(
    pd.DataFrame(
        {
            "Kategori": own["category"].map(category_label),
            "Laporan": own["reports"].map(format_count),
            "Median jam koordinasi": own["median_coordinate_h"].map(format_decimal),
            "% koordinasi ≤ 6 jam": own["within_coordinate_pct"].map(format_decimal),
            "Median jam selesai": own["median_complete_h"].map(format_decimal),
            "% selesai ≤ 7 hari": own["within_complete_pct"].map(format_decimal),
            "Terbuka lewat batas": own["open_overdue"].map(format_count),
        }
    ),
    hide_index=True,
)
mine = backlog[backlog["code"] == state.area]
if mine.empty:
    st.success("Tidak ada laporan terbuka yang melewati batas 7 hari.")
else:
    buckets = [c for c in mine.columns if c.endswith("hari")]
    st.caption("Tunggakan lewat batas menurut umur laporan")
    st.dataframe(mine[buckets].rename(index=lambda _: "Laporan"), hide_index=False)
