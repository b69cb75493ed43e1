"""Ruang pantau (``?mode=wall``): the monitoring room's screen.

Wide, dark, no sidebar or toolbar, type readable from five metres. One fragment redraws every
``rotate`` seconds (``?rotate=30``), shows the next view (KPIs and the kota map, hot spots, the
SLA heatmap, the trend) and, through the cached data layer, picks up new data on its own: the
cache key includes the latest marts refresh. A clock and "data up to" are always on screen.
Memory stays flat however long it runs: the caches are bounded and nothing accumulates in the
session (tested over 100 cycles).
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, frame
from dashboard.components import format_count, format_decimal, format_wib
from dashboard.components.charts import LOCALE, date_axis
from dashboard.components.hexmap import HEX_TOOLTIP, base_layer, deck, hex_layer, hex_records
from dashboard.components.labels import category_label
from dashboard.components.layers import legend_html
from geo.errors import PantauError
from geo.settings import TIMEZONE

VIEWS = ("ringkasan", "titik_panas", "sla", "tren")
TITLES = {
    "ringkasan": "Ringkasan",
    "titik_panas": "Titik panas (Gi*)",
    "sla": "SLA: % selesai ≤ 7 hari",
    "tren": "Laporan per minggu",
}
_STEP = "pantau_wall_step"

WALL_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header,
[data-testid="stToolbar"], [data-testid="stDecoration"], footer { display: none !important; }
.stApp { background: #0E1117; color: #FAFAFA; }
.block-container { padding: 1.2rem 2rem !important; max-width: 100% !important; }
h1, h2, h3, p, span, div, label { color: #FAFAFA; }
h1 { font-size: 3.2rem !important; }
[data-testid="stMetricValue"] { font-size: 3.6rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.6rem !important; }
[data-testid="stCaptionContainer"] p { font-size: 1.4rem !important; color: #C9CED6; }
</style>
"""

state, filters, info = frame.current()
st.html(WALL_CSS)


def clock_line() -> str:
    """The wall clock and the data's freshness, in WIB."""
    now = datetime.now(ZoneInfo(TIMEZONE))
    return (
        f"**{now:%H.%M} WIB** · data hingga {format_wib(info['data_up_to'])} · "
        f"{format_count(info['reports'])} laporan · periode {state.start:%d/%m/%Y}–"
        f"{state.end:%d/%m/%Y}"
    )


def big_table(per_kota: pd.DataFrame) -> str:
    """The per-kota table in type readable across the room (a data grid is too small)."""
    head = "".join(
        f"<th style='text-align:{a};padding:0.3em 0.8em'>{h}</th>"
        for h, a in (("Kota", "left"), ("Laporan", "right"), ("% selesai ≤ 7 hari", "right"),
                     ("Lewat batas", "right"))
    )  # fmt: skip
    rows = "".join(
        "<tr>"
        f"<td style='padding:0.25em 0.8em'>{html.escape(str(r['name']))}</td>"
        f"<td style='text-align:right;padding:0.25em 0.8em'>{format_count(int(r['reports']))}</td>"
        f"<td style='text-align:right;padding:0.25em 0.8em'>"
        f"{format_decimal(r['within_complete_pct'])}</td>"
        f"<td style='text-align:right;padding:0.25em 0.8em'>{format_count(int(r['open_overdue']))}"
        "</td></tr>"
        for r in per_kota.to_dict("records")
    )
    return (
        "<table style='width:100%;font-size:2rem;color:#FAFAFA;border-collapse:collapse'>"
        f"<thead style='color:#C9CED6;font-size:1.4rem'><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def show_summary() -> None:
    """Big KPIs and the per-kota SLA table."""
    per_kota = data.analytics("sla_summary", filters, level="kota", by=None)
    # The city's own KPIs (geo.overview): a share within target is not a report-weighted mean
    # of the kota shares, whose denominators leave out reports still open within target.
    city = data.overview("kpis_with_change", filters, area=None)["current"]
    cols = st.columns(3)
    cols[0].metric("Laporan", format_count(int(city["reports"])))
    cols[1].metric("Selesai ≤ 7 hari", f"{format_decimal(city['within_complete_pct'], 1)} %")
    cols[2].metric("Terbuka lewat batas", format_count(int(city["open_overdue"])))
    st.html(big_table(per_kota))


def show_hotspots() -> None:
    """Gi* bins on H3 res 8."""
    cells = data.analytics("hotspot_cells", filters, res=8, k=1)
    records, legend = hex_records(cells, "gi_bin")
    kelurahan = data.areas("kelurahan", loaded_at=data.boundary_status()["loaded_at"])
    st.pydeck_chart(
        deck([hex_layer(records), base_layer(kelurahan)], tooltip=HEX_TOOLTIP), height=720
    )
    st.html(legend_html(legend).replace("0.875rem", "1.4rem"))


def show_sla() -> None:
    """Kota x category share completed within 7 days."""
    table = data.analytics("sla_summary", filters, level="kota", by="category")
    table["Kategori"] = table["category"].map(category_label)
    chart = (
        alt.Chart(table)
        .mark_rect()
        .encode(
            x=alt.X("Kategori:N", title=None, axis=alt.Axis(labelFontSize=16, labelLimit=220)),
            y=alt.Y("name:N", title=None, axis=alt.Axis(labelFontSize=20, labelLimit=420)),
            color=alt.Color(
                "within_complete_pct:Q",
                title="% ≤ 7 hari",
                scale=alt.Scale(scheme="redyellowgreen", domain=[50, 100], clamp=True),
            ),
        )
        .properties(height=560)
        .configure(background="#0E1117", locale=LOCALE)
        .configure_axis(labelColor="#FAFAFA")
        .configure_legend(labelColor="#FAFAFA", titleColor="#FAFAFA", labelFontSize=16)
    )
    st.altair_chart(chart, width="stretch")


def show_trend() -> None:
    """Weekly reports, the top categories."""
    table = data.analytics("trend_table", filters, level="kota", freq="week")
    weekly = table.groupby(["period", "category"], as_index=False)["reports"].sum()
    top = weekly.groupby("category")["reports"].sum().nlargest(6).index
    weekly = weekly[weekly["category"].isin(top)]
    weekly["Kategori"] = weekly["category"].map(category_label)
    chart = (
        alt.Chart(weekly)
        .mark_line(strokeWidth=4)
        .encode(
            x=alt.X("period:T", title=None, axis=date_axis(labelFontSize=18)),
            y=alt.Y("reports:Q", title=None, axis=alt.Axis(labelFontSize=18)),
            color=alt.Color(
                "Kategori:N",
                legend=alt.Legend(labelFontSize=20, orient="bottom", labelLimit=400, columns=3),
            ),
        )
        .properties(height=600)
        .configure(background="#0E1117", locale=LOCALE)
        .configure_axis(labelColor="#FAFAFA", gridColor="#333")
        .configure_legend(labelColor="#FAFAFA", titleColor="#FAFAFA")
    )
    st.altair_chart(chart, width="stretch")


SHOW = {
    "ringkasan": show_summary,
    "titik_panas": show_hotspots,
    "sla": show_sla,
    "tren": show_trend,
}


@st.fragment(run_every=timedelta(seconds=state.rotate))
def rotating_view() -> None:
    """The next view every ``rotate`` seconds, with the clock."""
    step = st.session_state.get(_STEP, -1) + 1
    st.session_state[_STEP] = step
    name = VIEWS[step % len(VIEWS)]
    st.title(f"Pantau · {TITLES[name]}", anchor=False)
    st.caption(clock_line())
    try:
        SHOW[name]()
    except PantauError as exc:
        st.error(f"Data tidak dapat dimuat, mencoba lagi: {exc}")


rotating_view()
