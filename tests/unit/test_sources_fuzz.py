"""Property-based fuzzing of both source adapters (hypothesis).

Starting from a valid JAKI object / Qlue row, fields are mutated (wrong types, huge, NaN and
infinite numbers, odd unicode, missing keys, nested junk) and whole lines are replaced by random
bytes, truncated JSON or CSV rows with too many or too few fields. Whatever comes in:

- no exception escapes ``adapter.rows()`` (nor ``JakiFiles.parse`` beyond ``Rejected``);
- exactly one result per data row, each a :class:`Report` or a :class:`Rejection`;
- every :class:`Report` is storable: finite coordinates in range, aware times, a canonical
  status, a non-empty key and category.

Bugs found are pinned by strict xfail tests in ``test_sources_jaki.py`` / ``test_sources_qlue.py``
(nesting deeper than orjson.dumps allows; a history status that is a list or an object; CSV
fields over 128 KiB; an empty first line in a CSV); the strategies here stay clear of exactly
those inputs so that the properties below hold and keep guarding everything else.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import math
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.sources.base import RawRow, Rejected, Rejection, Report
from pipelines.sources.jaki import JakiFiles
from pipelines.sources.qlue import QlueFiles

FUZZ = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
STATUSES = {"received", "coordinated", "in_progress", "completed"}
REASON = re.compile(r"^[a-z_]+$")
BOM = b"\xef\xbb\xbf"

JAKI_VALID: dict[str, Any] = {
    "id": 4812345,
    "code": "JK240106017",
    "content": "Permasalahan: Jalan berlubang\nKategori: Jalan\nLokasi: Jl. Tebet Raya",
    "lat": -6.2261,
    "lng": 106.8532,
    "createdAt": "2024-01-06T01:15:22.000Z",
    "updatedAt": "2024-01-07T09:02:10.000Z",
    "tstatus": {"name": "Selesai"},
    "complaintCategory": {"name": "Jalan"},
    "zone": {"name": "Suku Dinas Bina Marga Kota Administrasi Jakarta Selatan"},
    "village": {"name": "Tebet Barat", "district": {"name": "Tebet"}},
    "documents": [{"url": "https://example.invalid/photo/1.jpg"}],
    "histories": [
        {"status": "Menunggu", "createdAt": "2024-01-06T01:15:22.000Z"},
        {"status": "Disposisi", "createdAt": "2024-01-06T03:40:00.000Z"},
        {"status": "Selesai", "createdAt": "2024-01-07T09:02:10.000Z"},
    ],
}
QLUE_HEADER = [
    "report_id", "title", "description", "category", "latitude", "longitude", "address",
    "kelurahan", "kecamatan", "status", "created_at", "updated_at", "completed_at", "photo_url",
    "photo_done_url", "upvotes",
]  # fmt: skip
QLUE_VALID = [
    "QL-2024-0001234", "Sampah menumpuk", "Sampah, bau", "Sampah", "-6.2261", "106.8532",
    "Jl. Tebet Raya", "TEBET BARAT", "TEBET", "process", "2024-01-06 08:15:22",
    "2024-01-06 10:40:00", "", "https://example.invalid/q.jpg", "", "3",
]  # fmt: skip

# -- strategies -------------------------------------------------------------------------------
# Odd text: control characters, NUL, right-to-left marks, emoji, combining marks, BOMs; lone
# surrogates only where they can be written (JSON escapes, or invalid UTF-8 bytes).
ODD_TEXT = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\u202e", "\ufeff", "\u2028", "😀", "e\u0301", "\r", "\n"]),
    ),
    max_size=30,
).map("".join)
SURROGATE_TEXT = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
SPECIAL_STRINGS = st.sampled_from(
    ["", " ", "NaN", "nan", "Infinity", "-inf", "1e400", "-6,2261", "106,85", "0", "0.0",
     "9" * 400, "-6.2.2", "2024-01-06", "2024-13-01T00:00:00Z", "2024-01-06T25:00:00",
     "0000-00-00 00:00:00", "Selesai", " SELESAI ", "menunggu", "wait", "complete", "null",
     "true", "[]", "{}", "\x00", "１２３", "٣", "-6.2261e0", "0x10"]
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ODD_TEXT, SURROGATE_TEXT, SPECIAL_STRINGS)
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
JAKI_KEYS = [*JAKI_VALID, "extra", ""]


@st.composite
def mutated_jaki(draw: st.DrawFn) -> Any:
    """A valid JAKI object with some keys removed or replaced by junk (or junk altogether)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JUNK)
    obj = copy.deepcopy(JAKI_VALID)
    obj["id"] = draw(st.integers(1, 10**9))
    for key in draw(st.lists(st.sampled_from(JAKI_KEYS), unique=True, max_size=5)):
        action = draw(st.sampled_from(["delete", "junk", "special"]))
        if action == "delete":
            obj.pop(key, None)
        else:
            obj[key] = draw(JUNK if action == "junk" else SPECIAL_STRINGS)
    histories = obj.get("histories")
    if isinstance(histories, list) and histories and draw(st.booleans()):
        i = draw(st.integers(0, len(histories) - 1))
        # A history status that is a list or an object is a known crash (pinned by an xfail
        # test in test_sources_jaki.py): statuses here stay scalars.
        status = st.fixed_dictionaries({"status": SCALARS, "createdAt": SCALARS})
        histories[i] = draw(st.one_of(SCALARS, st.lists(SCALARS, max_size=3), status))
        draw(st.randoms()).shuffle(histories)
    if isinstance(obj.get("tstatus"), dict) and draw(st.booleans()):
        obj["tstatus"] = {"name": draw(SCALARS)}
    return obj


def json_line(obj: Any, *, ascii_only: bool) -> bytes:
    """One JSON line (NaN/Infinity allowed: they must be rejected, not crash)."""
    return json.dumps(obj, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def jaki_lines(draw: st.DrawFn) -> list[bytes]:
    """Lines of a JSON Lines file: mutated reports, truncated ones, random bytes and text."""
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["object", "object", "object", "truncated", "bytes", "text"]))
        if kind in ("object", "truncated"):
            line = json_line(draw(mutated_jaki()), ascii_only=draw(st.booleans()))
            if kind == "truncated":
                line = line[: draw(st.integers(0, max(len(line) - 1, 0)))]
        elif kind == "bytes":
            line = draw(st.binary(max_size=60))
        else:
            line = draw(st.one_of(ODD_TEXT, SURROGATE_TEXT)).encode("utf-8", "surrogatepass")
        lines.append(line)
    return lines


FIELD = st.one_of(ODD_TEXT, SPECIAL_STRINGS, st.just(""))


@st.composite
def mutated_qlue_row(draw: st.DrawFn) -> list[str]:
    """A valid Qlue row with fields replaced, dropped or added."""
    fields = list(QLUE_VALID)
    fields[0] = f"QL-2024-{draw(st.integers(0, 9_999_999)):07d}"
    for i in draw(st.lists(st.integers(0, len(fields) - 1), unique=True, max_size=6)):
        fields[i] = draw(FIELD)
    shape = draw(st.sampled_from(["same", "same", "same", "drop", "extra", "random"]))
    if shape == "drop":
        del fields[draw(st.integers(0, len(fields))) :]
    elif shape == "extra":
        fields += draw(st.lists(FIELD, min_size=1, max_size=3))
    elif shape == "random":
        fields = draw(st.lists(FIELD, max_size=20))
    return fields


# -- helpers ----------------------------------------------------------------------------------
@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pantau-fuzz-") as name:
        yield Path(name)


def write(path: Path, data: bytes, *, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def check_pairs(pairs: list[tuple[Any, Any]], expected: int) -> None:
    """The invariant and the shape of every result."""
    assert len(pairs) == expected, "exactly one result per data row"
    for raw, result in pairs:
        assert isinstance(raw, RawRow)
        assert isinstance(raw.text, str)
        assert isinstance(result, Report | Rejection)
        if isinstance(result, Rejection):
            assert REASON.match(result.reason), result.reason
        else:
            check_report(result)


def check_report(r: Report) -> None:
    """What the database needs of an accepted report."""
    assert r.source_id and r.source_id == r.source_id.strip()
    assert r.status in STATUSES
    assert r.category
    assert math.isfinite(r.lat) and math.isfinite(r.lng)
    assert -90 <= r.lat <= 90 and -180 <= r.lng <= 180
    assert (r.lat, r.lng) != (0, 0)
    for moment in (r.created_at, r.updated_at, r.coordinated_at, r.completed_at):
        assert moment is None or moment.utcoffset() is not None
    assert (r.completed_at is not None) == (r.status == "completed")


def data_lines(data: bytes) -> int:
    """What JSON Lines counts as rows: non-blank lines after a leading BOM."""
    data = data.removeprefix(BOM)
    return sum(1 for line in data.split(b"\n") if line.strip())


def is_record(fields: list[str]) -> bool:
    """A CSV record, as the adapter counts it: a blank line is not one, ``,,,`` is (rejected).

    NUL characters are removed before (a repair), so a line of NULs alone is blank too.
    """
    return len(fields) > 1 or any(f.replace("\x00", "").strip() for f in fields)


def csv_rows(text: str) -> int:
    """Data rows of a CSV text as the csv module reads them (blank lines are not rows)."""
    text = text.removeprefix("\ufeff").replace("\x00", "")  # the adapter removes NULs (a repair)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    while rows and not is_record(rows[0]):
        rows.pop(0)  # blank lines before the header are skipped
    return sum(1 for fields in rows[1:] if is_record(fields))


# -- JAKI -------------------------------------------------------------------------------------
@FUZZ
@given(obj=mutated_jaki())
def test_jaki_parse_returns_a_report_or_rejects(obj: Any) -> None:
    with folder() as tmp:
        adapter = JakiFiles([tmp])
    try:
        result = adapter.parse(obj)
    except Rejected as exc:
        assert REASON.match(exc.reason)
    else:
        check_report(result)


@FUZZ
@given(lines=jaki_lines(), bom=st.booleans(), gz=st.booleans(), crlf=st.booleans())
def test_jaki_json_lines_one_result_per_line(
    lines: list[bytes], bom: bool, gz: bool, crlf: bool
) -> None:
    data = (BOM if bom else b"") + (b"\r\n" if crlf else b"\n").join(lines)
    with folder() as tmp:
        path = write(tmp / "feed.jsonl", data, gz=gz)
        pairs = list(JakiFiles([path]).rows())
    check_pairs(pairs, data_lines(data))


@FUZZ
@given(
    items=st.lists(mutated_jaki(), max_size=8),
    page=st.booleans(),
    bom=st.booleans(),
    gz=st.booleans(),
)
def test_jaki_json_document_one_result_per_item(
    items: list[Any], page: bool, bom: bool, gz: bool
) -> None:
    document: Any = {"data": items, "meta": {"total": len(items)}} if page else items
    data = (BOM if bom else b"") + json_line(document, ascii_only=True)
    try:
        orjson.loads(data.removeprefix(BOM))
    except orjson.JSONDecodeError:  # NaN / Infinity: not JSON, so read as JSON Lines
        expected = data_lines(data)
    else:
        expected = len(items)
    with folder() as tmp:
        path = write(tmp / "page.json", data, gz=gz)
        pairs = list(JakiFiles([path]).rows())
    check_pairs(pairs, expected)


# -- Qlue -------------------------------------------------------------------------------------
def qlue_text(header: list[str], rows: list[list[str]], *, bom: bool, crlf: bool) -> str:
    """A CSV export. The csv module quotes a field only for the characters of its own line
    terminator, so LF files are written with every field quoted (a bare CR stays data)."""
    buffer = io.StringIO()
    if crlf:
        writer = csv.writer(buffer, lineterminator="\r\n")
    else:
        writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" if bom else "") + buffer.getvalue()


@FUZZ
@given(
    rows=st.lists(mutated_qlue_row(), max_size=8),
    bom=st.booleans(),
    gz=st.booleans(),
    crlf=st.booleans(),
)
def test_qlue_rows_one_result_per_row(
    rows: list[list[str]], bom: bool, gz: bool, crlf: bool
) -> None:
    text = qlue_text(QLUE_HEADER, rows, bom=bom, crlf=crlf)
    with folder() as tmp:
        path = write(tmp / "feed.csv", text.encode(), gz=gz)
        pairs = list(QlueFiles([path]).rows())
    expected = sum(1 for fields in rows if is_record(fields))
    assert expected == csv_rows(text), "the oracle agrees with the csv module"
    check_pairs(pairs, expected)
    for (_, result), fields in zip(pairs, [f for f in rows if is_record(f)], strict=True):
        if len(fields) != len(QLUE_HEADER):
            assert isinstance(result, Rejection) and result.reason == "malformed_row"


@FUZZ
@given(
    # At least one column: an empty first line is a known crash (see test_sources_qlue.py).
    header=st.lists(st.one_of(st.sampled_from(QLUE_HEADER), ODD_TEXT), min_size=1, max_size=18),
    rows=st.lists(mutated_qlue_row(), max_size=5),
)
def test_qlue_any_header(header: list[str], rows: list[list[str]]) -> None:
    text = qlue_text(header, rows, bom=False, crlf=False)
    with folder() as tmp:
        pairs = list(QlueFiles([write(tmp / "feed.csv", text.encode(), gz=False)]).rows())
    check_pairs(pairs, csv_rows(text))
    folded = {h.strip().lower() for h in header}
    if not {"report_id", "category", "latitude", "longitude", "status", "created_at"} <= folded:
        assert all(isinstance(r, Rejection) and r.reason == "unknown_layout" for _, r in pairs)


@FUZZ
@given(
    body=st.text(
        st.one_of(st.characters(codec="utf-8"), st.sampled_from([",", '"', "\n", "\r", "\x00"])),
        max_size=400,
    ),
    raw_bytes=st.binary(max_size=200),
)
def test_qlue_random_text_and_bytes(body: str, raw_bytes: bytes) -> None:
    header = ",".join(QLUE_HEADER) + "\n"
    with folder() as tmp:
        text_pairs = list(
            QlueFiles([write(tmp / "a.csv", (header + body).encode(), gz=False)]).rows()
        )
        byte_path = write(tmp / "b.csv", header.encode() + raw_bytes, gz=True)
        byte_pairs = list(QlueFiles([byte_path]).rows())
    check_pairs(text_pairs, csv_rows(header + body))
    decoded = (header.encode() + raw_bytes).decode("utf-8", errors="replace")
    check_pairs(byte_pairs, csv_rows(decoded))


@pytest.mark.parametrize("source", ["jaki", "qlue"])
def test_the_fuzz_seeds_are_valid(source: str) -> None:
    """The unmutated seeds parse: the fuzzing starts from a real report."""
    with folder() as tmp:
        if source == "jaki":
            path = write(tmp / "f.jsonl", json_line(JAKI_VALID, ascii_only=True), gz=False)
            pairs = list(JakiFiles([path]).rows())
        else:
            text = qlue_text(QLUE_HEADER, [QLUE_VALID], bom=False, crlf=False)
            pairs = list(QlueFiles([write(tmp / "f.csv", text.encode(), gz=False)]).rows())
    check_pairs(pairs, 1)
    assert isinstance(pairs[0][1], Report)
