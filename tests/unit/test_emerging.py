"""Emerging hot spot analysis (geo.emerging) on hand-made cubes with known answers.

The statistics are checked against independent implementations: a direct, loop-based Gi*,
esda's ``G_Local`` on the flattened cube with space-time weights built by hand, and
pymannkendall. The pattern rules are checked on crafted z/p series (including the exact
90 percent boundary) and end to end on counts cubes over an H3 patch.
"""

from __future__ import annotations

import time
import warnings

import esda
import h3
import numpy as np
import pandas as pd
import pymannkendall
import pytest
from libpysal.weights import W
from scipy import sparse, stats

from geo.emerging import PATTERNS, classify, emerging_hotspots, mann_kendall, space_time_gi

#: A cell of central Jakarta (Monas), the centre of the hexagonal test patches.
CENTRE = h3.latlng_to_cell(-6.1754, 106.8272, 8)


def kring_weights(cells: list[str], k: int = 1) -> sparse.csr_array:
    """Binary k-ring weights among ``cells`` (zero diagonal), built directly with h3."""
    index = {cell: i for i, cell in enumerate(cells)}
    rows, cols = [], []
    for cell in cells:
        for other in h3.grid_disk(cell, k):
            if other != cell and other in index:
                rows.append(index[cell])
                cols.append(index[other])
    return sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(cells), len(cells)))


def path_weights(n: int) -> sparse.csr_array:
    """Neighbours on a path 0 - 1 - ... - n-1."""
    i = np.arange(n - 1)
    rows, cols = np.r_[i, i + 1], np.r_[i + 1, i]
    return sparse.csr_array((np.ones(2 * (n - 1)), (rows, cols)), shape=(n, n))


# == space-time Gi* ============================================================================
def direct_gi_star(values: np.ndarray, neighbours: list[list[int]]) -> np.ndarray:
    """Textbook Gi* (Ord and Getis 1995) for each observation, one at a time.

    ``neighbours[i]`` lists the observations in i's neighbourhood, i itself included; all
    weights are 1.
    """
    x = values.astype(float)
    n = x.size
    mean = x.mean()
    s = np.sqrt((x**2).mean() - mean**2)
    z = np.empty(n)
    for i, hood in enumerate(neighbours):
        w_sum = len(hood)  # sum of w_ij; with binary weights also the sum of w_ij**2
        local = x[hood].sum()
        z[i] = (local - mean * w_sum) / (s * np.sqrt((n * w_sum - w_sum**2) / (n - 1)))
    return z


def space_time_neighbours(steps: int, adjacency: np.ndarray, window: int) -> list[list[int]]:
    """Neighbourhoods of the flattened cube (index ``t * cells + i``), built bin by bin."""
    cells = adjacency.shape[0]
    hoods = []
    for t in range(steps):
        for i in range(cells):
            hood = []
            for t2 in range(max(0, t - window), t + 1):
                for j in range(cells):
                    if j == i or adjacency[i, j]:
                        hood.append(t2 * cells + j)
            hoods.append(hood)
    return hoods


def small_cube(seed: int, steps: int = 8, cells: int = 9) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cube = rng.poisson(3.0, (steps, cells)).astype(float)
    cube[:, 0] = 0  # a cell without any report must count too
    cube[-3:, 4] += 12  # something to find
    return cube


def test_gi_without_time_window_matches_a_direct_implementation_per_step() -> None:
    cube = small_cube(1)
    steps, cells = cube.shape
    weights = path_weights(cells)
    adjacency = weights.toarray()
    z, p = space_time_gi(cube, weights, time_window=0)
    expected = direct_gi_star(cube.ravel(), space_time_neighbours(steps, adjacency, 0))
    np.testing.assert_allclose(z, expected.reshape(steps, cells), atol=1e-10)
    np.testing.assert_allclose(p, 2 * stats.norm.sf(np.abs(expected)).reshape(steps, cells))
    assert (z[-3:, 4] > z[:-3, 4].max()).all(), "the boosted steps stand out"


def test_gi_of_one_step_equals_esda_g_local_star() -> None:
    cube = small_cube(2, steps=1, cells=12)
    weights = path_weights(12)
    z, p = space_time_gi(cube, weights, time_window=0)
    ref = esda_gi_star(cube.ravel(), weights)
    np.testing.assert_allclose(z[0], ref.Zs, atol=1e-6)
    np.testing.assert_allclose(p[0], 2 * ref.p_norm, atol=1e-6)


def esda_gi_star(y: np.ndarray, weights: sparse.sparray) -> esda.G_Local:
    """esda's analytical Gi* with binary weights (self-weight added by esda)."""
    w = W.from_sparse(sparse.csr_matrix(weights))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands, star-fill notices
        return esda.G_Local(y, w, transform="B", star=True, permutations=0)


@pytest.mark.parametrize("window", [1, 2])
def test_space_time_gi_equals_esda_on_the_flattened_cube(window: int) -> None:
    cube = small_cube(3, steps=7, cells=10)
    steps, cells = cube.shape
    weights = path_weights(cells)
    adjacency = weights.toarray()
    # The space-time weights, built by hand: (t', j) is a neighbour of (t, i) when j is i or
    # a spatial neighbour of i and t - window <= t' <= t; the diagonal is left to esda.
    n = steps * cells
    st = np.zeros((n, n))
    for t in range(steps):
        for i in range(cells):
            for t2 in range(max(0, t - window), t + 1):
                for j in range(cells):
                    if (j == i or adjacency[i, j]) and (t2, j) != (t, i):
                        st[t * cells + i, t2 * cells + j] = 1
    ref = esda_gi_star(cube.ravel(), sparse.csr_array(st))
    z, p = space_time_gi(cube, weights, time_window=window)
    np.testing.assert_allclose(z.ravel(), ref.Zs, atol=1e-6)
    np.testing.assert_allclose(p.ravel(), 2 * ref.p_norm, atol=1e-6)
    # and the same again through the direct implementation (esda fills the diagonal itself)
    direct = direct_gi_star(cube.ravel(), space_time_neighbours(steps, adjacency, window))
    np.testing.assert_allclose(z.ravel(), direct, atol=1e-10)


def test_gi_neighbourhood_looks_back_not_forward() -> None:
    cube = np.zeros((5, 3))
    cube[2, 1] = 10.0
    z, _ = space_time_gi(cube, path_weights(3), time_window=1)
    # the burst at step 2 enters the bins of steps 2 and 3, never step 1 or 4
    assert z[2, 1] > 0 and z[3, 1] > 0
    assert z[1, 1] < 0 and z[4, 1] < 0
    np.testing.assert_allclose(z[2], z[3])


def test_gi_ignores_weight_values_and_a_given_diagonal() -> None:
    cube = small_cube(4, steps=6, cells=8)
    binary = path_weights(8)
    odd = binary * 0.25 + sparse.eye_array(8) * 5.0  # same structure, other values
    np.testing.assert_array_equal(space_time_gi(cube, binary)[0], space_time_gi(cube, odd)[0])


def test_gi_of_a_constant_cube_is_zero() -> None:
    z, p = space_time_gi(np.full((4, 5), 2.0), path_weights(5))
    assert (z == 0).all() and (p == 1).all()


def test_gi_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"weights must be \(5, 5\)"):
        space_time_gi(np.zeros((3, 5)), path_weights(4))
    with pytest.raises(ValueError, match="NaN"):
        space_time_gi(np.array([[1.0, np.nan]]), path_weights(2))
    with pytest.raises(ValueError, match="time_window"):
        space_time_gi(np.zeros((3, 2)), path_weights(2), time_window=-1)
    with pytest.raises(ValueError, match="non-empty"):
        space_time_gi(np.zeros(4), path_weights(4))


# == Mann-Kendall ==============================================================================
def mk_columns() -> np.ndarray:
    rng = np.random.default_rng(5)
    steps = 40
    columns = [
        rng.normal(size=steps),  # no ties
        rng.integers(0, 4, steps).astype(float),  # many ties
        np.arange(steps, dtype=float),  # strictly rising
        -np.arange(steps, dtype=float) + rng.integers(0, 3, steps),  # falling, with ties
        np.r_[np.zeros(30), np.arange(10.0)],  # one large tie group, then a rise
        rng.poisson(1.0, steps).astype(float) + np.linspace(0, 2, steps).round(),
    ]
    return np.column_stack(columns)


def test_mann_kendall_equals_pymannkendall() -> None:
    series = mk_columns()
    z, p = mann_kendall(series)
    for j in range(series.shape[1]):
        ref = pymannkendall.original_test(series[:, j])
        assert z[j] == pytest.approx(ref.z, abs=1e-10), f"column {j}"
        assert p[j] == pytest.approx(ref.p, abs=1e-10), f"column {j}"
    assert z[2] > 5 and z[3] < -5


def test_mann_kendall_of_gi_z_series_equals_pymannkendall() -> None:
    rng = np.random.default_rng(6)
    cube = rng.poisson(2.0, (30, 15)).astype(float)
    cube[:, 7] += np.arange(30) // 3
    z, _ = space_time_gi(cube, path_weights(15))
    trend_z, trend_p = mann_kendall(z)
    for j in range(15):
        ref = pymannkendall.original_test(z[:, j])
        assert trend_z[j] == pytest.approx(ref.z, abs=1e-10)
        assert trend_p[j] == pytest.approx(ref.p, abs=1e-10)


def test_mann_kendall_constant_series_has_no_trend() -> None:
    z, p = mann_kendall(np.column_stack([np.full(12, 3.0), np.zeros(12)]))
    assert (z == 0).all() and (p == 1).all()
    z, p = mann_kendall(np.array([1.0, 2.0, 3.0]))  # one series as a 1-D array
    assert z.shape == (1,) and z[0] == pytest.approx(pymannkendall.original_test([1, 2, 3]).z)


def test_mann_kendall_rejects_missing_values() -> None:
    with pytest.raises(ValueError, match="NaN"):
        mann_kendall(np.array([[1.0], [np.nan], [2.0]]))


# == classify on crafted series =================================================================
SIG = (3.0, 0.001)  # z and p of a significant bin (the sign is set per bin)
NOT = (0.5, 0.6)
NO_TREND = (0.3, 0.7)
RISING = (3.5, 0.0005)
FALLING = (-3.5, 0.0005)


def crafted(history: str) -> tuple[np.ndarray, np.ndarray]:
    """z and p of one cell from a history string: H hot, C cold, . not significant."""
    z = np.array([SIG[0] if c == "H" else -SIG[0] if c == "C" else NOT[0] for c in history])
    p = np.array([SIG[1] if c in "HC" else NOT[1] for c in history])
    return z, p


def classify_histories(cases: list[tuple[str, tuple[float, float]]], **kwargs: float) -> list[str]:
    """Classify several cells at once (one column each), as classify is used."""
    zs, ps = zip(*(crafted(history) for history, _ in cases), strict=True)
    trend = np.array([t for _, t in cases])
    return list(
        classify(np.column_stack(zs), np.column_stack(ps), trend[:, 0], trend[:, 1], **kwargs)
    )


CASES = [
    # (history over 10 steps, trend of the z-scores, expected pattern)
    (".........H", NO_TREND, "new hot spot"),
    (".......HHH", RISING, "consecutive hot spot"),
    ("........HH", NO_TREND, "consecutive hot spot"),
    ("HHHHHHHHHH", RISING, "intensifying hot spot"),
    ("HHHHHHHHHH", NO_TREND, "persistent hot spot"),
    ("HHHHHHHHHH", FALLING, "diminishing hot spot"),
    ("H.H..H...H", NO_TREND, "sporadic hot spot"),
    ("H......HHH", RISING, "sporadic hot spot"),  # hot before the final run: not consecutive
    ("CC......HH", RISING, "oscillating hot spot"),
    ("C........H", NO_TREND, "oscillating hot spot"),  # a cold past beats "new"
    ("HHHHHHHHH.", NO_TREND, "historical hot spot"),
    ("HHHHHHHHH.", FALLING, "historical hot spot"),
    (".........C", NO_TREND, "new cold spot"),
    ("........CC", NO_TREND, "consecutive cold spot"),
    ("CCCCCCCCCC", FALLING, "intensifying cold spot"),  # colder and colder
    ("CCCCCCCCCC", NO_TREND, "persistent cold spot"),
    ("CCCCCCCCCC", RISING, "diminishing cold spot"),
    ("C..C.....C", NO_TREND, "sporadic cold spot"),
    ("HH.......C", NO_TREND, "oscillating cold spot"),
    ("CCCCCCCCC.", NO_TREND, "historical cold spot"),
    ("..........", NO_TREND, "no pattern detected"),
    ("..........", RISING, "no pattern detected"),  # a trend without significant bins
    ("HHHH......", NO_TREND, "no pattern detected"),  # sporadic needs the final step hot
]


def test_classify_each_published_pattern() -> None:
    got = classify_histories([(history, trend) for history, trend, _ in CASES])
    expected = [pattern for _, _, pattern in CASES]
    assert got == expected
    assert set(expected) == set(PATTERNS), "every pattern is exercised"


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (".HHHHHHHHH", "persistent hot spot"),  # 9 of 10 = exactly 90 percent
        ("..HHHHHHHH", "consecutive hot spot"),  # 8 of 10: a run, fewer than 90 percent
        ("HHHHHHHHH.", "historical hot spot"),  # 90 percent, final step not hot
        ("HHHHHHHH..", "no pattern detected"),  # 80 percent, final step not hot
        ("HHHHHHHHHC", "oscillating cold spot"),  # cold at the end beats historical hot
        ("CCCCCCCCCH", "oscillating hot spot"),
        (".CCCCCCCCC", "persistent cold spot"),
    ],
)
def test_classify_at_the_ninety_percent_boundary(history: str, expected: str) -> None:
    assert classify_histories([(history, NO_TREND)]) == [expected]


@pytest.mark.parametrize(
    ("steps", "share", "needed"),
    [(10, 0.9, 9), (20, 0.9, 18), (104, 0.9, 94), (24, 0.9, 22), (25, 0.56, 14)],
)
def test_share_of_steps_is_rounded_up_exactly(steps: int, share: float, needed: int) -> None:
    # 0.56 * 25 is 14.000000000000002 in floating point: still 14 steps, not 15
    exact = "." * (steps - needed) + "H" * needed
    short = "." * (steps - needed + 1) + "H" * (needed - 1)
    got = classify_histories([(exact, NO_TREND), (short, NO_TREND)], share=share)
    assert got == ["persistent hot spot", "consecutive hot spot"]


def test_classify_significance_is_p_at_most_alpha() -> None:
    z = np.array([[0.5, 0.5], [2.0, 2.0]])
    p = np.array([[0.6, 0.6], [0.05, 0.0501]])
    got = classify(z, p, np.zeros(2), np.ones(2), alpha=0.05)
    assert list(got) == ["new hot spot", "no pattern detected"]
    # a stricter level turns the new hot spot off
    got = classify(z, p, np.zeros(2), np.ones(2), alpha=0.01)
    assert list(got) == ["no pattern detected", "no pattern detected"]
    # the trend is judged at the same level: p 0.04 is a rise at 0.05, not at 0.01
    hot_z, hot_p = crafted("HHHHHHHHHH")
    trend = (np.array([2.05]), np.array([0.04]))
    assert classify(hot_z[:, None], hot_p[:, None], *trend)[0] == "intensifying hot spot"
    hot_p = np.full(10, 0.001)
    assert classify(hot_z[:, None], hot_p[:, None], *trend, alpha=0.01)[0] == "persistent hot spot"


def test_classify_rejects_inconsistent_input() -> None:
    z, p = np.zeros((5, 3)), np.ones((5, 3))
    with pytest.raises(ValueError, match="one value per cell"):
        classify(z, p, np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="one shape"):
        classify(z, p[:4], np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="share"):
        classify(z, p, np.zeros(3), np.ones(3), share=0.5)
    with pytest.raises(ValueError, match="alpha"):
        classify(z, p, np.zeros(3), np.ones(3), alpha=0)


# == end to end on counts over an H3 patch ====================================================
STEPS = 20


def patch() -> tuple[list[str], list[str]]:
    """A hexagonal patch of res-8 cells, and well-separated centres to plant patterns at.

    Centres are at least 4 grid steps apart, so no planted neighbourhood (a centre and its
    ring) touches another centre's neighbourhood under k=1 weights.
    """
    cells = sorted(h3.grid_disk(CENTRE, 9))
    centres: list[str] = []
    for cell in sorted(h3.grid_disk(CENTRE, 7)):
        if all(h3.grid_distance(cell, c) >= 4 for c in centres):
            centres.append(cell)
    return cells, centres


def profile(kind: str) -> np.ndarray:
    """Extra reports per step added to a centre and its six neighbours."""
    t = np.arange(STEPS)
    ramps = {
        "new": np.where(t == STEPS - 1, 30.0, 0.0),
        "consecutive": np.where(t >= STEPS - 4, 30.0, 0.0),
        "intensifying": np.linspace(12.0, 40.0, STEPS),
        "persistent": np.full(STEPS, 25.0),
        "diminishing": np.linspace(40.0, 12.0, STEPS),
        "sporadic": np.where(np.isin(t, [3, 4, 11, STEPS - 1]), 30.0, 0.0),
        "historical": np.where(t < STEPS - 3, 25.0, 0.0),
        "quiet": np.zeros(STEPS),
    }
    return ramps[kind]


def planted_cube(
    plan: dict[str, str], cells: list[str], seed: int = 8
) -> tuple[np.ndarray, dict[str, int]]:
    """Poisson background (10 a step) with planted neighbourhoods (a centre and its ring).

    A planted neighbourhood holds exact values (10 a step plus the profile, or 0 for the
    cold ones) rather than Poisson draws: its centre's local sums, and so the shape of its
    Gi* series, are then fixed, and the expected pattern does not depend on the luck of a
    seed (a flat series of Poisson draws shows a "significant" Mann-Kendall trend now and
    then, which would make a persistent hot spot diminishing). The background noise still
    moves the cube's mean and variance, which every z-score depends on.
    """
    rng = np.random.default_rng(seed)
    index = {cell: i for i, cell in enumerate(cells)}
    cube = rng.poisson(10.0, (STEPS, len(cells))).astype(float)
    for centre, kind in plan.items():
        hood = [index[c] for c in h3.grid_disk(centre, 1)]
        cube[:, hood] = 10.0
        if kind == "oscillating":  # empty early on, busy at the end
            cube[:6, hood] = 0
            cube[-3:, hood] += 30
        elif kind == "cold consecutive":
            cube[-3:, hood] = 0
        elif kind == "cold new":
            cube[-1:, hood] = 0
        elif kind == "cold persistent":
            cube[:, hood] = 0
        else:
            cube[:, hood] += profile(kind)[:, None]
    return cube, {kind: index[centre] for centre, kind in plan.items()}


@pytest.mark.parametrize("seed", [8, 2, 3])
def test_emerging_hotspots_end_to_end_on_counts(seed: int) -> None:
    cells, centres = patch()
    kinds = [
        "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
        "historical", "oscillating", "cold consecutive", "cold new", "cold persistent", "quiet",
    ]  # fmt: skip
    assert len(centres) >= len(kinds), "the patch has room for every planted neighbourhood"
    cube, where = planted_cube(dict(zip(centres, kinds, strict=False)), cells, seed)
    result = emerging_hotspots(cube, kring_weights(cells), time_window=1)
    got = {kind: result.loc[where[kind], "pattern"] for kind in kinds}
    assert got == {
        "new": "new hot spot",
        "consecutive": "consecutive hot spot",
        "intensifying": "intensifying hot spot",
        "persistent": "persistent hot spot",
        "diminishing": "diminishing hot spot",
        "sporadic": "sporadic hot spot",
        "historical": "historical hot spot",
        "oscillating": "oscillating hot spot",
        "cold consecutive": "consecutive cold spot",
        "cold new": "new cold spot",
        "cold persistent": "persistent cold spot",
        "quiet": "no pattern detected",
    }
    # the columns tell the same story
    row = result.loc[where["consecutive"]]
    assert (row.hot_steps, row.first_hot_step, row.last_hot_step) == (4, STEPS - 4, STEPS - 1)
    assert result.loc[where["intensifying"], "trend_z"] > 1.96
    assert result.loc[where["diminishing"], "trend_z"] < -1.96
    assert result.loc[where["cold persistent"], "cold_steps"] == STEPS
    assert pd.isna(result.loc[where["cold persistent"], "first_hot_step"])
    assert len(result) == len(cells) and list(result.index) == list(range(len(cells)))


def test_emerging_hotspots_fdr_is_stricter() -> None:
    cells, centres = patch()
    cube, _ = planted_cube({centres[0]: "sporadic"}, cells, seed=9)
    plain = emerging_hotspots(cube, kring_weights(cells))
    corrected = emerging_hotspots(cube, kring_weights(cells), fdr=True)
    assert (corrected.hot_steps <= plain.hot_steps).all()
    assert corrected.hot_steps.sum() < plain.hot_steps.sum()
    assert (corrected.final_p == plain.final_p).all(), "final_p stays the raw p-value"


def test_emerging_hotspots_is_fast_on_a_city_sized_cube() -> None:
    cells = sorted(h3.grid_disk(CENTRE, 22))  # 1,519 res-8 cells, about Jakarta's count
    cube = np.random.default_rng(10).poisson(1.5, (104, len(cells))).astype(float)
    weights = kring_weights(cells)
    started = time.perf_counter()
    result = emerging_hotspots(cube, weights)
    elapsed = time.perf_counter() - started
    assert len(result) == len(cells)
    assert elapsed < 1.0, f"{elapsed:.2f} s for 104 weeks x {len(cells)} cells"
