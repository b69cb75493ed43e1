"""Planted-truth recovery: Gi* finds the hotspots the feed generator plants.

The generator (``pipelines.simulate``) plants three persistent hotspots (one category each,
in 1-2 H3 res-8 cells, 2.5 extra reports a day at the default volume, scaled with it) and one
emerging one, and records them in ``manifest.json``. Here a year of feeds at a modest volume
(60,000 reports, about a third of the real one) is generated from the BPS 2020 boundary file
(no database needed), the clean reports of the truth table are counted per res-8 cell over the
whole study area (every cell overlapping Jakarta's land, empty ones included), and Gi* with
k-ring 1 weights and BH-FDR is run per planted category.

Why per category: a hotspot is a concentration of one kind of complaint. On all reports
together the generator's background is itself strongly clustered (55 % of reports sit around
three attractors per kelurahan, and kelurahan volumes vary by a lognormal "liveliness"), so
some planted cells drown in it; those figures are printed, not asserted.

Run with ``pytest -s`` to see the measured figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import h3
import h3.api.basic_int as h3int
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely

from geo.hotspots import GiResult, hotspots, kring_weights, study_cells
from pipelines.boundaries.read import read_boundaries
from pipelines.simulate.generate import Options, simulate

pytestmark = pytest.mark.slow

RESOLUTION = 8  # the resolution the generator plants at (pipelines.simulate.world)
REPORTS = 60_000
SEEDS = (7, 11)
#: Points the generator deliberately puts outside Jakarta (their truth lat/lng is outside too).
OUTSIDE_DEFECTS = ("outside_jakarta", "in_sea")
#: Share of the persistent planted cells that must come out hot at 95 % (gi_bin >= 2).
RECOVERY = 0.90
#: Bound on the share of background cells hot at 95 %, see test_background_is_rarely_hot.
BACKGROUND_HOT_MAX = 0.05


@dataclass(frozen=True)
class Study:
    cells: np.ndarray  # int64 res-8 cells overlapping the land, sorted
    weights: sp.csr_matrix  # k-ring 1


@dataclass(frozen=True)
class Analysis:
    """Gi* for one category of one run, with and without the planted reports."""

    category: str
    counts: np.ndarray
    result: GiResult
    background_result: GiResult  # the same counts less every planted report
    planted: np.ndarray  # bool per cell: a cell of a hotspot of this category
    persistent: np.ndarray  # bool per cell: a cell of a persistent hotspot of this category
    near: np.ndarray  # bool per cell: planted or a k-ring-1 neighbour of a planted cell


@dataclass(frozen=True)
class Run:
    seed: int
    hotspots: list[dict[str, Any]]
    by_category: dict[str, Analysis]
    all_reports: GiResult
    all_persistent: np.ndarray


@pytest.fixture(scope="module")
def study(bps2020_path: Path) -> Study:
    frame = read_boundaries(bps2020_path).frame
    land = shapely.union_all(np.asarray(frame.loc[~frame["is_placeholder"], "geometry"]))
    cells = study_cells(land, RESOLUTION)
    return Study(cells, kring_weights(cells, 1))


def _cell_mask(study: Study, hex_cells: list[str]) -> np.ndarray:
    wanted = [h3.str_to_int(c) for c in hex_cells]
    assert set(wanted) <= set(study.cells.tolist()), "planted cells lie in the study area"
    return np.isin(study.cells, wanted)


def _counts(study: Study, positions: np.ndarray) -> np.ndarray:
    return np.bincount(positions, minlength=len(study.cells)).astype(float)


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def run(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    bps2020_path: Path,
    study: Study,
) -> Run:
    seed: int = request.param
    out = tmp_path_factory.mktemp(f"planted{seed}")
    simulate(
        Options(
            start=date(2024, 1, 1), end=date(2024, 12, 31), seed=seed, out=out,
            reports=REPORTS, boundaries=bps2020_path, progress=False,
        )
    )  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    truth = pd.read_parquet(out / "truth.parquet", columns=["category", "hotspot_id",
                                                            "defect", "lat", "lng"])  # fmt: skip
    truth = truth[~truth["defect"].isin(OUTSIDE_DEFECTS) & truth["lat"].notna()]
    points = zip(truth["lat"], truth["lng"], strict=True)
    cell = np.array([h3int.latlng_to_cell(a, b, RESOLUTION) for a, b in points], dtype=np.int64)
    at = np.searchsorted(study.cells, cell).clip(max=len(study.cells) - 1)
    inside = study.cells[at] == cell
    assert inside.mean() > 0.999, "clean reports lie on land"
    truth, at = truth[inside], at[inside]
    categories = truth["category"].to_numpy()
    in_hotspot = truth["hotspot_id"].notna().to_numpy()

    by_category = {}
    for category in sorted({h["category"] for h in manifest["hotspots"]}):
        mine = [h for h in manifest["hotspots"] if h["category"] == category]
        planted = _cell_mask(study, [c for h in mine for c in h["cells"]])
        persistent = _cell_mask(
            study, [c for h in mine if h["kind"] == "persistent" for c in h["cells"]]
        )
        counts = _counts(study, at[categories == category])
        background = _counts(study, at[(categories == category) & ~in_hotspot])
        by_category[category] = Analysis(
            category=category,
            counts=counts,
            result=hotspots(counts, study.weights),
            background_result=hotspots(background, study.weights),
            planted=planted,
            persistent=persistent,
            near=planted | (study.weights @ planted.astype(float) > 0),
        )
    all_persistent = _cell_mask(
        study, [c for h in manifest["hotspots"] if h["kind"] == "persistent" for c in h["cells"]]
    )
    return Run(
        seed, manifest["hotspots"], by_category, hotspots(_counts(study, at), study.weights),
        all_persistent,
    )  # fmt: skip


def test_persistent_planted_cells_are_hot_at_95(run: Run) -> None:
    found = total = 0
    print(f"\nseed {run.seed}: {REPORTS} reports, res {RESOLUTION}, k-ring 1, BH-FDR")
    for analysis in run.by_category.values():
        result = analysis.result
        views = [("persistent", analysis.persistent)]
        if (analysis.planted != analysis.persistent).any():  # an emerging hotspot too
            views.append(("all planted", analysis.planted))
        for kind, mask in views:
            print(
                f"  {analysis.category:12s} {kind:11s} cells {mask.sum()}: "
                f"counts {analysis.counts[mask].astype(int).tolist()} "
                f"(category mean {analysis.counts.mean():.1f}), "
                f"z {np.round(result.z[mask], 1).tolist()}, gi_bin {result.gi_bin[mask].tolist()}"
            )
        found += int((result.gi_bin[analysis.persistent] >= 2).sum())
        total += int(analysis.persistent.sum())
    overall = run.all_reports.gi_bin[run.all_persistent]
    print(f"  recovery on the planted category: {found}/{total}; on all reports (not asserted): "
          f"{int((overall >= 2).sum())}/{overall.size}, gi_bin {overall.tolist()}")  # fmt: skip
    assert total >= 3, "the generator plants three persistent hotspots of 1-2 cells"
    assert found / total >= RECOVERY


def test_background_is_rarely_hot(run: Run) -> None:
    """Few cells away from the planted ones are hot at 95 %, and not more than without them.

    The "background" of a category is every study cell that is neither planted nor a k-ring-1
    neighbour of a planted cell: Gi* sums a cell with its neighbours, so a neighbour of a
    planted cell is hot by construction (its neighbourhood holds the planted reports) and is
    not a false finding.

    The generator's background is not spatially random (attractors, lively kelurahan), so
    some background cells are genuinely clustered and a share of 0 cannot be expected. Two
    bounds: (1) at most 5 % of the background cells are hot at 95 %: measured 0.4-3.4 % with
    seeds 3, 7 and 11 at 30,000-60,000 reports, so 5 % leaves room for other seeds while a
    map where more than 1 in 20 ordinary cells lights up would fail the planted signal;
    (2) the share is no larger than in the same counts with the planted reports removed
    (measured 6.3-8.8 %): the planted clusters must not create hot spots away from themselves.
    """
    print(f"\nseed {run.seed}: share of background cells (not planted, not a neighbour) hot")
    for analysis in run.by_category.values():
        away = ~analysis.near
        share = float(np.mean(analysis.result.gi_bin[away] >= 2))
        share_alone = float(np.mean(analysis.background_result.gi_bin[away] >= 2))
        near_only = analysis.near & ~analysis.planted
        print(
            f"  {analysis.category:12s} {share:.2%} of {away.sum()} "
            f"(background alone {share_alone:.2%}; planted neighbours hot "
            f"{int((analysis.result.gi_bin[near_only] >= 2).sum())}/{near_only.sum()}; "
            f"max background z {analysis.result.z[away].max():.1f} vs min planted z "
            f"{analysis.result.z[analysis.planted].min():.1f})"
        )
        assert share <= BACKGROUND_HOT_MAX, analysis.category
        assert share <= share_alone, analysis.category
