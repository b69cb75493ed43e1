"""Tren: weekly or monthly reports by category, anomalies marked, the area against its parent
and the city.

The counts and the anomaly test are :func:`geo.analytics.trend_table` (negative binomial
upper tail against a trailing baseline, Benjamini-Hochberg FDR), as ``pipelines trends``.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, frame
from dashboard.components import format_count
from dashboard.components.charts import CATEGORY_SCHEME, date_axis, indonesian
from dashboard.components.labels import category_label
from dashboard.sidebar import choice
from geo.errors import PantauError

FREQS = {"week": "Mingguan", "month": "Bulanan"}

state, filters, info = frame.current()
st.header(f"Tren — {frame.scope_title(state, info)}", anchor=False)
freq = choice(st, "segmented_control", "Periode", "freq", list(FREQS), FREQS)


def complete_period(periods: pd.Series) -> pd.Series:
    """Whether each period lies wholly inside the filter's days (partial ones read as drops)."""
    starts = pd.to_datetime(periods)
    ends = starts + (pd.DateOffset(weeks=1) if freq == "week" else pd.offsets.MonthBegin(1))
    inside = pd.Series(True, index=periods.index)
    if state.start:
        inside &= starts >= pd.Timestamp(state.start)
    if state.end:
        inside &= ends <= pd.Timestamp(state.end) + pd.Timedelta(days=1)
    return inside


def level_of(code: str | None) -> str:
    """The level of an area code (BPS codes: 4, 7 or 10 digits)."""
    return {4: "kota", 7: "kecamatan", 10: "kelurahan"}.get(len(code or ""), "kota")


level = level_of(state.area)
try:
    table = data.analytics("trend_table", filters, level=level, freq=freq)
except PantauError as exc:
    st.warning(f"Tren tidak dapat dihitung: {exc}")
    st.stop()
scoped = table[table["code"] == state.area] if state.area else table
if scoped.empty or int(scoped["reports"].sum()) == 0:
    frame.no_data()
    st.stop()

by_category = scoped.groupby(["period", "category"], as_index=False).agg(
    reports=("reports", "sum"), anomaly=("anomaly", "any")
)
by_category["Kategori"] = by_category["category"].map(category_label)
top = by_category.groupby("Kategori")["reports"].sum().sort_values(ascending=False).head(8).index
shown = by_category[by_category["Kategori"].isin(top) & complete_period(by_category["period"])]
base = alt.Chart(shown).encode(
    x=alt.X("period:T", title=None, axis=date_axis()),
    y=alt.Y("reports:Q", title="Laporan"),
    color=alt.Color(
        "Kategori:N",
        scale=alt.Scale(scheme=CATEGORY_SCHEME),
        legend=alt.Legend(orient="bottom", columns=4, labelLimit=260),
    ),
)
lines = base.mark_line()
marks = (
    base.transform_filter(alt.datum.anomaly)
    .mark_point(shape="triangle-up", size=140, filled=True, color="#D55E00")
    .encode(tooltip=["Kategori:N", alt.Tooltip("period:T", title="Periode"), "reports:Q"])
)
st.altair_chart(indonesian((lines + marks).properties(height=380)), width="stretch")
anomalies = scoped[scoped["anomaly"]]
st.caption(
    "Minggu/bulan yang tidak penuh di awal dan akhir periode tidak digambar. "
    f"▲ = lonjakan signifikan ({format_count(len(anomalies))} pada cakupan ini): jumlah melebihi "
    "garis dasar 26 minggu / 12 bulan sebelumnya menurut uji ekor atas binomial negatif, "
    "dikoreksi FDR Benjamini-Hochberg, minimal 5 laporan."
)

if state.area:
    st.subheader("Dibandingkan dengan wilayah induk dan seluruh Jakarta", anchor=False)
    series = {frame.scope_title(state, info): scoped}
    parent = (
        state.area[:7]
        if len(state.area) == 10
        else state.area[:4]
        if len(state.area) == 7
        else None
    )
    if parent:
        parent_table = data.analytics("trend_table", filters, level=level_of(parent), freq=freq)
        series[str(info["area_labels"].get(parent, parent))] = parent_table[
            parent_table["code"] == parent
        ]
    city = data.analytics("trend_table", filters, level="kota", freq=freq)
    series["Seluruh DKI Jakarta"] = city
    rows = []
    for name, frame_ in series.items():
        totals = frame_.groupby("period")["reports"].sum()
        share = totals / totals.sum() * 100 if totals.sum() else totals
        rows.append(pd.DataFrame({"period": totals.index, "Wilayah": name, "share": share.values}))
    comparison = pd.concat(rows)
    chart = (
        alt.Chart(comparison)
        .mark_line()
        .encode(
            x=alt.X("period:T", title=None),
            y=alt.Y("share:Q", title="% dari total periode"),
            color=alt.Color("Wilayah:N", legend=alt.Legend(orient="bottom")),
        )
        .properties(height=300)
    )
    st.altair_chart(indonesian(chart), width="stretch")
    st.caption(
        "Setiap garis dinormalkan terhadap jumlahnya sendiri (persentase dari total periode), "
        "agar wilayah yang kecil dan yang besar dapat dibandingkan bentuk trennya."
    )

if not anomalies.empty:
    st.subheader("Lonjakan", anchor=False)
    st.dataframe(
        pd.DataFrame(
            {
                "Periode": anomalies["period"].astype(str),
                "Wilayah": anomalies["name"],
                "Kategori": anomalies["category"].map(category_label),
                "Laporan": anomalies["reports"].map(format_count),
                "Garis dasar": anomalies["baseline"].round(1),
            }
        ).sort_values("Periode", ascending=False),
        hide_index=True,
    )
