"""The JAKI adapter against every variant of ``../shared/FEEDS.md``, on small hand-written files.

Every file read here is also checked for the count invariant: the adapter yields exactly one
``(raw, result)`` pair per data line (or per report of a JSON document), and each result is a
:class:`Report` or a :class:`Rejection`, so ``read == inserted + updated + unchanged +
rejected`` can hold in the ingest.
"""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from pipelines.sources.base import WIB, RawRow, Rejected, Rejection, Report, parse_time, read_time
from pipelines.sources.jaki import JakiFiles

BOM = b"\xef\xbb\xbf"

#: The example report of FEEDS.md (Tebet Barat, Jakarta Selatan).
EXAMPLE: dict[str, Any] = {
    "id": 4812345,
    "code": "JK240106017",
    "content": (
        "Permasalahan: Jalan berlubang besar\nKategori: Jalan\nLokasi: Jl. Tebet Raya\n"
        "Detail Alamat Laporan: depan minimarket"
    ),
    "lat": -6.2261,
    "lng": 106.8532,
    "createdAt": "2024-01-06T01:15:22.000Z",
    "updatedAt": "2024-01-07T09:02:10.000Z",
    "tstatus": {"name": "Selesai"},
    "complaintCategory": {"name": "Jalan"},
    "zone": {"name": "Suku Dinas Bina Marga Kota Administrasi Jakarta Selatan"},
    "village": {
        "name": "Tebet Barat",
        "district": {"name": "Tebet", "city": {"name": "Jakarta Selatan"}},
    },
    "documents": [{"url": "https://example.invalid/photo/1.jpg"}],
    "histories": [
        {"status": "Menunggu", "createdAt": "2024-01-06T01:15:22.000Z"},
        {"status": "Disposisi", "createdAt": "2024-01-06T03:40:00.000Z"},
        {"status": "Proses Koordinasi", "createdAt": "2024-01-06T05:00:00.000Z"},
        {"status": "Selesai", "createdAt": "2024-01-07T09:02:10.000Z"},
    ],
}
CREATED = datetime(2024, 1, 6, 1, 15, 22, tzinfo=UTC)
DISPOSED = datetime(2024, 1, 6, 3, 40, tzinfo=UTC)
DONE = datetime(2024, 1, 7, 9, 2, 10, tzinfo=UTC)


def report(**changes: Any) -> dict[str, Any]:
    """The example report with some fields changed (a value of ``...`` removes the key)."""
    obj = copy.deepcopy(EXAMPLE)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def write(path: Path, data: bytes, *, bom: bool = False) -> Path:
    """Write ``data`` to ``path`` (gzip-compressed when the name ends in .gz)."""
    data = BOM + data if bom else data
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def jsonl(items: list[Any]) -> bytes:
    """JSON Lines: objects are serialised, strings are written as they are."""
    lines = [item if isinstance(item, str) else json.dumps(item) for item in items]
    return ("\n".join(lines) + "\n").encode()


def read(path: Path, expected_rows: int) -> tuple[JakiFiles, list[tuple[RawRow, Any]]]:
    """All pairs of one file, after checking the count invariant."""
    adapter = JakiFiles([path])
    pairs = list(adapter.rows())
    assert len(pairs) == expected_rows, "one result per data row"
    for raw, result in pairs:
        assert isinstance(raw, RawRow)
        assert isinstance(result, Report | Rejection)
        assert raw.file == path.name
    return adapter, pairs


def one(tmp_path: Path, obj: Any) -> tuple[JakiFiles, Report | Rejection]:
    """The result of a JSON Lines file holding one report."""
    adapter, pairs = read(write(tmp_path / "one.jsonl", jsonl([obj])), 1)
    return adapter, pairs[0][1]


def parsed(tmp_path: Path, obj: Any) -> Report:
    result = one(tmp_path, obj)[1]
    assert isinstance(result, Report), result
    return result


def rejected(tmp_path: Path, obj: Any) -> Rejection:
    result = one(tmp_path, obj)[1]
    assert isinstance(result, Rejection), result
    return result


# -- file layouts -----------------------------------------------------------------------------
def test_example_report_is_read_field_by_field(tmp_path: Path) -> None:
    r = parsed(tmp_path, EXAMPLE)
    assert r.source == "jaki"
    assert r.source_id == "4812345"
    assert r.ticket_code == "JK240106017"
    assert (r.category, r.source_category) == ("jalan", "Jalan")
    assert (r.status, r.source_status) == ("completed", "Selesai")
    assert r.created_at == CREATED
    assert r.coordinated_at == DISPOSED
    assert r.completed_at == DONE
    assert r.updated_at == DONE
    assert r.agency == "Suku Dinas Bina Marga Kota Administrasi Jakarta Selatan"
    assert (r.lng, r.lat) == (106.8532, -6.2261)
    assert r.photo_url == "https://example.invalid/photo/1.jpg"
    assert r.photo_done_url is None
    assert r.text_redacted == EXAMPLE["content"]


def test_json_lines_one_result_per_line(tmp_path: Path) -> None:
    items = [report(id=i) for i in range(1, 6)]
    path = write(tmp_path / "feed.jsonl", jsonl(items))
    _, pairs = read(path, 5)
    assert [p[1].source_id for p in pairs] == ["1", "2", "3", "4", "5"]
    assert [p[0].line_no for p in pairs] == [1, 2, 3, 4, 5]
    assert json.loads(pairs[2][0].text) == items[2], "the raw text is the line as read"


def test_blank_lines_and_crlf_are_not_rows(tmp_path: Path) -> None:
    lines = [json.dumps(report(id=1)), "", "   ", json.dumps(report(id=2)), ""]
    path = write(tmp_path / "feed.jsonl", "\r\n".join(lines).encode())
    _, pairs = read(path, 2)
    assert [p[1].source_id for p in pairs] == ["1", "2"]
    assert [p[0].line_no for p in pairs] == [1, 4]


def test_api_page(tmp_path: Path) -> None:
    page = {"data": [report(id=10), report(id=11), report(id=12)], "meta": {"page": 1}}
    path = write(tmp_path / "page.json", json.dumps(page, indent=2).encode())
    _, pairs = read(path, 3)
    assert [p[1].source_id for p in pairs] == ["10", "11", "12"]
    assert [p[0].line_no for p in pairs] == [1, 2, 3], "line_no is the position in data"
    assert json.loads(pairs[1][0].text)["id"] == 11


def test_empty_api_page_has_no_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "page.json", b'{"data": [], "meta": {}}')
    read(path, 0)


def test_plain_json_array(tmp_path: Path) -> None:
    path = write(tmp_path / "array.json", json.dumps([report(id=7), report(id=8)]).encode())
    _, pairs = read(path, 2)
    assert [p[1].source_id for p in pairs] == ["7", "8"]


def test_array_items_that_are_not_reports_are_rejected_one_by_one(tmp_path: Path) -> None:
    path = write(tmp_path / "array.json", json.dumps([report(id=7), 42, "x", None]).encode())
    _, pairs = read(path, 4)
    assert isinstance(pairs[0][1], Report)
    assert [p[1].reason for p in pairs[1:]] == ["not_an_object"] * 3


def test_json_lines_in_a_json_file_are_read_line_by_line(tmp_path: Path) -> None:
    path = write(tmp_path / "lines.json", jsonl([report(id=1), report(id=2), report(id=3)]))
    _, pairs = read(path, 3)
    assert all(isinstance(p[1], Report) for p in pairs)


@pytest.mark.parametrize("name", ["feed.jsonl.gz", "page.json.gz", "FEED.JSONL.GZ"])
def test_gzip(tmp_path: Path, name: str) -> None:
    items = [report(id=1), report(id=2)]
    data = jsonl(items) if "jsonl" in name.lower() else json.dumps({"data": items}).encode()
    _, pairs = read(write(tmp_path / name, data), 2)
    assert [p[1].source_id for p in pairs] == ["1", "2"]


@pytest.mark.parametrize("name", ["feed.jsonl", "page.json", "feed.jsonl.gz"])
def test_byte_order_mark_is_removed_and_counted(tmp_path: Path, name: str) -> None:
    items = [report(id=1), report(id=2)]
    data = json.dumps({"data": items}).encode() if name == "page.json" else jsonl(items)
    adapter, pairs = read(write(tmp_path / name, data, bom=True), 2)
    assert all(isinstance(p[1], Report) for p in pairs), "the first row survives the BOM"
    assert adapter.tally.repaired["byte_order_mark"] == 1


def test_folder_is_searched_recursively_for_jaki_suffixes(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    write(tmp_path / "a" / "b" / "one.jsonl", jsonl([report(id=1)]))
    write(tmp_path / "a" / "two.json.gz", json.dumps([report(id=2)]).encode())
    write(tmp_path / "three.JSON", json.dumps([report(id=3)]).encode())
    write(tmp_path / "qlue.csv", b"report_id\nQL-1\n")
    write(tmp_path / "notes.txt", b"{}")
    adapter = JakiFiles([tmp_path])
    assert sorted(p.name for p in adapter.files) == ["one.jsonl", "three.JSON", "two.json.gz"]
    assert sorted(r.source_id for _, r in adapter.rows()) == ["1", "2", "3"]


# -- coordinates ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        (-6.2261, 106.8532),
        ("-6.2261", "106.8532"),
        (" -6.2261 ", " 106.8532"),
        ("-6.2261000", "106.8532000"),
    ],
)
def test_coordinates_as_numbers_or_numeric_strings(
    tmp_path: Path, lat: object, lng: object
) -> None:
    adapter, result = one(tmp_path, report(lat=lat, lng=lng))
    assert isinstance(result, Report)
    assert (result.lng, result.lat) == pytest.approx((106.8532, -6.2261))
    assert not adapter.tally.repaired


@pytest.mark.parametrize(
    ("lat", "lng", "reason"),
    [
        (None, None, "missing_coordinates"),
        ("", "", "missing_coordinates"),
        ("  ", "106.85", "missing_coordinates"),
        (-6.2261, None, "missing_coordinates"),
        (..., ..., "missing_coordinates"),
        (0, 0, "zero_coordinates"),
        ("0", "0.0", "zero_coordinates"),
        (0, 106.8532, "zero_coordinates"),
        (-6.2261, 0, "zero_coordinates"),
        ("abc", "106.8", "invalid_coordinates"),
        (True, 106.8, "invalid_coordinates"),
        ({"v": 1}, 106.8, "invalid_coordinates"),
        ("NaN", "106.8", "invalid_coordinates"),
        ("-6.2", "inf", "invalid_coordinates"),
        (-6.2, 999, "invalid_coordinates"),
    ],
)
def test_unusable_coordinates_are_rejected(
    tmp_path: Path, lat: object, lng: object, reason: str
) -> None:
    assert rejected(tmp_path, report(lat=lat, lng=lng)).reason == reason


def test_swapped_coordinates_in_jakarta_are_repaired_and_counted(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, report(lat=106.8532, lng=-6.2261))
    assert isinstance(result, Report)
    assert (result.lng, result.lat) == (106.8532, -6.2261)
    assert adapter.tally.repaired["swapped_coordinates"] == 1


def test_swapped_strings_in_kepulauan_seribu_are_repaired(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, report(lat="106.5731", lng="-5.7420"))
    assert isinstance(result, Report)
    assert (result.lng, result.lat) == (106.5731, -5.742)
    assert adapter.tally.repaired["swapped_coordinates"] == 1


def test_swapped_point_outside_jakarta_is_not_repaired(tmp_path: Path) -> None:
    # Semarang (-6.99, 110.42) written swapped: swapping back leaves Jakarta, so no repair.
    adapter, result = one(tmp_path, report(lat=110.42, lng=-6.99))
    assert isinstance(result, Rejection)
    assert result.reason == "invalid_coordinates"
    assert adapter.tally.repaired["swapped_coordinates"] == 0


def test_point_outside_jakarta_is_kept_unchanged(tmp_path: Path) -> None:
    # Bandung: a valid point, not Jakarta's business to move; PostGIS flags it as outside.
    adapter, result = one(tmp_path, report(lat=-6.9175, lng=107.6191))
    assert isinstance(result, Report)
    assert (result.lng, result.lat) == (107.6191, -6.9175)
    assert not adapter.tally.repaired


# -- timestamps -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "created",
    [
        "2024-01-06T01:15:22.000Z",
        "2024-01-06T01:15:22Z",
        "2024-01-06T08:15:22.000+07:00",
        "2024-01-06T08:15:22+07:00",
        "2024-01-06T08:15:22",
        "2024-01-06T08:15:22.000",
        "2024-01-06 08:15:22",
        "2024-01-06T03:15:22+02:00",
    ],
)
def test_timestamps_give_the_same_utc_instant(tmp_path: Path, created: str) -> None:
    histories = [{"status": "Menunggu", "createdAt": created}]
    r = parsed(
        tmp_path,
        report(
            createdAt=created, updatedAt=created, tstatus={"name": "Menunggu"}, histories=histories
        ),
    )
    assert r.created_at == CREATED
    assert r.created_at.utcoffset() is not None, "times are aware"
    assert r.updated_at == CREATED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 3339 allows a lower-case "t" and "z"
        ("2024-01-06t01:15:22z", datetime(2024, 1, 6, 1, 15, 22, tzinfo=UTC)),
        # beyond the microsecond, the fraction is rounded (half up on the seventh digit)...
        ("2024-01-06T01:15:22.1234565Z", datetime(2024, 1, 6, 1, 15, 22, 123457, tzinfo=UTC)),
        ("2024-01-06T01:15:22.12345649Z", datetime(2024, 1, 6, 1, 15, 22, 123456, tzinfo=UTC)),
        # ... up into the next year if it must
        ("2024-12-31T23:59:59.9999995Z", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2024-01-06T08:15:22+0700", datetime(2024, 1, 6, 1, 15, 22, tzinfo=UTC)),
        # ISO 8601 forms outside RFC 3339, read by Python
        ("2024-01-06T08:15+07:00", datetime(2024, 1, 6, 1, 15, tzinfo=UTC)),
        ("2024-01-06T08:15:22+07", datetime(2024, 1, 6, 1, 15, 22, tzinfo=UTC)),
        ("2024-01-06T01:15:22,5Z", datetime(2024, 1, 6, 1, 15, 22, 500000, tzinfo=UTC)),
        (" 2024-01-06 08:15:22 ", datetime(2024, 1, 6, 1, 15, 22, tzinfo=UTC)),
    ],
)
def test_timestamp_forms_and_their_instant(text: str, expected: datetime) -> None:
    moment = parse_time(text, "createdAt")
    assert moment == expected
    assert moment.utcoffset() is not None


@pytest.mark.parametrize(
    "text", ["2024-01-06", "2024-01-06T", "06-01-2024 08:15:22", "2024-01-06T24:00:01Z", "x" * 20]
)
def test_a_date_alone_or_a_non_time_is_refused(text: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_time(text, "createdAt")
    assert caught.value.reason == "invalid_timestamp"


def test_the_fast_reader_and_the_rules_read_the_same_instant() -> None:
    """``read_time`` (the rules) reads what msgspec (the fast paths) reads, exactly."""
    decode = msgspec.json.Decoder(datetime).decode
    for text in [
        "2024-01-06T01:15:22.000Z",
        "2024-01-06 08:15:22",
        "2024-01-06t08:15:22.9999999",
        "2024-01-06T08:15:22.000000000001-00:00",
        "2024-01-06T08:15:22+23:59",
    ]:
        fast = decode(orjson.dumps(text))
        fast = fast if fast.tzinfo else fast.replace(tzinfo=WIB)
        assert read_time(text) == fast


def test_zone_less_history_times_are_wib(tmp_path: Path) -> None:
    histories = [
        {"status": "Menunggu", "createdAt": "2024-01-06T08:15:22"},
        {"status": "Disposisi", "createdAt": "2024-01-06T10:40:00"},
        {"status": "Selesai", "createdAt": "2024-01-07 16:02:10"},
    ]
    r = parsed(tmp_path, report(histories=histories))
    assert r.coordinated_at == DISPOSED
    assert r.completed_at == DONE


@pytest.mark.parametrize(
    ("created", "reason"),
    [
        (None, "missing_timestamp"),
        ("", "missing_timestamp"),
        (..., "missing_timestamp"),
        ("kemarin", "invalid_timestamp"),
        ("2024-13-45T00:00:00Z", "invalid_timestamp"),
        ("1899-01-01T00:00:00Z", "invalid_timestamp"),
        (1704500000, "invalid_timestamp"),
    ],
)
def test_unusable_creation_time_is_rejected(tmp_path: Path, created: object, reason: str) -> None:
    assert rejected(tmp_path, report(createdAt=created)).reason == reason


def test_missing_updated_at_is_the_last_known_event(tmp_path: Path) -> None:
    assert parsed(tmp_path, report(updatedAt=...)).updated_at == DONE


# -- statuses ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("Menunggu", "received"),
        ("MENUNGGU", "received"),
        ("Disposisi", "coordinated"),
        ("  disposisi ", "coordinated"),
        ("Proses Koordinasi", "in_progress"),
        ("PROSES  KOORDINASI", "in_progress"),
        ("proses\tkoordinasi", "in_progress"),
        ("Estimasi Waktu Selesai", "in_progress"),
        ("estimasi   waktu selesai", "in_progress"),
        ("Selesai", "completed"),
        ("  SELESAI ", "completed"),
    ],
)
def test_status_names_in_varying_case_and_spacing(tmp_path: Path, name: str, status: str) -> None:
    r = parsed(tmp_path, report(tstatus={"name": name}))
    assert r.status == status
    assert r.source_status == name.strip(), "the source's own spelling is kept (trimmed)"
    assert (r.completed_at is not None) == (status == "completed")


def test_status_as_plain_string_is_accepted(tmp_path: Path) -> None:
    assert parsed(tmp_path, report(tstatus="Disposisi")).status == "coordinated"


@pytest.mark.parametrize(
    "tstatus", [{"name": "Dibatalkan"}, {"name": "Ditolak"}, {"name": ""}, {}, None, ..., 3]
)
def test_unknown_status_is_rejected_not_guessed(tmp_path: Path, tstatus: object) -> None:
    assert rejected(tmp_path, report(tstatus=tstatus)).reason == "unknown_status"


# -- histories --------------------------------------------------------------------------------
def test_missing_histories_give_no_coordination_time(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, report(histories=...))
    assert isinstance(result, Report)
    assert result.coordinated_at is None, "not invented"
    assert result.completed_at == DONE, "Selesai without a history: completed at updatedAt"
    assert adapter.tally.notes["missing_histories"] == 1
    assert adapter.tally.notes["completion_from_updated_at"] == 1


def test_unordered_histories_are_sorted_and_counted(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, report(histories=EXAMPLE["histories"][::-1]))
    assert isinstance(result, Report)
    assert result.coordinated_at == DISPOSED, "the first move out of Menunggu, by time"
    assert result.completed_at == DONE
    assert adapter.tally.repaired["histories_reordered"] == 1


def test_ordered_histories_are_not_counted_as_repaired(tmp_path: Path) -> None:
    adapter, _ = one(tmp_path, EXAMPLE)
    assert adapter.tally.repaired["histories_reordered"] == 0


def test_coordination_is_the_first_move_out_of_menunggu(tmp_path: Path) -> None:
    histories = [
        {"status": "Menunggu", "createdAt": "2024-01-06T01:15:22Z"},
        {"status": "Proses Koordinasi", "createdAt": "2024-01-06T04:00:00Z"},
        {"status": "Disposisi", "createdAt": "2024-01-06T06:00:00Z"},
        {"status": "Selesai", "createdAt": "2024-01-07T09:02:10Z"},
    ]
    r = parsed(tmp_path, report(histories=histories))
    assert r.coordinated_at == datetime(2024, 1, 6, 4, tzinfo=UTC)


def test_completion_is_the_first_selesai(tmp_path: Path) -> None:
    histories = [
        {"status": "Menunggu", "createdAt": "2024-01-06T01:15:22Z"},
        {"status": "Selesai", "createdAt": "2024-01-07T09:02:10Z"},
        {"status": "Proses Koordinasi", "createdAt": "2024-01-08T00:00:00Z"},
        {"status": "SELESAI", "createdAt": "2024-01-09T00:00:00Z"},
    ]
    r = parsed(tmp_path, report(histories=histories, updatedAt="2024-01-09T00:00:00Z"))
    assert r.completed_at == DONE
    assert r.coordinated_at == DONE, "Selesai is also the first move out of Menunggu"


def test_only_menunggu_in_history_means_not_coordinated(tmp_path: Path) -> None:
    histories = [{"status": "Menunggu", "createdAt": "2024-01-06T01:15:22Z"}]
    r = parsed(tmp_path, report(tstatus={"name": "Menunggu"}, histories=histories))
    assert (r.status, r.coordinated_at, r.completed_at) == ("received", None, None)


def test_open_report_has_no_completion_time(tmp_path: Path) -> None:
    r = parsed(tmp_path, report(tstatus={"name": "Proses Koordinasi"}))
    assert r.completed_at is None
    assert r.coordinated_at == DISPOSED


@pytest.mark.parametrize("histories", ["Menunggu", 5, {"status": "Menunggu"}, [1, 2]])
def test_histories_of_the_wrong_shape_are_rejected(tmp_path: Path, histories: object) -> None:
    assert rejected(tmp_path, report(histories=histories)).reason == "invalid_histories"


def test_completion_before_creation_is_rejected(tmp_path: Path) -> None:
    histories = [
        {"status": "Menunggu", "createdAt": "2024-01-06T01:15:22Z"},
        {"status": "Selesai", "createdAt": "2024-01-05T20:15:22Z"},
    ]
    rejection = rejected(tmp_path, report(histories=histories, updatedAt="2024-01-06T01:15:22Z"))
    assert rejection.reason == "completed_before_created"
    assert "2024-01-05" in rejection.detail


def test_update_before_creation_is_rejected(tmp_path: Path) -> None:
    obj = report(tstatus={"name": "Menunggu"}, histories=..., updatedAt="2024-01-01T00:00:00Z")
    assert rejected(tmp_path, obj).reason == "updated_before_created"


def test_accepted_report_never_completes_before_it_was_created(tmp_path: Path) -> None:
    histories = [
        {"status": "Menunggu", "createdAt": "2024-01-06T01:15:22Z"},
        {"status": "Selesai", "createdAt": "2024-01-06T01:14:52Z"},  # 30 s earlier
    ]
    result = one(tmp_path, report(histories=histories, updatedAt="2024-01-06T01:15:22Z"))[1]
    if isinstance(result, Report):
        assert result.completed_at is not None
        assert result.completed_at >= result.created_at


# -- categories, text, ids --------------------------------------------------------------------
def test_unknown_category_is_kept_as_unmapped(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, report(complaintCategory={"name": "Kategori Baru (Uji Coba)"}))
    assert isinstance(result, Report)
    assert result.category == "unmapped"
    assert result.source_category == "Kategori Baru (Uji Coba)"
    assert adapter.tally.notes["unmapped_category"] == 1


@pytest.mark.parametrize("category", [None, ..., {"name": None}, {}])
def test_missing_category_is_unmapped(tmp_path: Path, category: object) -> None:
    r = parsed(tmp_path, report(complaintCategory=category))
    assert (r.category, r.source_category) == ("unmapped", None)


@pytest.mark.parametrize("label", ["JALAN", " jalan ", "Jalan"])
def test_category_case_and_spacing_do_not_matter(tmp_path: Path, label: str) -> None:
    r = parsed(tmp_path, report(complaintCategory={"name": label}))
    assert r.category == "jalan"


def test_personal_data_in_content_is_redacted(tmp_path: Path) -> None:
    content = (
        "Mobil B 1234 XYZ parkir di trotoar. Hubungi 0812-3456-7890 atau budi.s@gmail.com, "
        "NIK 3171012345670001"
    )
    adapter, result = one(tmp_path, report(content=content))
    assert isinstance(result, Report)
    text = result.text_redacted or ""
    for datum in ("1234", "0812", "budi.s@gmail.com", "3171012345670001"):
        assert datum not in text
    for token in ("[PLAT]", "[TELEPON]", "[EMAIL]", "[NIK]"):
        assert token in text
    assert dict(adapter.tally.redacted) == {"plate": 1, "phone": 1, "email": 1, "nik": 1}


def test_missing_content_is_none(tmp_path: Path) -> None:
    assert parsed(tmp_path, report(content=...)).text_redacted is None


@pytest.mark.parametrize("value", [None, "", ...])
def test_missing_id_is_rejected(tmp_path: Path, value: object) -> None:
    assert rejected(tmp_path, report(id=value)).reason == "missing_id"


@pytest.mark.parametrize("value", ["abc", 4812345.0, True, [1], {"id": 1}, "12a"])
def test_invalid_id_is_rejected(tmp_path: Path, value: object) -> None:
    assert rejected(tmp_path, report(id=value)).reason == "invalid_id"


def test_id_as_digit_string_is_the_same_key(tmp_path: Path) -> None:
    assert parsed(tmp_path, report(id=" 4812345 ")).source_id == "4812345"


def test_malformed_line_is_rejected_with_its_raw_text(tmp_path: Path) -> None:
    good = json.dumps(report(id=1))
    truncated = json.dumps(report(id=2))[:60]
    path = write(tmp_path / "feed.jsonl", jsonl([good, truncated, "not json at all", good]))
    _, pairs = read(path, 4)
    reasons = [p[1].reason if isinstance(p[1], Rejection) else "ok" for p in pairs]
    assert reasons == ["ok", "malformed_json", "malformed_json", "ok"]
    assert pairs[1][0].text == truncated
    assert pairs[1][0].line_no == 2
    assert pairs[2][0].text == "not json at all"


def test_invalid_utf8_line_is_rejected_and_kept_readable(tmp_path: Path) -> None:
    data = json.dumps(report(id=1)).encode() + b"\n" + b'{"id": 2, "content": "\xff\xfe"}\n'
    _, pairs = read(write(tmp_path / "feed.jsonl", data), 2)
    assert isinstance(pairs[0][1], Report)
    assert isinstance(pairs[1][1], Rejection)
    assert pairs[1][1].reason == "malformed_json"
    assert "\ufffd" in pairs[1][0].text, "undecodable bytes are replaced in the raw text"


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "42", "null", "true"])
def test_line_that_is_not_an_object_is_rejected(tmp_path: Path, line: str) -> None:
    assert rejected(tmp_path, line).reason == "not_an_object"


def test_mixed_file_keeps_the_count_invariant(tmp_path: Path) -> None:
    items: list[Any] = [
        report(id=1),
        report(id=2, lat=None, lng=None),
        report(id=3, lat=106.8532, lng=-6.2261),
        '{"id": 4, "lat": -6.2',
        report(id=None),
        report(id=6, tstatus={"name": "Dibatalkan"}),
        report(id=7, complaintCategory={"name": "Tidak Ada"}),
        report(id=8, histories=EXAMPLE["histories"][::-1]),
        report(id=9, createdAt="2024-01-06T08:15:22+07:00"),
        report(id=10, lat=0, lng=0),
    ]
    _, pairs = read(write(tmp_path / "mixed.jsonl", jsonl(items)), len(items))
    reports = [r for _, r in pairs if isinstance(r, Report)]
    rejections = [r for _, r in pairs if isinstance(r, Rejection)]
    assert [r.source_id for r in reports] == ["1", "3", "7", "8", "9"]
    assert sorted(r.reason for r in rejections) == sorted(
        ["missing_coordinates", "malformed_json", "missing_id", "unknown_status",
         "zero_coordinates"]
    )  # fmt: skip


def test_deeply_nested_item_of_a_document_is_rejected_not_a_crash(tmp_path: Path) -> None:
    deep = "[" * 300 + "]" * 300
    nested = json.dumps(report(id=2))[:-1] + ', "junk": ' + deep + "}"
    data = '{"data": [' + json.dumps(report(id=1)) + ", " + nested + "]}"
    _, pairs = read(write(tmp_path / "page.json", data.encode()), 2)
    assert isinstance(pairs[0][1], Report)
    assert isinstance(pairs[1][1], Rejection)


def test_deeply_nested_json_line_is_a_row(tmp_path: Path) -> None:
    # In JSON Lines the raw text is the line itself, so depth does not matter there.
    line = json.dumps(report(id=2))[:-1] + ', "junk": ' + "[" * 300 + "]" * 300 + "}"
    _, pairs = read(write(tmp_path / "feed.jsonl", jsonl([report(id=1), line])), 2)
    assert isinstance(pairs[1][1], Report)


@pytest.mark.parametrize("status", [["Selesai"], {"name": "Selesai"}])
def test_history_status_of_the_wrong_type_is_not_a_crash(tmp_path: Path, status: object) -> None:
    histories = [*EXAMPLE["histories"][:1], {"status": status, "createdAt": "2024-01-06T05:00Z"}]
    items = [report(id=1, histories=histories), report(id=2)]
    _, pairs = read(write(tmp_path / "feed.jsonl", jsonl(items)), 2)
    assert isinstance(pairs[1][1], Report)


def test_a_lone_surrogate_in_a_timestamp_is_a_rejection_not_a_crash() -> None:
    """orjson refuses such text, but a future adapter might hand it over."""
    with pytest.raises(Rejected) as caught:
        parse_time("2024-01-06T01:15:22\ud800", "createdAt")
    assert caught.value.reason == "invalid_timestamp"
    assert read_time("\ud800" * 20) is None
