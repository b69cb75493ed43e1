"""Loading a batch chunk by chunk (rows inserted while later files are parsed) changes nothing.

The chunked path inserts each chunk's new, unrepeated rows at once and leaves the rest to the
set-based path; an id met again in a later chunk is taken back out of the table. Whatever
the chunk size, the batch must give the same table, the same rejections and the same counts
as one chunk, and every point the owner PostGIS gives it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from geo import db
from pipelines import ingest as ingest_module
from pipelines import parallel_parse
from pipelines.ingest import ingest
from pipelines.simulate.generate import Options, simulate
from pipelines.spatial_join import locate_points
from tests.conftest import BATCH_COUNTS, clear_reports

SNAPSHOT = """
SELECT source, source_id, ticket_code, category, source_category, status, source_status,
       created_at, coordinated_at, completed_at, updated_at, agency, ST_AsEWKT(geom), h3_r12,
       area_code, kelurahan_code, kecamatan_code, kota_code, outside, photo_url,
       photo_done_url, text_redacted
FROM pantau.reports ORDER BY source, source_id
"""


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory, bps2020_path: Path) -> Path:
    """Two and a half months of both feeds with 10 % defects (repeats within and across files)."""
    out = tmp_path_factory.mktemp("chunk-feeds")
    simulate(
        Options(
            start=date(2024, 1, 20),
            end=date(2024, 3, 31),
            seed=11,
            out=out,
            per_day=150,
            defects=0.1,
            boundaries=bps2020_path,
            progress=False,
        )
    )
    return out


def _load(url: str, batches: list[tuple[str, list[Path]]]) -> tuple[list[dict], list, list, list]:
    """Ingest the batches into empty tables; the counts, reports, rejections and queued days."""
    clear_reports(url)
    results = []
    for source, paths in batches:
        result = ingest(source, paths, url=url, progress=False, refresh_marts=False).as_dict()
        assert result["read"] == (
            result["inserted"] + result["updated"] + result["unchanged"] + result["rejected"]
        )
        results.append({k: result[k] for k in BATCH_COUNTS})
    with db.connect(url) as conn:
        reports = conn.execute(SNAPSHOT).fetchall()
        rejected = conn.execute(
            "SELECT source, file, line_no, reason, detail, raw FROM pantau.rejected_rows "
            "ORDER BY 1, 2, 3"
        ).fetchall()
        days = conn.execute("SELECT day FROM pantau.mart_dirty_days ORDER BY 1").fetchall()
    return results, reports, rejected, days


def _files(feeds: Path, source: str) -> list[Path]:
    return sorted((feeds / source).iterdir())


def _one_batch_per_source(feeds: Path) -> list[tuple[str, list[Path]]]:
    return [(source, [feeds / source]) for source in ("jaki", "qlue")]


def _updates_in_a_second_batch(feeds: Path) -> list[tuple[str, list[Path]]]:
    """The first month alone, then every file: the second batch updates stored reports."""
    batches = []
    for source in ("jaki", "qlue"):
        files = _files(feeds, source)
        batches += [(source, files[:1]), (source, files)]
    return batches


@pytest.mark.parametrize("parallel", [False, True], ids=["loader-parses", "workers-parse"])
@pytest.mark.parametrize(
    "scenario", [_one_batch_per_source, _updates_in_a_second_batch], ids=["new", "updates"]
)
def test_any_chunk_size_loads_what_one_chunk_loads(
    bps2020_loaded: str,
    feeds: Path,
    monkeypatch: pytest.MonkeyPatch,
    parallel: bool,
    scenario: object,
) -> None:
    url = bps2020_loaded
    batches = scenario(feeds)  # type: ignore[operator]
    monkeypatch.setattr(parallel_parse, "MIN_PARALLEL_BYTES", 0 if parallel else 2**62)
    monkeypatch.setattr(ingest_module, "CHUNK_ROWS", 10**9)
    monkeypatch.setattr(ingest_module, "MIN_CHUNK_ROWS", 10**9)
    whole = _load(url, batches)
    monkeypatch.setattr(ingest_module, "CHUNK_ROWS", 257)
    chunked = _load(url, batches)
    clear_reports(url)

    assert whole[0] == chunked[0], "the same counts"
    assert whole[1] == chunked[1], "the same reports, field by field"
    assert whole[2] == chunked[2], "the same rejected rows"
    assert whole[3] == chunked[3], "the same days queued for the marts"
    assert sum(r["duplicates_in_batch"] for r in whole[0]) > 0, "repeats across chunks occur"
    if scenario is _updates_in_a_second_batch:
        assert sum(r["updated"] for r in whole[0]) > 0, "stored reports are updated"


@pytest.mark.parametrize("parallel", [False, True], ids=["loader-parses", "workers-parse"])
def test_every_point_has_the_owner_postgis_gives_it(
    bps2020_loaded: str, feeds: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    """The interior-squares shortcut (large batches, parsed by workers) and the per-chunk join
    agree with ``ST_Covers`` everywhere."""
    url = bps2020_loaded
    monkeypatch.setattr(parallel_parse, "MIN_PARALLEL_BYTES", 0 if parallel else 2**62)
    _load(url, _one_batch_per_source(feeds))
    with db.connect(url) as conn:
        rows = conn.execute(
            "SELECT ST_X(geom), ST_Y(geom), area_code, kelurahan_code, kecamatan_code, "
            "kota_code, outside FROM pantau.reports ORDER BY source, source_id"
        ).fetchall()
        lng = np.array([r[0] for r in rows])
        lat = np.array([r[1] for r in rows])
        expected = locate_points(conn, lng, lat)
    clear_reports(url)
    assert len(rows) > 5000
    got = [(r[2], r[3], r[4], r[5], r[6]) for r in rows]
    codes = expected[["area_code", "kelurahan_code", "kecamatan_code", "kota_code"]]
    codes = codes.astype(object).where(codes.notna(), None)
    outside = expected["outside"]
    want = [(*c, bool(o)) for c, o in zip(codes.itertuples(index=False), outside, strict=True)]
    mismatches = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert mismatches == []
    assert sum(r[6] for r in rows) > 0, "the feeds have points outside Jakarta"
