"""Where reports are: points inside their true kelurahan, with realistic density.

Density varies between kelurahan (weights by kota volume, size and a seeded "liveliness") and
inside each one: most reports cluster around a few attractors (markets, stations, main roads)
with GPS-like scatter of about 150 m, some are spread evenly, and some sit within a few metres
of the kelurahan boundary so that the one-owner rule is exercised. Every point is drawn by
rejection sampling against the kelurahan polygon after rounding to the 7 decimals written to
the feeds, so a clean point is always inside its true kelurahan.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import h3
import numpy as np
import shapely
from shapely.geometry import Polygon

#: Decimals written to the feeds (about 1 cm); containment is tested on rounded values.
DECIMALS = 7
METRE = 1 / 111_320  # degrees of latitude per metre (near enough for scatter at 6°S)
ATTRACTORS_PER_KELURAHAN = 3
ATTRACTOR_SCATTER_M = 150.0
BOUNDARY_SCATTER_M = 12.0
#: Mixture of placement modes: around an attractor, anywhere, near the boundary.
MODE_SHARES = (0.55, 0.35, 0.10)


@dataclass
class Area:
    """One kelurahan to sample in (prepared polygon, its box, attractors)."""

    geom: shapely.Geometry
    bounds: tuple[float, float, float, float]
    attractors: np.ndarray  # (k, 2) lng, lat
    boundary: shapely.Geometry


def _round(values: np.ndarray) -> np.ndarray:
    return np.round(values, DECIMALS)


def _inside(geom: shapely.Geometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return shapely.contains_xy(geom, x, y)


def _uniform_candidates(
    area: Area, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = area.bounds
    return rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)


def make_area(geom: shapely.Geometry, rng: np.random.Generator) -> Area:
    """Prepare a kelurahan polygon and pick its attractors (seeded)."""
    shapely.prepare(geom)
    area = Area(
        geom=geom, bounds=tuple(geom.bounds), attractors=np.empty((0, 2)), boundary=geom.boundary
    )
    area.attractors = np.column_stack(sample_uniform(area, ATTRACTORS_PER_KELURAHAN, rng))
    return area


def sample_uniform(area: Area, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points spread evenly inside the polygon."""
    return _accept(area, n, rng, lambda m: _uniform_candidates(area, m, rng))


def _attractor_candidates(
    area: Area, m: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    centre = area.attractors[rng.integers(0, len(area.attractors), m)]
    scatter = rng.normal(0.0, ATTRACTOR_SCATTER_M * METRE, (m, 2))
    return centre[:, 0] + scatter[:, 0], centre[:, 1] + scatter[:, 1]


def _boundary_candidates(
    area: Area, m: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    points = shapely.line_interpolate_point(area.boundary, rng.random(m), normalized=True)
    scatter = rng.normal(0.0, BOUNDARY_SCATTER_M * METRE, (m, 2))
    return shapely.get_x(points) + scatter[:, 0], shapely.get_y(points) + scatter[:, 1]


Candidates = Callable[[int], tuple[np.ndarray, np.ndarray]]


def _accept(
    area: Area, n: int, rng: np.random.Generator, candidates: Candidates
) -> tuple[np.ndarray, np.ndarray]:
    """Draw candidates until ``n`` fall inside (rounded to the written precision)."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    batch = max(16, 2 * n)
    for _ in range(200):
        x, y = candidates(batch)
        x, y = _round(x), _round(y)
        keep = _inside(area.geom, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
        if have >= n:
            break
        batch = min(batch * 2, 1_000_000)
    else:  # pragma: no cover - only for degenerate slivers
        msg = "could not place points inside a kelurahan polygon"
        raise RuntimeError(msg)
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def sample_in_area(area: Area, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` report locations in one kelurahan, by the mixture of :data:`MODE_SHARES`."""
    counts = rng.multinomial(n, MODE_SHARES)
    makers = (_attractor_candidates, _uniform_candidates, _boundary_candidates)
    parts = [
        _accept(area, k, rng, functools.partial(make, area, rng=rng))
        for k, make in zip(counts, makers, strict=True)
        if k
    ]
    if not parts:
        return np.empty(0), np.empty(0)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    order = rng.permutation(n)
    return x[order], y[order]


def hexagon(cell: str) -> Polygon:
    """The H3 cell as a shapely polygon (h3 gives lat, lng; shapely wants x=lng, y=lat)."""
    return Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])


def sample_in_cells(
    cells: list[str], n: int, areas: shapely.STRtree, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points inside the union of H3 ``cells`` and inside exactly one kelurahan.

    Returns the coordinates and, per point, the index of its kelurahan in ``areas``.
    """
    zone = shapely.union_all([hexagon(c) for c in cells])
    shapely.prepare(zone)
    minx, miny, maxx, maxy = zone.bounds
    xs, ys, owners = [], [], []
    have, batch = 0, max(16, 3 * n)
    for _ in range(200):
        x = _round(rng.uniform(minx, maxx, batch))
        y = _round(rng.uniform(miny, maxy, batch))
        keep = shapely.contains_xy(zone, x, y)
        x, y = x[keep], y[keep]
        hits = areas.query(shapely.points(x, y), predicate="within")
        counts = np.bincount(hits[0], minlength=len(x))
        owner = np.full(len(x), -1)
        single = counts[hits[0]] == 1
        owner[hits[0][single]] = hits[1][single]
        ok = owner >= 0
        xs.append(x[ok])
        ys.append(y[ok])
        owners.append(owner[ok])
        have += int(ok.sum())
        if have >= n:
            break
        batch *= 2
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n], np.concatenate(owners)[:n]


def sample_outside(
    boxes: list[tuple[float, float, float, float]],
    n: int,
    areas: shapely.STRtree,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in the given boxes that fall in no unit of ``areas`` (sea, other provinces)."""
    xs, ys, have = [], [], 0
    for _ in range(200):
        box = boxes[rng.integers(0, len(boxes))]
        x = _round(rng.uniform(box[0], box[2], 4 * n + 8))
        y = _round(rng.uniform(box[1], box[3], 4 * n + 8))
        hit = np.zeros(len(x), dtype=bool)
        hit[areas.query(shapely.points(x, y), predicate="intersects")[0]] = True
        xs.append(x[~hit])
        ys.append(y[~hit])
        have += int((~hit).sum())
        if have >= n:
            break
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]
