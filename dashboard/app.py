"""Pantau dashboard entry point: page config, the router and the shared frame. No SQL here.

Run from the repository root::

    python -m streamlit run dashboard/app.py

Streamlit puts the script's own folder (``dashboard/``) on ``sys.path``, not the repository
root, so the root is added below to keep ``dashboard`` and ``geo`` importable however the app
is started (``streamlit run``, ``AppTest``, another working directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import streamlit as st  # noqa: E402

from dashboard import data  # noqa: E402
from geo.errors import PantauError  # noqa: E402

_PAGES_DIR = Path(__file__).resolve().parent / "app_pages"


def pages() -> list[st.Page]:
    """Every page of the app, in menu order; the first is the default (URL ``/``)."""
    return [
        st.Page(
            _PAGES_DIR / "overview.py",
            title="Ringkasan wilayah",
            icon=":material/map:",
            default=True,
        ),
    ]


def show_frame_header() -> None:
    """What every page shares above its own content: the product name and what it is."""
    with st.sidebar:
        st.title("Pantau", anchor=False)
        st.caption("Analitik geospasial laporan warga DKI Jakarta.")


def show_frame_footer() -> None:
    """Data attribution under the menu, once the page has shown data.

    Runs after the page; a page that stopped (database down, nothing loaded) shows no data,
    so it needs no attribution. The status comes from the cache the page just filled.
    """
    try:
        status = data.boundary_status()
    except PantauError:
        return
    if status["source"]:
        attribution = status["attribution"] or status["source"]
        st.sidebar.caption(f"Batas wilayah: {attribution} — {status['licence']}")


# An emoji, not a ":material/...:" icon: the favicon would be fetched from Google's servers.
st.set_page_config(page_title="Pantau", page_icon="🗺️", layout="wide")
page = st.navigation(pages())
show_frame_header()
page.run()
show_frame_footer()
