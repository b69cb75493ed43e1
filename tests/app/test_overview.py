"""The overview page, run through Streamlit's AppTest against the real test database.

The app is started from its entry point (``dashboard/app.py``), exactly as ``streamlit run``
would, so the router, the shared frame and the page are tested together. Three states: the
loaded BPS 2020 set, an unreachable server, and a migrated database with no boundaries.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from psycopg import sql
from streamlit.testing.v1 import AppTest

from geo import db
from pipelines.migrate import migrate

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
#: Imports of geopandas/pydeck make the first run slow; 3 s (AppTest's default) is too short.
TIMEOUT_S = 60
UNREACHABLE_URL = "postgresql://nobody@127.0.0.1:1/x"
ATTRIBUTION = "Batas wilayah: BPS / OCHA, via HDX — CC BY-IGO"
INDONESIAN_DECIMAL = re.compile(r"^\d{1,3}(\.\d{3})*,\d$")


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


def run_app() -> AppTest:
    """Run the app once from its entry point, as ``streamlit run`` would."""
    return AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()


def metrics(at: AppTest) -> dict[str, str]:
    """Metric label -> displayed value."""
    return {m.label: m.value for m in at.metric}


def captions(at: AppTest) -> str:
    """Every caption on the page and in the sidebar, as one text."""
    return "\n".join(c.value for c in at.caption)


def deck_spec(at: AppTest) -> dict[str, Any]:
    """The pydeck JSON the browser would receive."""
    charts = at.get("deck_gl_json_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.json)


# -- loaded --------------------------------------------------------------------------------------
@pytest.fixture
def loaded_app(test_env: dict[str, str], bps2020_loaded: str) -> AppTest:
    """The app on the test database with the official BPS 2020 boundaries."""
    return run_app()


def test_loaded_page_runs_cleanly(loaded_app: AppTest) -> None:
    assert not loaded_app.exception
    assert not loaded_app.error
    assert loaded_app.header[0].value == "Ringkasan wilayah"
    assert "Pantau" in [t.value for t in loaded_app.sidebar.title]


def test_counts_per_level(loaded_app: AppTest) -> None:
    assert metrics(loaded_app) == {
        "Kota/kabupaten": "6",
        "Kecamatan": "44",
        "Kelurahan": "267",
        "Unit placeholder": "3",
    }


def test_attribution_and_load_time_in_wib(loaded_app: AppTest) -> None:
    page_caption = next(c.value for c in loaded_app.main.caption if ATTRIBUTION in c.value)
    assert "HDX-BPS-2020" in page_caption
    assert re.search(r"dimuat \d{1,2} \w+ \d{4}, \d{2}\.\d{2} WIB", page_caption)
    assert any(ATTRIBUTION in c.value for c in loaded_app.sidebar.caption)


def test_kota_table(loaded_app: AppTest) -> None:
    table = loaded_app.dataframe[0].value
    assert list(table.columns) == [
        "Kota/kabupaten",
        "Kode BPS",
        "Kecamatan",
        "Kelurahan",
        "Luas (km²)",
    ]
    assert list(table["Kode BPS"]) == ["3101", "3171", "3172", "3173", "3174", "3175"]
    assert sum(int(v) for v in table["Kecamatan"]) == 44
    assert sum(int(v) for v in table["Kelurahan"]) == 267
    assert all(INDONESIAN_DECIMAL.match(v) for v in table["Luas (km²)"]), table["Luas (km²)"]
    timur = table.set_index("Kode BPS").loc["3172"]
    assert timur["Kota/kabupaten"] == "Kota Jakarta Timur"
    assert timur["Luas (km²)"] == "184,7"


def test_map_layers(loaded_app: AppTest) -> None:
    spec = deck_spec(loaded_app)
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert set(layers) == {"kelurahan", "kelurahan-placeholder", "kota-outline"}
    assert len(layers["kelurahan"]["data"]["features"]) == 267
    assert len(layers["kelurahan-placeholder"]["data"]["features"]) == 3
    assert len(layers["kota-outline"]["data"]["features"]) == 6
    # Offline: no basemap. "__MAP_STYLE__" is pydeck's sentinel, which Streamlit reads as "no
    # basemap"; a missing mapStyle would make Streamlit fetch CARTO's style from the internet.
    assert spec.get("mapStyle") == "__MAP_STYLE__"
    assert "mapProvider" not in spec
    view = spec["initialViewState"]
    assert abs(view["latitude"] - -6.2) < 0.1 and abs(view["longitude"] - 106.85) < 0.1
    # Every feature carries every tooltip field, names joined from the upper levels.
    menteng = next(
        f["properties"]
        for f in layers["kelurahan"]["data"]["features"]
        if f["properties"]["name"] == "Menteng"
    )
    assert menteng["kecamatan"] == "Menteng"
    assert menteng["kota"] == "Kota Jakarta Pusat"
    assert re.fullmatch(r"\d+,\d\d", menteng["luas"])
    placeholder = layers["kelurahan-placeholder"]["data"]["features"][0]["properties"]
    assert placeholder["catatan"].startswith("Bukan kelurahan")


# -- unreachable ---------------------------------------------------------------------------------
@pytest.fixture
def unreachable_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app at a port where nothing listens."""
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_URL)
    monkeypatch.delenv("PANTAU_READER_URL", raising=False)


def test_unreachable_database_shows_banner(unreachable_env: None) -> None:
    at = run_app()
    assert not at.exception
    assert len(at.error) == 1
    banner = at.error[0].value
    assert "Basis data tidak dapat dihubungi" in banner
    assert "127.0.0.1" in banner  # the reason, with the (redacted) address
    assert [b.label for b in at.button] == ["Coba lagi"]
    assert not at.metric and not at.get("deck_gl_json_chart")


def test_retry_recovers_once_database_is_back(
    unreachable_env: None,
    test_env: dict[str, str],
    bps2020_loaded: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_URL)
    at = run_app()
    assert at.error and not at.metric

    monkeypatch.setenv("DATABASE_URL", test_env["DATABASE_URL"])
    at.button[0].click().run()
    assert not at.exception
    assert not at.error
    assert metrics(at)["Kelurahan"] == "267"


# -- empty ---------------------------------------------------------------------------------------
@pytest.fixture
def empty_db_url(admin_url: str) -> Iterator[str]:
    """A migrated database of its own with no boundaries (dropped afterwards)."""
    name = os.environ.get("PANTAU_TEST_DB", "pantau_test") + "_empty"
    server = db.with_dbname(admin_url, "postgres")

    def drop() -> None:
        with db.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    drop()
    with db.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = db.with_dbname(admin_url, name)
    migrate(url)
    yield url
    st.cache_resource.clear()  # close the app's pool before dropping
    drop()


def test_empty_database_says_how_to_load(
    empty_db_url: str, test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    at = run_app()
    assert not at.exception
    assert not at.error
    assert len(at.info) == 1
    assert "Belum ada batas wilayah" in at.info[0].value
    assert "python -m pipelines boundaries load" in at.info[0].value
    assert not at.metric and not at.get("deck_gl_json_chart")
    assert ATTRIBUTION not in captions(at)
