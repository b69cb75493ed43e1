"""The interior lookup: a listed square's points belong to its unit and to no other."""

from __future__ import annotations

import numpy as np

from geo import db
from pipelines.boundaries.squares import (
    LEVELS,
    ensure_interior_squares,
    interior_lookup,
    square_key,
)
from pipelines.spatial_join import locate_points


def _owner(lookup: dict[int, str], lat: float, lng: float) -> str | None:
    for level in range(1, LEVELS + 1):
        owner = lookup.get(square_key(lat, lng, level))
        if owner is not None:
            return owner
    return None


def test_points_of_listed_squares_have_the_owner_st_covers_gives(bps2020_loaded: str) -> None:
    rng = np.random.default_rng(3)
    lng = rng.uniform(106.68, 106.98, 60_000)
    lat = rng.uniform(-6.38, -6.08, 60_000)
    with db.connect(bps2020_loaded) as conn:
        lookup = interior_lookup(conn, str)
        expected = locate_points(conn, lng, lat)
    assert len(lookup) > 300_000
    listed = by_level2 = 0
    for i, (x, y) in enumerate(zip(lng, lat, strict=True)):
        owner = _owner(lookup, y, x)
        if owner is not None:
            listed += 1
            by_level2 += square_key(y, x, 1) not in lookup
            assert owner == expected.at[i, "area_code"], (x, y)
    # the box is about two thirds Jakarta (the rest sea and Bekasi, Depok, Tangerang); the
    # lookup answers for 55 % of its points (90 % of Jakarta's reports), 3 % by level 2
    assert 0.5 < listed / len(lng) < 0.7
    assert by_level2 > 1000


def test_points_on_a_shared_boundary_are_never_in_a_listed_square(bps2020_loaded: str) -> None:
    """Points on kelurahan boundaries need the smallest-code rule: the lookup must not answer."""
    with db.connect(bps2020_loaded) as conn:
        rows = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(ST_Boundary(geom))).geom AS p "
            "FROM pantau.admin_areas WHERE level = 'kelurahan') AS v LIMIT 20000"
        ).fetchall()
        lookup = interior_lookup(conn, str)
    assert len(rows) == 20_000
    assert not any(_owner(lookup, y, x) is not None for x, y in rows)


def test_a_database_loaded_before_the_lookup_existed_gets_it_built(bps2020_loaded: str) -> None:
    with db.connect(bps2020_loaded) as conn:
        before = interior_lookup(conn, str)
        conn.execute("DELETE FROM pantau.admin_area_squares")
        conn.commit()
        ensure_interior_squares(conn)
        assert interior_lookup(conn, str) == before
        ensure_interior_squares(conn)  # nothing to do the second time
        assert interior_lookup(conn, str) == before
