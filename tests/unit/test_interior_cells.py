"""The geometry behind the interior-cells lookup's key (pipelines/boundaries/cells.py).

A point is looked up by the res-11 parent of its res-12 cell, so a listed cell must hold all
of its seven children, which reach beyond its own hexagon. The build tests the hexagon
enlarged by ``CHILDREN_SCALE``: these tests show that it holds every child, worldwide and in
Jakarta, and that a smaller enlargement would not.
"""

from __future__ import annotations

import random

import numpy as np
import shapely
from h3.api import basic_int as h3int

from pipelines.boundaries.cells import CELL_RESOLUTION, CHILDREN_SCALE, MARGIN_SCALE, lookup_key


def _ring(cell: int) -> np.ndarray:
    return np.array(h3int.cell_to_boundary(cell))[:, ::-1]  # (lng, lat)


def _enlarged(cell: int, scale: float) -> shapely.Polygon:
    ring = _ring(cell)
    centre = ring.mean(axis=0)
    return shapely.Polygon(centre + (ring - centre) * scale)


def _children_vertices(cell: int) -> np.ndarray:
    kids = h3int.cell_to_children(cell, CELL_RESOLUTION + 1)
    return shapely.points(np.concatenate([_ring(k) for k in kids]))


def _cells(n: int, seed: int, box: tuple[float, float, float, float]) -> list[int]:
    rng = random.Random(seed)
    minx, miny, maxx, maxy = box
    cells = []
    while len(cells) < n:
        cell = h3int.latlng_to_cell(rng.uniform(miny, maxy), rng.uniform(minx, maxx), 11)
        ring = _ring(cell)
        # hexagons not cut by the antimeridian (pentagons have five vertices)
        if len(ring) == 6 and np.ptp(ring[:, 0]) < 1 and not h3int.is_pentagon(cell):
            cells.append(cell)
    return cells


def test_the_enlarged_hexagon_holds_every_child() -> None:
    jakarta = _cells(1500, 1, (106.6, -6.4, 107.0, -6.0))
    world = _cells(1500, 2, (-179.0, -70.0, 179.0, 70.0))
    for cell in jakarta + world:
        # H3's own maximum over the globe is 8/7 + 3e-6 relative: MARGIN_SCALE adds 1e-3
        assert shapely.covers(
            _enlarged(cell, CHILDREN_SCALE * 1.00001), _children_vertices(cell)
        ).all()
        assert shapely.covers(_enlarged(cell, MARGIN_SCALE), _children_vertices(cell)).all()


def test_a_smaller_enlargement_would_miss_children() -> None:
    """8/7 is tight: the outer children touch the enlarged hexagon's edges."""
    cells = _cells(200, 3, (106.6, -6.4, 107.0, -6.0))
    missed = [
        not shapely.covers(_enlarged(cell, CHILDREN_SCALE * 0.999), _children_vertices(cell)).all()
        for cell in cells
    ]
    assert all(missed)
    # and some points of a cell's children lie outside the cell itself
    assert all(
        not shapely.covers(_enlarged(cell, 1.001), _children_vertices(cell)).all() for cell in cells
    )


def test_the_key_is_the_res11_parent() -> None:
    cell12 = h3int.latlng_to_cell(-6.2261, 106.8532, 12)
    assert lookup_key(cell12) == h3int.cell_to_parent(cell12, 11)
    assert h3int.get_resolution(lookup_key(cell12)) == CELL_RESOLUTION
