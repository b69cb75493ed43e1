"""Streamlit pieces shared by several pages (the pages stay layout only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.components import format_count, format_decimal

KPI_LABELS = {
    "reports": ("Laporan", "count"),
    "completed_share": ("Sudah selesai", "fraction"),
    "median_coordinate_h": ("Median jam ke koordinasi", "hours"),
    "p90_coordinate_h": ("P90 jam ke koordinasi", "hours"),
    "within_coordinate_pct": ("Koordinasi ≤ 6 jam", "pct"),
    "median_complete_h": ("Median jam ke selesai", "hours"),
    "p90_complete_h": ("P90 jam ke selesai", "hours"),
    "within_complete_pct": ("Selesai ≤ 7 hari", "pct"),
    "open_overdue": ("Terbuka lewat batas", "count"),
}
#: For these a rise is bad: Streamlit shows the delta in red.
RISE_IS_BAD = {
    "median_coordinate_h",
    "p90_coordinate_h",
    "median_complete_h",
    "p90_complete_h",
    "open_overdue",
}


def formatted(value: float | None, kind: str) -> str:
    """A KPI value for display."""
    if value is None or pd.isna(value):
        return "–"
    if kind == "count":
        return format_count(int(value))
    if kind == "fraction":  # a share 0..1 shown in percent
        return f"{format_decimal(float(value) * 100, 1)} %"
    if kind == "pct":
        return f"{format_decimal(float(value), 1)} %"
    return f"{format_decimal(float(value), 1)} jam"


def show_kpis(kpis: pd.DataFrame) -> None:
    """One metric per KPI, with the change against the previous period of the same length."""
    columns = st.columns(5)
    for i, (key, (label, kind)) in enumerate(KPI_LABELS.items()):
        if key not in kpis.index:
            continue
        row = kpis.loc[key]
        change = row.get("change")
        delta = None
        if change is not None and not pd.isna(change):
            delta = formatted(change, kind)
            if kind in ("fraction", "pct"):
                delta = delta.replace(" %", " poin")  # a change of a share is in points
            if change > 0:
                delta = "+" + delta
        unchanged = delta is not None and delta.lstrip("+-").startswith(("0 ", "0,0 "))
        if delta == "0":
            unchanged = True
        columns[i % 5].metric(
            label,
            formatted(row["current"], kind),
            delta=("tetap" if unchanged else delta),
            delta_color="off" if unchanged else "inverse" if key in RISE_IS_BAD else "normal",
            delta_arrow="off" if unchanged else "auto",
            border=True,
        )


def chart_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for a chart: no ``attrs`` (Streamlit cannot serialise dates kept there)."""
    out = frame.copy()
    out.attrs = {}
    return out


def full_weeks(trend: pd.DataFrame) -> pd.DataFrame:
    """The weekly trend without its partial first and last weeks (they would read as drops)."""
    return chart_frame(trend[trend["days"] >= 7]) if "days" in trend else chart_frame(trend)
