"""Gi* hot spots (geo.hotspots) on tiny hand-made geometries, checked against esda.

The statistic is compared with an independent implementation, ``esda.G_Local(star=True,
transform="B", permutations=0)``, to 1e-6 (pysal/esda ``tests/test_getisord.py`` is the model);
weights and the study area are compared with brute force (h3 grid distances, shapely
intersections of the cell boundaries). The BPS 2020 boundary file gives the real-size checks.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import esda
import geopandas as gpd
import h3
import h3.api.basic_int as h3int
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from libpysal.graph import Graph
from libpysal.weights import WSP
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from geo.hotspots import (
    GiResult,
    bh_fdr,
    cells_to_polygons,
    contiguity_weights,
    gi_bins,
    gi_star,
    hotspots,
    kring_weights,
    study_cells,
)
from pipelines.boundaries.read import read_boundaries

#: A res-8 cell in central Jakarta (Menteng / Tanah Abang) and a res-9 one next to it.
JAKARTA = (-6.2, 106.85)
CENTRE8 = h3int.latlng_to_cell(*JAKARTA, 8)
CENTRE9 = h3int.latlng_to_cell(*JAKARTA, 9)
TOL = 1e-6
KEPULAUAN_SERIBU = "3101"


def esda_gi(values: np.ndarray, weights: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """esda's Gi* z-scores and its p_norm for the same values and (zero-diagonal) weights."""
    with warnings.catch_warnings():  # "not fully connected": islands may group apart
        warnings.simplefilter("ignore", UserWarning)
        w = WSP(sp.csr_matrix(weights, copy=True)).to_W(silence_warnings=True)
        g = esda.G_Local(
            np.asarray(values, dtype=float), w, transform="B", star=True, permutations=0
        )
    return np.asarray(g.Zs), np.asarray(g.p_norm)


def cell_polygon(cell: int) -> Polygon:
    """A cell's boundary straight from h3 (lat, lng), swapped here for shapely (lng, lat)."""
    return Polygon([(lng, lat) for lat, lng in h3int.cell_to_boundary(cell)])


def ring_of(cells: np.ndarray, centre: int) -> np.ndarray:
    return np.array([h3int.grid_distance(centre, int(c)) for c in cells])


@pytest.fixture(scope="module")
def kelurahan(bps2020_path: Path) -> gpd.GeoDataFrame:
    """The 267 BPS 2020 kelurahan (placeholders dropped), sorted by code."""
    frame = read_boundaries(bps2020_path).frame
    return frame[~frame["is_placeholder"]].sort_values("code").reset_index(drop=True)


@pytest.fixture(scope="module")
def jakarta_land(kelurahan: gpd.GeoDataFrame) -> shapely.Geometry:
    return shapely.union_all(np.asarray(kelurahan.geometry))


# == gi_star against esda =========================================================================
def test_gi_star_hand_made_patch_known_answer_and_esda() -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 2)))
    ring = ring_of(cells, CENTRE9)
    counts = np.select([ring == 0, ring == 1], [9, 4], 0)
    counts[np.flatnonzero(ring == 2)[0]] = 2  # one ring-2 cell with 2 reports
    weights = kring_weights(cells, 1)

    z, p = gi_star(counts, weights)

    # By hand for the centre: n = 19, W = 7 (itself + 6), local sum 9 + 6 * 4 = 33, total 35.
    n, card = 19, 7
    mean = 35 / n
    sd = np.sqrt((81 + 6 * 16 + 4) / n - mean**2)
    z_centre = (33 - mean * card) / (sd * np.sqrt(card * (n - card) / (n - 1)))
    centre = int(np.flatnonzero(ring == 0)[0])
    assert z[centre] == pytest.approx(z_centre, abs=TOL)
    assert z[centre] == z.max() > 2
    esda_z, esda_p = esda_gi(counts, weights)
    np.testing.assert_allclose(z, esda_z, atol=TOL, rtol=0)
    np.testing.assert_allclose(p, 2 * esda_p, atol=TOL, rtol=0)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("clustered", [False, True])
def test_gi_star_matches_esda_on_real_h3_cells(k: int, *, clustered: bool) -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE8, 10)))  # 331 res-8 cells, ~245 km2
    rng = np.random.default_rng(20240101 + k)
    counts = rng.poisson(3.0, len(cells))
    if clustered:
        block = np.isin(cells, h3int.grid_disk(h3int.grid_disk(CENTRE8, 4)[-1], 1))
        counts[block] += rng.poisson(15.0, block.sum())
    weights = kring_weights(cells, k)

    z, p = gi_star(counts, weights)

    esda_z, esda_p = esda_gi(counts, weights)
    np.testing.assert_allclose(z, esda_z, atol=TOL, rtol=0)
    np.testing.assert_allclose(p, 2 * esda_p, atol=TOL, rtol=0)
    assert z.dtype == np.float64
    assert np.isfinite(z).all()


def kelurahan_like() -> tuple[list[str], list[shapely.Geometry]]:
    """A 5 x 4 grid of 1 km boxes, one two-part area, and an island 5 km offshore."""
    size = 0.009
    codes, geoms = [], []
    for row in range(4):
        for col in range(5):
            x, y = 106.80 + col * size, -6.20 + row * size
            codes.append(f"K{row}{col}")
            geoms.append(box(x, y, x + size, y + size))
    # K34 becomes a multipolygon: its box and a detached piece touching K04's east edge.
    geoms[-1] = MultiPolygon([geoms[-1], box(106.80 + 5 * size, -6.20, 106.80 + 5.5 * size,
                                              -6.20 + 0.5 * size)])  # fmt: skip
    codes.append("ISLAND")
    geoms.append(box(106.80, -6.20 + 9 * size, 106.80 + size, -6.20 + 10 * size))
    return codes, geoms


def test_gi_star_matches_esda_with_contiguity_weights() -> None:
    codes, geoms = kelurahan_like()
    weights, islands = contiguity_weights(codes, geoms)
    assert islands == ["ISLAND"]
    rng = np.random.default_rng(5)
    counts = rng.poisson(8.0, len(codes))
    counts[:3] += 30

    z, p = gi_star(counts, weights)

    esda_z, esda_p = esda_gi(counts, weights)
    np.testing.assert_allclose(z, esda_z, atol=TOL, rtol=0)
    np.testing.assert_allclose(p, 2 * esda_p, atol=TOL, rtol=0)


def test_p_is_two_sided_twice_esda_p_norm() -> None:
    """esda's p_norm is sf(|z|), one-sided; ours is 2 sf(|z|), the two-sided p of ArcGIS."""
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 4)))
    counts = np.where(ring_of(cells, CENTRE9) <= 1, 20, 1)
    weights = kring_weights(cells, 1)

    z, p = gi_star(counts, weights)

    _, esda_p = esda_gi(counts, weights)
    assert (esda_p <= 0.5 + TOL).all(), "esda's p_norm is one-sided (never above 0.5)"
    np.testing.assert_allclose(p, 2 * esda_p, atol=TOL, rtol=0)
    z_for_p = np.abs(z) > 1.959964
    assert (p[z_for_p] < 0.05).all()
    assert (p[~z_for_p] >= 0.05).all()
    assert ((p > 0) & (p <= 1)).all()


def test_gi_star_on_bps2020_kelurahan_matches_esda(kelurahan: gpd.GeoDataFrame) -> None:
    weights, _ = contiguity_weights(kelurahan["code"], kelurahan.geometry)
    rng = np.random.default_rng(267)
    counts = rng.negative_binomial(3, 0.05, len(kelurahan))

    z, p = gi_star(counts, weights)

    esda_z, esda_p = esda_gi(counts, weights)
    np.testing.assert_allclose(z, esda_z, atol=TOL, rtol=0)
    np.testing.assert_allclose(p, 2 * esda_p, atol=TOL, rtol=0)


def test_gi_star_z_unchanged_by_shift_and_scale() -> None:
    """The standardised form: z depends on deviations from the mean in units of S only."""
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 5)))
    counts = np.random.default_rng(3).poisson(4.0, len(cells)).astype(float)
    weights = kring_weights(cells, 1)
    z, _ = gi_star(counts, weights)
    np.testing.assert_allclose(gi_star(counts + 100.0, weights)[0], z, atol=1e-9)
    np.testing.assert_allclose(gi_star(counts * 7.5, weights)[0], z, atol=1e-9)


def test_gi_star_diagonal_of_ones_is_the_same_star() -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 3)))
    counts = np.random.default_rng(4).poisson(2.0, len(cells))
    weights = kring_weights(cells, 1)
    with_self = (weights + sp.identity(len(cells), format="csr")).tocsr()
    np.testing.assert_allclose(gi_star(counts, with_self)[0], gi_star(counts, weights)[0])


# == degenerate inputs ============================================================================
@pytest.mark.parametrize("value", [0.0, 5.0, 0.1])
def test_constant_values_give_z0_p1(value: float) -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 3)))
    result = hotspots(np.full(len(cells), value), kring_weights(cells, 1))
    assert (result.z == 0).all()
    assert (result.p == 1).all()
    assert (result.p_fdr == 1).all()
    assert (result.gi_bin == 0).all()


def test_single_cell_and_empty_input() -> None:
    single = hotspots(np.array([12.0]), kring_weights([CENTRE9], 1))
    assert single.z.tolist() == [0.0]
    assert single.p.tolist() == [1.0]
    assert single.gi_bin.tolist() == [0]
    empty = hotspots(np.array([]), kring_weights([], 1))
    assert empty.z.shape == empty.p.shape == empty.p_fdr.shape == empty.gi_bin.shape == (0,)
    assert bh_fdr(np.array([])).shape == (0,)


def test_neighbourhood_covering_the_whole_area_is_not_nan() -> None:
    """The centre of a 7-cell disk neighbours every cell: its variance is 0, so z = 0."""
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 1)))
    counts = np.arange(7.0)
    z, p = gi_star(counts, kring_weights(cells, 1))
    centre = int(np.flatnonzero(cells == CENTRE9)[0])
    assert np.isfinite(z).all()
    assert np.isfinite(p).all()
    assert z[centre] == 0.0
    assert p[centre] == 1.0


def test_gi_star_refuses_bad_input() -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 1)))
    weights = kring_weights(cells, 1)
    with pytest.raises(ValueError, match="shape"):
        gi_star(np.ones(6), weights)
    with pytest.raises(ValueError, match="finite"):
        gi_star(np.array([1, 2, np.nan, 4, 5, 6, 7]), weights)
    with pytest.raises(ValueError, match="one-dimensional"):
        gi_star(np.ones((7, 1)), weights)
    with pytest.raises(ValueError, match="binary"):
        gi_star(np.ones(7), weights * 0.5)
    with pytest.raises(ValueError, match="shape"):
        gi_star(np.ones(7), sp.csr_matrix((7, 6)))
    with pytest.raises(TypeError, match="sparse"):
        gi_star(np.ones(7), weights.toarray())


# == kring_weights ================================================================================
def test_kring_weights_structure_k1() -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 3)))  # 37 cells, rings 0-3
    assert not any(h3int.is_pentagon(int(c)) for c in cells), "the counts below assume hexagons"
    weights = kring_weights(cells, 1)

    assert isinstance(weights, sp.csr_matrix)
    assert weights.shape == (37, 37)
    assert (weights != weights.T).nnz == 0
    assert set(np.unique(weights.data)) == {1.0}
    assert (weights.diagonal() == 0).all()
    degree = np.diff(weights.indptr)
    ring = ring_of(cells, CENTRE9)
    assert (degree[ring <= 2] == 6).all(), "inner cells have their 6 neighbours"
    # Ring 3 is the patch edge: its 6 corner cells keep 3 neighbours, the 12 others 4.
    assert sorted(degree[ring == 3].tolist()) == [3] * 6 + [4] * 12


def test_kring_weights_equal_grid_distance_brute_force() -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 4)))
    for k in (1, 2):
        dense = kring_weights(cells, k).toarray()
        expected = np.array(
            [[1 <= h3int.grid_distance(int(a), int(b)) <= k for b in cells] for a in cells]
        )
        np.testing.assert_array_equal(dense, expected.astype(float))


def test_kring_weights_k2_has_18_inside() -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 4)))
    degree = np.diff(kring_weights(cells, 2).indptr)
    ring = ring_of(cells, CENTRE9)
    assert (degree[ring <= 2] == 18).all()
    assert (degree[ring >= 3] < 18).all()


def test_kring_weights_rows_follow_input_order() -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 3)))
    order = np.random.default_rng(9).permutation(len(cells))
    shuffled = kring_weights(cells[order], 1).toarray()
    np.testing.assert_array_equal(shuffled, kring_weights(cells, 1).toarray()[order][:, order])


def test_kring_weights_accept_lists_and_uint64() -> None:
    cells = sorted(h3int.grid_disk(CENTRE9, 2))
    as_list = kring_weights(cells, 1)
    as_uint = kring_weights(np.array(cells, dtype=np.uint64), 1)
    assert (as_list != as_uint).nnz == 0


def test_kring_weights_refuse_bad_cells() -> None:
    cells = sorted(h3int.grid_disk(CENTRE9, 1))
    with pytest.raises(ValueError, match="distinct"):
        kring_weights([*cells, cells[0]])
    with pytest.raises(ValueError, match="one H3 resolution"):
        kring_weights([*cells, CENTRE8])
    with pytest.raises(ValueError, match="str_to_int"):
        kring_weights([h3.int_to_str(c) for c in cells])
    with pytest.raises(ValueError, match="not valid H3"):
        kring_weights([*cells, 12345])
    with pytest.raises(ValueError, match="positive integer"):
        kring_weights(cells, 0)


def test_kring_weights_fast_on_25000_res9_cells() -> None:
    cells = np.array(h3int.grid_disk(CENTRE9, 91))  # 25,117 cells, ~2,750 km2
    started = time.perf_counter()
    weights = kring_weights(cells, 1)
    elapsed = time.perf_counter() - started
    counts = np.random.default_rng(1).poisson(1.0, len(cells))
    started = time.perf_counter()
    gi_star(counts, weights)
    gi_elapsed = time.perf_counter() - started
    print(f"\nkring_weights {len(cells)} res-9 cells: {elapsed:.3f} s; gi_star {gi_elapsed:.4f} s")
    assert len(cells) == 25_117
    # 6 per cell, less what the edge ring (radius 91) misses: 3 at its 6 corners, 2 elsewhere.
    assert weights.nnz == 6 * len(cells) - 6 * 3 - 6 * 90 * 2
    assert elapsed < 1.0
    assert gi_elapsed < 0.5


# == contiguity_weights ===========================================================================
def grid(rows: int, cols: int, size: float = 0.01) -> tuple[list[str], list[Polygon]]:
    codes, geoms = [], []
    for r in range(rows):
        for c in range(cols):
            x, y = 106.8 + c * size, -6.2 + r * size
            codes.append(f"{r}{c}")
            geoms.append(box(x, y, x + size, y + size))
    return codes, geoms


def test_contiguity_is_queen_corners_count() -> None:
    codes, geoms = grid(3, 3)
    weights, islands = contiguity_weights(codes, geoms)
    degree = dict(zip(codes, np.diff(weights.indptr).tolist(), strict=True))
    # Queen: 8 around the centre, 5 on an edge, 3 in a corner (rook would give 4, 3, 2).
    assert degree == {"11": 8, "01": 5, "10": 5, "12": 5, "21": 5,
                      "00": 3, "02": 3, "20": 3, "22": 3}  # fmt: skip
    corner_only = (codes.index("00"), codes.index("11"))
    assert weights[corner_only] == 1.0, "two boxes touching at one corner are neighbours"
    assert islands == []
    assert (weights != weights.T).nnz == 0
    assert (weights.diagonal() == 0).all()


def test_contiguity_vertex_on_an_edge_counts() -> None:
    """A T-junction: the left area has no vertex where the two right areas meet."""
    left = box(106.80, -6.20, 106.81, -6.18)
    upper = box(106.81, -6.19, 106.82, -6.18)
    lower = box(106.81, -6.20, 106.82, -6.19)
    weights, _ = contiguity_weights(["L", "U", "D"], [left, upper, lower])
    assert weights.toarray().tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]


def test_island_attached_to_nearest_by_polygon_distance() -> None:
    # Mainland: a long thin strip, a small square, and a link joining them. The island's edge is
    # 200 m from the strip's, but its centre is nearer the square's and the link's centres.
    strip = box(106.800, -6.200, 106.900, -6.199)
    square = box(106.890, -6.190, 106.892, -6.188)
    link = box(106.890, -6.199, 106.892, -6.190)
    island = box(106.880, -6.1972, 106.882, -6.1962)
    centre = island.centroid
    assert centre.distance(square.centroid) < centre.distance(strip.centroid)
    assert centre.distance(link.centroid) < centre.distance(strip.centroid)
    assert island.distance(strip) < min(island.distance(square), island.distance(link))

    weights, islands = contiguity_weights(
        ["STRIP", "SQUARE", "LINK", "ISLAND"], [strip, square, link, island]
    )

    assert islands == ["ISLAND"]
    dense = weights.toarray()
    assert dense[3].tolist() == [1, 0, 0, 0], "the island joins the strip (nearest polygon)"
    assert dense[:, 3].tolist() == [1, 0, 0, 0], "and the link is mutual"
    assert dense[:3, :3].tolist() == [[0, 0, 1], [0, 0, 1], [1, 1, 0]]


@pytest.mark.parametrize("first", ["A", "B"])
def test_island_tie_goes_to_the_area_listed_first(first: str) -> None:
    # At the equator with dyadic coordinates the two distances are exactly equal (0.125).
    areas = {"A": box(0, 0, 0.25, 0.25), "B": box(0.75, 0, 1, 0.25)}
    codes = [first, "B" if first == "A" else "A", "BRIDGE", "ISLAND"]
    geoms = [areas[codes[0]], areas[codes[1]], box(0, -0.25, 1, 0), box(0.375, 0.1875, 0.625, 0.25)]
    assert geoms[3].distance(geoms[0]) == geoms[3].distance(geoms[1]) < geoms[3].distance(geoms[2])
    weights, islands = contiguity_weights(codes, geoms)
    assert islands == ["ISLAND"]
    assert weights.toarray()[3].tolist() == [1, 0, 0, 0]


def test_two_islands_attach_to_each_other() -> None:
    codes, geoms = grid(2, 2)
    codes += ["I1", "I2"]
    geoms += [box(106.9, -6.1, 106.901, -6.099), box(106.9015, -6.1, 106.9025, -6.099)]
    weights, islands = contiguity_weights(codes, geoms)
    assert islands == ["I1", "I2"]
    dense = weights.toarray()
    assert dense[4].tolist() == [0, 0, 0, 0, 0, 1]
    assert dense[5].tolist() == [0, 0, 0, 0, 1, 0]


def test_islands_on_bps2020_are_kepulauan_seribu_and_attach_to_nearest(
    kelurahan: gpd.GeoDataFrame,
) -> None:
    started = time.perf_counter()
    weights, islands = contiguity_weights(kelurahan["code"], kelurahan.geometry)
    elapsed = time.perf_counter() - started
    codes = kelurahan["code"].tolist()

    assert len(islands) == 6
    assert all(code.startswith(KEPULAUAN_SERIBU) for code in islands)
    assert (np.diff(weights.indptr) > 0).all(), "no area is left without a neighbour"
    # Away from the islands the weights are libpysal's queen contiguity.
    queen = Graph.build_contiguity(kelurahan[["geometry"]], rook=False).sparse.toarray()
    ours = weights.toarray()
    land = ~kelurahan["code"].isin(islands).to_numpy()
    np.testing.assert_array_equal(ours[np.ix_(land, land)], queen[np.ix_(land, land)])
    # Each island holds a link to its nearest other area in metres (UTM 48S).
    metric = kelurahan.geometry.to_crs(32748)
    for code in islands:
        i = codes.index(code)
        distance = np.array(metric.distance(metric.iloc[i]))
        distance[i] = np.inf
        assert ours[i, int(np.argmin(distance))] == 1, code
    assert elapsed < 2.0


def test_contiguity_degenerate_and_bad_input() -> None:
    weights, islands = contiguity_weights([], [])
    assert weights.shape == (0, 0)
    assert islands == []
    weights, islands = contiguity_weights(["A"], [box(106.8, -6.2, 106.81, -6.19)])
    assert weights.shape == (1, 1)
    assert weights.nnz == 0
    assert islands == ["A"]
    one = box(106.8, -6.2, 106.81, -6.19)
    with pytest.raises(ValueError, match="length"):
        contiguity_weights(["A", "B"], [one])
    with pytest.raises(ValueError, match="distinct"):
        contiguity_weights(["A", "A"], [one, one])
    with pytest.raises(ValueError, match="Polygons"):
        contiguity_weights(["A"], [LineString([(106.8, -6.2), (106.9, -6.1)])])
    with pytest.raises(ValueError, match="empty"):
        contiguity_weights(["A", "B"], [one, Polygon()])
    with pytest.raises(ValueError, match="EPSG:4326"):
        contiguity_weights(["A"], [box(700_000, 9_300_000, 701_000, 9_301_000)])


# == bh_fdr and gi_bins ===========================================================================
def test_gi_bins_thresholds_and_sign_without_fdr() -> None:
    p = np.array([0.001, 0.01, 0.0101, 0.03, 0.05, 0.0501, 0.1, 0.1001, 0.5, 1.0])
    z = np.array([5.0, -3.0, 2.5, -2.2, 2.0, -1.9, 1.7, 1.6, -0.5, 0.0])
    bins = gi_bins(z, p, fdr=False)
    assert bins.dtype == np.int8
    assert bins.tolist() == [3, -3, 2, -2, 2, -1, 1, 0, 0, 0]


def test_bh_fdr_by_hand_and_how_it_moves_the_bins() -> None:
    p = np.array([0.04, 0.001, 0.2, 0.02])
    z = np.array([2.1, 3.3, 1.3, -2.3])
    # Sorted p 0.001, 0.02, 0.04, 0.2 -> x4/1, x4/2, x4/3, x4/4 -> 0.004, 0.04, 0.0533, 0.2.
    np.testing.assert_allclose(bh_fdr(p), [0.16 / 3, 0.004, 0.2, 0.04])
    assert gi_bins(z, p, fdr=False).tolist() == [2, 3, 0, -2]
    assert gi_bins(z, p, fdr=True).tolist() == [1, 3, 0, -2]


def test_bh_levels_equal_esda_fdr_cutoffs() -> None:
    """Adjusted p <= q picks the same cells as esda.fdr's BH cut-off at q, for each level."""
    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(0, 1, 900), rng.uniform(0, 1e-4, 60), [0.03, 0.07]])
    adjusted = bh_fdr(p)
    for q in (0.01, 0.05, 0.10):
        assert (adjusted <= q).sum() > 0
        np.testing.assert_array_equal(adjusted <= q, p <= esda.fdr(p, q))


def test_gi_bins_and_bh_fdr_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="length"):
        gi_bins(np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gi_bins(np.zeros(2), np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bh_fdr(np.array([0.5, np.nan]))


# == hotspots end to end ==========================================================================
@pytest.mark.parametrize("background", ["zero", "poisson"])
def test_planted_block_is_hot_far_cell_is_not(background: str) -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 12)))  # 469 res-9 cells
    block_centre = h3int.grid_ring(CENTRE9, 5)[0]
    rng = np.random.default_rng(8)
    counts = np.zeros(len(cells)) if background == "zero" else rng.poisson(1.0, len(cells))
    block = np.isin(cells, h3int.grid_disk(block_centre, 1))
    counts = counts + np.where(block, 20, 0)
    far = int(np.flatnonzero(cells == h3int.grid_ring(CENTRE9, 6)[9])[0])
    assert h3int.grid_distance(block_centre, int(cells[far])) >= 8
    weights = kring_weights(cells, 1)

    for fdr in (True, False):
        result = hotspots(counts, weights, fdr=fdr)
        assert isinstance(result, GiResult)
        assert (result.gi_bin[block] == 3).all(), f"fdr={fdr}"
        assert result.gi_bin[far] == 0
        assert np.isfinite(result.z).all()
    strict, loose = hotspots(counts, weights), hotspots(counts, weights, fdr=False)
    assert (np.abs(strict.gi_bin) <= np.abs(loose.gi_bin)).all(), "FDR only removes findings"
    np.testing.assert_allclose(strict.p_fdr, bh_fdr(strict.p))


def test_gi_result_is_read_only() -> None:
    cells = np.array(sorted(h3int.grid_disk(CENTRE9, 2)))
    result = hotspots(np.arange(19.0), kring_weights(cells, 1))
    with pytest.raises(ValueError, match="read-only"):
        result.z[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.z = np.zeros(19)  # type: ignore[misc]
    with pytest.raises(ValueError, match="shape"):
        GiResult(np.zeros(2), np.ones(2), np.ones(2), np.zeros(3))


# == study_cells ==================================================================================
def candidates_around(geom: shapely.Geometry, res: int) -> set[int]:
    """Every cell within reach of the geometry's box (checked: the outer ring stays clear)."""
    minx, miny, maxx, maxy = geom.bounds
    corners = [(miny, minx), (miny, maxx), (maxy, minx), (maxy, maxx)]
    centre = h3int.latlng_to_cell((miny + maxy) / 2, (minx + maxx) / 2, res)
    reach = max(h3int.grid_distance(centre, h3int.latlng_to_cell(a, b, res)) for a, b in corners)
    disk = set(h3int.grid_disk(centre, reach + 3))
    outer = set(h3int.grid_ring(centre, reach + 3))
    assert not any(cell_polygon(c).intersects(geom) for c in outer)
    return disk


def brute_force_overlap(geom: shapely.Geometry, res: int) -> set[int]:
    return {c for c in candidates_around(geom, res) if cell_polygon(c).intersects(geom)}


def test_study_cells_equal_brute_force_overlap_and_include_all_centres() -> None:
    lat, lng = JAKARTA
    land = Polygon([(lng, lat), (lng + 0.031, lat + 0.004), (lng + 0.024, lat + 0.027),
                    (lng + 0.004, lat + 0.019)])  # fmt: skip
    cells = study_cells(land, 9)

    assert cells.dtype == np.int64
    assert (np.diff(cells) > 0).all(), "sorted and distinct"
    assert set(cells.tolist()) == brute_force_overlap(land, 9)
    centres_in = {
        c for c in candidates_around(land, 9)
        if land.contains(Point(h3int.cell_to_latlng(c)[::-1]))
    }  # fmt: skip
    assert centres_in < set(cells.tolist()), "every centre inside, and some edge cells more"


def test_study_cells_edge_cell_with_centre_outside_is_included() -> None:
    lat, lng = h3int.cell_to_latlng(CENTRE9)
    land = box(lng - 0.02, lat - 0.02, lng - 0.0003, lat + 0.02)  # ends ~33 m west of the centre
    assert not land.contains(Point(lng, lat))
    assert cell_polygon(CENTRE9).intersects(land)
    far = h3int.latlng_to_cell(lat, lng + 0.1, 9)  # 11 km east

    cells = set(study_cells(land, 9).tolist())

    assert CENTRE9 in cells
    assert far not in cells
    assert all(cell_polygon(c).intersects(land) for c in cells)


def test_study_cells_multipolygon_with_hole_and_tiny_island() -> None:
    lat, lng = JAKARTA
    outer = box(lng, lat, lng + 0.05, lat + 0.05)
    hole = box(lng + 0.015, lat + 0.015, lng + 0.035, lat + 0.035)
    island = box(lng + 0.1, lat + 0.02, lng + 0.1005, lat + 0.0205)  # ~55 m, less than a cell
    land = MultiPolygon([Polygon(outer.exterior, [hole.exterior]), island])
    hole_centre = h3int.latlng_to_cell(lat + 0.025, lng + 0.025, 9)
    assert hole.buffer(-0.002).contains(cell_polygon(hole_centre))
    island_cell = h3int.latlng_to_cell(lat + 0.02025, lng + 0.10025, 9)

    cells = set(study_cells(land, 9).tolist())

    assert hole_centre not in cells, "cells inside the hole are not land"
    assert island_cell in cells, "an island smaller than a cell still has its cell"
    assert cells == brute_force_overlap(land, 9)


def test_study_cells_refuse_bad_input() -> None:
    land = box(106.8, -6.2, 106.81, -6.19)
    with pytest.raises(ValueError, match="resolution"):
        study_cells(land, 16)
    with pytest.raises(ValueError, match="resolution"):
        study_cells(land, True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Polygon"):
        study_cells(LineString([(106.8, -6.2), (106.9, -6.1)]), 9)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        study_cells(Polygon(), 9)
    with pytest.raises(ValueError, match="EPSG:4326"):
        study_cells(box(700_000, 9_300_000, 701_000, 9_301_000), 9)


def test_cells_to_polygons_contain_their_centres() -> None:
    cells = sorted(h3int.grid_disk(CENTRE9, 1))
    polygons = cells_to_polygons(cells)
    assert len(polygons) == 7
    for cell, polygon in zip(cells, polygons, strict=True):
        lat, lng = h3int.cell_to_latlng(cell)
        assert polygon.contains(Point(lng, lat))
        assert polygon.equals(cell_polygon(cell))


def test_study_cells_and_gi_star_over_jakarta_res9(
    jakarta_land: shapely.Geometry, kelurahan: gpd.GeoDataFrame
) -> None:
    started = time.perf_counter()
    cells = study_cells(jakarta_land, 9)
    cells_s = time.perf_counter() - started
    started = time.perf_counter()
    weights = kring_weights(cells, 1)
    kring_s = time.perf_counter() - started
    counts = np.random.default_rng(2).poisson(3.0, len(cells))
    started = time.perf_counter()
    result = hotspots(counts, weights)
    gi_s = time.perf_counter() - started
    print(
        f"\nJakarta res 9: {len(cells)} cells; study_cells {cells_s:.3f} s, "
        f"kring_weights {kring_s:.3f} s, hotspots {gi_s:.4f} s"
    )
    assert 6_000 <= len(cells) <= 30_000
    assert cells_s < 5.0
    assert kring_s + gi_s < 1.0
    assert np.isfinite(result.z).all()
    seribu = kelurahan[kelurahan["kota_code"] == KEPULAUAN_SERIBU]
    assert len(seribu) == 6
    for geom in seribu.geometry:
        point = geom.representative_point()
        assert h3int.latlng_to_cell(point.y, point.x, 9) in set(cells.tolist())
