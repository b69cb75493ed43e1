"""Planted truth: the generator's emerging hotspot, found by emerging hot spot analysis.

``pipelines simulate`` plants hotspots in a few H3 res-8 cells (manifest.json, "hotspots"):
persistent ones at a flat rate for the whole period, and an emerging one that starts at the
period's midpoint and grows linearly to 16 times its starting rate. Two years are generated
at a modest volume (150 reports a day: the planted rates scale with it), the clean reports of
the emerging hotspot's category are binned into a weekly cube over every res-8 cell touching
Jakarta's kelurahan (empty cells included), and the analysis must find what was planted.

What "found" means follows ArcGIS's definitions (see ``geo.emerging.classify``): over the
year in which the hotspot emerges it is an *intensifying* hot spot (hot in at least 90
percent of the weeks, significantly stronger over time). Over the whole two years it cannot
be intensifying (it is hot in about half of the weeks): there it must be hot at the end with
a significant rising trend and a pattern of a hot spot that arose late (consecutive if never
hot before, sporadic if the busy spot it grew from was hot in a few scattered weeks).

No database: the generator reads the boundary file directly. Two seeds, about 15 s in all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse

from geo.emerging import emerging_hotspots, space_time_gi
from pipelines.boundaries.read import read_boundaries
from pipelines.simulate.generate import Options, simulate

pytestmark = pytest.mark.slow

START, END = date(2023, 1, 1), date(2024, 12, 31)
PER_DAY = 150.0
RESOLUTION = 8
ALPHA = 0.05

#: Patterns of a cell that is hot at the end after not being a hot spot for most of the time.
ARISEN_LATE = {"new hot spot", "consecutive hot spot", "sporadic hot spot"}
#: Patterns that need a cell to be hot (or cold) in at least 90 percent of the steps.
SUSTAINED = {
    "intensifying hot spot", "persistent hot spot", "diminishing hot spot", "historical hot spot",
    "intensifying cold spot", "persistent cold spot", "diminishing cold spot",
    "historical cold spot",
}  # fmt: skip


@dataclass
class Planted:
    """A generated run as the analysis sees it: a weekly cube of one category."""

    seed: int
    hotspots: list[dict[str, Any]]
    emerging: dict[str, Any]
    cells: list[str]
    weights: sparse.csr_array
    cube: np.ndarray  # (weeks, cells)
    start_week: int  # the week in which the emerging hotspot starts
    unbinned: int  # clean reports of the category outside the study cells

    def column(self, cell: str) -> int:
        return self.cells.index(cell)

    def result(self, first_week: int = 0) -> pd.DataFrame:
        frame = emerging_hotspots(self.cube[first_week:], self.weights, alpha=ALPHA)
        frame.index = pd.Index(self.cells, name="cell")
        return frame


def study_cells(boundaries: Path) -> list[str]:
    """Every res-8 cell overlapping the union of the kelurahan (placeholders excluded)."""
    frame = read_boundaries(boundaries).frame
    land = shapely.union_all(frame.loc[~frame["is_placeholder"], "geometry"].to_numpy())
    shape = h3.geo_to_h3shape(land)
    return sorted(h3.h3shape_to_cells_experimental(shape, RESOLUTION, contain="overlap"))


def kring_weights(cells: list[str], k: int = 1) -> sparse.csr_array:
    """Binary k-ring weights among ``cells`` (zero diagonal)."""
    index = {cell: i for i, cell in enumerate(cells)}
    rows, cols = [], []
    for cell in cells:
        for other in h3.grid_disk(cell, k):
            if other != cell and other in index:
                rows.append(index[cell])
                cols.append(index[other])
    return sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(cells), len(cells)))


def weekly_cube(truth: pd.DataFrame, cells: list[str]) -> tuple[np.ndarray, int]:
    """Reports per WIB week (from START; the incomplete last week dropped) and cell."""
    weeks = ((END - START).days + 1) // 7
    wib = truth["created_at"].dt.tz_convert("Asia/Jakarta").dt.tz_localize(None)
    week = ((wib - pd.Timestamp(START)).dt.days // 7).to_numpy()
    index = {cell: i for i, cell in enumerate(cells)}
    column = np.array(
        [
            index.get(h3.latlng_to_cell(lat, lng, RESOLUTION), -1)
            for lat, lng in zip(truth["lat"], truth["lng"], strict=True)
        ]
    )
    keep = (column >= 0) & (week < weeks)
    cube = np.zeros((weeks, len(cells)))
    np.add.at(cube, (week[keep], column[keep]), 1)
    return cube, int((column < 0).sum())


@pytest.fixture(scope="module")
def grid(bps2020_path: Path) -> tuple[list[str], sparse.csr_array]:
    cells = study_cells(bps2020_path)
    return cells, kring_weights(cells)


@pytest.fixture(scope="module", params=[7, 11])
def planted(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    bps2020_path: Path,
    grid: tuple[list[str], sparse.csr_array],
) -> Planted:
    seed = request.param
    out = tmp_path_factory.mktemp(f"emerging-{seed}")
    opts = Options(
        start=START, end=END, seed=seed, out=out, per_day=PER_DAY, boundaries=bps2020_path,
        progress=False,
    )  # fmt: skip
    simulate(opts)
    hotspots = json.loads((out / "manifest.json").read_text())["hotspots"]
    (emerging,) = [h for h in hotspots if h["kind"] == "emerging"]
    truth = pd.read_parquet(out / "truth.parquet")
    clean = truth[truth["defect"].isna() & (truth["category"] == emerging["category"])]
    cells, weights = grid
    cube, unbinned = weekly_cube(clean, cells)
    start_week = (date.fromisoformat(emerging["start"]) - START).days // 7
    return Planted(seed, hotspots, emerging, cells, weights, cube, start_week, unbinned)


def show(planted: Planted, result: pd.DataFrame, label: str) -> None:
    """Print what the analysis says about every planted cell of the category (pytest -s)."""
    columns = ["pattern", "trend_z", "hot_steps", "first_hot_step", "final_z"]
    for h in planted.hotspots:
        if h["category"] == planted.emerging["category"]:
            print(f"\nseed {planted.seed}, {label}, {h['hotspot_id']} ({h['kind']}):")
            print(result.loc[h["cells"], columns].to_string())


def test_study_grid_holds_every_clean_report_and_the_empty_cells(planted: Planted) -> None:
    assert planted.unbinned == 0, "a clean report fell outside the res-8 cells of the land"
    totals = planted.cube.sum(axis=0)
    assert (totals == 0).sum() > 100, "cells without reports are part of the study area"
    for h in planted.hotspots:
        assert set(h["cells"]) <= set(planted.cells), f"{h['hotspot_id']} is off the grid"


def test_emerging_hotspot_is_intensifying_over_the_year_it_emerges(planted: Planted) -> None:
    result = planted.result(first_week=planted.start_week)
    show(planted, result, f"weeks {planted.start_week}-{len(planted.cube) - 1}")
    for cell in planted.emerging["cells"]:
        assert result.loc[cell, "pattern"] == "intensifying hot spot", cell


def test_emerging_hotspot_over_two_years_is_hot_at_the_end_and_rising(planted: Planted) -> None:
    result = planted.result()
    show(planted, result, "two years")
    z, p = space_time_gi(planted.cube, planted.weights)
    hot = (p <= ALPHA) & (z > 0)
    start = planted.start_week
    for cell in planted.emerging["cells"]:
        row = result.loc[cell]
        assert row["pattern"] in ARISEN_LATE, f"{cell}: {row['pattern']}"
        assert row["final_z"] > 0 and row["final_p"] <= ALPHA, "hot in the final week"
        assert row["trend_z"] > 0 and row["trend_p"] <= ALPHA, "significantly intensifying"
        column = hot[:, planted.column(cell)]
        assert column.sum() == row["hot_steps"]
        assert column[start:].mean() >= 0.85, "hot in most weeks after it started"
        assert column[:start].mean() <= 0.25, "not hot in most weeks before it started"


def test_persistent_hotspot_of_the_same_category_is_persistent(planted: Planted) -> None:
    result = planted.result()
    same = [
        h for h in planted.hotspots
        if h["kind"] == "persistent" and h["category"] == planted.emerging["category"]
    ]  # fmt: skip
    assert same, "the generator plants a persistent hotspot in the emerging one's category"
    for h in same:
        for cell in h["cells"]:
            assert result.loc[cell, "pattern"] == "persistent hot spot", cell


def test_no_sustained_pattern_away_from_the_planted_cells(planted: Planted) -> None:
    result = planted.result()
    near: set[str] = set()
    for h in planted.hotspots:
        if h["category"] == planted.emerging["category"]:
            for cell in h["cells"]:
                near |= set(h3.grid_disk(cell, 1))
    away = result[~result.index.isin(near)]
    print(f"\nseed {planted.seed}, cells away from the planted ones:")
    print(away["pattern"].value_counts().to_string())
    assert not away["pattern"].isin(SUSTAINED).any(), away[away["pattern"].isin(SUSTAINED)]
