"""SLA of Pergub 128/2017 (geo/sla.py, ``pipelines sla``) on reports with hand-computed answers.

Twelve reports in two kelurahan of two kecamatan (Tebet Timur in Tebet, Gambir in Gambir), two
categories, both feeds, every state of both targets, judged at an explicit moment: the summary
per kelurahan and per kecamatan x category, and the state of every report, are compared with
numbers worked out by hand below. A second, separate set (April to July) has open reports of
known ages for the overdue backlog. Then the targets file: a per-category override, and every
way ``data/sla.toml`` can be wrong. Last, the command line writes CSV, GeoJSON and GeoPackage.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import pytest

from geo import db
from geo.errors import PantauError
from geo.sla import (
    SLA_FILE,
    SUMMARY_COLUMNS,
    Period,
    SlaConfigError,
    SlaTargets,
    load_targets,
    overdue_backlog,
    report_states,
    sla_summary,
    sync_targets,
)
from pipelines.ingest import ingest
from pipelines.refresh import refresh
from tests.conftest import clear_reports, ensure_bps2020

REPO_ROOT = Path(__file__).resolve().parents[2]
WIB = timezone(timedelta(hours=7))

TEBET = (-6.2261, 106.8532)  # kelurahan Tebet Timur, kecamatan Tebet (Jakarta Selatan)
GAMBIR = (-6.1754, 106.8272)  # Monas: kelurahan Gambir, kecamatan Gambir (Jakarta Pusat)
TEBET_TIMUR, KEC_TEBET = "3171090003", "3171090"
GAMBIR_KEL, KEC_GAMBIR = "3173080003", "3173080"
JAKI_LABEL = {"jalan": "Jalan", "sampah": "Sampah"}
QLUE_LABEL = {"jalan": "Jalan rusak", "sampah": "Sampah"}

#: Monday 4 March 2024, 08:00 WIB; the states are judged at AS_OF, 16 days (384 h) later.
T0 = datetime(2024, 3, 4, 8, 0, tzinfo=WIB)
AS_OF = datetime(2024, 3, 20, 8, 0, tzinfo=WIB)
MARCH = Period(date(2024, 3, 1), date(2024, 3, 31), AS_OF)


def hours(h: float, base: datetime = T0) -> datetime:
    return base + timedelta(hours=h)


# -- the hand-made reports -------------------------------------------------------------------
# Default targets: coordinate 6 h, complete 168 h. "age" = AS_OF - created.
#
# id   kel.    cat.    feed  created          coordinated  completed  status now
# J1   Tebet   jalan   jaki  T0               +2 h         +48 h      Selesai
# J2   Tebet   jalan   jaki  T0               +10 h        +200 h     Selesai
# J3   Tebet   sampah  jaki  T0 + 24 h        +4 h         -          Proses Koordinasi (age 360)
# J4   Tebet   sampah  jaki  AS_OF - 30 h     +1 h         -          Disposisi (age 30)
# Q1   Tebet   sampah  qlue  T0               unknown      +30 h      complete, never "process"
# Q2   Tebet   jalan   qlue  T0 + 144 h       -            -          wait (age 240)
# J5   Gambir  jalan   jaki  T0               +8 h         +100 h     Selesai
# J6   Gambir  sampah  jaki  T0               +7 h         -          Disposisi (age 384)
# Q3   Gambir  sampah  qlue  T0               +5 h         +170 h     process, then complete
# Q4   Gambir  jalan   qlue  AS_OF - 2 h      -            -          wait (age 2)
# J7   Gambir  jalan   jaki  AS_OF - 8 h      -            -          Menunggu (age 8; 00:00 WIB)
# Q5   Gambir  jalan   qlue  T0               unknown      +300 h     complete, never "process"
#
# Q1..Q5 are the Qlue ids QL-S1..QL-S5; J1..J7 the JAKI ids 101..107.
# id: (kelurahan, category, coordinate_h, complete_h, coordinate_state, complete_state, day)
EXPECTED_STATES: dict[str, tuple[str, str, float | None, float | None, str, str, date]] = {
    "J1": (TEBET_TIMUR, "jalan", 2, 48, "met", "met", date(2024, 3, 4)),
    "J2": (TEBET_TIMUR, "jalan", 10, 200, "breached", "breached", date(2024, 3, 4)),
    "J3": (TEBET_TIMUR, "sampah", 4, None, "met", "open_overdue", date(2024, 3, 5)),
    "J4": (TEBET_TIMUR, "sampah", 1, None, "met", "open_within", date(2024, 3, 19)),
    "QL-S1": (TEBET_TIMUR, "sampah", None, 30, "unknown", "met", date(2024, 3, 4)),
    "QL-S2": (TEBET_TIMUR, "jalan", None, None, "open_overdue", "open_overdue", date(2024, 3, 10)),
    "J5": (GAMBIR_KEL, "jalan", 8, 100, "breached", "met", date(2024, 3, 4)),
    "J6": (GAMBIR_KEL, "sampah", 7, None, "breached", "open_overdue", date(2024, 3, 4)),
    "QL-S3": (GAMBIR_KEL, "sampah", 5, 170, "met", "breached", date(2024, 3, 4)),
    "QL-S4": (GAMBIR_KEL, "jalan", None, None, "open_within", "open_within", date(2024, 3, 20)),
    "J7": (GAMBIR_KEL, "jalan", None, None, "open_overdue", "open_within", date(2024, 3, 20)),
    "QL-S5": (GAMBIR_KEL, "jalan", None, 300, "unknown", "breached", date(2024, 3, 4)),
}
#: JAKI ids are numbers: J1..J7 are 101..107, the backlog's B1..B11 are 201..211.
JAKI_IDS = {f"J{i}": 100 + i for i in range(1, 8)} | {f"B{i}": 200 + i for i in range(1, 12)}

# Per kelurahan (percentile_cont: linear between order statistics, position p * (n - 1)):
# Tebet Timur: 6 reports.
#   coordinate hours [1, 2, 4, 10]: median (2 + 4) / 2 = 3; p90 at 2.7 -> 4 + 0.7 * 6 = 8.2.
#   coordinate states met J1 J3 J4, breached J2, open_overdue Q2 (Q1 unknown): 3/5 = 60 %.
#   complete hours [30, 48, 200]: median 48; p90 at 1.8 -> 48 + 0.8 * 152 = 169.6.
#   complete states met J1 Q1, breached J2, open_overdue J3 Q2 (J4 open within): 2/5 = 40 %.
#   open_overdue (completion) 2.
# Gambir: 6 reports.
#   coordinate hours [5, 7, 8]: median 7; p90 at 1.8 -> 7 + 0.8 * 1 = 7.8.
#   coordinate states met Q3, breached J5 J6, open_overdue J7 (Q4 within, Q5 unknown): 1/4 = 25 %.
#   complete hours [100, 170, 300]: median 170; p90 at 1.8 -> 170 + 0.8 * 130 = 274.
#   complete states met J5, breached Q3 Q5, open_overdue J6 (Q4 J7 within): 1/4 = 25 %.
#   open_overdue 1.
SUMMARY_COLS = SUMMARY_COLUMNS
BY_KELURAHAN = {
    TEBET_TIMUR: (6, 3.0, 8.2, 60.0, 48.0, 169.6, 40.0, 2),
    GAMBIR_KEL: (6, 7.0, 7.8, 25.0, 170.0, 274.0, 25.0, 1),
}
# Per kecamatan x category:
# Tebet/jalan (J1 J2 Q2): coordinate [2, 10] -> median 6, p90 at 0.9 -> 2 + 0.9 * 8 = 9.2;
#   met J1 / (J1 + J2 breached + Q2 overdue) = 33.3 %; complete [48, 200] -> 124,
#   48 + 0.9 * 152 = 184.8; met J1 / (J1 + J2 + Q2) = 33.3 %; open_overdue 1 (Q2).
# Tebet/sampah (J3 J4 Q1): coordinate [1, 4] -> 2.5, 1 + 0.9 * 3 = 3.7; met 2 / 2 = 100 %
#   (Q1 unknown); complete [30] -> 30, 30; met Q1 / (Q1 + J3 overdue) = 50 %; open_overdue 1.
# Gambir/jalan (J5 Q4 J7 Q5): coordinate [8] -> 8, 8; met 0 / (J5 breached + J7 overdue) = 0 %;
#   complete [100, 300] -> 200, 100 + 0.9 * 200 = 280; met J5 / (J5 + Q5 breached) = 50 %; 0.
# Gambir/sampah (J6 Q3): coordinate [5, 7] -> 6, 5 + 0.9 * 2 = 6.8; met Q3 / 2 = 50 %;
#   complete [170] -> 170, 170; met 0 / (J6 overdue + Q3 breached) = 0 %; open_overdue 1.
BY_KECAMATAN_CATEGORY = {
    (KEC_TEBET, "jalan"): (3, 6.0, 9.2, 33.3, 124.0, 184.8, 33.3, 1),
    (KEC_TEBET, "sampah"): (3, 2.5, 3.7, 100.0, 30.0, 30.0, 50.0, 1),
    (KEC_GAMBIR, "jalan"): (4, 8.0, 8.0, 0.0, 200.0, 280.0, 50.0, 0),
    (KEC_GAMBIR, "sampah"): (2, 6.0, 6.8, 50.0, 170.0, 170.0, 0.0, 1),
}


def jaki(
    key: str,
    where: tuple[float, float],
    category: str,
    created: datetime,
    steps: list[tuple[str, float]],
) -> dict[str, Any]:
    """A JAKI report; ``steps`` are (status, hours after creation) after Menunggu, the last one
    is the current status."""
    history = [("Menunggu", 0.0), *steps]
    times = [created + timedelta(hours=h) for _, h in history]
    return {
        "id": JAKI_IDS.get(key, key),
        "code": f"JK-{key}",
        "content": "Permasalahan: uji SLA",
        "lat": where[0],
        "lng": where[1],
        "createdAt": created.isoformat(),
        "updatedAt": times[-1].isoformat(),
        "tstatus": {"name": history[-1][0]},
        "complaintCategory": {"name": JAKI_LABEL[category]},
        "zone": {"name": "Kelurahan"},
        "histories": [
            {"status": s, "createdAt": t.isoformat()}
            for (s, _), t in zip(history, times, strict=True)
        ],
    }


QLUE_HEADER = (
    "report_id,title,description,category,latitude,longitude,address,kelurahan,kecamatan,"
    "status,created_at,updated_at,completed_at,photo_url,photo_done_url,upvotes"
)


def wib_text(moment: datetime | None) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def qlue(
    report_id: str,
    where: tuple[float, float],
    category: str,
    status: str,
    created: datetime,
    updated: datetime,
    completed: datetime | None = None,
) -> str:
    return (
        f"{report_id},Uji,Uji SLA,{QLUE_LABEL[category]},{where[0]},{where[1]},Jl. Uji,X,Y,"
        f"{status},{wib_text(created)},{wib_text(updated)},{wib_text(completed)},,,0"
    )


def march_reports() -> tuple[list[dict[str, Any]], list[str]]:
    j4_created = AS_OF - timedelta(hours=30)
    j7_created = AS_OF - timedelta(hours=8)
    jaki_objs = [
        jaki("J1", TEBET, "jalan", T0, [("Disposisi", 2), ("Selesai", 48)]),
        jaki("J2", TEBET, "jalan", T0, [("Disposisi", 10), ("Selesai", 200)]),
        jaki("J3", TEBET, "sampah", hours(24), [("Disposisi", 4), ("Proses Koordinasi", 6)]),
        jaki("J4", TEBET, "sampah", j4_created, [("Disposisi", 1)]),
        jaki("J5", GAMBIR, "jalan", T0, [("Disposisi", 8), ("Selesai", 100)]),
        jaki("J6", GAMBIR, "sampah", T0, [("Disposisi", 7)]),
        jaki("J7", GAMBIR, "jalan", j7_created, []),
    ]
    q2_created, q4_created = hours(144), AS_OF - timedelta(hours=2)
    qlue_rows = [
        qlue("QL-S1", TEBET, "sampah", "complete", T0, hours(30), hours(30)),
        qlue("QL-S2", TEBET, "jalan", "wait", q2_created, q2_created),
        qlue("QL-S3", GAMBIR, "sampah", "process", T0, hours(5)),
        qlue("QL-S3", GAMBIR, "sampah", "complete", T0, hours(170), hours(170)),
        qlue("QL-S4", GAMBIR, "jalan", "wait", q4_created, q4_created),
        qlue("QL-S5", GAMBIR, "jalan", "complete", T0, hours(300), hours(300)),
    ]
    return jaki_objs, qlue_rows


# -- the backlog set: open JAKI reports (Menunggu) of known ages at BACKLOG_AS_OF ------------
BACKLOG_AS_OF = datetime(2024, 8, 1, 12, 0, tzinfo=WIB)
BACKLOG = Period(date(2024, 4, 1), date(2024, 7, 31), BACKLOG_AS_OF)
#: key: (place, category, age in hours at BACKLOG_AS_OF)
BACKLOG_REPORTS = {
    "B1": (TEBET, "jalan", 3 * 24),  # within 168 h: not overdue
    "B2": (TEBET, "jalan", 7 * 24 + 1),  # 7-14
    "B3": (TEBET, "jalan", 13 * 24 + 23),  # 7-14
    "B4": (TEBET, "jalan", 14 * 24),  # exactly 14 days: 14-30 (buckets are [lo, hi))
    "B5": (TEBET, "jalan", 29 * 24),  # 14-30
    "B6": (TEBET, "jalan", 30 * 24),  # exactly 30 days: 30-90
    "B7": (TEBET, "jalan", 100 * 24),  # > 90
    "B8": (TEBET, "sampah", 2 * 24),  # within 168 h; overdue with a 24 h sampah target: < 7
    "B9": (GAMBIR, "jalan", 45 * 24),  # 30-90
    "B10": (GAMBIR, "jalan", 95 * 24),  # > 90
    "B11": (GAMBIR, "jalan", 7 * 24),  # exactly the target: not older than it, not overdue
}
BUCKETS = ["< 7 hari", "7-14 hari", "14-30 hari", "30-90 hari", "> 90 hari"]


def backlog_reports() -> list[dict[str, Any]]:
    return [
        jaki(key, where, cat, BACKLOG_AS_OF - timedelta(hours=age), [])
        for key, (where, cat, age) in BACKLOG_REPORTS.items()
    ]


def write_jsonl(path: Path, objs: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(QLUE_HEADER + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


# -- database state ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sla_db(
    writer_url: str, bps2020_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The hand-made March set and the backlog set, ingested (marts refreshed by the ingest)."""
    url = ensure_bps2020(writer_url, bps2020_path)
    clear_reports(url)
    folder = tmp_path_factory.mktemp("sla")
    jaki_objs, qlue_rows = march_reports()
    jaki_path = write_jsonl(folder / "jaki" / "f.jsonl", jaki_objs + backlog_reports())
    qlue_path = write_csv(folder / "qlue" / "f.csv", qlue_rows)
    for source, path in (("jaki", jaki_path), ("qlue", qlue_path)):
        result = ingest(source, [path], url=url, progress=False)
        assert result.rejected == 0 and result.outside_area == 0, result
        assert result.refresh_error is None
    yield url
    clear_reports(url)


@pytest.fixture
def reader(sla_db: str, reader_url: str) -> Iterator[psycopg.Connection]:
    with db.connect(reader_url) as conn:
        yield conn


def key_of(source: str, source_id: str) -> str:
    if source == "qlue":
        return source_id
    return next((k for k, v in JAKI_IDS.items() if str(v) == source_id), source_id)


def states_by_key(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {key_of(r["source"], r["source_id"]): r for r in frame.to_dict("records")}


def nan_to_none(value: Any) -> Any:
    return None if value is None or pd.isna(value) else value


def summary_rows(frame: pd.DataFrame, keys: list[str]) -> dict[Any, tuple[Any, ...]]:
    out = {}
    for record in frame.to_dict("records"):
        key = tuple(record[k] for k in keys)
        out[key[0] if len(key) == 1 else key] = tuple(nan_to_none(record[c]) for c in SUMMARY_COLS)
    return out


# == 1. hand-computed states and summaries ========================================================
def test_the_areas_are_the_ones_the_hand_computation_assumes(reader: psycopg.Connection) -> None:
    rows = reader.execute(
        "SELECT code, name FROM api.admin_areas WHERE code = ANY(%s) ORDER BY code",
        [[TEBET_TIMUR, KEC_TEBET, GAMBIR_KEL, KEC_GAMBIR]],
    ).fetchall()
    names = {code: name.casefold() for code, name in rows}
    assert set(names) == {TEBET_TIMUR, KEC_TEBET, GAMBIR_KEL, KEC_GAMBIR}
    assert "tebet timur" in names[TEBET_TIMUR] and "tebet" in names[KEC_TEBET]
    assert "gambir" in names[GAMBIR_KEL] and "gambir" in names[KEC_GAMBIR]


def test_report_states_are_the_hand_computed_ones(reader: psycopg.Connection) -> None:
    frame = report_states(reader, MARCH, level="kelurahan")
    got = states_by_key(frame)
    assert set(got) == set(EXPECTED_STATES)
    for key, (
        kel,
        cat,
        coord_h,
        complete_h,
        coord_state,
        complete_state,
        day,
    ) in EXPECTED_STATES.items():
        row = got[key]
        assert (row["kelurahan_code"], row["category"], row["day"]) == (kel, cat, day), key
        assert nan_to_none(row["coordinate_h"]) == (None if coord_h is None else pytest.approx(
            coord_h)), key  # fmt: skip
        assert nan_to_none(row["complete_h"]) == (None if complete_h is None else pytest.approx(
            complete_h)), key  # fmt: skip
        assert (row["coordinate_state"], row["complete_state"]) == (coord_state, complete_state), (
            key
        )
        assert (row["coordinate_target"], row["complete_target"]) == (6, 168), key
    # kecamatan level: the same reports, keyed on the kecamatan
    kec = report_states(reader, MARCH, level="kecamatan")
    assert sorted(kec["kecamatan_code"].value_counts().items()) == [(KEC_TEBET, 6), (KEC_GAMBIR, 6)]


def test_summary_per_kelurahan_is_the_hand_computed_one(reader: psycopg.Connection) -> None:
    frame = sla_summary(reader, MARCH, level="kelurahan")
    assert list(frame.columns) == ["code", "name", *SUMMARY_COLUMNS]
    assert frame["code"].is_unique and frame["code"].is_monotonic_increasing
    got = summary_rows(frame[frame["reports"] > 0], ["code"])
    assert set(got) == set(BY_KELURAHAN)
    for code, expected in BY_KELURAHAN.items():
        assert got[code] == pytest.approx(expected, abs=1e-9), code
    assert len(frame) == 267, "every kelurahan, with or without reports"
    empty = frame[frame["reports"] == 0]
    assert len(empty) == len(frame) - 2
    assert (empty["open_overdue"] == 0).all()
    assert empty[[c for c in SUMMARY_COLUMNS if c.endswith(("_h", "_pct"))]].isna().all().all()


def test_summary_per_kecamatan_and_category_is_the_hand_computed_one(
    reader: psycopg.Connection,
) -> None:
    frame = sla_summary(reader, MARCH, level="kecamatan", by="category")
    assert list(frame.columns) == ["code", "name", "category", *SUMMARY_COLUMNS]
    got = summary_rows(frame, ["code", "category"])
    assert set(got) == set(BY_KECAMATAN_CATEGORY), "only the groups with reports"
    for key, expected in BY_KECAMATAN_CATEGORY.items():
        assert got[key] == pytest.approx(expected, abs=1e-9), key
    assert frame.loc[frame["code"] == KEC_TEBET, "name"].str.casefold().str.contains("tebet").all()


def test_summary_per_kecamatan_and_kota_equals_their_only_kelurahan(
    reader: psycopg.Connection,
) -> None:
    kec = summary_rows(sla_summary(reader, MARCH, level="kecamatan"), ["code"])
    assert kec[KEC_TEBET] == pytest.approx(BY_KELURAHAN[TEBET_TIMUR])
    assert kec[KEC_GAMBIR] == pytest.approx(BY_KELURAHAN[GAMBIR_KEL])
    assert sum(row[0] for row in kec.values()) == 12
    frame = sla_summary(reader, MARCH, level="kota")
    with_reports = frame[frame["reports"] > 0].set_index("code")
    # Tebet is in Jakarta Selatan (3171), Gambir in Jakarta Pusat (3173): one kelurahan each.
    assert sorted(with_reports.index) == ["3171", "3173"]
    assert tuple(with_reports.loc["3171", SUMMARY_COLS]) == pytest.approx(BY_KELURAHAN[TEBET_TIMUR])
    assert tuple(with_reports.loc["3173", SUMMARY_COLS]) == pytest.approx(BY_KELURAHAN[GAMBIR_KEL])


def test_summary_by_week_groups_by_the_iso_week_of_the_wib_creation_day(
    reader: psycopg.Connection,
) -> None:
    frame = sla_summary(reader, MARCH, level="kelurahan", by="week")
    got = {(r["code"], r["week"]): r["reports"] for r in frame.to_dict("records")}
    # Q2 was created on Sunday 10 March (week of Monday 4 March); J7 at 00:00 WIB on 20 March
    # (19 March in UTC, still the week of 18 March).
    assert got == {
        (TEBET_TIMUR, date(2024, 3, 4)): 5,
        (TEBET_TIMUR, date(2024, 3, 18)): 1,
        (GAMBIR_KEL, date(2024, 3, 4)): 4,
        (GAMBIR_KEL, date(2024, 3, 18)): 2,
    }


def test_the_period_selects_reports_by_wib_creation_day(reader: psycopg.Connection) -> None:
    # Ending on 19 March drops Q4 and J7 (created 20 March WIB; J7 at 00:00 WIB is 19 March in
    # UTC and must not count); starting on 5 March drops every report created on 4 March.
    short = sla_summary(reader, Period(date(2024, 3, 1), date(2024, 3, 19), AS_OF), level="kota")
    assert dict(short[short["reports"] > 0][["code", "reports"]].values) == {"3171": 6, "3173": 4}
    late = sla_summary(reader, Period(date(2024, 3, 5), date(2024, 3, 31), AS_OF), level="kota")
    assert dict(late[late["reports"] > 0][["code", "reports"]].values) == {"3171": 3, "3173": 2}


def test_states_move_with_the_moment_they_are_judged_at(reader: psycopg.Connection) -> None:
    # Three hours earlier J7 is 5 h old: within its coordination target; J6 is still overdue.
    earlier = Period(MARCH.start, MARCH.end, AS_OF - timedelta(hours=3))
    got = states_by_key(report_states(reader, earlier))
    assert got["J7"]["coordinate_state"] == "open_within"
    assert got["J6"]["complete_state"] == "open_overdue"
    # Much earlier, at T0 + 150 h (J6 150 h old): J6 and J3 are not overdue yet; Q2 (6 h old
    # exactly) is not older than its 6 h target.
    early = Period(MARCH.start, MARCH.end, hours(150))
    got = states_by_key(report_states(reader, early))
    assert got["J6"]["complete_state"] == "open_within"
    assert got["J3"]["complete_state"] == "open_within"
    assert got["QL-S2"]["coordinate_state"] == "open_within"
    assert got["J1"]["complete_state"] == "met"


def test_unknown_level_or_grouping_is_a_clear_error(reader: psycopg.Connection) -> None:
    with pytest.raises(PantauError, match=r"Unknown level 'desa'"):
        sla_summary(reader, MARCH, level="desa")
    with pytest.raises(PantauError, match=r"Unknown grouping 'month'"):
        sla_summary(reader, MARCH, level="kota", by="month")


# == 2. targets as data ===========================================================================
@pytest.fixture
def default_targets_after(sla_db: str) -> Iterator[None]:
    yield
    with db.connect(sla_db) as conn:
        sync_targets(conn, load_targets(SLA_FILE))
        conn.commit()


def test_a_category_override_changes_only_that_category(
    sla_db: str,
    reader: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    default_targets_after: None,
) -> None:
    before_states = states_by_key(report_states(reader, MARCH))
    before = sla_summary(reader, MARCH, level="kecamatan", by="category")
    reader.rollback()
    toml = tmp_path / "sla.toml"
    toml.write_text(
        "[default]\ncoordinate_hours = 6\ncomplete_hours = 168\n\n"
        "[category.sampah]\ncomplete_hours = 24\n",
        encoding="utf-8",
    )
    monkeypatch.setattr("geo.sla.SLA_FILE", toml)
    with db.connect(sla_db) as conn:
        result = refresh(conn)  # every refresh synchronises the targets
    assert result.days == 0
    targets = sorted(reader.execute("SELECT * FROM api.sla_targets").fetchall())
    assert targets == [("*", 6, 168), ("sampah", 6, 24)]

    after_states = states_by_key(report_states(reader, MARCH))
    changed = {
        (key, col, before_states[key][col], row[col])
        for key, row in after_states.items()
        for col in ("coordinate_state", "complete_state", "coordinate_target", "complete_target")
        if row[col] != before_states[key][col]
    }
    # Q1 completed after 30 h: met -> breached; J4 open for 30 h: within -> overdue. The other
    # sampah reports (J3, J6 overdue; Q3 breached at 170 h) keep their states.
    assert changed == {
        ("QL-S1", "complete_state", "met", "breached"),
        ("J4", "complete_state", "open_within", "open_overdue"),
        *{(k, "complete_target", 168, 24) for k in ("J3", "J4", "QL-S1", "J6", "QL-S3")},
    }
    after = summary_rows(sla_summary(reader, MARCH, level="kecamatan", by="category"),
                         ["code", "category"])  # fmt: skip
    # Tebet/sampah: complete met 0 / (Q1 breached + J3, J4 overdue) = 0 %, open_overdue 2.
    assert after[(KEC_TEBET, "sampah")] == pytest.approx((3, 2.5, 3.7, 100.0, 30.0, 30.0, 0.0, 2))
    # Gambir/sampah was 0 % already; jalan is untouched in both kecamatan.
    for key in ((KEC_GAMBIR, "sampah"), (KEC_TEBET, "jalan"), (KEC_GAMBIR, "jalan")):
        assert after[key] == pytest.approx(BY_KECAMATAN_CATEGORY[key]), key
    for key, expected in summary_rows(before, ["code", "category"]).items():
        assert expected == pytest.approx(BY_KECAMATAN_CATEGORY[key]), key
    # Kelurahan Tebet Timur: complete met J1 / (J1 + J2, Q1 breached + J3, J4, Q2 overdue).
    kel = summary_rows(sla_summary(reader, MARCH, level="kelurahan"), ["code"])
    assert kel[TEBET_TIMUR] == pytest.approx((6, 3.0, 8.2, 60.0, 48.0, 169.6, 16.7, 3))


def test_sync_targets_replaces_every_row(sla_db: str, default_targets_after: None) -> None:
    with db.connect(sla_db) as conn:
        sync_targets(conn, SlaTargets(3, 72, {"pohon": {"coordinate_h": 1}}))
        assert sorted(conn.execute("SELECT * FROM api.sla_targets").fetchall()) == [
            ("*", 3, 72),
            ("pohon", 1, 72),
        ]
        sync_targets(conn, SlaTargets(6, 168))
        assert conn.execute("SELECT * FROM api.sla_targets").fetchall() == [("*", 6, 168)]
        conn.rollback()


def test_the_committed_targets_file_is_pergub_128(tmp_path: Path) -> None:
    assert load_targets() == SlaTargets(6.0, 168.0, {})
    path = tmp_path / "sla.toml"
    path.write_text(
        "[default]\ncoordinate_hours = 6\ncomplete_hours = 168.5\n"
        "[category.kebakaran]\ncoordinate_hours = 1\n[category.sampah]\ncomplete_hours = 24\n",
        encoding="utf-8",
    )
    targets = load_targets(path)
    assert targets.for_category("kebakaran") == (1.0, 168.5)
    assert targets.for_category("sampah") == (6.0, 24.0)
    assert targets.for_category("jalan") == (6.0, 168.5)
    assert targets.rows() == [("*", 6.0, 168.5), ("kebakaran", 1.0, 168.5), ("sampah", 6.0, 24.0)]


DEFAULT = "[default]\ncoordinate_hours = 6\ncomplete_hours = 168\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, r"SLA targets file not found: .*missing\.toml"),
        ("[default\ncoordinate_hours = 6\n", r"is not valid TOML"),
        ("[category.sampah]\ncomplete_hours = 24\n", r"a \[default\] table .* is required"),
        ("default = 6\n", r"a \[default\] table .* is required"),
        ("[default]\ncoordinate_hours = 6\n", r"\[default\] needs complete_hours"),
        ("[default]\ncoordinate_hours = 0\ncomplete_hours = 168\n",
         r"\[default\] coordinate_hours must be a number of hours above 0 .*, not 0\."),
        ("[default]\ncoordinate_hours = 6\ncomplete_hours = -1\n",
         r"\[default\] complete_hours must be a number of hours above 0 .*, not -1\."),
        ("[default]\ncoordinate_hours = true\ncomplete_hours = 168\n",
         r"coordinate_hours must be a number of hours above 0 .*, not True\."),
        ("[default]\ncoordinate_hours = 6\ncomplete_hours = \"168\"\n",
         r"complete_hours must be a number of hours above 0 .*, not '168'\."),
        ("[default]\ncoordinate_hours = nan\ncomplete_hours = 168\n",
         r"coordinate_hours must be a number of hours above 0 .*, not nan\."),
        (DEFAULT + "[category.sampah]\ncomplete_hours = 0\n",
         r"\[sampah\] complete_hours must be a number of hours above 0 .*, not 0\."),
        (DEFAULT + "[category.sampah]\ncoordinate_hours = false\n",
         r"\[sampah\] coordinate_hours must be a number of hours above 0 .*, not False\."),
        (DEFAULT + "[category.banjir_bandang]\ncomplete_hours = 24\n",
         r"\[category\.banjir_bandang\] is not a canonical category \(.*banjir, .*sampah"),
        (DEFAULT + "[category]\nsampah = 24\n", r"\[category\.sampah\] must be a table"),
        ("[default]\ncoordinate_hour = 6\ncoordinate_hours = 6\ncomplete_hours = 168\n",
         r"\[default\] has unknown key\(s\) coordinate_hour\."),
        (DEFAULT + "[category.sampah]\ncomplete_hour = 24\n",
         r"\[sampah\] has unknown key\(s\) complete_hour\."),
        (DEFAULT + "[defaults]\ncomplete_hours = 24\n", r"unknown table\(s\) defaults\."),
    ],
    ids=[
        "missing-file", "invalid-toml", "no-default", "default-not-a-table",
        "missing-complete", "zero", "negative", "boolean", "string", "nan",
        "category-zero", "category-boolean", "unknown-category", "category-not-a-table",
        "unknown-key", "unknown-category-key", "unknown-table",
    ],
)  # fmt: skip
def test_a_bad_targets_file_is_a_clear_error(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "missing.toml"
    if text is not None:
        path = tmp_path / "sla.toml"
        path.write_text(text, encoding="utf-8")
    with pytest.raises(SlaConfigError, match=message) as info:
        load_targets(path)
    assert str(path) in str(info.value), "the message names the file"


def test_a_category_key_that_is_not_a_table_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"
    path.write_text("category = 5\n" + DEFAULT, encoding="utf-8")  # top level, before [default]
    with pytest.raises(SlaConfigError, match="category"):
        load_targets(path)


def test_an_infinite_target_is_refused_or_harmless(
    sla_db: str, tmp_path: Path, default_targets_after: None
) -> None:
    path = tmp_path / "sla.toml"
    path.write_text("[default]\ncoordinate_hours = 6\ncomplete_hours = inf\n", encoding="utf-8")
    try:
        targets = load_targets(path)
    except SlaConfigError:
        return  # refusing it is one right answer
    with db.connect(sla_db) as conn:
        try:
            sync_targets(conn, targets)
            states = report_states(conn, MARCH)  # the other: no report is ever overdue
            assert (states["complete_state"] != "open_overdue").all()
        finally:
            conn.rollback()


# == 3. the overdue backlog =======================================================================
def backlog_rows(frame: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    assert list(frame.columns) == ["code", "name", "open_overdue", *BUCKETS]
    return {r["code"]: tuple(int(r[c]) for c in ["open_overdue", *BUCKETS])
            for r in frame.to_dict("records")}  # fmt: skip


def test_overdue_backlog_puts_reports_of_known_ages_in_their_buckets(
    sla_db: str, reader: psycopg.Connection
) -> None:
    frame = overdue_backlog(reader, BACKLOG, level="kelurahan")
    #                       open_overdue  <7  7-14  14-30  30-90  >90
    assert backlog_rows(frame) == {
        TEBET_TIMUR: (6, 0, 2, 2, 1, 1),  # B2 B3 | B4 B5 | B6 | B7 (B1, B8 within)
        GAMBIR_KEL: (2, 0, 0, 0, 1, 1),  # B9 | B10 (B11 exactly 168 h old: within)
    }
    assert list(frame["code"]) == [TEBET_TIMUR, GAMBIR_KEL], "largest backlog first"
    for row in frame.to_dict("records"):
        assert row["open_overdue"] == sum(row[b] for b in BUCKETS)
    summary = sla_summary(reader, BACKLOG, level="kelurahan").set_index("code")
    assert summary.loc[TEBET_TIMUR, "open_overdue"] == 6
    assert summary.loc[GAMBIR_KEL, "open_overdue"] == 2
    kec = backlog_rows(overdue_backlog(reader, BACKLOG, level="kecamatan"))
    assert kec == {KEC_TEBET: (6, 0, 2, 2, 1, 1), KEC_GAMBIR: (2, 0, 0, 0, 1, 1)}
    # The March set at its own moment: Q2 10 days (7-14), J3 15 days and J6 16 days (14-30).
    march = backlog_rows(overdue_backlog(reader, MARCH, level="kelurahan"))
    assert march == {TEBET_TIMUR: (2, 0, 1, 1, 0, 0), GAMBIR_KEL: (1, 0, 0, 1, 0, 0)}

    # A category with a 24 h completion target fills "< 7 hari" (B8, two days old). The targets
    # change in this transaction only.
    with db.connect(sla_db) as conn:
        sync_targets(conn, SlaTargets(6, 168, {"sampah": {"complete_h": 24}}))
        shorter = backlog_rows(overdue_backlog(conn, BACKLOG, level="kelurahan"))
        conn.rollback()
    assert shorter[TEBET_TIMUR] == (7, 1, 2, 2, 1, 1)
    assert shorter[GAMBIR_KEL] == (2, 0, 0, 0, 1, 1)


# == 4. the command line ==========================================================================
def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


CLI_COLUMNS = ["code", "name", *SUMMARY_COLUMNS]
MARCH_ARGS = ("--start", "2024-03-01", "--end", "2024-03-31")


@pytest.fixture
def cli_env(sla_db: str, test_env: dict[str, str]) -> dict[str, str]:
    return test_env


def kelurahan_count(url: str) -> int:
    with db.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM api.admin_areas WHERE level = 'kelurahan' AND NOT is_placeholder"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_cli_writes_csv_with_every_kelurahan(
    sla_db: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "sla.csv"
    proc = run_cli("sla", "--level", "kelurahan", *MARCH_ARGS, "--out", str(out), env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert "267 rows (CSV)" in proc.stdout
    assert "reports created 2024-03-01 to 2024-03-31" in proc.stdout
    frame = pd.read_csv(out, dtype={"code": str})
    assert list(frame.columns) == CLI_COLUMNS
    assert len(frame) == 267 == kelurahan_count(sla_db)
    assert frame["code"].is_unique
    rows = frame.set_index("code")
    assert rows["reports"].sum() == 12
    # Without --as-of the states are judged at the data's latest update: B8 of the backlog set,
    # 30 July 12:00 WIB. By then every open March report is overdue on both targets:
    # Tebet Timur complete met J1 Q1 / (+ J2 breached + J3 J4 Q2 overdue) = 2/6 = 33.3 %;
    # Gambir coordinate met Q3 / (+ J5 J6 breached + Q4 J7 overdue) = 1/5 = 20 %, complete met
    # J5 / (+ Q3 Q5 breached + J6 Q4 J7 overdue) = 1/6 = 16.7 %. Hours do not change.
    assert "states as of 2024-07-30 12:00 WIB" in proc.stdout
    expected = {
        TEBET_TIMUR: (6, 3.0, 8.2, 60.0, 48.0, 169.6, 33.3, 3),
        GAMBIR_KEL: (6, 7.0, 7.8, 20.0, 170.0, 274.0, 16.7, 3),
    }
    for code, values in expected.items():
        assert tuple(rows.loc[code, SUMMARY_COLS]) == pytest.approx(values), code


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_cli_writes_spatial_files_in_wgs84(
    sla_db: str, cli_env: dict[str, str], tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"sla_kelurahan{suffix}"
    proc = run_cli("sla", "--level", "kelurahan", *MARCH_ARGS, "--out", str(out), env=cli_env)
    assert proc.returncode == 0, proc.stderr
    frame = gpd.read_file(out)
    assert list(frame.columns) == [*CLI_COLUMNS, "geometry"]
    assert frame.crs is not None and frame.crs.to_epsg() == 4326
    assert len(frame) == 267
    assert frame.geometry.notna().all() and frame.geometry.is_valid.all()
    assert set(frame.geom_type) <= {"Polygon", "MultiPolygon"}
    minx, miny, maxx, maxy = frame.total_bounds
    assert 106.3 < minx < maxx < 107.1 and -6.5 < miny < maxy < -5.1, "degrees around Jakarta"
    rows = frame.set_index(frame["code"].astype(str))
    assert int(rows.loc[TEBET_TIMUR, "reports"]) == 6
    assert rows.loc[TEBET_TIMUR, "geometry"].covers(gpd.points_from_xy([TEBET[1]], [TEBET[0]])[0])


def test_cli_by_category_writes_one_row_per_area_and_category(
    sla_db: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "sla_kec.gpkg"
    proc = run_cli("sla", "--level", "kecamatan", "--by", "category", *MARCH_ARGS,
                   "--out", str(out), env=cli_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    frame = gpd.read_file(out, layer="sla_kec")
    assert list(frame.columns) == ["code", "name", "category", *SUMMARY_COLUMNS, "geometry"]
    assert frame.crs.to_epsg() == 4326
    got = {(str(r["code"]), r["category"]): int(r["reports"]) for r in frame.to_dict("records")}
    assert got == {key: value[0] for key, value in BY_KECAMATAN_CATEGORY.items()}


def test_cli_by_week_writes_the_week_as_a_date(
    sla_db: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "sla_week.geojson"
    proc = run_cli("sla", "--level", "kelurahan", "--by", "week", *MARCH_ARGS,
                   "--out", str(out), env=cli_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    frame = gpd.read_file(out)
    assert list(frame.columns) == ["code", "name", "week", *SUMMARY_COLUMNS, "geometry"]
    got = {(str(r["code"]), str(r["week"])[:10]): int(r["reports"])
           for r in frame.to_dict("records")}  # fmt: skip
    assert got == {
        (TEBET_TIMUR, "2024-03-04"): 5, (TEBET_TIMUR, "2024-03-18"): 1,
        (GAMBIR_KEL, "2024-03-04"): 4, (GAMBIR_KEL, "2024-03-18"): 2,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "kelurahan", "--out", "{tmp}/sla.xlsx"],
         "error: Cannot write sla.xlsx: use one of .csv, .geojson, .json, .gpkg."),
        (["--level", "kelurahan", "--start", "2024-03-10", "--end", "2024-03-01",
          "--out", "{tmp}/sla.csv"],
         "error: The period ends (2024-03-01) before it starts (2024-03-10)."),
        (["--level", "kelurahan", "--out", "{tmp}/no/such/folder/sla.csv"],
         "error: The folder {tmp}/no/such/folder does not exist."),
    ],
    ids=["xlsx", "end-before-start", "missing-folder"],
)  # fmt: skip
def test_cli_bad_output_or_period_is_one_error_line(
    cli_env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = run_cli("sla", *argv, env=cli_env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [message.replace("{tmp}", str(tmp_path))]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing written"


def test_cli_unknown_level_is_a_usage_error_without_traceback(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    proc = run_cli("sla", "--level", "foo", "--out", str(tmp_path / "x.csv"), env=cli_env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "'foo'" in proc.stderr and "kelurahan" in proc.stderr
    assert not (tmp_path / "x.csv").exists()
