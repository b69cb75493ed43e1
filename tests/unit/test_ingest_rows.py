"""The row layout of the ingest: encoding, held-back rows, H3 keys and creation days."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import h3.api.basic_int as h3int
import shapely

from pipelines import ingest_rows as layout
from pipelines.sources.base import Report

WIB = timezone(timedelta(hours=7))


def _report(lat: float = -6.2261, lng: float = 106.8532, created: datetime | None = None) -> Report:
    moment = created or datetime(2024, 1, 6, 1, 15, 22, tzinfo=UTC)
    return Report(
        source="jaki", source_id="4812345", ticket_code="JK1", category="jalan",
        source_category="Jalan", status="completed", source_status="Selesai",
        created_at=moment, coordinated_at=None, completed_at=moment, updated_at=moment,
        agency=None, lng=lng, lat=lat, photo_url=None, photo_done_url=None, text_redacted="x",
    )  # fmt: skip


def test_the_point_is_the_ewkb_postgis_stores() -> None:
    ewkb = layout.point_ewkb(106.8532, -6.2261)
    point = shapely.from_wkb(ewkb)
    assert (point.x, point.y) == (106.8532, -6.2261)
    assert shapely.get_srid(point) == 4326


def test_a_held_row_is_the_staging_row_with_its_seq() -> None:
    values = layout.report_values(_report(), 617, ("3174", "3174", "31", "3", False), 9)
    row, stage = bytearray(), bytearray()
    layout.encoder(layout.REPORT_TYPES)(values, row)
    layout.encoder(layout.STAGE_TYPES)((12345678901, *values), stage)
    assert layout.staged(12345678901, memoryview(bytes(row))) == bytes(stage)


def test_rows_without_an_owner_are_outside_until_located() -> None:
    values = dict(
        zip(layout.REPORT_COLUMNS, layout.report_values(_report(), 1, None, 9), strict=True)
    )
    assert values["outside"] is True
    assert values["area_code"] is values["kelurahan_code"] is None
    owned = layout.report_values(_report(), 1, ("3174", None, "31", "3", False), 9)
    assert dict(zip(layout.REPORT_COLUMNS, owned, strict=True))["outside"] is False


def test_the_lookup_key_is_the_points_own_res11_cell_not_a_parent() -> None:
    """H3 is not a strict hierarchy: some points lie outside the parent of their res-12 cell."""
    rng = random.Random(5)
    owner = ("3174", "3174", "31", "3", False)
    differ = 0
    for _ in range(20_000):
        report = _report(lat=rng.uniform(-6.37, -6.08), lng=rng.uniform(106.68, 106.97))
        cell = h3int.latlng_to_cell(report.lat, report.lng, 12)
        own, parent = (
            h3int.latlng_to_cell(report.lat, report.lng, 11),
            h3int.cell_to_parent(cell, 11),
        )
        if own == parent:
            continue
        differ += 1
        by_own, by_parent = layout.EncodedRows(), layout.EncodedRows()
        layout.RowEncoder({own: owner}, 1).add(by_own, 1, report)
        layout.RowEncoder({parent: owner}, 1).add(by_parent, 1, report)
        assert (len(by_own.located.ids), len(by_parent.located.ids)) == (1, 0)
        values = layout.report_values(report, cell, owner, 1)
        row = bytearray()
        layout.encoder(layout.REPORT_TYPES)(values, row)
        assert bytes(by_own.located.data) == bytes(row)  # the res-12 cell is stored
    assert differ > 0  # the case this guards against exists in these points


def test_the_creation_day_is_jakartas() -> None:
    late = datetime(2024, 1, 6, 17, 0, tzinfo=UTC)  # already 7 January in Jakarta
    day = layout.jakarta_day(_report(created=late))
    assert datetime(1970, 1, 1).date() + timedelta(days=day) == late.astimezone(WIB).date()
    early = datetime(2024, 1, 7, 6, 59, tzinfo=WIB)
    assert layout.jakarta_day(_report(created=early)) == day
