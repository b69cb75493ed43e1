"""Ringkasan wilayah: what boundaries are loaded, on a map and per kota.

Layout only: data comes from :mod:`dashboard.data`, map layers and Indonesian formatting from
:mod:`dashboard.components`. Three states: database unreachable (banner, retried), no
boundaries loaded (how to load them), and the overview itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.components import format_count, format_decimal, format_wib, layers
from geo.errors import PantauError

#: While the database is down, the page checks again this often on its own.
RETRY_EVERY = timedelta(seconds=30)
_WAS_DOWN = "overview_database_was_down"


@st.fragment(run_every=RETRY_EVERY)
def boundary_status_or_banner() -> dict[str, Any] | None:
    """The boundary status, or None after drawing the "database unreachable" banner.

    A fragment, so the banner re-checks every :data:`RETRY_EVERY` (and on "Coba lagi")
    without redrawing the page, and reloads the whole page once the database is back.
    """
    try:
        status = data.boundary_status()
    except PantauError as exc:
        st.session_state[_WAS_DOWN] = True
        st.error(
            "**Basis data tidak dapat dihubungi.** Halaman ini mencoba lagi setiap "
            f"{int(RETRY_EVERY.total_seconds())} detik.\n\nPenyebab: `{exc}`",
            icon=":material/cloud_off:",
        )
        st.button("Coba lagi", icon=":material/refresh:", key="overview_retry")
        return None
    if st.session_state.pop(_WAS_DOWN, False):
        st.rerun(scope="app")
    return status


def show_empty_state() -> None:
    """No boundary set loaded yet: say how to load one."""
    st.info(
        "**Belum ada batas wilayah yang dimuat.** Jalankan perintah berikut dari folder "
        "proyek, lalu muat ulang halaman ini:\n\n"
        "```bash\npython -m pipelines boundaries load\n```",
        icon=":material/info:",
    )


def show_counts(status: dict[str, Any]) -> None:
    """One metric per level, as loaded."""
    columns = st.columns(4)
    columns[0].metric("Kota/kabupaten", format_count(status["kota"]), border=True)
    columns[1].metric("Kecamatan", format_count(status["kecamatan"]), border=True)
    columns[2].metric("Kelurahan", format_count(status["kelurahan"]), border=True)
    columns[3].metric(
        "Unit placeholder",
        format_count(status["placeholder"]),
        help="Poligon BPS berkode …888 (misalnya danau) yang bukan kelurahan; "
        "abu-abu bergaris putus-putus di peta.",
        border=True,
    )


def show_map(loaded_at: str | None) -> None:
    """Every kelurahan coloured by kota, with a legend."""
    kota = data.areas("kota", loaded_at=loaded_at)
    deck = layers.overview_deck(
        data.areas("kelurahan", loaded_at=loaded_at),
        data.areas("kecamatan", loaded_at=loaded_at),
        kota,
    )
    st.pydeck_chart(deck, height=560, alt="Peta kelurahan DKI Jakarta, diwarnai per kota")
    st.html(layers.legend_html(layers.legend_entries(kota)))


def show_kota_table(loaded_at: str | None) -> None:
    """Per kota: code, counts, area (Indonesian number format)."""
    summary = data.kota_summary(loaded_at=loaded_at)
    table = pd.DataFrame(
        {
            "Kota/kabupaten": summary["name"],
            "Kode BPS": summary["code"],
            "Kecamatan": summary["kecamatan"].map(format_count),
            "Kelurahan": summary["kelurahan"].map(format_count),
            "Luas (km²)": summary["area_km2"].map(format_decimal),
        }
    )
    right = st.column_config.TextColumn(alignment="right")
    st.dataframe(
        table,
        hide_index=True,
        column_config={"Kecamatan": right, "Kelurahan": right, "Luas (km²)": right},
    )


def show_attribution(status: dict[str, Any]) -> None:
    """Who made the boundaries, under which licence, and when they were loaded (WIB)."""
    st.caption(
        f"Batas wilayah: {status['attribution'] or status['source']} — {status['licence']}. "
        f"Sumber {status['source']}, berkas {status['file']}, "
        f"dimuat {format_wib(status['loaded_at'])}."
    )


st.header("Ringkasan wilayah", anchor=False)
status = boundary_status_or_banner()
if status is None:
    st.stop()
if not status["source"] or not status["kelurahan"]:
    show_empty_state()
    st.stop()

show_counts(status)
show_map(status["loaded_at"])
st.subheader("Per kota", anchor=False)
show_kota_table(status["loaded_at"])
show_attribution(status)
