"""The Qlue adapter against every variant of ``../shared/FEEDS.md``, on small hand-written CSVs.

Every file read here is also checked for the count invariant: one ``(raw, result)`` pair per
data row (not per physical line: quoted fields may hold newlines), each a :class:`Report` or a
:class:`Rejection`.
"""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.sources.base import RawRow, Rejection, Report
from pipelines.sources.qlue import QlueFiles

HEADER = [
    "report_id", "title", "description", "category", "latitude", "longitude", "address",
    "kelurahan", "kecamatan", "status", "created_at", "updated_at", "completed_at", "photo_url",
    "photo_done_url", "upvotes",
]  # fmt: skip
GOOD: dict[str, str] = {
    "report_id": "QL-2024-0001234",
    "title": "Sampah menumpuk",
    "description": "Sampah menumpuk di pinggir kali, bau sekali",
    "category": "Sampah",
    "latitude": "-6.2261",
    "longitude": "106.8532",
    "address": "Jl. Tebet Raya, Tebet Barat, Tebet, Jakarta",
    "kelurahan": "TEBET BARAT",
    "kecamatan": "TEBET",
    "status": "wait",
    "created_at": "2024-01-06 08:15:22",
    "updated_at": "2024-01-06 08:15:22",
    "completed_at": "",
    "photo_url": "https://example.invalid/qlue/QL-2024-0001234.jpg",
    "photo_done_url": "",
    "upvotes": "3",
}
CREATED = datetime(2024, 1, 6, 1, 15, 22, tzinfo=UTC)  # 08:15:22 WIB
PROCESS = {"status": "process", "updated_at": "2024-01-06 10:40:00"}
PROCESSED = datetime(2024, 1, 6, 3, 40, tzinfo=UTC)
COMPLETE = {
    "status": "complete",
    "updated_at": "2024-01-07 16:02:10",
    "completed_at": "2024-01-07 16:02:10",
    "photo_done_url": "https://example.invalid/qlue/done.jpg",
}
DONE = datetime(2024, 1, 7, 9, 2, 10, tzinfo=UTC)


def row(**changes: str) -> list[str]:
    """The fields of a valid row, in header order, with some changed."""
    fields = {**GOOD, **changes}
    return [fields[name] for name in HEADER]


def csv_text(rows: list[list[str]], header: list[str] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER if header is None else header)
    writer.writerows(rows)
    return buffer.getvalue()


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    data = (("\ufeff" if bom else "") + text).encode()
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def read(path: Path, expected_rows: int) -> tuple[QlueFiles, list[tuple[RawRow, Any]]]:
    """All pairs of one file, after checking the count invariant."""
    adapter = QlueFiles([path])
    pairs = list(adapter.rows())
    assert len(pairs) == expected_rows, "one result per data row"
    for raw, result in pairs:
        assert isinstance(raw, RawRow)
        assert isinstance(result, Report | Rejection)
        assert raw.file == path.name
    return adapter, pairs


def one(tmp_path: Path, fields: list[str]) -> tuple[QlueFiles, Report | Rejection]:
    adapter, pairs = read(write(tmp_path / "one.csv", csv_text([fields])), 1)
    return adapter, pairs[0][1]


def parsed(tmp_path: Path, fields: list[str]) -> Report:
    result = one(tmp_path, fields)[1]
    assert isinstance(result, Report), result
    return result


def rejected(tmp_path: Path, fields: list[str]) -> Rejection:
    result = one(tmp_path, fields)[1]
    assert isinstance(result, Rejection), result
    return result


# -- layouts ----------------------------------------------------------------------------------
def test_good_row_is_read_field_by_field(tmp_path: Path) -> None:
    r = parsed(tmp_path, row())
    assert (r.source, r.source_id, r.ticket_code) == ("qlue", "QL-2024-0001234", None)
    assert (r.category, r.source_category) == ("sampah", "Sampah")
    assert (r.status, r.source_status) == ("received", "wait")
    assert r.created_at == CREATED
    assert r.updated_at == CREATED
    assert (r.coordinated_at, r.completed_at) == (None, None)
    assert (r.lng, r.lat) == (106.8532, -6.2261)
    assert r.agency is None
    assert r.photo_url == GOOD["photo_url"]
    assert r.photo_done_url is None
    assert r.text_redacted == "\n".join([GOOD["title"], GOOD["description"], GOOD["address"]])


def test_rows_in_order_with_line_numbers(tmp_path: Path) -> None:
    rows = [row(report_id=f"QL-2024-000000{i}") for i in range(1, 5)]
    _, pairs = read(write(tmp_path / "feed.csv", csv_text(rows)), 4)
    assert [p[1].source_id for p in pairs] == [f"QL-2024-000000{i}" for i in range(1, 5)]
    assert [p[0].line_no for p in pairs] == [2, 3, 4, 5]


def test_byte_order_mark_is_removed_and_counted(tmp_path: Path) -> None:
    adapter, pairs = read(write(tmp_path / "feed.csv", csv_text([row()]), bom=True), 1)
    assert isinstance(pairs[0][1], Report), "the header is recognised despite the BOM"
    assert adapter.tally.repaired["byte_order_mark"] == 1


def test_no_bom_is_not_counted(tmp_path: Path) -> None:
    adapter, _ = read(write(tmp_path / "feed.csv", csv_text([row()])), 1)
    assert adapter.tally.repaired["byte_order_mark"] == 0


def test_quoted_fields_with_commas_and_newlines(tmp_path: Path) -> None:
    description = 'Sampah, plastik dan "kasur" bekas,\nsudah dua minggu.\r\nMohon segera!'
    rows = [
        row(report_id="QL-2024-0000001", description=description),
        row(report_id="QL-2024-0000002", address="Jl. A, RT 3/RW 4,\nTebet"),
    ]
    text = csv_text(rows)
    assert text.count("\n") > 3, "the data rows span several physical lines"
    _, pairs = read(write(tmp_path / "feed.csv", text), 2)
    first, second = pairs[0][1], pairs[1][1]
    assert isinstance(first, Report) and isinstance(second, Report)
    assert description in (first.text_redacted or "")
    assert "Jl. A, RT 3/RW 4,\nTebet" in (second.text_redacted or "")


def test_crlf_line_endings(tmp_path: Path) -> None:
    text = csv_text([row(report_id="QL-1"), row(report_id="QL-2")]).replace("\n", "\r\n")
    _, pairs = read(write(tmp_path / "feed.csv", text), 2)
    assert [p[1].source_id for p in pairs] == ["QL-1", "QL-2"]
    assert pairs[1][1].created_at == CREATED, "CRLF rows read like LF rows"


def test_blank_lines_are_not_rows(tmp_path: Path) -> None:
    first, second = csv_text([row(report_id="QL-1"), row(report_id="QL-2")]).splitlines()[1:]
    text = ",".join(HEADER) + "\n" + first + "\n\n   \n" + second + "\n\n"
    _, pairs = read(write(tmp_path / "feed.csv", text), 2)
    assert [p[1].source_id for p in pairs] == ["QL-1", "QL-2"]


@pytest.mark.parametrize("name", ["feed.csv.gz", "FEED.CSV.GZ"])
def test_gzip(tmp_path: Path, name: str) -> None:
    rows = [row(report_id="QL-1"), row(report_id="QL-2", description="a,\nb")]
    _, pairs = read(write(tmp_path / name, csv_text(rows), bom=True), 2)
    assert [p[1].source_id for p in pairs] == ["QL-1", "QL-2"]


def test_header_only_and_empty_files_have_no_rows(tmp_path: Path) -> None:
    read(write(tmp_path / "header.csv", csv_text([])), 0)
    read(write(tmp_path / "empty.csv", ""), 0)


def test_header_in_other_order_and_case_is_read_by_name(tmp_path: Path) -> None:
    header = [h.upper() for h in reversed(HEADER)]
    rows = [list(reversed(row(category="Banjir")))]
    _, pairs = read(write(tmp_path / "feed.csv", csv_text(rows, header)), 1)
    assert isinstance(pairs[0][1], Report)
    assert pairs[0][1].category == "banjir"


def test_wrong_header_rejects_every_row_as_unknown_layout(tmp_path: Path) -> None:
    header = ["id", "judul", "lat", "lon", "status", "waktu"]
    rows = [["QL-1", "x", "-6.2", "106.8", "wait", "2024-01-06 08:00:00"]] * 3
    rows.append(["QL-4", "short"])
    _, pairs = read(write(tmp_path / "other.csv", csv_text(rows, header)), 4)
    assert [p[1].reason for p in pairs] == ["unknown_layout"] * 4
    assert "report_id" in pairs[0][1].detail
    assert pairs[0][0].text.startswith("QL-1,x,"), "the raw row is kept"


def test_row_with_the_wrong_field_count_is_malformed(tmp_path: Path) -> None:
    rows = [row(report_id="QL-1"), row(report_id="QL-2")[:-3], [*row(report_id="QL-3"), "x"]]
    rows.append(row(report_id="QL-4"))
    _, pairs = read(write(tmp_path / "feed.csv", csv_text(rows)), 4)
    reasons = [p[1].reason if isinstance(p[1], Rejection) else "ok" for p in pairs]
    assert reasons == ["ok", "malformed_row", "malformed_row", "ok"]
    assert pairs[1][0].text.startswith("QL-2,"), "the raw row is kept"
    assert pairs[1][0].line_no == 3


def test_unterminated_quote_at_the_end_is_one_row(tmp_path: Path) -> None:
    text = csv_text([row(report_id="QL-1")]) + 'QL-2,"Judul tanpa tutup kutip\nbaris lagi\n'
    _, pairs = read(write(tmp_path / "feed.csv", text), 2)
    assert isinstance(pairs[0][1], Report)
    assert isinstance(pairs[1][1], Rejection)
    assert pairs[1][1].reason == "malformed_row"


def test_oversized_field_is_rejected_not_a_crash(tmp_path: Path) -> None:
    rows = [row(report_id="QL-1"), row(report_id="QL-2", description="x" * 200_000)]
    rows.append(row(report_id="QL-3"))
    _, pairs = read(write(tmp_path / "feed.csv", csv_text(rows)), 3)
    assert isinstance(pairs[0][1], Report)
    assert isinstance(pairs[2][1], Report)


# -- coordinates ---------------------------------------------------------------------------------
def test_comma_decimals_are_repaired_and_counted(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, row(latitude="-6,2261", longitude="106,8532"))
    assert isinstance(result, Report)
    assert (result.lng, result.lat) == (106.8532, -6.2261)
    assert adapter.tally.repaired["comma_decimal"] >= 1


def test_comma_decimal_and_swap_together(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, row(latitude="106,8532", longitude="-6,2261"))
    assert isinstance(result, Report)
    assert (result.lng, result.lat) == (106.8532, -6.2261)
    assert adapter.tally.repaired["swapped_coordinates"] == 1


def test_swapped_coordinates_are_repaired(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, row(latitude="106.8532", longitude="-6.2261"))
    assert isinstance(result, Report)
    assert (result.lng, result.lat) == (106.8532, -6.2261)
    assert adapter.tally.repaired["swapped_coordinates"] == 1


@pytest.mark.parametrize(
    ("lat", "lng", "reason"),
    [
        ("", "", "missing_coordinates"),
        ("  ", "106.8532", "missing_coordinates"),
        ("-6.2261", "", "missing_coordinates"),
        ("0", "0", "zero_coordinates"),
        ("0,0", "0,0", "zero_coordinates"),
        ("-6.2261", "0", "zero_coordinates"),
        ("-6.2261.5", "106.8", "invalid_coordinates"),
        ("1.234,5", "106.8", "invalid_coordinates"),
        ("enam", "106.8", "invalid_coordinates"),
        ("-6.2", "nan", "invalid_coordinates"),
    ],
)
def test_unusable_coordinates_are_rejected(tmp_path: Path, lat: str, lng: str, reason: str) -> None:
    assert rejected(tmp_path, row(latitude=lat, longitude=lng)).reason == reason


# -- categories, statuses, times ------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "category"),
    [
        ("Sampah", "sampah"),
        ("SAMPAH", "sampah"),
        ("parkir liar", "parkir_liar"),
        ("  Parkir  LIAR ", "parkir_liar"),
        ("PEDAGANG KAKI LIMA (PKL)", "pkl"),
        ("jalan rusak", "jalan"),
        ("banjir", "banjir"),
    ],
)
def test_categories_in_varying_case_are_mapped(tmp_path: Path, label: str, category: str) -> None:
    r = parsed(tmp_path, row(category=label))
    assert r.category == category
    assert r.source_category == label.strip()


@pytest.mark.parametrize("label", ["Lain-lain", "Kategori Baru", ""])
def test_unknown_category_is_kept_as_unmapped(tmp_path: Path, label: str) -> None:
    adapter, result = one(tmp_path, row(category=label))
    assert isinstance(result, Report)
    assert result.category == "unmapped"
    assert result.source_category == (label or None)
    assert adapter.tally.notes["unmapped_category"] == 1


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"status": "wait"}, "received"),
        ({"status": "WAIT"}, "received"),
        ({**PROCESS}, "in_progress"),
        ({**PROCESS, "status": " Process "}, "in_progress"),
        ({**COMPLETE}, "completed"),
        ({**COMPLETE, "status": "COMPLETE"}, "completed"),
    ],
)
def test_statuses_are_mapped(tmp_path: Path, changes: dict[str, str], status: str) -> None:
    assert parsed(tmp_path, row(**changes)).status == status


@pytest.mark.parametrize("status", ["rejected", "done", "", "menunggu", "selesai"])
def test_unknown_status_is_rejected(tmp_path: Path, status: str) -> None:
    assert rejected(tmp_path, row(status=status)).reason == "unknown_status"


def test_times_are_wib_wall_clock(tmp_path: Path) -> None:
    r = parsed(tmp_path, row(**COMPLETE))
    assert r.created_at == CREATED
    assert r.updated_at == DONE
    assert r.completed_at == DONE
    assert r.created_at.utcoffset() is not None


def test_open_report_has_a_blank_completion_time(tmp_path: Path) -> None:
    r = parsed(tmp_path, row(status="wait", completed_at=""))
    assert r.completed_at is None


def test_completion_time_on_an_open_row_is_dropped(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, row(status="wait", completed_at="2024-01-07 16:02:10"))
    assert isinstance(result, Report)
    assert result.completed_at is None
    assert adapter.tally.notes["completed_at_while_open"] == 1


def test_process_row_gives_coordination_time_from_updated_at(tmp_path: Path) -> None:
    r = parsed(tmp_path, row(**PROCESS))
    assert r.coordinated_at == PROCESSED
    assert r.updated_at == PROCESSED
    assert r.completed_at is None


def test_wait_and_complete_rows_have_no_coordination_time(tmp_path: Path) -> None:
    assert parsed(tmp_path, row(status="wait")).coordinated_at is None
    adapter, result = one(tmp_path, row(**COMPLETE))
    assert isinstance(result, Report)
    assert result.coordinated_at is None, "not invented from the completion"
    assert result.photo_done_url == COMPLETE["photo_done_url"]
    assert adapter.tally.notes["coordination_time_unknown"] == 1


def test_complete_without_completed_at_takes_updated_at(tmp_path: Path) -> None:
    adapter, result = one(tmp_path, row(**{**COMPLETE, "completed_at": ""}))
    assert isinstance(result, Report)
    assert result.completed_at == DONE
    assert adapter.tally.notes["completion_from_updated_at"] == 1


def test_blank_updated_at_is_the_creation_time(tmp_path: Path) -> None:
    assert parsed(tmp_path, row(updated_at="")).updated_at == CREATED


def test_completion_before_creation_is_rejected(tmp_path: Path) -> None:
    changes = {
        **COMPLETE,
        "completed_at": "2024-01-06 03:15:22",
        "updated_at": "2024-01-06 03:15:22",
    }
    assert rejected(tmp_path, row(**changes)).reason == "completed_before_created"


@pytest.mark.parametrize(
    ("created", "reason"),
    [("", "missing_timestamp"), ("06/01/2024 08:15", "invalid_timestamp"),
     ("2024-02-30 00:00:00", "invalid_timestamp")],
)  # fmt: skip
def test_unusable_creation_time_is_rejected(tmp_path: Path, created: str, reason: str) -> None:
    assert rejected(tmp_path, row(created_at=created)).reason == reason


@pytest.mark.parametrize("report_id", ["", "   "])
def test_missing_id_is_rejected(tmp_path: Path, report_id: str) -> None:
    assert rejected(tmp_path, row(report_id=report_id)).reason == "missing_id"


def test_personal_data_is_redacted_in_title_description_and_address(tmp_path: Path) -> None:
    fields = row(
        title="Parkir liar mobil B 1234 XYZ",
        description="WA saya 0812-3456-7890, email siti_r@yahoo.co.id",
        address="NIK 3171012345670001, Jl. Tebet",
    )
    adapter, result = one(tmp_path, fields)
    assert isinstance(result, Report)
    text = result.text_redacted or ""
    for datum in ("B 1234 XYZ", "0812-3456-7890", "siti_r@yahoo.co.id", "3171012345670001"):
        assert datum not in text
    assert dict(adapter.tally.redacted) == {"plate": 1, "phone": 1, "email": 1, "nik": 1}


def test_mixed_file_keeps_the_count_invariant(tmp_path: Path) -> None:
    rows = [
        row(report_id="QL-1"),
        row(report_id="QL-2", latitude="", longitude=""),
        row(report_id="QL-3", latitude="-6,2261", longitude="106,8532"),
        row(report_id="QL-4", status="rejected"),
        row(report_id="", description="tanpa id"),
        row(report_id="QL-6", category="lain-lain"),
        row(report_id="QL-7")[:5],
        row(report_id="QL-8", description="baris\nbaru, dan koma", **PROCESS),
        row(report_id="QL-9", latitude="0", longitude="0"),
    ]
    _, pairs = read(write(tmp_path / "mixed.csv", csv_text(rows), bom=True), len(rows))
    reports = [r.source_id for _, r in pairs if isinstance(r, Report)]
    reasons = sorted(r.reason for _, r in pairs if isinstance(r, Rejection))
    assert reports == ["QL-1", "QL-3", "QL-6", "QL-8"]
    assert reasons == sorted(
        ["missing_coordinates", "unknown_status", "missing_id", "malformed_row",
         "zero_coordinates"]
    )  # fmt: skip


def test_folder_is_searched_recursively_for_qlue_suffixes(tmp_path: Path) -> None:
    (tmp_path / "x" / "y").mkdir(parents=True)
    write(tmp_path / "x" / "y" / "a.csv", csv_text([row(report_id="QL-1")]))
    write(tmp_path / "x" / "b.csv.gz", csv_text([row(report_id="QL-2")]))
    write(tmp_path / "jaki.jsonl", '{"id": 1}\n')
    write(tmp_path / "c.csv.bak", csv_text([row(report_id="QL-3")]))
    adapter = QlueFiles([tmp_path])
    assert sorted(p.name for p in adapter.files) == ["a.csv", "b.csv.gz"]
    assert sorted(r.source_id for _, r in adapter.rows()) == ["QL-1", "QL-2"]


def test_empty_first_line_is_not_a_crash(tmp_path: Path) -> None:
    text = "\n" + csv_text([row(report_id="QL-1"), row(report_id="QL-2")])
    pairs = list(QlueFiles([write(tmp_path / "feed.csv", text)]).rows())
    assert all(isinstance(result, Report | Rejection) for _, result in pairs)
    kept = " ".join(raw.text for raw, _ in pairs)
    assert "QL-1" in kept and "QL-2" in kept, "no data row is dropped"
