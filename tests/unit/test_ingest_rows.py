"""The row layout of the ingest: encoding, held-back rows, H3 keys and creation days.

The expected rows are built here by column name, independently of the encoder's own order.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import h3.api.basic_int as h3int
import pytest
import shapely

from pipelines import ingest_rows as layout
from pipelines.boundaries.squares import square_key
from pipelines.sources.base import REPORT_FIELDS, Report, report_fields

WIB = timezone(timedelta(hours=7))
OWNER = ("3174", "3174", "31", "3", False)

#: Both encoders: the Python reference and the compiled one (tests/unit/test_rowcodec.py
#: compares them on random reports; here each is held to the expected rows on its own).
ENCODERS = [layout.PyRowEncoder, layout.NativeRowEncoder]


@pytest.fixture(params=ENCODERS, ids=["python", "native"])
def encoder_class(request: pytest.FixtureRequest) -> type[Any]:
    return request.param  # type: ignore[no-any-return]


def _encode(cls: type[Any], owners: dict[int, Any], batch: int, *reports: Any) -> Any:
    encoder = cls(owners, batch)
    for seq, report in reports:
        encoder.add(seq, report)
    return encoder.take()


def _report(lat: float = -6.2261, lng: float = 106.8532, created: datetime | None = None) -> Report:
    moment = created or datetime(2024, 1, 6, 1, 15, 22, tzinfo=UTC)
    return Report(
        source="jaki", source_id="4812345", ticket_code="JK1", category="jalan",
        source_category="Jalan", status="completed", source_status="Selesai",
        created_at=moment, coordinated_at=None, completed_at=moment, updated_at=moment,
        agency=None, lng=lng, lat=lat, photo_url=None, photo_done_url=None, text_redacted="x",
    )  # fmt: skip


def _expected(report: Report, owner: layout.Owner | None, batch: int) -> tuple[Any, ...]:
    """The row ``pantau.reports`` should get, column by column."""
    point = shapely.set_srid(shapely.Point(report.lng, report.lat), 4326)
    named = {
        "geom": shapely.to_wkb(point, include_srid=True, byte_order=1),
        "h3_r12": h3int.latlng_to_cell(report.lat, report.lng, 12),
        "batch_id": batch,
        **dict(
            zip(
                ("area_code", "kelurahan_code", "kecamatan_code", "kota_code", "outside"),
                owner or (None, None, None, None, True),
                strict=True,
            )
        ),
    }
    return tuple(named[c] if c in named else getattr(report, c) for c in layout.REPORT_COLUMNS)


def _encoded(values: tuple[Any, ...], types: tuple[str, ...] = layout.REPORT_TYPES) -> bytes:
    out = bytearray()
    layout.encoder(types)(values, out)
    return bytes(out)


def _jakarta_day(moment: datetime) -> int:
    return (moment.astimezone(WIB).date() - date(1970, 1, 1)).days


def test_a_report_is_encoded_column_by_column(encoder_class: type[Any]) -> None:
    report = _report()
    key = square_key(report.lat, report.lng, 1)
    located = _encode(encoder_class, {key: OWNER}, 9, (5, report))
    pending = _encode(encoder_class, {}, 9, (5, report))  # not in the lookup: waits for its owner
    assert bytes(located.located.data) == _encoded(_expected(report, OWNER, 9))
    assert bytes(pending.pending.data) == _encoded(_expected(report, None, 9))
    for rows in (located.located, pending.pending):
        assert rows.ids == ["4812345"] and rows.seqs.tolist() == [5]
    assert not located.pending.ids and not pending.located.ids


def test_the_point_is_the_ewkb_postgis_stores(encoder_class: type[Any]) -> None:
    values = dict(zip(layout.REPORT_COLUMNS, _expected(_report(), None, 9), strict=True))
    rows = _encode(encoder_class, {}, 9, (5, _report()))
    # the pending row's point goes to the points table too: (seq, EWKB)
    assert bytes(rows.points) == _encoded((5, values["geom"]), ("int8", "bytea"))
    point = shapely.from_wkb(values["geom"])
    assert (point.x, point.y, shapely.get_srid(point)) == (106.8532, -6.2261, 4326)


def test_a_held_row_is_the_staging_row_with_its_seq() -> None:
    values = _expected(_report(), OWNER, 9)
    stage = _encoded((12345678901, *values), layout.STAGE_TYPES)
    assert layout.staged(12345678901, memoryview(_encoded(values))) == stage


def test_the_lookup_keys_are_the_squares_of_the_point(encoder_class: type[Any]) -> None:
    """The encoders look up ``square_key``'s squares, level 1 first, then level 2."""
    rng = random.Random(5)
    other = ("3175", "3175", "31", "3", False)
    for _ in range(2_000):
        report = _report(lat=rng.uniform(-6.37, -6.08), lng=rng.uniform(106.68, 106.97))
        first, second = (square_key(report.lat, report.lng, level) for level in (1, 2))
        for lookup, owner in (
            ({first: OWNER, second: other}, OWNER),  # level 1 answers first
            ({second: other}, other),
            ({first + 1: OWNER, second + 1: other}, None),  # the neighbours' squares
        ):
            rows = _encode(encoder_class, lookup, 1, (1, report))
            into = rows.located if owner else rows.pending
            assert bytes(into.data) == _encoded(_expected(report, owner, 1))


def test_the_creation_day_is_jakartas(encoder_class: type[Any]) -> None:
    late = datetime(2024, 1, 6, 17, 0, tzinfo=UTC)  # already 7 January in Jakarta
    early = datetime(2024, 1, 7, 6, 59, tzinfo=WIB)
    before_1970 = datetime(1969, 12, 31, 16, 59, tzinfo=UTC)  # 23:59 in Jakarta
    # the last microsecond of a day in Jakarta, before 1970 too (floored, not truncated)
    last = datetime(2024, 1, 7, 16, 59, 59, 999_999, tzinfo=UTC)
    last_1969 = datetime(1969, 12, 30, 16, 59, 59, 500_000, tzinfo=UTC)
    moments = (late, early, before_1970, last, last_1969)
    rows = _encode(
        encoder_class, {}, 1, *((seq, _report(created=m)) for seq, m in enumerate(moments))
    )
    assert rows.pending.days.tolist() == [_jakarta_day(m) for m in moments]
    assert rows.pending.days.tolist()[2:] == [-1, _jakarta_day(late), -2]
    assert _jakarta_day(late) == _jakarta_day(early)


def test_a_reports_fields_start_the_row() -> None:
    """The fast paths' field tuples are encoded as they are: the columns must follow them."""
    assert layout.REPORT_COLUMNS[: len(REPORT_FIELDS) - 2] == REPORT_FIELDS[:-2]
    assert REPORT_FIELDS[-2:] == ("lng", "lat")


def test_a_report_and_its_fields_encode_alike(encoder_class: type[Any]) -> None:
    report = _report()
    by_report = _encode(encoder_class, {}, 3, (5, report))
    by_fields = _encode(encoder_class, {}, 3, (5, report_fields(report)))
    assert by_report.pending.data == by_fields.pending.data
    assert by_report.points == by_fields.points
    assert by_report.pending.days == by_fields.pending.days
