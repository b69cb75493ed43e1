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

from dashboard import data, frame, sidebar  # noqa: E402
from geo.errors import PantauError  # noqa: E402

_PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

#: (file, title, icon, url path); the first is the default page at "/".
PAGES = (
    ("overview.py", "Ringkasan", ":material/dashboard:", ""),
    ("hotspots.py", "Titik panas", ":material/local_fire_department:", "hotspots"),
    ("trends.py", "Tren", ":material/show_chart:", "trends"),
    ("sla.py", "SLA", ":material/timer:", "sla"),
    ("area.py", "Profil wilayah", ":material/location_city:", "area"),
    ("export.py", "Ekspor", ":material/download:", "export"),
)


def pages() -> list[st.Page]:
    """Every page of the app, in menu order, with stable URL paths."""
    return [
        st.Page(_PAGES_DIR / file, title=title, icon=icon, url_path=path or None,
                default=not path)
        for file, title, icon, path in PAGES
    ]  # fmt: skip


def show_frame_header() -> None:
    """What every page shares above its own content: the product name and what it is."""
    with st.sidebar:
        st.title("Pantau", anchor=False)
        st.caption("Analitik geospasial laporan warga DKI Jakarta.")


def show_frame_footer() -> None:
    """Data attribution under the menu, once the page has shown data."""
    try:
        status = data.boundary_status()
    except PantauError:
        return
    if status["source"]:
        attribution = status["attribution"] or status["source"]
        st.sidebar.caption(f"Batas wilayah: {attribution} — {status['licence']}")


# An emoji, not a ":material/...:" icon: the favicon would be fetched from Google's servers.
WALL = st.query_params.get("mode") == "wall"
st.set_page_config(
    page_title="Pantau",
    page_icon="🗺️",
    layout="wide",
    initial_sidebar_state="collapsed" if WALL else "auto",
)
if WALL:
    page = st.navigation(
        [st.Page(_PAGES_DIR / "wall.py", title="Ruang pantau", default=True)],
        position="hidden",
    )
    if frame.prepare(wall=True):
        page.run()
else:
    page = st.navigation(pages())
    show_frame_header()
    if frame.prepare():
        page.run()
        sidebar.publish()
        show_frame_footer()
