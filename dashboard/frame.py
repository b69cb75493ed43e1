"""What every page shares: the database banner, the filters, the current view, empty states.

``app.py`` calls :func:`prepare` in the entry point's run, before the page: the filter widgets
are created there, bound to the URL (so they survive page switches), and the resulting view is
kept for the page in :func:`current`. If the database cannot be reached, a banner says so and
checks again on its own; nothing below it runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from dashboard import data
from dashboard.components.state import ViewState
from dashboard.sidebar import view_state
from geo.analytics import Filters
from geo.errors import PantauError

#: While the database is down, the page checks again this often on its own.
RETRY_EVERY = timedelta(seconds=30)
_VIEW = "pantau_view"
_WAS_DOWN = "pantau_database_was_down"


@st.fragment(run_every=RETRY_EVERY)
def _banner(reason: str) -> None:
    """The "database unreachable" banner; reloads the app once the database answers."""
    try:
        data.data_version()
    except PantauError as exc:
        reason = str(exc)
    else:
        st.session_state.pop(_WAS_DOWN, None)
        st.rerun(scope="app")
    st.error(
        "**Basis data tidak dapat dihubungi.** Halaman ini mencoba lagi setiap "
        f"{int(RETRY_EVERY.total_seconds())} detik.\n\nPenyebab: `{reason}`",
        icon=":material/cloud_off:",
    )
    st.button("Coba lagi", icon=":material/refresh:", key="pantau_retry")


def prepare(*, wall: bool = False) -> bool:
    """Draw the filters and keep the view for the page; False when there is nothing to show.

    Three states stop here: the database is unreachable (banner, retried on its own), no
    boundaries are loaded, no report has been ingested yet (each says what to run).
    """
    try:
        status = data.boundary_status()
        if not status["source"] or not status["kelurahan"]:
            _empty(
                "**Belum ada batas wilayah yang dimuat.** Jalankan perintah berikut dari folder "
                "proyek, lalu muat ulang halaman ini:\n\n"
                "```bash\npython -m pipelines boundaries load\n```"
            )
            return False
        view = view_state(wall=wall)
    except PantauError as exc:
        st.session_state[_WAS_DOWN] = True
        st.session_state.pop(_VIEW, None)
        _banner(str(exc))
        return False
    if not view[2]["reports"]:
        _empty(
            "**Belum ada laporan.** Muat umpan JAKI dan Qlue (atau data demo: `make demo-data`), "
            "lalu muat ulang halaman ini:\n\n"
            "```bash\npython -m pipelines ingest --source jaki FOLDER\n"
            "python -m pipelines ingest --source qlue FOLDER\n```"
        )
        return False
    st.session_state[_VIEW] = view
    return True


def _empty(message: str) -> None:
    st.session_state.pop(_VIEW, None)
    st.info(message, icon=":material/info:")


def current() -> tuple[ViewState, Filters, dict[str, Any]]:
    """The view prepared for this run (pages call this)."""
    view: tuple[ViewState, Filters, dict[str, Any]] | None = st.session_state.get(_VIEW)
    if view is None:
        st.stop()
    return view


def no_data(what: str = "laporan") -> None:
    """The explicit empty state for filters that match nothing."""
    st.info(
        f"**Tidak ada {what} untuk filter ini.** Perluas periode, atau hapus sebagian "
        "kategori, sumber, status atau wilayah di panel kiri.",
        icon=":material/filter_alt_off:",
    )


def scope_title(state: ViewState, info: dict[str, Any]) -> str:
    """The scope as a heading: the area's name, or the whole province."""
    if state.area is None:
        return "Seluruh DKI Jakarta"
    return str(info["area_labels"].get(state.area, state.area))
