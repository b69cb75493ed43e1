"""The feed generator's parts, without a database: lifecycle, text, space, files, world."""

from __future__ import annotations

import gzip
import re
from datetime import date
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from pipelines.simulate import calibration as cal
from pipelines.simulate import text
from pipelines.simulate.defects import JAKI_DEFECTS, QLUE_DEFECTS, choose_defects
from pipelines.simulate.feeds import MonthlyFiles
from pipelines.simulate.lifecycle import JAKI_STATUSES, simulate_lifecycle
from pipelines.simulate.space import (
    DECIMALS,
    make_area,
    sample_in_area,
    sample_in_cells,
    sample_outside,
)
from pipelines.simulate.world import Hotspot, _kelurahan_weights

START = np.datetime64("2024-01-01T00:00:00", "s")
DAY = np.timedelta64(86_400, "s")


# -- lifecycle -----------------------------------------------------------------------------------
def lifecycle(n: int, as_of_days: int, seed: int = 1) -> tuple[np.ndarray, np.datetime64, object]:
    rng = np.random.default_rng(seed)
    created = np.sort(START + rng.integers(0, 60 * 86_400, n).astype("timedelta64[s]"))
    speed = rng.lognormal(0.0, 0.4, n)
    as_of = START + as_of_days * DAY
    created = created[created <= as_of]
    return created, as_of, simulate_lifecycle(created, speed[: len(created)], as_of, rng)


def test_lifecycle_orders_events_and_nothing_after_as_of() -> None:
    created, as_of, life = lifecycle(20_000, as_of_days=45)
    chain = [created, life.disposed, life.processing, life.ews, life.completed]
    # created <= disposed <= processing <= ews <= completed, wherever both are present
    for i, earlier in enumerate(chain):
        for later in chain[i + 1 :]:
            both = ~np.isnat(earlier) & ~np.isnat(later)
            assert both.any()
            assert (earlier[both] <= later[both]).all(), f"event {i} after a later one"
    for events in [*chain[1:], life.updated]:
        present = ~np.isnat(events)
        assert (events[present] <= as_of).all(), "an event after the export time"
    # no gaps: a later event implies the earlier ones (EWS is optional)
    assert not (~np.isnat(life.processing) & np.isnat(life.disposed)).any()
    assert not (~np.isnat(life.completed) & np.isnat(life.processing)).any()
    assert not (~np.isnat(life.ews) & np.isnat(life.processing)).any()
    # the stage is the last event that happened; updated is its time
    assert ((life.stage == 4) == ~np.isnat(life.completed)).all()
    assert ((life.stage >= 1) == ~np.isnat(life.disposed)).all()
    last = created.copy()
    for events in chain[1:]:
        last = np.where(np.isnat(events), last, events)
    assert (life.updated == last).all()
    # reports from the last hours before the export cannot all be finished yet
    recent = created > as_of - np.timedelta64(6 * 3600, "s")
    assert recent.sum() > 20 and (life.stage[recent] < 4).mean() > 0.3


def test_lifecycle_final_shares_follow_the_calibration() -> None:
    created, _, life = lifecycle(40_000, as_of_days=400, seed=2)
    completed = (life.stage == 4).mean()
    assert abs(completed - cal.COMPLETED_SHARE) < 0.006, (
        f"{completed:.4f} completed a year later vs {cal.COMPLETED_SHARE}: ±0.6 pp is >7 sd"
    )
    stuck = pd.Series(np.asarray(JAKI_STATUSES)[life.stage[life.stage < 4]]).value_counts()
    assert stuck.index[0] == "Proses Koordinasi", stuck  # the largest stuck share (1.2 %)
    assert len(created) == 40_000


def test_lifecycle_is_deterministic_per_rng() -> None:
    a = lifecycle(2_000, as_of_days=30, seed=5)[2]
    b = lifecycle(2_000, as_of_days=30, seed=5)[2]
    c = lifecycle(2_000, as_of_days=30, seed=6)[2]
    np.testing.assert_array_equal(a.completed, b.completed)  # type: ignore[attr-defined]
    assert not np.array_equal(a.completed, c.completed)  # type: ignore[attr-defined]


# -- text ----------------------------------------------------------------------------------------
PII_PATTERNS = {
    "phone": re.compile(r"(?<!\d)08\d{2}-?\d{4}-?\d{3,4}(?!\d)"),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b"),
    "nik": re.compile(r"(?<!\d)\d{16}(?!\d)"),
    "plate": re.compile(r"\b[A-Z]{1,2} \d{1,4} [A-Z]{1,3}\b"),
}


@pytest.mark.parametrize("kind", text.PII_KINDS)
def test_personal_data_produces_each_kind(kind: str) -> None:
    assert set(text.PII_KINDS) == set(PII_PATTERNS)
    sentences = {text.personal_data(kind, np.random.default_rng(seed)) for seed in range(200)}
    assert len(sentences) > 150, "the personal data varies"
    for sentence in sentences:
        found = {name for name, pattern in PII_PATTERNS.items() if pattern.search(sentence)}
        assert found == {kind}, f"{sentence!r} looks like {found}"
    if kind == "nik":
        assert all(re.search(r"(?<!\d)31\d{14}(?!\d)", s) for s in sentences), "a Jakarta NIK"


def test_problem_text_exists_for_every_canonical_category() -> None:
    categories = pd.read_csv(Path(__file__).parents[2] / "data" / "taxonomy" / "categories.csv")
    rng = np.random.default_rng(0)
    for category in categories["category"]:
        assert text.problem(category, rng) in text.PROBLEMS.get(category, text.PROBLEMS["lainnya"])


# -- space ---------------------------------------------------------------------------------------
SQUARE = box(106.8000, -6.2000, 106.8010, -6.1990)  # about 110 m a side
TRIANGLE = Polygon([(106.80, -6.20), (106.81, -6.20), (106.80, -6.19)])  # half of its box


@pytest.mark.parametrize("geom", [SQUARE, TRIANGLE], ids=["square", "triangle"])
def test_sample_in_area_points_are_inside_and_rounded(geom: Polygon) -> None:
    rng = np.random.default_rng(3)
    area = make_area(geom, rng)
    x, y = sample_in_area(area, 2_000, rng)
    assert len(x) == len(y) == 2_000
    assert shapely.contains_xy(geom, x, y).all(), "every point inside the polygon"
    for values in (x, y):
        assert (np.round(values, DECIMALS) == values).all(), "rounded to 7 decimals"
        assert all(float(f"{v:.7f}") == v for v in values[:200])
    assert len(set(zip(x, y, strict=True))) > 1_900, "points are spread, not stacked"
    assert (x.max() - x.min()) > 0.5 * (geom.bounds[2] - geom.bounds[0]), "the area is covered"
    empty = sample_in_area(area, 0, rng)
    assert len(empty[0]) == 0 and len(empty[1]) == 0


def test_sample_in_cells_and_outside() -> None:
    rng = np.random.default_rng(4)
    cell = h3.latlng_to_cell(-6.2, 106.85, 8)
    lat, lng = h3.cell_to_latlng(cell)
    units = [box(lng - 0.02, lat - 0.02, lng, lat + 0.02), box(lng, lat - 0.02, lng + 0.02, lat)]
    tree = shapely.STRtree(units)
    x, y, owner = sample_in_cells([cell], 500, tree, rng)
    assert len(x) == 500
    assert all(h3.latlng_to_cell(b, a, 8) == cell for a, b in zip(x, y, strict=True))
    for i, unit in enumerate(units):
        assert shapely.contains_xy(unit, x[owner == i], y[owner == i]).all()
    assert set(owner) == {0, 1}, "the cell straddles both units"
    assert (y[x > lng] < lat).all(), "the empty quadrant gets no point (no owner there)"
    ox, oy = sample_outside([(lng - 0.03, lat - 0.03, lng + 0.03, lat + 0.03)], 300, tree, rng)
    assert len(ox) == 300
    assert not any(shapely.intersects_xy(u, ox, oy).any() for u in units)


# -- files ---------------------------------------------------------------------------------------
def read_files(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.iterdir()):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        out[path.name] = data.decode("utf-8")
    return out


def test_monthly_files_roll_over_at_max_lines(tmp_path: Path) -> None:
    files = MonthlyFiles(tmp_path, "jaki", "jsonl", gzip_files=False, max_lines=3)
    assert files.write("2024-01", [f"a{i}" for i in range(7)]) == "jaki_2024-01_p3.jsonl"
    files.later("2024-02", ["late-1"])
    assert files.write("2024-02", ["b0", "b1", "b2"]) == "jaki_2024-02_p2.jsonl"
    files.close()
    assert files.files == [
        "jaki_2024-01.jsonl",
        "jaki_2024-01_p2.jsonl",
        "jaki_2024-01_p3.jsonl",
        "jaki_2024-02.jsonl",
        "jaki_2024-02_p2.jsonl",
    ]
    assert read_files(tmp_path) == {
        "jaki_2024-01.jsonl": "a0\na1\na2\n",
        "jaki_2024-01_p2.jsonl": "a3\na4\na5\n",
        "jaki_2024-01_p3.jsonl": "a6\n",
        "jaki_2024-02.jsonl": "late-1\nb0\nb1\n",  # the carried line counts towards max_lines
        "jaki_2024-02_p2.jsonl": "b2\n",
    }


def test_monthly_files_header_bom_and_leftovers(tmp_path: Path) -> None:
    files = MonthlyFiles(
        tmp_path, "qlue", "csv", gzip_files=False, max_lines=2, header="h1,h2", bom_every=3
    )
    files.write("2024-01", ["r1", "r2", "r3", "r4", "r5"])
    files.later("2024-02", ["late"])  # February never comes: it ends the last file
    files.close()
    content = read_files(tmp_path)
    assert files.files_with_bom == ["qlue_2024-01.csv"]
    assert content["qlue_2024-01.csv"] == "\ufeffh1,h2\nr1\nr2\n"
    assert content["qlue_2024-01_p2.csv"] == "h1,h2\nr3\nr4\n"
    assert content["qlue_2024-01_p3.csv"] == "h1,h2\nr5\nlate\n"


def write_gzip(folder: Path) -> bytes:
    files = MonthlyFiles(folder, "qlue", "csv", gzip_files=True, max_lines=10, header="h")
    files.write("2024-03", [f"line {i},é" for i in range(25)])
    files.close()
    return b"".join((folder / name).read_bytes() for name in files.files)


def test_gzip_output_is_byte_identical_across_writes(tmp_path: Path) -> None:
    first = write_gzip(tmp_path / "one")
    second = write_gzip(tmp_path / "other-folder-name")
    assert first == second, "gzip bytes depend on nothing but the lines"
    data = (tmp_path / "one" / "qlue_2024-03_p3.csv.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[3] == 0, "no file name in the gzip header"
    assert data[4:8] == b"\x00\x00\x00\x00", "zero mtime in the gzip header"
    assert read_files(tmp_path / "one")["qlue_2024-03_p3.csv.gz"] == (
        "h\n" + "".join(f"line {i},é\n" for i in range(20, 25))
    )


# -- defects and world ---------------------------------------------------------------------------
def test_choose_defects_rate_and_kinds_per_source() -> None:
    rng = np.random.default_rng(8)
    source = np.where(rng.random(60_000) < 0.5, "jaki", "qlue").astype(object)
    defect = choose_defects(source, 0.2, rng)
    hit = defect != ""
    assert abs(hit.mean() - 0.2) < 0.01, "the --defects rate (±1 pp, >6 sd)"
    assert set(defect[hit & (source == "jaki")]) == set(JAKI_DEFECTS)
    assert set(defect[hit & (source == "qlue")]) == set(QLUE_DEFECTS)
    assert (choose_defects(source, 0.0, rng) == "").all()


def test_hotspot_rate_is_zero_before_start_and_grows() -> None:
    spot = Hotspot("e", "emerging", "sampah", [], date(2024, 7, 1), date(2024, 12, 31), 0.5, 8.0)
    assert spot.rate(date(2024, 6, 30)) == 0.0 and spot.rate(date(2025, 1, 1)) == 0.0
    assert spot.rate(date(2024, 7, 1)) == 0.5 and spot.rate(date(2024, 12, 31)) == 8.0
    assert spot.rate(date(2024, 8, 1)) < spot.rate(date(2024, 11, 1))


def kelurahan_frame(with_km2: bool) -> gpd.GeoDataFrame:
    sizes = [0.005, 0.01, 0.02, 0.04, 0.01, 0.03]  # degrees a side: 0.3 to 20 km²
    geoms = [
        box(106.7 + i * 0.05, -6.2, 106.7 + i * 0.05 + s, -6.2 + s) for i, s in enumerate(sizes)
    ]
    frame = gpd.GeoDataFrame(
        {"code": [f"317100100{i}" for i in range(6)], "kota_code": ["3171"] * 4 + ["3172"] * 2},
        geometry=geoms,
        crs=4326,
    )
    if with_km2:
        frame["area_km2"] = frame.to_crs(32748).area / 1e6
    return frame


def test_kelurahan_weights_do_not_depend_on_where_the_areas_come_from() -> None:
    # Boundary files have no area_km2: the areas must still be km², not square degrees
    # (square degrees all fell under the 0.05 km² floor, so size stopped mattering).
    with_km2 = _kelurahan_weights(kelurahan_frame(True), np.random.default_rng(1))
    from_geometry = _kelurahan_weights(kelurahan_frame(False), np.random.default_rng(1))
    np.testing.assert_allclose(from_geometry, with_km2, rtol=0.02)


def test_kelurahan_weights_follow_kota_volume_and_size() -> None:
    frame = kelurahan_frame(True)
    weights = _kelurahan_weights(frame, np.random.default_rng(1))
    assert weights.sum() == pytest.approx(1.0)
    kota = weights[:4].sum() / weights[4:].sum()
    expected = cal.KOTA_VOLUME["3171"] / cal.KOTA_VOLUME["3172"]
    assert kota == pytest.approx(expected), "kota shares follow the published volumes"
    # liveliness is random per seed; on average the weight grows with the area (sqrt: x8 here)
    mean = np.mean([_kelurahan_weights(frame, np.random.default_rng(s)) for s in range(200)], 0)
    assert np.all(np.diff(mean[:4]) > 0), f"bigger kelurahan, more reports: {mean[:4]}"
    assert mean[3] / mean[0] > 4, "sqrt(area) ratio is 8; liveliness noise averages out"
