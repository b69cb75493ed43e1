"""The interior-cells lookup: a listed cell's points belong to its unit and to no other."""

from __future__ import annotations

import numpy as np
from h3.api import basic_int as h3int

from geo import db
from pipelines.boundaries.cells import CELL_RESOLUTION, ensure_area_cells, interior_lookup
from pipelines.spatial_join import locate_points


def test_points_of_listed_cells_have_the_owner_st_covers_gives(bps2020_loaded: str) -> None:
    rng = np.random.default_rng(3)
    lng = rng.uniform(106.68, 106.98, 60_000)
    lat = rng.uniform(-6.38, -6.08, 60_000)
    with db.connect(bps2020_loaded) as conn:
        lookup = interior_lookup(conn, str)
        expected = locate_points(conn, lng, lat)
    assert len(lookup) > 250_000
    listed = 0
    for i, (x, y) in enumerate(zip(lng, lat, strict=True)):
        owner = lookup.get(h3int.latlng_to_cell(y, x, CELL_RESOLUTION))
        if owner is not None:
            listed += 1
            assert owner == expected.at[i, "area_code"], (x, y)
    # the box is about two thirds Jakarta (the rest sea and Bekasi, Depok, Tangerang); the
    # lookup answers for 53 % of its points (84 % of Jakarta's reports)
    assert 0.45 < listed / len(lng) < 0.65


def test_points_on_a_shared_boundary_are_never_in_a_listed_cell(bps2020_loaded: str) -> None:
    """Points on kelurahan boundaries need the smallest-code rule: the lookup must not answer."""
    with db.connect(bps2020_loaded) as conn:
        rows = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(ST_Boundary(geom))).geom AS p "
            "FROM pantau.admin_areas WHERE level = 'kelurahan') AS v LIMIT 20000"
        ).fetchall()
        lookup = interior_lookup(conn, str)
    assert len(rows) == 20_000
    assert not any(h3int.latlng_to_cell(y, x, CELL_RESOLUTION) in lookup for x, y in rows)


def test_a_database_loaded_before_the_lookup_existed_gets_it_built(bps2020_loaded: str) -> None:
    with db.connect(bps2020_loaded) as conn:
        before = interior_lookup(conn, str)
        conn.execute("DELETE FROM pantau.admin_area_cells")
        conn.commit()
        ensure_area_cells(conn)
        assert interior_lookup(conn, str) == before
        ensure_area_cells(conn)  # nothing to do the second time
        assert interior_lookup(conn, str) == before
