"""The JAKI adapter's one-pass path for the usual row gives what the full rules give.

:meth:`JakiFiles.usual` (msgspec's typed decoding, then one pass) handles ~99 % of rows and
hands everything else to :meth:`JakiFiles.parse` (orjson, then the rules). For any JSON text it
must either step aside (None) or return exactly the report the rules return, with the same
tallies; and it must really take the usual rows (else the ingest loses its speed without anyone
noticing).
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.sources.base import Rejected, Report
from pipelines.sources.jaki import _USUAL, JakiFiles, _without_nul
from tests.unit.test_sources_fuzz import FUZZ, JAKI_VALID, mutated_jaki


def _adapter() -> JakiFiles:
    with tempfile.TemporaryDirectory() as tmp:
        return JakiFiles([Path(tmp)])


def _by_rules(line: bytes) -> tuple[Any, Any]:
    adapter = _adapter()
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return ("rejected", "malformed_json"), adapter.tally
    try:
        result: Any = adapter.parse(_without_nul(obj, line, adapter.tally))
    except Rejected as exc:
        result = ("rejected", exc.reason)
    return result, adapter.tally


def _fast(adapter: JakiFiles, line: bytes) -> Any:
    try:
        fields = adapter.usual(_USUAL.decode(line))
    except (msgspec.MsgspecError, RecursionError):
        return None
    return None if fields is None else Report(*fields)


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:  # integers beyond 64 bits (orjson writes NaN as null, json as NaN)
        return json.dumps(obj).encode()


def assert_same(obj: Any) -> bool:
    """The fast path steps aside or agrees with the rules; True when it took the row.

    ``obj`` is a decoded row (serialised here, as the feed holds it) or a JSON text.
    """
    line = obj if isinstance(obj, bytes) else _dumps(obj)
    adapter = _adapter()
    fast = _fast(adapter, line)
    parsed = _adapter().parse_line(line)
    parsed = Report(*parsed) if isinstance(parsed, tuple) else parsed
    if fast is None:
        assert adapter.tally == _adapter().tally, "stepping aside leaves no trace"
        return False
    rules, tally = _by_rules(line)
    assert fast == rules
    assert parsed == rules
    assert adapter.tally == tally
    return True


TIMES = st.sampled_from(
    [
        "2024-01-06T01:15:22.000Z",
        "2024-01-06T08:15:22+07:00",
        "2024-01-06T08:15:22",
        "2024-01-06 08:15:22",
        "2024-01-06T01:15:21.999Z",
        "2024-01-06T01:14:50Z",
        "2024-01-05T01:15:22Z",
        "2024-01-07T09:02:10.000Z",
        "2024-01-07T09:02:10.000+00:00",
        "2024-02-30T01:15:22Z",
        "1999-12-31T23:59:59Z",
        "2024-01-06",
        "",
        # read by msgspec in the fast path and by read_time in the rules: the same instant
        "2024-01-06t01:15:22z",
        "2024-01-06T01:15:22.1234565Z",
        "2024-01-06T01:15:22.9999995+07:00",
        "2100-12-31T23:59:59.9999999Z",
        "2024-01-06T08:15:22+0700",
        # not RFC 3339: msgspec refuses them, Python's ISO 8601 reader takes them
        "2024-01-06T08:15+07:00",
        "2024-01-06T08:15:22+07",
        "2024-01-06T08:15:22,5Z",
        " 2024-01-06T01:15:22Z",
    ]
)
NAMES = st.sampled_from(
    ["Selesai", "selesai", " Selesai", "Menunggu", "Disposisi", "Proses Koordinasi",
     "Estimasi Waktu Selesai", "SELESAI", "Batal"]
)  # fmt: skip
LABELS = st.sampled_from(["Jalan", "jalan", "Jalan ", "Sampah", "Tidak Ada", ""])


def _sometimes(draw: st.DrawFn, usual: Any, variants: st.SearchStrategy[Any]) -> Any:
    """The usual value four times in five, else a variant."""
    return draw(variants) if draw(st.integers(0, 4)) == 0 else usual


@st.composite
def varied_jaki(draw: st.DrawFn) -> Any:
    """A usual JAKI row with a few subtle variations: the cases at the fast path's edges."""
    obj = copy.deepcopy(JAKI_VALID)
    obj["id"] = draw(st.integers(0, 10**9))
    obj["id"] = _sometimes(draw, obj["id"], st.sampled_from(["12", "007", -1, True, 1.0]))
    obj["createdAt"] = _sometimes(draw, obj["createdAt"], TIMES)
    obj["updatedAt"] = _sometimes(draw, obj["updatedAt"], st.one_of(TIMES, st.none()))
    obj["tstatus"] = _sometimes(draw, obj["tstatus"], NAMES.map(lambda n: {"name": n}))
    obj["complaintCategory"] = _sometimes(
        draw, obj["complaintCategory"], st.one_of(LABELS.map(lambda n: {"name": n}), LABELS)
    )
    obj["lat"], obj["lng"] = _sometimes(
        draw,
        (obj["lat"], obj["lng"]),
        st.sampled_from(
            [(106.8532, -6.2261), (-6, 106), ("-6.2261", "106.8532"), (0.0, 106.8),
             (-6.9, 106.8), (-7.5, 110.4), (float("nan"), 106.8), (-6.1, 106.7)]
        ),
    )  # fmt: skip
    obj["zone"] = _sometimes(
        draw,
        obj["zone"],
        st.sampled_from([None, {"name": "Dinas"}, "Dinas", {"name": " x"}, {}, 5]),
    )
    obj["code"] = _sometimes(draw, obj["code"], st.sampled_from([None, "JK1", " JK1", 17, ""]))
    obj["documents"] = _sometimes(
        draw,
        obj["documents"],
        st.sampled_from([[], None, [{"url": "u"}], [{"url": None}], [{"url": " u"}], ["u"], {}]),
    )
    histories = obj["histories"]
    if draw(st.integers(0, 2)) == 0:
        i = draw(st.integers(0, len(histories) - 1))
        histories[i] = {
            "status": _sometimes(draw, histories[i]["status"], NAMES),
            "createdAt": _sometimes(draw, histories[i]["createdAt"], TIMES),
        }
    if draw(st.integers(0, 4)) == 0:
        draw(st.randoms()).shuffle(histories)
    obj["histories"] = _sometimes(
        draw, histories, st.sampled_from([None, "x", [1], [], histories[:1], histories[1:]])
    )
    obj["content"] = _sometimes(
        draw, obj["content"], st.sampled_from([None, "Hubungi 0812-3456-7890", "biasa", 42])
    )
    return obj


@FUZZ
@given(obj=varied_jaki())
def test_the_clean_path_agrees_on_varied_rows(obj: Any) -> None:
    assert_same(obj)


def test_the_varied_rows_reach_the_clean_path() -> None:
    """The strategy above is only a test if the fast path takes a good share of its rows."""
    taken = []

    @FUZZ
    @given(obj=varied_jaki())
    def run(obj: Any) -> None:
        taken.append(assert_same(obj))

    run()
    assert 0.05 < sum(taken) / len(taken) < 0.9


@FUZZ
@given(obj=mutated_jaki())
def test_the_clean_path_agrees_on_mutated_rows(obj: Any) -> None:
    assert_same(obj)


def test_the_clean_path_takes_the_usual_rows_and_agrees_on_every_generated_row(
    defective_feeds: Path,
) -> None:
    taken = total = 0
    for path in sorted((defective_feeds / "jaki").iterdir()):
        for line in path.read_bytes().splitlines():
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            total += 1
            taken += assert_same(obj)
    assert total > 5000
    # 20 % of the rows carry a planted defect, a few more a note (no history, ...)
    assert taken / total > 0.75


@pytest.mark.parametrize("key", ["histories", "updatedAt", "documents", "zone", "code"])
def test_optional_fields_missing(key: str) -> None:
    obj = copy.deepcopy(JAKI_VALID)
    del obj[key]
    assert_same(obj)


#: JSON texts at the edges of what msgspec and orjson accept: the fast path must step aside
#: (or agree) on every one.
_USUAL_LINE = orjson.dumps(JAKI_VALID)
#: Lines with the escape but no NUL once decoded: no repair, and the fast path takes them.
NO_NUL_AFTER_ALL = [
    # an escaped backslash before u0000: text, not a NUL
    _USUAL_LINE.replace(b'"content":"', b'"content":"C:\\\\u0000 ', 1),
    # a NUL in a repeated key's value, which the last copy replaces
    _USUAL_LINE.replace(b'{"id"', b'{"content":"a\\u0000b","id"', 1),
]
EDGE_LINES = [
    _USUAL_LINE,
    _USUAL_LINE.replace(b'"id":', b'"id":1,"id":', 1),  # a repeated key: the last one wins
    _USUAL_LINE.replace(b'{"id"', b'{"extra":1e400,"id"', 1),  # too large for a double
    _USUAL_LINE.replace(b'{"id"', b'{"extra":"\xed\xa0\x80","id"', 1),  # a UTF-8 surrogate
    _USUAL_LINE.replace(b'{"id"', b'{"extra":' + b"[" * 1100 + b"]" * 1100 + b',"id"', 1),
    _USUAL_LINE.replace(b'{"id"', b'{"extra":null,"id"', 1),  # an undeclared field
    _USUAL_LINE.replace(b'"name":"', b'"name":"\\u0000', 1),  # a NUL: removed by the rules
    *NO_NUL_AFTER_ALL,
    _USUAL_LINE.replace(b'"name":"', b'"id":7,"name":"', 1),  # an unknown nested field
    _USUAL_LINE + b" trailing",
    _USUAL_LINE[:-1],
    b"[" + _USUAL_LINE + b"]",
    b"17",
]


@pytest.mark.parametrize("ident", [0, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30, -1])
def test_large_and_negative_ids(ident: int) -> None:
    line = _USUAL_LINE.replace(f'"id":{JAKI_VALID["id"]}'.encode(), f'"id":{ident}'.encode())
    assert line != _USUAL_LINE
    assert_same(line)


def _with_nul(path: tuple[Any, ...]) -> dict[str, Any]:
    """JAKI_VALID (with a second photo, a city) and a NUL in the text at ``path``."""
    obj = copy.deepcopy(JAKI_VALID)
    obj["documents"].append({"url": "https://example.invalid/photo/2.jpg"})
    obj["village"]["district"]["city"] = {"name": "Jakarta Selatan"}
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = parent[path[-1]][:3] + "\x00" + parent[path[-1]][3:]
    return obj


#: Every text a usual row holds: a NUL (the JSON escape \u0000) in any of them is removed by the
#: rules, which count a repair, so the fast path must step aside for each.
NUL_PLACES = [
    ("content",),
    ("code",),
    ("tstatus", "name"),
    ("complaintCategory", "name"),
    ("zone", "name"),
    ("village", "name"),
    ("village", "district", "name"),
    ("village", "district", "city", "name"),
    ("documents", 0, "url"),
    ("documents", 1, "url"),
    ("histories", 1, "status"),
]


@pytest.mark.parametrize("path", NUL_PLACES, ids=lambda p: ".".join(map(str, p)))
def test_a_nul_anywhere_leaves_the_row_to_the_rules(path: tuple[Any, ...]) -> None:
    obj = _with_nul(path)
    line = orjson.dumps(obj)
    assert b"\\u0000" in line
    assert not assert_same(line)  # stepped aside (and agreed)
    adapter = _adapter()
    adapter.parse_line(line)
    assert adapter.tally.repaired["nul_characters"] == 1
    assert assert_same(line.replace(b"\\u0000", b""))  # the same row without it takes the fast path


@pytest.mark.parametrize("line", EDGE_LINES, ids=range(len(EDGE_LINES)))
def test_edge_texts(line: bytes) -> None:
    assert_same(line)


def test_the_usual_text_takes_the_fast_path() -> None:
    assert assert_same(_USUAL_LINE)
    assert assert_same(EDGE_LINES[1])
    assert all(assert_same(line) for line in NO_NUL_AFTER_ALL)


@pytest.mark.parametrize(
    "steps",
    [
        # in order as instants, but the middle step is in 1999 in its own zone (UTC)
        ["2000-01-01T00:00:00+07:00", "1999-12-31T17:30:00Z", "2000-01-01T01:00:00+07:00"],
        ["2000-01-01T00:00:00+07:00", "1999-12-31T17:30:00Z", "2000-01-01T01:00:00"],
        # the same at the top of the range: 2101 in its own zone (+07:00)
        ["2100-12-31T20:00:00Z", "2101-01-01T04:00:00+07:00", "2100-12-31T22:00:00Z"],
    ],
)
def test_every_history_step_is_checked_for_its_year(steps: list[str]) -> None:
    """Found by review: checking only the first and the last step let such a row through."""
    obj = copy.deepcopy(JAKI_VALID)
    obj["tstatus"] = {"name": "Selesai"}
    obj["createdAt"] = steps[0]
    obj["updatedAt"] = steps[-1]
    obj["histories"] = [
        {"status": status, "createdAt": moment}
        for status, moment in zip(["Menunggu", "Disposisi", "Selesai"], steps, strict=True)
    ]
    assert _by_rules(_dumps(obj))[0] == ("rejected", "invalid_timestamp")
    assert not assert_same(obj), "the fast path steps aside"
