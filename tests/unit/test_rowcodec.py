"""The compiled row encoder (``pipelines/_rowcodec.c``) against its Python reference.

``PyRowEncoder`` builds each row with psycopg's own binary COPY encoder; the compiled one
writes the bytes itself. Both are fed the same random reports (texts in any script, times in
any zone, points anywhere, owners at either level of the lookup or none) and must give the same
bytes, ids, seqs and days, row for row.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import ingest_rows as layout
from pipelines.boundaries.squares import square_key
from pipelines.sources.base import REPORT_FIELDS, Report, report_fields

WIB = timezone(timedelta(hours=7), "WIB")
ZONES = [
    UTC,
    WIB,
    timezone(timedelta(hours=-5, minutes=-30)),
    timezone(timedelta(hours=13, seconds=7)),
    ZoneInfo("Asia/Jakarta"),  # an offset that depends on the moment (1924 - 1964)
    ZoneInfo("America/New_York"),
]
OWNERS = [
    ("3174", "3174", "31", "3", False),
    ("3101.pl", None, "3101", "3101", False),  # a placeholder unit: no kelurahan
]

texts = st.none() | st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30
)
moments = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(2200, 12, 30),
    timezones=st.sampled_from(ZONES),
)
lat = st.floats(-89.99, 89.99) | st.floats(-6.4, -6.05)
lng = st.floats(-179.99, 179.99) | st.floats(106.6, 107.0)


@st.composite
def reports(draw: st.DrawFn) -> Report:
    return Report(
        source=draw(st.sampled_from(["jaki", "qlue"])),
        source_id=draw(st.text(min_size=1, max_size=12)),
        ticket_code=draw(texts),
        category=draw(st.sampled_from(["sampah", "jalan", "unmapped"])),
        source_category=draw(texts),
        status=draw(st.sampled_from(["received", "completed"])),
        source_status=draw(texts),
        created_at=draw(moments),
        coordinated_at=draw(st.none() | moments),
        completed_at=draw(st.none() | moments),
        updated_at=draw(moments),
        agency=draw(texts),
        photo_url=draw(texts),
        photo_done_url=draw(texts),
        text_redacted=draw(texts),
        lng=draw(lng),
        lat=draw(lat),
    )


def _rows(rows: layout.EncodedRows) -> tuple[Any, ...]:
    def part(encoded: layout.Encoded) -> tuple[Any, ...]:
        return (
            bytes(encoded.data),
            encoded.offsets.tolist(),
            encoded.ids,
            encoded.seqs.tolist(),
            encoded.days.tolist(),
        )

    return part(rows.located), part(rows.pending), bytes(rows.points)


def _plain() -> Report:
    fields = dict.fromkeys(REPORT_FIELDS)
    fields.update(
        source="jaki", source_id="1", category="sampah", status="received",
        created_at=datetime(2024, 5, 1, tzinfo=UTC), updated_at=datetime(2024, 5, 1, tzinfo=UTC),
        lng=106.8, lat=-6.2,
    )  # fmt: skip
    return Report(**fields)


def test_the_ingest_uses_the_compiled_encoder() -> None:
    """``make venv`` builds it; without it the ingest falls back on Python, 2.5 us a row slower."""
    assert layout.RowEncoder is layout.NativeRowEncoder


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(reports(), st.sampled_from([1, 2, None]), st.sampled_from(OWNERS), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 2**62),
)
def test_the_compiled_encoder_writes_the_references_bytes(
    items: list[tuple[Report, int | None, Any, bool]], batch: int
) -> None:
    owners: dict[int, Any] = {}
    for report, level, owner, _ in items:
        if level is not None:
            owners.setdefault(square_key(report.lat, report.lng, level), owner)
    python, native = layout.PyRowEncoder(owners, batch), layout.NativeRowEncoder(owners, batch)
    for seq, (report, _, _, as_fields) in enumerate(items, start=2**40):
        value = report_fields(report) if as_fields else report
        python.add(seq, value)
        native.add(seq, value)
    assert len(python) == len(native) == len(items)
    assert _rows(native.take()) == _rows(python.take())
    assert len(native) == 0 and _rows(native.take()) == _rows(layout.EncodedRows())


def test_take_starts_again() -> None:
    report = _plain()
    python, native = layout.PyRowEncoder({}, 1), layout.NativeRowEncoder({}, 1)
    for encoder in (python, native):
        encoder.add(1, report)
        encoder.take()
        encoder.add(2, report)
    assert _rows(native.take()) == _rows(python.take())


class _Far(tzinfo):
    """A zone 30 hours ahead: datetime refuses its offset, so must the encoder."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=30)


BAD = [
    ({"created_at": datetime(2024, 5, 1)}, "no time zone"),  # naive: which instant?
    ({"updated_at": datetime(2024, 5, 1, tzinfo=_Far())}, "strictly between"),
    ({"created_at": None}, "creation time"),
    ({"updated_at": "2024-05-01"}, "not a datetime"),
    ({"agency": 5}, "not a str"),
    ({"text_redacted": "\ud800"}, "surrogate"),
    ({"lat": "-6.2"}, "must be real number"),
]


@pytest.mark.parametrize(("change", "error"), BAD)
def test_a_bad_value_is_refused_and_writes_nothing(change: dict[str, Any], error: str) -> None:
    good = _plain()
    native, python = layout.NativeRowEncoder({}, 1), layout.PyRowEncoder({}, 1)
    for encoder in (native, python):
        encoder.add(1, good)
        # the reference's messages are psycopg's and Python's own
        with pytest.raises((ValueError, TypeError), match=error if encoder is native else None):
            encoder.add(2, replace(good, **change))
        encoder.add(3, good)
    assert _rows(native.take()) == _rows(python.take())


def test_a_seq_beyond_bigint_is_refused_and_writes_nothing() -> None:
    native, python = layout.NativeRowEncoder({}, 1), layout.PyRowEncoder({}, 1)
    for encoder in (native, python):
        with pytest.raises(OverflowError):
            encoder.add(2**63, _plain())
        encoder.add(1, _plain())
    assert _rows(native.take()) == _rows(python.take())


@pytest.mark.parametrize(("lat", "lng"), [(1e20, 106.8), (-95.0, 106.8), (-6.2, 4000.0)])
def test_a_point_off_the_globe_gets_no_owner_from_the_lookup(lat: float, lng: float) -> None:
    """No square (a key from such a point could alias another's): PostGIS decides, outside."""
    report = replace(_plain(), lat=lat, lng=lng)
    # owned: the squares a key computed regardless would name (its row and column wrapped
    # into their 24 bits, or the row lost as row 0)
    owners = {}
    for level, per in ((layout._LEVEL1, 2500), (layout._LEVEL2, 5000)):
        row, column = int((lat + 90) * per), int((lng + 180) * per)
        for r in (0, row % 2**24):
            owners[level | r << 24 | column % 2**24] = OWNERS[0]
    native, python = layout.NativeRowEncoder(owners, 1), layout.PyRowEncoder(owners, 1)
    for encoder in (native, python):
        encoder.add(1, report)
    rows = native.take()
    assert _rows(rows) == _rows(python.take())
    assert rows.pending.ids == ["1"]


def test_an_owner_of_none_means_none_at_that_level() -> None:
    report = _plain()
    owners = {
        square_key(report.lat, report.lng, 1): None,
        square_key(report.lat, report.lng, 2): OWNERS[1],
    }
    native, python = layout.NativeRowEncoder(owners, 1), layout.PyRowEncoder(owners, 1)
    for encoder in (native, python):
        encoder.add(1, report)
        encoder.add(2, tuple(report_fields(report)))  # a tuple of another class is fields too
    rows = native.take()
    assert _rows(rows) == _rows(python.take()) and rows.located.ids == ["1", "1"]


def test_an_encoder_is_set_up_once_and_only_then_used() -> None:
    from pipelines import _rowcodec  # type: ignore[attr-defined]

    bare = _rowcodec.Encoder.__new__(_rowcodec.Encoder)
    assert len(bare) == 0
    with pytest.raises(RuntimeError, match="not set up"):
        bare.add(1, report_fields(_plain()))
    with pytest.raises(RuntimeError, match="not set up"):
        bare.take()
    native = layout.NativeRowEncoder({}, 1)
    native.add(1, _plain())
    with pytest.raises(RuntimeError, match="once"):
        native._native.__init__(**_setup(kinds="t" * 8 + "z"))
    assert len(native) == 1


def _setup(**change: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "owners": {}, "batch": 1, "h3_cell": layout.h3int.latlng_to_cell, "resolution": 12,
        "report_fields": report_fields, "kinds": layout._KINDS, "ident": layout._ID,
        "created": layout._CREATED, "level1": layout._LEVEL1, "level2": layout._LEVEL2,
        "per_degree1": 2500.0, "per_degree2": 5000.0, "row_shift": 24,
    }  # fmt: skip
    return arguments | change


@pytest.mark.parametrize(
    "change",
    [
        {"kinds": "t" * 64 + "z"},  # more fields than the encoder has room for
        {"kinds": ""},
        {"kinds": "tx"},
        {"ident": 7},  # a time, not a text
        {"created": 1},  # a text, not a time
        {"created": 99},
        {"owners": []},
        {"row_shift": 70},  # keys that overlap or do not fit a bigint
        {"row_shift": -1},
        {"per_degree1": -1.0},
        {"per_degree2": float("nan")},
    ],
)
def test_a_wrong_setup_is_refused(change: dict[str, Any]) -> None:
    from pipelines import _rowcodec  # type: ignore[attr-defined]

    with pytest.raises((ValueError, TypeError)):
        _rowcodec.Encoder(**_setup(**change))


def test_no_reference_is_kept_or_lost() -> None:
    """Thousands of rows (located, pending, Reports, a zone written in Python) leave every
    object's reference count as it was, the encoder gone."""
    owner = ("3174", "3174", "31", "3", False)
    report = _plain()
    moment = datetime(2024, 5, 1, 9, tzinfo=ZoneInfo("Asia/Jakarta"))
    text = "Jalan rusak di depan rumah nomor 5 — mohon segera"
    fields = (*report_fields(replace(report, text_redacted=text, created_at=moment)),)
    watched = (owner, text, moment, moment.tzinfo, fields, fields[-1])
    before = [sys.getrefcount(thing) for thing in watched]
    encoder = layout.NativeRowEncoder({square_key(report.lat, report.lng, 1): owner}, 1)
    for seq in range(3_000):
        encoder.add(seq, fields)
        encoder.add(seq, report)
        encoder.add(seq, replace(report, lat=-6.0))  # pending
        if seq % 1_000 == 0:
            encoder.take()
    rows = encoder.take()
    assert len(rows) == 3 * 999  # the rows since the last take (at seq 2,000)
    del encoder, rows
    assert [sys.getrefcount(thing) for thing in watched] == before


def test_a_report_of_the_wrong_size_is_refused() -> None:
    native = layout.NativeRowEncoder({}, 1)
    with pytest.raises(ValueError, match="fields"):
        native.add(1, ("jaki", "1"))
    assert len(native) == 0
