"""SLA: the heatmap of areas x categories (or weeks), the worst offenders, the overdue backlog.

Targets of Pergub 128/2017 (``data/sla.toml``): coordinated within 6 hours, completed within 7
days. The numbers are :func:`geo.sla.sla_summary` and :func:`geo.sla.overdue_backlog`, the same
as ``pipelines sla``.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, frame
from dashboard.components import format_count, format_decimal
from dashboard.components.charts import indonesian
from dashboard.components.labels import LEVEL_LABELS, category_label
from dashboard.sidebar import choice
from geo.errors import PantauError

MEASURES = {
    "within_complete_pct": ("% selesai ≤ 7 hari", "pct"),
    "within_coordinate_pct": ("% dikoordinasikan ≤ 6 jam", "pct"),
    "median_complete_h": ("Median jam sampai selesai (target 168)", "hours"),
    "median_coordinate_h": ("Median jam sampai koordinasi (target 6)", "hours"),
}
TARGET_HOURS = {"median_complete_h": 168.0, "median_coordinate_h": 6.0}
BY = {"category": "Kategori", "week": "Minggu"}

state, filters, info = frame.current()
st.header(f"SLA — {frame.scope_title(state, info)}", anchor=False)
st.caption(
    "Pergub DKI Jakarta 128/2017: laporan dikoordinasikan paling lama 6 jam dan diselesaikan "
    "paling lama 7 hari. Persentase = tepat waktu / (tepat waktu + terlambat + terbuka lewat "
    "batas); laporan yang masih terbuka dalam batas belum dihitung."
)
c1, c2, c3 = st.columns(3)
ORDER = list(LEVEL_LABELS)
scope_level = {4: "kota", 7: "kecamatan", 10: "kelurahan"}.get(len(state.area or ""), "kota")
allowed = ORDER[ORDER.index(scope_level) :]  # rows at the scope's level or finer
level = choice(c1, "selectbox", "Baris", "level", allowed, LEVEL_LABELS)
by = choice(c2, "selectbox", "Kolom", "by", list(BY), BY)
measure = c3.selectbox(
    "Warna", list(MEASURES), format_func=lambda m: MEASURES[m][0], key="sla_measure"
)

try:
    table = data.analytics("sla_summary", filters, level=level, by=by)
    backlog = data.analytics("overdue_backlog", filters, level=level)
except PantauError as exc:
    st.warning(f"SLA tidak dapat dihitung: {exc}")
    st.stop()
if state.area:
    table = table[table["code"].astype(str).str.startswith(state.area)]
    backlog = backlog[backlog["code"].astype(str).str.startswith(state.area)]
if table.empty or int(table["reports"].sum()) == 0:
    frame.no_data()
    st.stop()

label, kind = MEASURES[measure]
plot = table.copy()
plot["row"] = plot["name"].astype(str)
plot["col"] = plot[by].map(category_label) if by == "category" else plot[by].astype(str)
plot["value"] = plot[measure]
plot["value_text"] = plot["value"].map(
    lambda v: format_decimal(v, 1) + (" %" if kind == "pct" else " jam")
)
plot["reports_text"] = plot["reports"].map(format_count)
if kind == "pct":
    scale = alt.Scale(scheme="redyellowgreen", domain=[50, 100], clamp=True)
else:
    target = TARGET_HOURS[measure]
    scale = alt.Scale(
        scheme="redyellowgreen", reverse=True, domainMid=target, clamp=True, domain=[0, target * 2]
    )
rows = plot["row"].nunique()
chart = (
    alt.Chart(plot)
    .mark_rect()
    .encode(
        x=alt.X(
            "col:N",
            title=BY[by],
            sort=None,
            axis=alt.Axis(labelAngle=-60, labelLimit=200, labelOverlap=False),
        ),
        y=alt.Y(
            "row:N", title=LEVEL_LABELS[level], sort="ascending", axis=alt.Axis(labelLimit=260)
        ),
        color=alt.Color("value:Q", title=label, scale=scale),
        tooltip=[
            alt.Tooltip("row:N", title=LEVEL_LABELS[level]),
            alt.Tooltip("col:N", title=BY[by]),
            alt.Tooltip("value_text:N", title=label),
            alt.Tooltip("reports_text:N", title="Laporan"),
        ],
    )
    .properties(height=alt.Step(28 if rows <= 50 else 14))  # every row the same height
)
st.altair_chart(indonesian(chart), width="stretch")

st.subheader("Paling terlambat", anchor=False)
per_area = data.analytics("sla_summary", filters, level=level, by=None)
if state.area:
    per_area = per_area[per_area["code"].astype(str).str.startswith(state.area)]
worst = per_area[per_area["reports"] >= 20].sort_values("within_complete_pct").head(10)
st.dataframe(
    pd.DataFrame(
        {
            LEVEL_LABELS[level]: worst["name"],
            "Laporan": worst["reports"].map(format_count),
            "% selesai ≤ 7 hari": worst["within_complete_pct"].map(format_decimal),
            "% koordinasi ≤ 6 jam": worst["within_coordinate_pct"].map(format_decimal),
            "Median jam selesai": worst["median_complete_h"].map(format_decimal),
            "Terbuka lewat batas": worst["open_overdue"].map(format_count),
        }
    ),
    hide_index=True,
)
st.caption("Wilayah dengan sedikitnya 20 laporan pada periode ini, diurutkan dari yang terendah.")

st.subheader("Tunggakan lewat batas, menurut umur", anchor=False)
if backlog.empty:
    st.success("Tidak ada laporan terbuka yang melewati batas 7 hari.")
else:
    buckets = [c for c in backlog.columns if c.endswith("hari")]
    shown = backlog.head(20)
    st.dataframe(
        pd.DataFrame(
            {
                LEVEL_LABELS[level]: shown["name"],
                "Total": shown["open_overdue"].map(format_count),
                **{b: shown[b].map(format_count) for b in buckets},
            }
        ),
        hide_index=True,
    )
