"""How a batch parsed by workers is cut into chunks: about eight, within fixed bounds."""

from __future__ import annotations

import pytest

from pipelines.ingest import CHUNK_ROWS, MIN_CHUNK_ROWS, chunk_rows_for


@pytest.mark.parametrize(
    ("batch_rows", "chunk"),
    [
        (0, MIN_CHUNK_ROWS),  # a tiny batch: one chunk, not eight of a few rows
        (40_000, MIN_CHUNK_ROWS),
        (90_000, 11_250),  # Qlue's two years: eight chunks, loaded while the rest is parsed
        (400_000, 50_000),
        (905_000, CHUNK_ROWS),  # JAKI's two years: the largest chunk, as before
    ],
)
def test_chunks_follow_the_batch_size_within_bounds(batch_rows: int, chunk: int) -> None:
    assert chunk_rows_for(batch_rows) == chunk
    assert MIN_CHUNK_ROWS <= chunk_rows_for(batch_rows) <= CHUNK_ROWS
