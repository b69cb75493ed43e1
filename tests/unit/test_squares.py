"""The keys of the interior lookup's squares (pipelines/boundaries/squares.py).

A point is looked up by the square of longitude and latitude that holds it; the build tests
each square enlarged by ``MARGIN`` of its side, which must cover the rounding of the key's
floating-point arithmetic, at the edges of squares too.
"""

from __future__ import annotations

import math
import random

import pytest

from pipelines.boundaries.squares import (
    LEVEL_SHIFT,
    LEVELS,
    ROW_SHIFT,
    SQUARES_PER_DEGREE,
    square_bounds,
    square_key,
)


def _square(key: int) -> tuple[int, float, float, float, float]:
    """Level and enlarged bounds (west, south, east, north) of a key's square, as the build
    tests them."""
    level = key >> LEVEL_SHIFT
    row, column = (key >> ROW_SHIFT) & (2**24 - 1), key & (2**24 - 1)
    return level, *square_bounds(level, row, column)


def _points() -> list[tuple[float, float]]:
    rng = random.Random(11)
    points = [(rng.uniform(-6.4, -6.0), rng.uniform(106.6, 107.0)) for _ in range(20_000)]
    # on and next to the grid lines of both levels, where rounding decides the square
    for level in range(1, LEVELS + 1):
        per_degree = SQUARES_PER_DEGREE << (level - 1)
        for _ in range(2_000):
            lat = rng.randrange(-16_000, -15_000) / per_degree
            lng = rng.randrange(266_000, 267_500) / per_degree
            for dlat in (-1, 0, 1):
                for dlng in (-1, 0, 1):
                    points.append(
                        (math.nextafter(lat, dlat * math.inf) if dlat else lat,
                         math.nextafter(lng, dlng * math.inf) if dlng else lng)
                    )  # fmt: skip
    return points


@pytest.mark.parametrize("level", range(1, LEVELS + 1))
def test_every_point_lies_in_the_square_of_its_key(level: int) -> None:
    for lat, lng in _points():
        key_level, west, south, east, north = _square(square_key(lat, lng, level))
        assert key_level == level
        assert west <= lng <= east and south <= lat <= north, (lat, lng)


def test_a_square_of_level_two_lies_in_its_parent() -> None:
    for lat, lng in _points():
        child, parent = square_key(lat, lng, 2), square_key(lat, lng, 1)
        row, column = (child >> ROW_SHIFT) & (2**24 - 1), child & (2**24 - 1)
        assert 1 << LEVEL_SHIFT | (row >> 1) << ROW_SHIFT | (column >> 1) == parent


def test_keys_are_distinct_across_levels_and_fit_a_bigint() -> None:
    corners = [(-90.0, -180.0), (90.0, 180.0), (-6.2, 106.8)]
    keys = {square_key(lat, lng, level) for lat, lng in corners for level in (1, 2)}
    assert len(keys) == 6
    assert all(0 <= key < 2**63 for key in keys)


def test_the_encoder_inlines_two_levels() -> None:
    """The compiled encoder (``pipelines/_rowcodec.c``) looks up levels 1 and 2 itself."""
    assert LEVELS == 2
