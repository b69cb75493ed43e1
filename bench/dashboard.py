"""Dashboard benchmark: server time per page, cold and warm, and the bytes sent to the browser.

Runs every page of ``dashboard/app.py`` through Streamlit's AppTest (the script runs in this
process exactly as the server would run it) against the ``pantau_bench`` database with about a
million reports (see :mod:`bench.analytics`). *Cold*: every cache emptied first (Streamlit's
and the study-area/weights cache of ``geo.analytics``), a new session. *Warm*: a new session
with the caches filled, which is what a second viewer or the wall screen's next cycle gets.
*Bytes*: the serialised size of every element the page sends (protobuf), which is what crosses
the websocket; the pydeck maps are the bulk of it.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.analytics import ensure_loaded
from bench.report import emit
from geo import db
from geo.settings import READER_ROLE

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
PAGES = {
    "/": None,
    "/hotspots": "app_pages/hotspots.py",
    "/trends": "app_pages/trends.py",
    "/sla": "app_pages/sla.py",
    "/area?area=3171": "app_pages/area.py",
    "/export": "app_pages/export.py",
    "/?mode=wall": None,
}
TARGETS = {"warm_s": 0.3, "cold_s": 2.0, "mbytes": 5.0}


def _clear_caches() -> None:
    import streamlit as st

    import geo.analytics

    st.cache_data.clear()
    st.cache_resource.clear()
    geo.analytics._CACHE = geo.analytics._BoundaryCache()


def _run(page: str, target: str | None) -> tuple[float, int, list[str]]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300)
    query = page.partition("?")[2]
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        at.query_params[key] = value
    if target:
        at.switch_page(target)
    t0 = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - t0
    problems = [str(e.value)[:200] for e in at.exception] + [e.value[:200] for e in at.error]
    size = sum(_proto_size(node) for node in _walk(at._tree))
    return seconds, size, problems


def _walk(node: Any) -> Any:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _proto_size(node: Any) -> int:
    proto = getattr(node, "proto", None)
    return proto.ByteSize() if proto is not None and hasattr(proto, "ByteSize") else 0


def run(*, reports: int, seed: int, as_json: bool) -> dict[str, Any]:
    """Every page cold and warm on the bench database."""
    writer = ensure_loaded(reports, seed)
    os.environ["PANTAU_READER_URL"] = db.with_user(writer, READER_ROLE)
    figures: dict[str, dict[str, Any]] = {}
    for page, target in PAGES.items():
        _clear_caches()
        cold, size, problems = _run(page, target)
        warm = [_run(page, target)[0] for _ in range(3)]
        figures[page] = {
            "cold_s": round(cold, 3),
            "warm_s": round(statistics.median(warm), 3),
            "mbytes": round(size / 1e6, 3),
            "problems": problems,
        }
    result = {"benchmark": "dashboard", "pages": figures, "targets": TARGETS}
    rows = [
        (
            page,
            f"warm {f['warm_s']:.3f} s, cold {f['cold_s']:.2f} s, {f['mbytes']:.2f} MB"
            + (f"  PROBLEMS: {f['problems']}" if f["problems"] else ""),
        )
        for page, f in figures.items()
    ]
    rows.append(("targets", "warm <= 0.3 s, cold <= 2 s, <= 5 MB per page"))
    emit(
        "Dashboard pages on 1,000,000 reports (AppTest, server side)", rows, result, as_json=as_json
    )
    return result
