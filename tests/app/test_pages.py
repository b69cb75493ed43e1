"""Every page of the dashboard and the wall mode, through AppTest, on the real test database.

The numbers on screen are checked against the reports as stored (``World.n``, counted in
pandas from ``api.reports``), the maps against the study area of ``geo.analytics``, the URL
against the canonical query of ``dashboard.components.state``. Failure states: the database
unreachable (and coming back), no boundaries, boundaries but no reports, filters that match
nothing.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from geo import db
from geo.analytics import study_area
from geo.taxonomy import load_taxonomy
from tests.app.conftest import (
    DB_DOWN,
    END,
    NO_BOUNDARIES,
    NO_MATCH,
    NO_REPORTS,
    PAGE_FILES,
    UNREACHABLE_URL,
    World,
    altair_charts,
    chart_frames,
    count,
    deck_layers,
    decks,
    metrics,
    new_app,
    ok,
    run_app,
    texts,
)

#: The app's default period: the last 90 days of data.
DEFAULT_START, DEFAULT_END = END - timedelta(days=89), END
JAKARTA_SELATAN = "3171"
KOTA = ("3101", "3171", "3172", "3173", "3174", "3175")
KPI_LABELS = {
    "Laporan",
    "Sudah selesai",
    "Median jam ke koordinasi",
    "P90 jam ke koordinasi",
    "Koordinasi ≤ 6 jam",
    "Median jam ke selesai",
    "P90 jam ke selesai",
    "Selesai ≤ 7 hari",
    "Terbuka lewat batas",
}
WALL_TITLES = [
    "Pantau · Ringkasan",
    "Pantau · Titik panas (Gi*)",
    "Pantau · SLA: % selesai ≤ 7 hari",
    "Pantau · Laporan per minggu",
]
CLOCK = re.compile(
    r"^\*\*\d{2}\.\d{2} WIB\*\* · data hingga \d{1,2} \w+ \d{4}, \d{2}\.\d{2} WIB · "
    r"[\d.]+ laporan · periode \d{2}/\d{2}/\d{4}–\d{2}/\d{2}/\d{4}$"
)


# -- helpers ------------------------------------------------------------------------------------
def canonical(query: dict[str, Any]) -> dict[str, list[str]]:
    """A query as key -> list of values (AppTest unwraps single values to strings)."""
    return {k: v if isinstance(v, list) else [v] for k, v in query.items()}


def laporan(at: AppTest) -> int:
    """The overview's (or area page's) "Laporan" KPI as a number."""
    return count(metrics(at)["Laporan"])


def header(at: AppTest) -> str:
    """The page's one header."""
    assert len(at.header) == 1, texts(at.header)
    return at.header[0].value


def widget(at: AppTest, key: str) -> Any:
    """A sidebar or page widget's current value (by its key)."""
    return at.session_state[key]


def click_on_map(at: AppTest, key: str, layer: str, index: int, obj: dict[str, Any]) -> AppTest:
    """What a click on a pickable map object sends: the selection as the chart's widget state.

    AppTest has no API for map selections; the browser sends the pydeck chart's state as a JSON
    string (``{"selection": {"indices": {layer: [i]}, "objects": {layer: [object]}}}``), which
    is what is added here to the other widgets' states before the rerun.
    """
    chart = next(c for c in at.get("deck_gl_json_chart") if c.proto.id.endswith(key))
    states = at._tree.get_widget_states()
    state = WidgetState(id=chart.proto.id)
    state.string_value = json.dumps(
        {"selection": {"indices": {layer: [index]}, "objects": {layer: [obj]}}}
    )
    states.widgets.append(state)
    return at._run(states)


@pytest.fixture(scope="module")
def names(world: World) -> dict[str, str]:
    """Area code -> name, as stored."""
    with db.connect(world.url) as conn:
        rows = conn.execute("SELECT code, name FROM api.admin_areas").fetchall()
    return {code: name for code, name in rows}


@pytest.fixture(scope="module")
def busy_kelurahan(world: World) -> str:
    """The kelurahan with the most reports in the default period (so that it has every kind)."""
    recent = world.reports[world.reports["day"] >= DEFAULT_START]
    return str(recent["kelurahan_code"].value_counts().index[0])


@pytest.fixture(scope="module")
def study_cells(world: World) -> dict[int, int]:
    """Number of H3 cells of the study area per resolution (every cell is on the map)."""
    with db.connect(world.url) as conn:
        return {res: len(study_area(conn, res)) for res in (7, 8, 9)}


# == every page renders ==========================================================================
def test_overview_kpis_and_choropleth(app_env: World) -> None:
    at = ok(run_app())
    assert header(at) == "Ringkasan — Seluruh DKI Jakarta"
    assert "Pantau" in texts(at.sidebar.title)
    assert set(metrics(at)) == KPI_LABELS
    assert laporan(at) == app_env.n(start=DEFAULT_START, end=DEFAULT_END)
    layers = deck_layers(at)
    assert set(layers) == {"areas"}  # the whole province: its kota, no outline needed
    codes = sorted(f["properties"]["code"] for f in layers["areas"]["data"]["features"])
    assert codes == list(KOTA)
    charts = altair_charts(at)
    assert [c["mark"]["type"] for c in charts] == ["bar", "area"]
    # The default view is the last 90 days of data, written to the URL.
    assert canonical(at.query_params) == {
        "start": [DEFAULT_START.isoformat()],
        "end": [DEFAULT_END.isoformat()],
    }
    assert widget(at, "w_start") == DEFAULT_START and widget(at, "w_end") == DEFAULT_END


def test_hotspots_map(app_env: World, study_cells: dict[int, int]) -> None:
    at = ok(run_app(page="hotspots"))
    assert header(at) == "Titik panas — Seluruh DKI Jakarta"
    layers = deck_layers(at)
    assert set(layers) == {"hexagons", "kelurahan-base"}
    hexagons = layers["hexagons"]
    assert hexagons["@@type"] == "H3HexagonLayer"
    assert len(hexagons["data"]) == study_cells[8]  # empty cells included
    assert len({r["cell"] for r in hexagons["data"]}) == study_cells[8]
    assert sum(r["reports"] for r in hexagons["data"]) == app_env.n(
        start=DEFAULT_START, end=DEFAULT_END
    )
    # The default view is Gi*: the tooltip detail names the bin and the z-score, and every
    # record has every tooltip field (deck.gl prints a missing one as "{name}").
    assert all(set(r) >= {"label", "detail", "score"} for r in hexagons["data"])
    assert hexagons["data"][0]["score"].startswith("z = ")
    assert "<" not in hexagons["data"][0]["detail"]  # deck.gl shows field values as text
    base = layers["kelurahan-base"]["data"]["features"]
    assert len(base) == 267 + 3  # every kelurahan and the three placeholder units


@pytest.mark.parametrize("res", [7, 9])
def test_hotspots_resolution_and_view(
    app_env: World, study_cells: dict[int, int], res: int
) -> None:
    at = ok(run_app(page="hotspots"))
    at.selectbox(key="w_res").set_value(res).run()
    ok(at)
    assert len(deck_layers(at)["hexagons"]["data"]) == study_cells[res]
    assert canonical(at.query_params)["res"] == [str(res)]

    at.segmented_control(key="w_view").set_value("emerging").run()
    ok(at)
    records = deck_layers(at)["hexagons"]["data"]
    assert len(records) == study_cells[res]
    assert all(r["score"].startswith("tren z = ") for r in records)  # the pattern's trend
    assert canonical(at.query_params)["view"] == ["emerging"]


def test_hotspots_cell_details_on_click(app_env: World) -> None:
    at = ok(run_app(page="hotspots"))
    records = deck_layers(at)["hexagons"]["data"]
    index, busiest = max(enumerate(records), key=lambda ir: ir[1]["reports"])
    click_on_map(at, "hexmap", "hexagons", index, busiest)
    ok(at)
    assert f"Sel {busiest['cell']}" in texts(at.subheader)
    assert count(metrics(at)["Laporan"]) == busiest["reports"]
    per_category = at.dataframe[0].value
    assert sum(count(v) for v in per_category["Laporan"]) == busiest["reports"]


def test_trends_chart(app_env: World) -> None:
    at = ok(run_app(page="trends"))
    assert header(at) == "Tren — Seluruh DKI Jakarta"
    charts = altair_charts(at)
    assert len(charts) == 1
    assert [layer["mark"]["type"] for layer in charts[0]["layer"]] == ["line", "point"]
    at.segmented_control(key="w_freq").set_value("month").run()
    ok(at)
    assert len(altair_charts(at)) == 1
    assert canonical(at.query_params)["freq"] == ["month"]


def test_sla_heatmap_and_level_switch(app_env: World, names: dict[str, str]) -> None:
    at = ok(run_app(page="sla"))
    assert header(at) == "SLA — Seluruh DKI Jakarta"
    charts = altair_charts(at)
    assert len(charts) == 1 and charts[0]["mark"]["type"] == "rect"
    heat = chart_frames(at)[0]
    assert set(heat["code"]) == set(KOTA)
    worst = at.dataframe[0].value
    assert worst.columns[0] == "Kota"
    for name, reports in zip(worst["Kota"], worst["Laporan"], strict=True):
        code = next(c for c, n in names.items() if n == name and c in KOTA)
        assert count(reports) == app_env.n(DEFAULT_START, DEFAULT_END, kota_code=code), name

    at.selectbox(key="w_level").set_value("kelurahan").run()
    ok(at)
    worst = at.dataframe[0].value
    assert worst.columns[0] == "Kelurahan"
    assert len(worst) == 10  # the ten worst of 267
    assert canonical(at.query_params)["level"] == ["kelurahan"]


def test_area_page_needs_an_area(app_env: World) -> None:
    at = ok(run_app(page="area"))
    assert header(at) == "Profil wilayah"
    assert "?area=<kode>" in at.info[0].value
    assert not at.metric


def test_area_profile(app_env: World, busy_kelurahan: str, names: dict[str, str]) -> None:
    at = ok(run_app({"area": busy_kelurahan}, page="area"))
    assert header(at).endswith(f"Kel. {names[busy_kelurahan]}")
    shown = metrics(at)
    assert set(shown) >= KPI_LABELS
    assert laporan(at) == app_env.n(
        start=DEFAULT_START, end=DEFAULT_END, kelurahan_code=busy_kelurahan
    )
    assert shown["Jumlah laporan (1 = terbanyak)"].endswith(" dari 267")
    assert re.fullmatch(r"\d+ dari 267", shown["Laporan per km² (1 = terpadat)"])
    assert [c["mark"]["type"] for c in altair_charts(at)] == ["bar", "area"]


def test_export_buttons(app_env: World) -> None:
    at = ok(run_app(page="export"))
    assert header(at) == "Ekspor"
    labels = [b.label for b in at.download_button]
    assert labels == ["GeoJSON", "GPKG", "CSV", "GeoJSON", "GPKG", "CSV", "PNG", "PDF"]


@pytest.fixture
def deferred_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """File name -> the deferred download registered by a run (what a click would execute)."""
    seen: dict[str, dict[str, Any]] = {}
    real = MediaFileManager.add_deferred

    def spy(self: MediaFileManager, data_callable: Any, mimetype: Any, *args: Any, **kw: Any):
        seen[kw.get("file_name") or args[1]] = {"data": data_callable, "mime": mimetype}
        return real(self, data_callable, mimetype, *args, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return seen


def test_export_files_follow_the_filters(
    app_env: World,
    study_cells: dict[int, int],
    deferred_downloads: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    at = ok(run_app({"category": "sampah"}, page="export"))
    period = f"{DEFAULT_START:%Y%m%d}-{DEFAULT_END:%Y%m%d}"
    assert set(deferred_downloads) == {
        *(f"pantau_titik_panas_r8_{period}.{ext}" for ext in ("geojson", "gpkg", "csv")),
        *(f"pantau_kelurahan_{period}.{ext}" for ext in ("geojson", "gpkg", "csv")),
        f"pantau_peta_hotspots_{period}.png",
        f"pantau_peta_hotspots_{period}.pdf",
    }
    sampah = app_env.n(start=DEFAULT_START, end=DEFAULT_END, category="sampah")

    hexagons_csv = deferred_downloads[f"pantau_titik_panas_r8_{period}.csv"]["data"]()
    cells = pd.read_csv(io.BytesIO(hexagons_csv))
    assert len(cells) == study_cells[8]
    assert int(cells["reports"].sum()) == sampah
    gpkg = tmp_path / "areas.gpkg"
    gpkg.write_bytes(deferred_downloads[f"pantau_kelurahan_{period}.gpkg"]["data"]())
    areas = gpd.read_file(gpkg)
    assert len(areas) >= 267 and areas.crs.to_epsg() == 4326
    assert int(areas["reports"].sum()) == sampah
    png = deferred_downloads[f"pantau_peta_hotspots_{period}.png"]["data"]()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not at.exception


def test_wall_mode(app_env: World, study_cells: dict[int, int]) -> None:
    at = new_app({"mode": "wall", "rotate": "10"})
    seen = []
    for _ in range(4):
        ok(at.run())
        seen.append(at.title[0].value)
        assert CLOCK.match(at.caption[0].value), at.caption[0].value
        assert not texts(at.sidebar.title) and not at.date_input  # no sidebar, no filters
        if seen[-1] == WALL_TITLES[0]:
            assert laporan(at) == app_env.n(start=DEFAULT_START, end=DEFAULT_END)
        if seen[-1] == WALL_TITLES[1]:
            layers = deck_layers(at)
            assert set(layers) == {"hexagons", "kelurahan-base"}
            assert len(layers["hexagons"]["data"]) == study_cells[8]
        if seen[-1] in WALL_TITLES[2:]:
            assert len(altair_charts(at)) == 1
    assert seen == WALL_TITLES


# == filters change the numbers ===================================================================
def test_category_and_period_filters_change_the_kpis(app_env: World) -> None:
    at = ok(run_app())
    everything = laporan(at)
    assert everything == app_env.n(start=DEFAULT_START, end=DEFAULT_END)

    at.multiselect(key="w_category").set_value(["sampah"]).run()
    ok(at)
    sampah = laporan(at)
    assert 0 < sampah < everything
    assert sampah == app_env.n(start=DEFAULT_START, end=DEFAULT_END, category="sampah")
    assert canonical(at.query_params)["category"] == ["sampah"]

    at.date_input(key="w_start").set_value(date(2024, 6, 1)).run()
    ok(at)
    june = laporan(at)
    assert 0 < june < sampah
    assert june == app_env.n(start=date(2024, 6, 1), end=DEFAULT_END, category="sampah")
    assert canonical(at.query_params)["start"] == ["2024-06-01"]

    at.multiselect(key="w_source").set_value(["qlue"]).run()
    ok(at)
    assert laporan(at) == app_env.n(
        start=date(2024, 6, 1), end=DEFAULT_END, category="sampah", source="qlue"
    )


def test_area_filter_in_the_sidebar(app_env: World, names: dict[str, str]) -> None:
    at = ok(run_app())
    at.selectbox(key="w_area").set_value(JAKARTA_SELATAN).run()
    ok(at)
    assert header(at) == f"Ringkasan — {names[JAKARTA_SELATAN]}"
    assert laporan(at) == app_env.n(start=DEFAULT_START, end=DEFAULT_END, kota_code=JAKARTA_SELATAN)
    areas = deck_layers(at)["areas"]["data"]["features"]
    assert {f["properties"]["code"][:4] for f in areas} == {JAKARTA_SELATAN}  # its kecamatan
    assert canonical(at.query_params)["area"] == [JAKARTA_SELATAN]


# == the URL is the view ==========================================================================
SHARED_LINK = {
    "start": "2024-02-01",
    "end": "2024-03-31",
    "category": "sampah",
    "area": JAKARTA_SELATAN,
    "level": "kecamatan",
}


def test_link_opens_the_view_and_round_trips(app_env: World, names: dict[str, str]) -> None:
    at = ok(run_app(SHARED_LINK))
    assert widget(at, "w_start") == date(2024, 2, 1)
    assert widget(at, "w_end") == date(2024, 3, 31)
    assert widget(at, "w_category") == ["sampah"]
    assert widget(at, "w_area") == JAKARTA_SELATAN
    assert at.multiselect(key="w_category").value == ["sampah"]
    assert at.selectbox(key="w_area").value == JAKARTA_SELATAN
    assert header(at) == f"Ringkasan — {names[JAKARTA_SELATAN]}"
    assert laporan(at) == app_env.n(
        start=date(2024, 2, 1), end=date(2024, 3, 31), category="sampah", kota_code="3171"
    )
    assert not at.warning  # nothing in the link was refused
    assert canonical(at.query_params) == canonical(SHARED_LINK)

    at.run()  # the canonical URL reads back as the same view
    ok(at)
    assert canonical(at.query_params) == canonical(SHARED_LINK)

    at.switch_page(PAGE_FILES["sla"]).run()  # the page option came with the link
    ok(at)
    assert widget(at, "w_level") == "kecamatan"
    assert header(at) == f"SLA — {names[JAKARTA_SELATAN]}"
    assert canonical(at.query_params) == canonical(SHARED_LINK)


def test_page_options_are_kept_in_the_url_across_pages(app_env: World) -> None:
    at = ok(run_app({"res": "9", "view": "reports", "freq": "month", "by": "week"}))
    assert canonical(at.query_params) == {
        "start": [DEFAULT_START.isoformat()],
        "end": [DEFAULT_END.isoformat()],
        "res": ["9"],
        "view": ["reports"],
        "freq": ["month"],
        "by": ["week"],
    }
    at.switch_page(PAGE_FILES["hotspots"]).run()
    ok(at)
    assert widget(at, "w_res") == 9 and widget(at, "w_view") == "reports"
    at.switch_page(PAGE_FILES["sla"]).run()
    ok(at)
    assert widget(at, "w_by") == "week"


def test_invalid_parameters_are_listed_and_ignored(app_env: World) -> None:
    at = ok(run_app({"category": "nope", "start": "2024-13-01", "foo": "1", "area": "999"}))
    assert len(at.warning) == 1
    notice = at.warning[0].value
    assert notice.startswith("Sebagian parameter tautan tidak dapat dipakai")
    for bad in ("foo", "start='2024-13-01'", "area='999'", "category=nope"):
        assert bad in notice, bad
    assert header(at) == "Ringkasan — Seluruh DKI Jakarta"
    assert laporan(at) == app_env.n(start=DEFAULT_START, end=DEFAULT_END)
    assert canonical(at.query_params) == {
        "start": [DEFAULT_START.isoformat()],
        "end": [DEFAULT_END.isoformat()],
    }
    at.run()  # the notice is for the link that was opened, not for every rerun
    ok(at)
    assert not at.warning


def test_end_before_start_in_a_link(app_env: World) -> None:
    at = ok(run_app({"start": "2024-03-01", "end": "2024-02-01"}))
    assert "tanggal akhir sebelum tanggal awal" in at.warning[0].value
    assert laporan(at) == app_env.n(start=DEFAULT_START, end=DEFAULT_END)


def test_link_with_only_an_end_day(app_env: World) -> None:
    at = ok(run_app({"end": "2024-03-31"}))
    assert not at.warning
    assert widget(at, "w_end") == date(2024, 3, 31)
    assert canonical(at.query_params)["end"] == ["2024-03-31"]
    assert widget(at, "w_start") <= date(2024, 3, 31)


def test_link_to_a_period_without_data_is_not_silently_replaced(app_env: World) -> None:
    at = ok(run_app({"start": "2023-01-01", "end": "2023-01-31"}))
    said = "\n".join(texts(at.warning) + texts(at.info))
    assert NO_MATCH in said and "Periode tautan melewati data yang ada" in said
    assert canonical(at.query_params).get("start") in (None, ["2023-01-01"])


@pytest.mark.parametrize("page", ["", "hotspots", "trends", "sla", "area"])
def test_kelurahan_link_pins_every_page(
    app_env: World, busy_kelurahan: str, names: dict[str, str], page: str
) -> None:
    name = names[busy_kelurahan]
    at = ok(run_app({"area": busy_kelurahan}, page=page))
    assert header(at).endswith(f"Kel. {name}")
    assert widget(at, "w_area") == busy_kelurahan
    assert canonical(at.query_params)["area"] == [busy_kelurahan]
    # Moving on: the browser drops the query string on a page switch; the scope stays.
    for other in ("trends", "area", ""):
        at.query_params.clear()
        at.switch_page(PAGE_FILES[other]).run()
        ok(at)
        assert header(at).endswith(f"Kel. {name}"), (other, header(at))
        assert canonical(at.query_params)["area"] == [busy_kelurahan]


def test_kelurahan_scope_on_the_maps(app_env: World, busy_kelurahan: str) -> None:
    at = ok(run_app({"area": busy_kelurahan}))
    areas = deck_layers(at)
    assert [f["properties"]["code"] for f in areas["areas"]["data"]["features"]] == [busy_kelurahan]
    at.switch_page(PAGE_FILES["hotspots"]).run()
    ok(at)
    layers = deck_layers(at)
    assert len(layers["reports"]["data"]) == app_env.n(
        start=DEFAULT_START, end=DEFAULT_END, kelurahan_code=busy_kelurahan
    )
    width = {
        f["properties"]["code"]: f["properties"]["width"]
        for f in layers["kelurahan-base"]["data"]["features"]
    }
    assert width[busy_kelurahan] > max(w for c, w in width.items() if c != busy_kelurahan)


def test_sla_page_shows_the_pinned_kelurahan(app_env: World, busy_kelurahan: str) -> None:
    at = ok(run_app({"area": busy_kelurahan}, page="sla"))
    assert app_env.n(start=DEFAULT_START, end=DEFAULT_END, kelurahan_code=busy_kelurahan) > 0
    assert NO_MATCH not in "".join(texts(at.info))
    assert len(altair_charts(at)) == 1


def test_click_on_choropleth_opens_the_area(app_env: World, names: dict[str, str]) -> None:
    at = ok(run_app())
    features = deck_layers(at)["areas"]["data"]["features"]
    index = next(i for i, f in enumerate(features) if f["properties"]["code"] == "3171")
    click_on_map(at, "choropleth", "areas", index, features[index])
    ok(at)
    buttons = [b for b in at.button if b.label.startswith("Buka")]
    assert [b.label for b in buttons] == [f"Buka {names['3171']}"]
    buttons[0].click().run()
    ok(at)
    assert header(at) == f"Ringkasan — {names['3171']}"
    assert canonical(at.query_params)["area"] == ["3171"]


# == nothing matches =============================================================================
@pytest.fixture(scope="module")
def nothing_matches(world: World) -> dict[str, str]:
    """A link whose filters select no report: one day, one status, a category absent then."""
    day = date(2024, 6, 15)
    categories = list(load_taxonomy().categories)
    for status in ("received", "in_progress", "coordinated"):
        for category in categories:
            if world.n(day, day, category=category, status=status, outside=(True, False)) == 0:
                return {
                    "start": day.isoformat(),
                    "end": day.isoformat(),
                    "category": category,
                    "status": status,
                }
    pytest.fail("every filter matches something")


def test_sla_page_follows_the_category_filter(app_env: World) -> None:
    at = ok(run_app({"category": "sampah", "level": "kota"}, page="sla"))
    heat = chart_frames(at)[0]
    assert set(heat["category"]) == {"sampah"}
    worst = at.dataframe[0].value.set_index("Kota")
    for code, name in (("3171", "Kota Jakarta Selatan"), ("3172", "Kota Jakarta Timur")):
        expected = app_env.n(DEFAULT_START, DEFAULT_END, category="sampah", kota_code=code)
        assert count(worst.loc[name, "Laporan"]) == expected, name


def test_wall_follows_the_category_filter(app_env: World) -> None:
    at = ok(new_app({"mode": "wall", "category": "sampah"}).run())
    assert at.title[0].value == WALL_TITLES[0]
    assert laporan(at) == app_env.n(DEFAULT_START, DEFAULT_END, category="sampah")


@pytest.mark.parametrize(
    "page",
    [
        "",
        "hotspots",
        "trends",
        "sla",
        "area",
    ],
)
def test_filters_matching_nothing(
    app_env: World, nothing_matches: dict[str, str], busy_kelurahan: str, page: str
) -> None:
    query = {**nothing_matches, **({"area": busy_kelurahan} if page == "area" else {})}
    at = ok(run_app(query, page=page))
    assert len(at.info) == 1 and NO_MATCH in at.info[0].value
    assert not at.warning  # the filters themselves are valid
    assert not at.metric and not decks(at) and not altair_charts(at)
    assert canonical(at.query_params) == canonical(query)


# == failure states ===============================================================================
@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app at a port where nothing listens."""
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_URL)
    monkeypatch.delenv("PANTAU_READER_URL", raising=False)


@pytest.mark.parametrize("query", [{}, {"mode": "wall"}], ids=["pages", "wall"])
def test_unreachable_database_shows_the_banner(unreachable: None, query: dict[str, str]) -> None:
    at = run_app(query)
    assert not at.exception
    assert len(at.error) == 1
    banner = at.error[0].value
    assert DB_DOWN in banner
    assert "127.0.0.1" in banner  # the reason, with the (redacted) address
    assert "Traceback" not in banner
    assert [b.label for b in at.button] == ["Coba lagi"]
    assert not at.metric and not decks(at) and not altair_charts(at)
    assert not at.header and not at.get("date_input")


def test_retry_recovers_once_the_database_is_back(
    unreachable: None, test_env: dict[str, str], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_URL)
    at = run_app()
    assert at.error and not at.metric

    monkeypatch.setenv("DATABASE_URL", test_env["DATABASE_URL"])
    at.button(key="pantau_retry").click().run()
    ok(at)
    assert laporan(at) == world.n(start=DEFAULT_START, end=DEFAULT_END)
    assert DB_DOWN not in "".join(texts(at.error))


@pytest.mark.parametrize("query", [{}, {"mode": "wall"}], ids=["pages", "wall"])
def test_no_boundaries_says_how_to_load_them(
    no_boundaries_url: str,
    test_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    query: dict[str, str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", no_boundaries_url)
    at = ok(run_app(query))
    assert len(at.info) == 1
    assert NO_BOUNDARIES in at.info[0].value
    assert "python -m pipelines boundaries load" in at.info[0].value
    assert not at.metric and not decks(at) and not altair_charts(at)


@pytest.mark.parametrize("page", ["", "hotspots", "export"])
def test_no_reports_says_how_to_ingest(
    no_reports_url: str, test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", no_reports_url)
    at = ok(run_app(page=page))
    assert len(at.info) == 1
    assert NO_REPORTS in at.info[0].value
    assert "python -m pipelines ingest" in at.info[0].value
    assert not at.metric and not decks(at) and not altair_charts(at)
    assert not at.download_button
