"""The Qlue adapter's fast path for the usual row gives what the full rules give.

:meth:`QlueFiles.usual` reads a row of the FEEDS layout by position and hands anything unusual
to :meth:`QlueFiles.parse`. For any row it must either step aside (None, leaving no trace) or
return exactly the report the rules return, with the same tallies; and it must really take the
usual rows (else the ingest loses its speed without anyone noticing).
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.sources.base import Rejected, Report
from pipelines.sources.qlue import COLUMNS, QlueFiles
from tests.unit.test_sources_fuzz import FUZZ, QLUE_VALID, mutated_qlue_row


def _adapter() -> QlueFiles:
    with tempfile.TemporaryDirectory() as tmp:
        return QlueFiles([Path(tmp)])


def assert_same(fields: list[str]) -> bool:
    """The fast path steps aside or agrees with the rules; True when it took the row."""
    if len(fields) != len(COLUMNS):
        return False  # the structural checks reject these before either path
    fast_adapter, rules_adapter = _adapter(), _adapter()
    fields_or_none = fast_adapter.usual(list(fields))
    fast = None if fields_or_none is None else Report(*fields_or_none)
    if fast is None:
        assert fast_adapter.tally == _adapter().tally, "stepping aside leaves no trace"
        return False
    try:
        rules: Any = rules_adapter.parse(dict(zip(COLUMNS, fields, strict=True)))
    except Rejected as exc:
        rules = ("rejected", exc.reason)
    assert fast == rules
    assert fast_adapter.tally == rules_adapter.tally
    return True


TIMES = st.sampled_from(
    [
        "2024-01-06 08:15:22",
        "2024-01-06T08:15:22",
        "2024-01-06 08:15:22+07:00",
        "2024-01-06T01:15:22Z",
        " 2024-01-06 08:15:22",
        "2024-01-06 08:15:22 ",
        "2024-01-06 08:14:50",
        "2024-01-05 08:15:22",
        "2024-01-07 09:02:10",
        "2024-02-30 08:15:22",
        "1999-12-31 23:59:59",
        "2024-01-06",
        "",
        "   ",
    ]
)
STATUSES = st.sampled_from(["wait", "process", "complete", "Complete", " wait", "done", ""])
NUMBERS = st.sampled_from(
    ["-6.2261", "106.8532", "-6,2261", "106,8532", " -6.2261", "-6.2261 ", "0", "", "nan",
     "inf", "1e400", "-6.9", "-7.5", "1_0", "abc", "-6.2261.1"]
)  # fmt: skip
LABELS = st.sampled_from(
    ["Sampah", "sampah", "SAMPAH", "Sampah ", "parkir  LIAR", "Banjir", "Tidak Ada", ""]
)
TEXTS = st.sampled_from(["", " ", "Sampah menumpuk", "Hubungi 0812-3456-7890", " x "])


def _sometimes(draw: st.DrawFn, usual: str, variants: st.SearchStrategy[str]) -> str:
    """The usual value three times in four, else a variant."""
    return draw(variants) if draw(st.integers(0, 3)) == 0 else usual


@st.composite
def varied_qlue(draw: st.DrawFn) -> list[str]:
    """A usual Qlue row with a few subtle variations: the cases at the fast path's edges."""
    row = dict(zip(COLUMNS, QLUE_VALID, strict=True))
    row["report_id"] = _sometimes(draw, row["report_id"], st.sampled_from(["", " QL-1", "QL-1 "]))
    row["status"] = _sometimes(draw, row["status"], STATUSES)
    for name in ("created_at", "updated_at", "completed_at"):
        row[name] = _sometimes(draw, row[name], TIMES)
    row["latitude"] = _sometimes(draw, row["latitude"], NUMBERS)
    row["longitude"] = _sometimes(draw, row["longitude"], NUMBERS)
    row["category"] = _sometimes(draw, row["category"], LABELS)
    for name in ("title", "description", "address", "photo_url", "photo_done_url"):
        row[name] = _sometimes(draw, row[name], TEXTS)
    return [row[name] for name in COLUMNS]


@FUZZ
@given(fields=varied_qlue())
def test_the_usual_path_agrees_on_varied_rows(fields: list[str]) -> None:
    assert_same(fields)


def test_the_varied_rows_reach_the_usual_path() -> None:
    """The strategy above is only a test if the fast path takes a good share of its rows."""
    taken = []

    @FUZZ
    @given(fields=varied_qlue())
    def run(fields: list[str]) -> None:
        taken.append(assert_same(fields))

    run()
    assert 0.05 < sum(taken) / len(taken) < 0.9


@FUZZ
@given(fields=mutated_qlue_row())
def test_the_usual_path_agrees_on_mutated_rows(fields: list[str]) -> None:
    assert_same(fields)


@pytest.mark.parametrize("status", ["wait", "process", "complete"])
def test_each_status_takes_the_usual_path(status: str) -> None:
    row = dict(zip(COLUMNS, QLUE_VALID, strict=True))
    row["status"] = status
    row["completed_at"] = row["updated_at"] if status == "complete" else ""
    assert assert_same([row[name] for name in COLUMNS])


def test_the_usual_path_takes_the_usual_rows_and_agrees_on_every_generated_row(
    defective_feeds: Path,
) -> None:
    taken = total = 0
    for path in sorted((defective_feeds / "qlue").iterdir()):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
        assert [h.strip().lower() for h in rows[0]] == list(COLUMNS)
        for fields in rows[1:]:
            total += 1
            taken += assert_same(fields)
    assert total > 1000
    # 20 % of the rows carry a planted defect, a few more a note (completion from updated_at)
    assert taken / total > 0.7


@pytest.mark.parametrize("label", ["SAMPAH", "sampah", "parkir  LIAR", "Pedagang Kaki Lima (PKL)"])
def test_a_label_in_another_case_or_spacing_takes_the_usual_path(label: str) -> None:
    """The taxonomy ignores case and spacing in both paths: no reason to step aside."""
    row = dict(zip(COLUMNS, QLUE_VALID, strict=True))
    row["category"] = label
    assert assert_same([row[name] for name in COLUMNS])
