"""Shared fixtures and helpers of the AppTest suites (``dashboard/app.py`` on the real PostGIS).

The app is always started from its entry point, as ``streamlit run`` would start it, so the
router, the shared frame (banner, filters, empty states) and the page are tested together.

Data: six months of both feeds (2024-01-01 .. 2024-06-30, 60 reports a day, the project's
generator with its default 2 % defects) are generated once per session into a temporary folder
(files only), and ingested per test module (the ingest refreshes the marts). After each module
the reports, the runs and the marts are deleted again, so that the other suites (integration
tests on the same database, the empty-state tests here) find the database as they expect it.

Run these with ``PANTAU_TEST_DB=pantau_test_app`` to keep away from other test runs on the
same server (``tests/conftest.py`` reads it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from psycopg import sql
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from geo import db
from pipelines.ingest import ingest
from pipelines.migrate import migrate
from pipelines.simulate.generate import Options, simulate
from tests.conftest import TEST_DB, clear_reports, ensure_bps2020, load_file

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
#: Imports of geopandas/pydeck and the first Gi* make a cold run slow; AppTest's 3 s is too short.
TIMEOUT_S = 120
UNREACHABLE_URL = "postgresql://nobody@127.0.0.1:1/x"
DB_DOWN = "Basis data tidak dapat dihubungi"
NO_BOUNDARIES = "Belum ada batas wilayah"
NO_REPORTS = "Belum ada laporan"
NO_MATCH = "Tidak ada laporan untuk filter ini"

START, END = date(2024, 1, 1), date(2024, 6, 30)
PER_DAY = 60.0
SEED = 11

#: Page file (as ``AppTest.switch_page`` wants it) per URL path of ``dashboard/app.py``.
PAGE_FILES = {
    "": "app_pages/overview.py",
    "hotspots": "app_pages/hotspots.py",
    "trends": "app_pages/trends.py",
    "sla": "app_pages/sla.py",
    "area": "app_pages/area.py",
    "export": "app_pages/export.py",
}


# -- Streamlit's process-wide caches -------------------------------------------------------------
@pytest.fixture(autouse=True)
def fresh_streamlit_caches() -> Iterator[None]:
    """Streamlit caches live for the whole process: each test starts and ends without them.

    Clearing ``cache_resource`` also closes the pools (``on_release``), so no connection
    outlives a test and the test databases can be dropped.
    """
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


# -- running the app -----------------------------------------------------------------------------
def new_app(query: dict[str, str | list[str]] | None = None) -> AppTest:
    """The app from its entry point with ``query`` as the URL's query string (not run yet)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def run_app(query: dict[str, str | list[str]] | None = None, page: str = "") -> AppTest:
    """Run the app once (``page`` is a URL path of :data:`PAGE_FILES`), as a browser opening
    ``/<page>?<query>`` would; a page other than the default is reached by a switch."""
    at = new_app(query).run()
    if page:
        at.switch_page(PAGE_FILES[page]).run()
    return at


def ok(at: AppTest) -> AppTest:
    """Fail with what the page showed when it raised or reported an error."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    """Metric label -> displayed value."""
    return {m.label: m.value for m in at.metric}


def count(text: str) -> int:
    """An Indonesian count (``12.345``) as an int."""
    return int(text.replace(".", ""))


def texts(elements: Any) -> list[str]:
    """The values of a sequence of AppTest elements."""
    return [e.value for e in elements]


def decks(at: AppTest) -> list[dict[str, Any]]:
    """The pydeck JSON of every map on the page, as the browser would receive it."""
    return [json.loads(chart.proto.json) for chart in at.get("deck_gl_json_chart")]


def deck_layers(at: AppTest) -> dict[str, dict[str, Any]]:
    """Layer id -> layer of the page's only map."""
    charts = decks(at)
    assert len(charts) == 1, f"{len(charts)} maps"
    return {layer["id"]: layer for layer in charts[0]["layers"]}


def altair_charts(at: AppTest) -> list[dict[str, Any]]:
    """The Vega-Lite specs of the charts on the page (``st.altair_chart``)."""
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def chart_frames(at: AppTest) -> list[pd.DataFrame]:
    """The data of each chart on the page (Streamlit ships it beside the spec, as Arrow)."""
    return [
        pd.concat([convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets])
        for chart in at.get("vega_lite_chart")
    ]


@dataclass(frozen=True)
class World:
    """The ingested test data and what the tests compare the pages with."""

    url: str
    #: category, status, source, day (WIB), kelurahan/kecamatan/kota codes, outside
    reports: pd.DataFrame

    def n(self, start: date | None = None, end: date | None = None, **where: Any) -> int:
        """Stored reports created from ``start`` to ``end`` (WIB days, both included) that
        match ``column=value`` (a tuple: any of); inside Jakarta unless ``outside`` is given."""
        frame = self.reports
        where.setdefault("outside", False)
        if start:
            frame = frame[frame["day"] >= start]
        if end:
            frame = frame[frame["day"] <= end]
        for column, value in where.items():
            allowed = value if isinstance(value, tuple) else (value,)
            frame = frame[frame[column].isin(allowed)]
        return len(frame)


@pytest.fixture(scope="session")
def feeds(bps2020_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six months of generated JAKI and Qlue feeds (files only; generated once per session)."""
    out = tmp_path_factory.mktemp("app_feeds")
    simulate(
        Options(
            start=START,
            end=END,
            seed=SEED,
            out=out,
            per_day=PER_DAY,
            boundaries=bps2020_path,
            progress=False,
        )
    )
    return out


@pytest.fixture(scope="module")
def world(writer_url: str, bps2020_path: Path, feeds: Path) -> Iterator[World]:
    """The feeds ingested into the test database for one module; removed again afterwards."""
    ensure_bps2020(writer_url, bps2020_path)
    clear_reports(writer_url)
    for source in ("jaki", "qlue"):
        result = ingest(source, [feeds / source], url=writer_url, progress=False)
        assert result.refresh_error is None
        assert result.inserted > 500, result
    with db.connect(writer_url) as conn:
        reports = db.read_frame(
            conn,
            "SELECT category, status, source, (created_at AT TIME ZONE 'Asia/Jakarta')::date "
            "AS day, kelurahan_code, kecamatan_code, kota_code, outside FROM api.reports",
        )
    yield World(writer_url, reports)
    st.cache_resource.clear()
    clear_reports(writer_url)


@pytest.fixture
def app_env(test_env: dict[str, str], world: World) -> World:
    """The app's environment pointing at the test database with the ingested data."""
    return world


# -- other databases -----------------------------------------------------------------------------
def _scratch_database(admin_url: str, suffix: str) -> tuple[str, Callable[[], None]]:
    """A migrated database of its own next to the test database, and how to drop it."""
    name = f"{os.environ.get('PANTAU_TEST_DB', TEST_DB)}_{suffix}"
    server = db.with_dbname(admin_url, "postgres")

    def drop() -> None:
        st.cache_resource.clear()  # close the app's pool first
        with db.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    drop()
    with db.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = db.with_dbname(admin_url, name)
    migrate(url)
    return url, drop


@pytest.fixture
def no_boundaries_url(admin_url: str) -> Iterator[str]:
    """A migrated database with no boundaries and no reports (dropped afterwards)."""
    url, drop = _scratch_database(admin_url, "empty")
    yield url
    drop()


@pytest.fixture(scope="module")
def no_reports_url(admin_url: str, bps2020_path: Path) -> Iterator[str]:
    """A migrated database with the BPS 2020 boundaries but no report (dropped afterwards)."""
    url, drop = _scratch_database(admin_url, "noreports")
    load_file(url, bps2020_path)
    yield url
    drop()
