"""The SQL H3 functions in schema api agree with h3-py."""

from __future__ import annotations

import h3
import numpy as np
import psycopg
import pytest

RESOLUTIONS = range(13)


def _cells(n: int, seed: int) -> list[int]:
    """Res-12 cells: half over Jakarta, half anywhere on Earth (all base cells, pentagons too)."""
    rng = np.random.default_rng(seed)
    jakarta = zip(rng.uniform(-6.4, -5.2, n // 2), rng.uniform(106.3, 107.0, n // 2), strict=True)
    world = zip(
        np.degrees(np.arcsin(rng.uniform(-1, 1, n // 2))),
        rng.uniform(-180, 180, n // 2),
        strict=True,
    )
    cells = [h3.str_to_int(h3.latlng_to_cell(lat, lng, 12)) for lat, lng in [*jakarta, *world]]
    pentagons = [h3.str_to_int(c) for c in h3.get_pentagons(0)]
    cells += [h3.str_to_int(h3.cell_to_center_child(h3.int_to_str(p), 12)) for p in pentagons]
    return cells


def test_parent_matches_h3py_for_every_resolution(reader_conn: psycopg.Connection) -> None:
    cells = _cells(4000, seed=3)
    rows = reader_conn.execute(
        """
        SELECT c, r, api.h3_cell_to_parent(c, r)
        FROM unnest(%s::bigint[]) AS c CROSS JOIN generate_series(0, 12) AS r
        """,
        [cells],
    ).fetchall()
    assert len(rows) == len(cells) * len(RESOLUTIONS)
    mismatches = [
        (c, r, p) for c, r, p in rows if p != h3.str_to_int(h3.cell_to_parent(h3.int_to_str(c), r))
    ]
    assert mismatches == []


def test_resolution_and_text(reader_conn: psycopg.Connection) -> None:
    cell = h3.latlng_to_cell(-6.2261, 106.8532, 9)
    res, text = reader_conn.execute(
        "SELECT api.h3_get_resolution(%s), api.h3_cell_to_text(%s)", [h3.str_to_int(cell)] * 2
    ).fetchone() or (None, None)
    assert res == 9
    assert text == cell


@pytest.mark.parametrize("res", [-1, 13, 15])
def test_parent_outside_range_is_null(reader_conn: psycopg.Connection, res: int) -> None:
    cell = h3.str_to_int(h3.latlng_to_cell(-6.2, 106.8, 12))
    assert reader_conn.execute("SELECT api.h3_cell_to_parent(%s, %s)", [cell, res]).fetchone() == (
        None,
    )
