"""The Overview and Area page queries (geo/overview.py) on a small hand-computed dataset.

Thirteen reports are ingested through the real pipeline (JAKI and Qlue files, spatial join,
marts refreshed by the ingest) into three kelurahan of three kecamatan in two kota, plus one
report outside Jakarta. Every KPI, sub-area row, category share, trend bucket and rank below is
worked out by hand in the comments, for the city, a kota, a kecamatan and a kelurahan, and the
SLA numbers are checked against geo.sla's own summary. All queries run as the dashboard's
read-only role. Set PANTAU_TEST_DB (e.g. pantau_test_overview) to use a database of your own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from geo import db
from geo.analytics import Filters
from geo.errors import PantauError
from geo.overview import (
    KPI_NAMES,
    SUBAREA_COLUMNS,
    Scope,
    area_rank,
    daily_trend,
    data_freshness,
    data_up_to,
    kpis,
    kpis_with_change,
    previous_period,
    resolve_filters,
    subarea_measures,
    top_categories,
)
from geo.sla import Period, sla_summary
from geo.taxonomy import load_taxonomy
from pipelines.ingest import ingest
from tests.conftest import clear_reports, ensure_bps2020
from tests.integration.test_ingest import write_csv, write_jsonl

WIB = timezone(timedelta(hours=7))

# Places (BPS 2020 codes) and a point in each.
TEBET = (-6.2261, 106.8532)  # kelurahan Tebet Timur, kecamatan Tebet, Jakarta Selatan
MELAWAI = (-6.24622, 106.80249)  # kelurahan Melawai, kecamatan Kebayoran Baru, Jakarta Selatan
GAMBIR = (-6.1754, 106.8272)  # Monas: kelurahan Gambir, kecamatan Gambir, Jakarta Pusat
DEPOK = (-6.4025, 106.8185)  # outside DKI Jakarta
TEBET_TIMUR, KEC_TEBET, JAKSEL = "3171090003", "3171090", "3171"
MELAWAI_KEL, KEC_KEBAYORAN_BARU = "3171060005", "3171060"
GAMBIR_KEL, KEC_GAMBIR, JAKPUS = "3173080003", "3173080", "3173"
MENTENG_DALAM = "3171090001"  # a kelurahan of kecamatan Tebet without reports
PREPEDAN = "3174080888"  # a placeholder unit of BPS 2020 (kelurahan level, not a kelurahan)
JAKI_LABEL = {"jalan": "Jalan", "sampah": "Sampah", "banjir": "Banjir"}

#: Monday 4 March 2024, 08:00 WIB; states are judged at AS_OF, 16 days (384 h) later.
T0 = datetime(2024, 3, 4, 8, 0, tzinfo=WIB)
AS_OF = datetime(2024, 3, 20, 8, 0, tzinfo=WIB)
MARCH = Filters(date(2024, 3, 1), date(2024, 3, 31))

# -- the hand-made reports ---------------------------------------------------------------------
# Default targets: coordinate 6 h, complete 168 h. Hours after creation.
#
# id  place    cat.    feed  created                  coord.  complete  state coord./complete
# R1  Tebet    jalan   jaki  T0 (Mon 4 Mar)           2       48        met / met
# R2  Tebet    jalan   jaki  T0                       10      200       breached / breached
# R3  Tebet    sampah  jaki  T0 + 24 h (5 Mar)        4       -         met / open_overdue (360 h)
# R4  Melawai  sampah  jaki  T0                       1       20        met / met
# R5  Melawai  banjir  jaki  AS_OF - 30 h             3       -         met / open_within (30 h)
#                            = 19 Mar 02:00 WIB, 18 Mar in UTC: its day is 19 March
# R6  Gambir   jalan   jaki  T0                       8       180       breached / breached
# R7  Gambir   sampah  jaki  T0                       -       -         open_overdue / open_overdue
# R8  Depok    jalan   jaki  T0                       1       5         outside Jakarta: nowhere
# Q1  Tebet    sampah  qlue  T0                       unknown 30        unknown / met
#
# The previous period of March (31 days) is 30 January - 29 February 2024:
# P0  Tebet    jalan   jaki  29 Jan 23:30 WIB         -       -         (the day before it)
# P3  Tebet    jalan   jaki  30 Jan 00:30 WIB         2       50        met / met (29 Jan UTC)
# P1  Tebet    jalan   jaki  10 Feb 08:00             3       170       met / breached
# P2  Gambir   sampah  jaki  20 Feb 08:00             7       -         breached / open_overdue
REPORTS: dict[str, tuple[tuple[float, float], str, datetime, list[tuple[str, float]]]] = {
    "R1": (TEBET, "jalan", T0, [("Disposisi", 2), ("Selesai", 48)]),
    "R2": (TEBET, "jalan", T0, [("Disposisi", 10), ("Selesai", 200)]),
    "R3": (TEBET, "sampah", T0 + timedelta(hours=24), [("Disposisi", 4), ("Proses Koordinasi", 6)]),
    "R4": (MELAWAI, "sampah", T0, [("Disposisi", 1), ("Selesai", 20)]),
    "R5": (MELAWAI, "banjir", AS_OF - timedelta(hours=30), [("Disposisi", 3)]),
    "R6": (GAMBIR, "jalan", T0, [("Disposisi", 8), ("Selesai", 180)]),
    "R7": (GAMBIR, "sampah", T0, []),
    "R8": (DEPOK, "jalan", T0, [("Disposisi", 1), ("Selesai", 5)]),
    "P0": (TEBET, "jalan", datetime(2024, 1, 29, 23, 30, tzinfo=WIB), []),
    "P3": (TEBET, "jalan", datetime(2024, 1, 30, 0, 30, tzinfo=WIB), [
        ("Disposisi", 2), ("Selesai", 50)]),
    "P1": (TEBET, "jalan", datetime(2024, 2, 10, 8, 0, tzinfo=WIB), [
        ("Disposisi", 3), ("Selesai", 170)]),
    "P2": (GAMBIR, "sampah", datetime(2024, 2, 20, 8, 0, tzinfo=WIB), [("Disposisi", 7)]),
}  # fmt: skip
JAKI_IDS = {key: 500 + i for i, key in enumerate(REPORTS)}
#: The latest update of any report: R5's Disposisi, 3 h after it was created.
LATEST_UPDATE = AS_OF - timedelta(hours=27)

# -- the hand-computed KPIs (percentile_cont: linear between order statistics at p * (n - 1)) --
# City, March (R8 is outside Jakarta): R1-R7 and Q1 = 8 reports; completed R1 R2 R4 R6 Q1: 5/8.
#   coordinate hours [1, 2, 3, 4, 8, 10]: median at 2.5 -> 3.5; p90 at 4.5 -> 8 + 0.5 * 2 = 9.
#   coordinate met R1 R3 R4 R5, breached R2 R6, overdue R7 (Q1 unknown): 4 / 7 = 57.1 %.
#   complete hours [20, 30, 48, 180, 200]: median 48; p90 at 3.6 -> 180 + 0.6 * 20 = 192.
#   complete met R1 R4 Q1, breached R2 R6, overdue R3 R7 (R5 within): 3 / 7 = 42.9 %; overdue 2.
CITY_MARCH = dict(zip(KPI_NAMES, (8, 5 / 8, 3.5, 9.0, 57.1, 48.0, 192.0, 42.9, 2), strict=True))
# Jakarta Selatan, March: R1 R2 R3 R4 R5 Q1 = 6; completed R1 R2 R4 Q1: 4/6.
#   coordinate hours [1, 2, 3, 4, 10]: median 3; p90 at 3.6 -> 4 + 0.6 * 6 = 7.6.
#   coordinate met R1 R3 R4 R5, breached R2 (Q1 unknown): 4 / 5 = 80 %.
#   complete hours [20, 30, 48, 200]: median at 1.5 -> 39; p90 at 2.7 -> 48 + 0.7 * 152 = 154.4.
#   complete met R1 R4 Q1, breached R2, overdue R3 (R5 within): 3 / 5 = 60 %; overdue 1.
JAKSEL_MARCH = dict(zip(KPI_NAMES, (6, 4 / 6, 3.0, 7.6, 80.0, 39.0, 154.4, 60.0, 1), strict=True))
# Tebet Timur (and kecamatan Tebet, its only kelurahan with reports), March: R1 R2 R3 Q1 = 4;
#   completed R1 R2 Q1: 3/4. coordinate hours [2, 4, 10]: median 4; p90 at 1.8 -> 8.8.
#   coordinate met R1 R3, breached R2 (Q1 unknown): 2 / 3 = 66.7 %.
#   complete hours [30, 48, 200]: median 48; p90 at 1.8 -> 48 + 0.8 * 152 = 169.6.
#   complete met R1 Q1, breached R2, overdue R3: 2 / 4 = 50 %; overdue 1.
TEBET_MARCH = dict(zip(KPI_NAMES, (4, 3 / 4, 4.0, 8.8, 66.7, 48.0, 169.6, 50.0, 1), strict=True))
# City, previous period (30 Jan - 29 Feb): P3 P1 P2 = 3 (P0 is on 29 January); completed 2/3.
#   coordinate hours [2, 3, 7]: median 3; p90 at 1.8 -> 3 + 0.8 * 4 = 6.2; met P3 P1,
#   breached P2: 2 / 3 = 66.7 %. complete hours [50, 170]: median 110; p90 at 0.9 -> 158.
#   complete met P3, breached P1, overdue P2 (29 days old at AS_OF): 1 / 3 = 33.3 %; overdue 1.
CITY_FEBRUARY = dict(zip(KPI_NAMES, (3, 2 / 3, 3.0, 6.2, 66.7, 110.0, 158.0, 33.3, 1), strict=True))
# Jaki sampah only, city, March: R3 R4 R7; completed R4: 1/3. coordinate [1, 4]: median 2.5,
#   p90 1 + 0.9 * 3 = 3.7; met R3 R4, overdue R7: 2 / 3. complete [20]; met R4, overdue R3 R7.
JAKI_SAMPAH_MARCH = dict(
    zip(KPI_NAMES, (3, 1 / 3, 2.5, 3.7, 66.7, 20.0, 20.0, 33.3, 2), strict=True)
)
EMPTY = dict.fromkeys(KPI_NAMES) | {"reports": 0, "open_overdue": 0}


# -- feeds -------------------------------------------------------------------------------------
def jaki(key: str) -> dict[str, Any]:
    """A JAKI report of REPORTS: steps are (status, hours after creation) after Menunggu."""
    where, category, created, steps = REPORTS[key]
    history = [("Menunggu", 0.0), *steps]
    times = [created + timedelta(hours=h) for _, h in history]
    return {
        "id": JAKI_IDS[key],
        "code": f"JK-{key}",
        "content": "Permasalahan: uji ringkasan",
        "lat": where[0],
        "lng": where[1],
        "createdAt": times[0].isoformat(),
        "updatedAt": times[-1].isoformat(),
        "tstatus": {"name": history[-1][0]},
        "complaintCategory": {"name": JAKI_LABEL[category]},
        "zone": {"name": "Kelurahan"},
        "histories": [
            {"status": s, "createdAt": t.isoformat()}
            for (s, _), t in zip(history, times, strict=True)
        ],
    }


def wib_text(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")


#: Q1: first seen completed (coordination unknown), completed 30 h after creation.
Q1 = (
    f"QL-O1,Sampah,Sampah menumpuk,Sampah,{TEBET[0]},{TEBET[1]},Jl. Tebet Raya,X,Y,complete,"
    f"{wib_text(T0)},{wib_text(T0 + timedelta(hours=30))},"
    f"{wib_text(T0 + timedelta(hours=30))},,,0"
)


@pytest.fixture(scope="module")
def overview_db(
    writer_url: str, bps2020_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The hand-made reports, ingested as a user would (the ingest refreshes the marts)."""
    url = ensure_bps2020(writer_url, bps2020_path)
    clear_reports(url)
    folder = tmp_path_factory.mktemp("overview")
    jaki_path = write_jsonl(folder / "jaki" / "f.jsonl", [jaki(key) for key in REPORTS])
    qlue_path = write_csv(folder / "qlue" / "f.csv", [Q1])
    for source, path, outside in (("jaki", jaki_path, 1), ("qlue", qlue_path, 0)):
        result = ingest(source, [path], url=url, progress=False)
        assert (result.rejected, result.outside_area) == (0, outside), result
        assert result.refresh_error is None
    yield url
    clear_reports(url)


@pytest.fixture
def reader(overview_db: str, reader_url: str) -> Iterator[psycopg.Connection]:
    """The dashboard's role: it can read the api views and nothing else."""
    with db.connect(reader_url) as conn:
        yield conn


def same(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(got) == list(expected)
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, abs=1e-9), key


# == the data are where the hand computation assumes ============================================
def test_the_reports_are_in_the_places_the_hand_computation_assumes(
    reader: psycopg.Connection,
) -> None:
    rows = reader.execute(
        "SELECT source_id, kelurahan_code, kecamatan_code, kota_code, outside, "
        "(created_at AT TIME ZONE 'Asia/Jakarta')::date FROM api.reports"
    ).fetchall()
    got = {r[0]: r[1:] for r in rows}
    place = {TEBET: (TEBET_TIMUR, KEC_TEBET, JAKSEL), MELAWAI: (MELAWAI_KEL, KEC_KEBAYORAN_BARU,
             JAKSEL), GAMBIR: (GAMBIR_KEL, KEC_GAMBIR, JAKPUS)}  # fmt: skip
    for key, (where, _, created, _) in REPORTS.items():
        codes = got[str(JAKI_IDS[key])]
        if where == DEPOK:
            assert codes[:4] == (None, None, None, True), key
        else:
            assert codes[:4] == (*place[where], False), key
        assert codes[4] == created.astimezone(WIB).date(), key
    assert got["QL-O1"][:3] == place[TEBET]
    assert got[str(JAKI_IDS["R5"])][4] == date(2024, 3, 19), "WIB day, not the UTC one"


# == scope ========================================================================================
def test_scope_levels_and_sub_area_levels(reader: psycopg.Connection) -> None:
    cases = [
        (Scope(), None, "kota"),
        (Scope(level="kelurahan"), None, "kelurahan"),
        (Scope(area=JAKSEL), "kota", "kecamatan"),
        (Scope(area=KEC_TEBET), "kecamatan", "kelurahan"),
        (Scope(area=TEBET_TIMUR), "kelurahan", "kelurahan"),
        (Scope(level="kelurahan", area=JAKSEL), "kota", "kelurahan"),  # finer: as given
        (Scope(level="kecamatan", area=KEC_TEBET), "kecamatan", "kelurahan"),  # not finer
    ]
    for scope, level, child in cases:
        assert scope.scope_level(reader) == level, scope
        assert scope.child_level(reader) == child, scope


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "provinsi"}, "Unknown level 'provinsi'"),
        ({"area": "31-71"}, "Unknown area code '31-71'"),
        ({"area": "317"}, "4 \\(kota\\), 7 \\(kecamatan\\) or 10 \\(kelurahan\\) digits"),
        ({"area": ""}, "Unknown area code ''"),
    ],
)
def test_malformed_scopes_are_refused_when_made(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(PantauError, match=message):
        Scope(**kwargs)


def test_unknown_and_placeholder_area_codes_are_refused_by_every_query(
    reader: psycopg.Connection,
) -> None:
    unknown = Scope(area="3199")  # well formed, but no such kota
    calls = [
        lambda: kpis(reader, MARCH, unknown),
        lambda: kpis_with_change(reader, MARCH, unknown),
        lambda: subarea_measures(reader, MARCH, unknown),
        lambda: top_categories(reader, MARCH, unknown),
        lambda: daily_trend(reader, MARCH, unknown),
        lambda: area_rank(reader, MARCH, "3199"),
        lambda: area_rank(reader, MARCH, "3171999999"),
        lambda: unknown.scope_level(reader),
    ]
    for call in calls:
        with pytest.raises(PantauError, match="Unknown area code '31"):
            call()
    with pytest.raises(PantauError, match="placeholder unit"):
        kpis(reader, MARCH, Scope(area=PREPEDAN))


def test_unknown_options_are_refused(reader: psycopg.Connection) -> None:
    with pytest.raises(PantauError, match="Unknown frequency 'year'"):
        daily_trend(reader, MARCH, Scope(), freq="year")
    with pytest.raises(PantauError, match="Unknown measure 'density'"):
        area_rank(reader, MARCH, TEBET_TIMUR, measure="density")
    with pytest.raises(PantauError, match="n must be at least 1"):
        top_categories(reader, MARCH, Scope(), n=0)


# == periods ======================================================================================
@pytest.mark.parametrize(
    ("start", "end", "previous_start", "previous_end"),
    [
        # March 2024 (31 days) -> 31 days ending 29 February (a leap year)
        (date(2024, 3, 1), date(2024, 3, 31), date(2024, 1, 30), date(2024, 2, 29)),
        # the same in 2023: 28 February, and the 31 days reach back into January
        (date(2023, 3, 1), date(2023, 3, 31), date(2023, 1, 29), date(2023, 2, 28)),
        # February 2024 (29 days) -> 3-31 January
        (date(2024, 2, 1), date(2024, 2, 29), date(2024, 1, 3), date(2024, 1, 31)),
        # one day: the day before, across a month end
        (date(2024, 3, 1), date(2024, 3, 1), date(2024, 2, 29), date(2024, 2, 29)),
        # across a year end
        (date(2024, 1, 1), date(2024, 1, 10), date(2023, 12, 22), date(2023, 12, 31)),
        # a period spanning a month end
        (date(2024, 4, 25), date(2024, 5, 5), date(2024, 4, 14), date(2024, 4, 24)),
        # a whole leap year (366 days) -> 366 days ending 31 December 2023
        (date(2024, 1, 1), date(2024, 12, 31), date(2022, 12, 31), date(2023, 12, 31)),
    ],
)
def test_previous_period_has_the_same_length_and_ends_the_day_before(
    start: date, end: date, previous_start: date, previous_end: date
) -> None:
    filters = Filters(start, end, categories=("jalan",), sources=("jaki",), statuses=("received",))
    previous = previous_period(filters)
    assert (previous.start, previous.end) == (previous_start, previous_end)
    assert (previous.end - previous.start) == (end - start)
    assert (previous.categories, previous.sources, previous.statuses) == (
        ("jalan",), ("jaki",), ("received",)
    )  # fmt: skip


def test_previous_period_of_an_open_period_is_refused_until_it_is_resolved(
    reader: psycopg.Connection,
) -> None:
    for filters in (Filters(), Filters(start=date(2024, 3, 1)), Filters(end=date(2024, 3, 31))):
        with pytest.raises(PantauError, match="needs a start and an end"):
            previous_period(filters)
    # the data run from P0's day (29 January) to R5's (19 March)
    resolved, as_of = resolve_filters(reader, Filters(end=date(2024, 3, 31)))
    assert (resolved.start, resolved.end) == (date(2024, 1, 29), date(2024, 3, 31))
    assert as_of == LATEST_UPDATE
    assert resolve_filters(reader, Filters())[0].end == date(2024, 3, 19)
    previous = previous_period(resolved)
    assert (previous.start, previous.end) == (date(2023, 11, 27), date(2024, 1, 28))


# == KPIs =========================================================================================
@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (Scope(), CITY_MARCH),
        (Scope(area=JAKSEL), JAKSEL_MARCH),
        (Scope(area=KEC_TEBET), TEBET_MARCH),
        (Scope(area=TEBET_TIMUR), TEBET_MARCH),
        (Scope(area=MENTENG_DALAM), EMPTY),  # a kelurahan without reports
    ],
    ids=["city", "kota", "kecamatan", "kelurahan", "empty-kelurahan"],
)
def test_kpis_are_the_hand_computed_ones(
    reader: psycopg.Connection, scope: Scope, expected: dict[str, Any]
) -> None:
    same(kpis(reader, MARCH, scope, as_of=AS_OF), expected)


def test_kpis_apply_category_source_and_status_filters(reader: psycopg.Connection) -> None:
    only = Filters(MARCH.start, MARCH.end, categories=("sampah",), sources=("jaki",))
    same(kpis(reader, only, Scope(), as_of=AS_OF), JAKI_SAMPAH_MARCH)
    completed = Filters(MARCH.start, MARCH.end, statuses=("completed",))
    got = kpis(reader, completed, Scope(), as_of=AS_OF)
    # R1 R2 R4 R6 Q1: every one completed, none open, so none overdue
    assert (got["reports"], got["completed_share"], got["open_overdue"]) == (5, 1.0, 0)
    assert got["median_complete_h"] == 48.0


def test_kpis_judge_at_the_data_s_latest_update_by_default(reader: psycopg.Connection) -> None:
    assert data_up_to(reader) == LATEST_UPDATE
    assert kpis(reader, MARCH, Scope()) == kpis(reader, MARCH, Scope(), as_of=LATEST_UPDATE)
    # Judged the moment R7 was created, nothing is overdue yet and R7 is not decided.
    early = kpis(reader, MARCH, Scope(area=GAMBIR_KEL), as_of=T0)
    assert early["open_overdue"] == 0
    assert early["within_coordinate_pct"] == 0.0  # R6 breached, R7 still open within 6 h


def test_kpis_have_geo_sla_s_numbers_on_an_autocommit_connection_too(
    reader: psycopg.Connection, reader_url: str
) -> None:
    """The same definitions as geo.sla: its per-area summary equals the area's KPIs."""
    period = Period(MARCH.start, MARCH.end, AS_OF)
    for level, code, expected in (
        ("kelurahan", TEBET_TIMUR, TEBET_MARCH),
        ("kecamatan", KEC_TEBET, TEBET_MARCH),
        ("kota", JAKSEL, JAKSEL_MARCH),
    ):
        row = sla_summary(reader, period, level=level).set_index("code").loc[code]
        got = kpis(reader, MARCH, Scope(area=code), as_of=AS_OF)
        for key in KPI_NAMES:
            if key != "completed_share":
                assert got[key] == pytest.approx(row[key]), (code, key)
                assert got[key] == pytest.approx(expected[key]), (code, key)
    with db.connect(reader_url, autocommit=True) as conn:
        same(kpis(conn, MARCH, Scope(), as_of=AS_OF), CITY_MARCH)


# == change =======================================================================================
def test_kpis_with_change_compare_with_the_previous_period_of_the_same_length(
    reader: psycopg.Connection,
) -> None:
    frame = kpis_with_change(reader, MARCH, Scope(), as_of=AS_OF)
    assert list(frame.index) == list(KPI_NAMES)
    assert list(frame.columns) == ["unit", "current", "previous", "change", "change_pct"]
    assert frame.attrs["previous"] == (date(2024, 1, 30), date(2024, 2, 29))
    assert frame.attrs["as_of"] == AS_OF
    for key in KPI_NAMES:
        current, previous = CITY_MARCH[key], CITY_FEBRUARY[key]
        row = frame.loc[key]
        assert (row["current"], row["previous"]) == pytest.approx((current, previous)), key
        assert row["change"] == pytest.approx(current - previous), key
    # reports 8 vs 3: +5, +166.7 %; open overdue 2 vs 1: +1, +100 %; shares only in points
    assert frame.loc["reports", "change_pct"] == pytest.approx(500 / 3)
    assert frame.loc["open_overdue", "change_pct"] == pytest.approx(100.0)
    assert frame.loc["within_complete_pct", "change"] == pytest.approx(9.6)
    assert frame.loc["within_coordinate_pct", "change"] == pytest.approx(-9.6)
    assert frame.loc["completed_share", "change"] == pytest.approx(5 / 8 - 2 / 3)
    others = frame.index.difference(["reports", "open_overdue"])
    assert frame.loc[others, "change_pct"].isna().all()
    assert frame.loc["within_complete_pct", "unit"] == "percent"


def test_relative_change_is_undefined_when_the_previous_count_is_zero(
    reader: psycopg.Connection,
) -> None:
    # Jakarta Selatan: 6 reports vs P3 P1 = 2 (+200 %); open overdue 1 (R3) vs 0: no relative.
    frame = kpis_with_change(reader, MARCH, Scope(area=JAKSEL), as_of=AS_OF)
    assert frame.loc["reports", ["current", "previous", "change", "change_pct"]].tolist() == [
        6, 2, 4, 200.0]  # fmt: skip
    assert frame.loc["open_overdue", ["current", "previous", "change"]].tolist() == [1, 0, 1]
    assert math.isnan(frame.loc["open_overdue", "change_pct"])
    # a kelurahan without reports in either period: no change at all for the SLA measures
    empty = kpis_with_change(reader, MARCH, Scope(area=MENTENG_DALAM), as_of=AS_OF)
    assert empty.loc["reports", ["current", "previous", "change"]].tolist() == [0, 0, 0]
    assert empty.loc["median_complete_h", ["current", "previous", "change"]].isna().all()


# == sub-areas ====================================================================================
def areas_of(conn: psycopg.Connection, level: str, column: str | None, code: str | None) -> Any:
    query = (
        "SELECT code, area_km2 FROM api.admin_areas WHERE level = %s AND NOT is_placeholder "
        + (f"AND {column} = %s " if column else "")
        + "ORDER BY code"
    )
    params = [level, code] if column else [level]
    return dict(conn.execute(query, params).fetchall())


def test_subarea_measures_of_the_city_list_the_six_kota_with_per_km2(
    reader: psycopg.Connection,
) -> None:
    frame = subarea_measures(reader, MARCH, Scope(), as_of=AS_OF)
    km2 = areas_of(reader, "kota", None, None)
    assert list(frame.columns) == SUBAREA_COLUMNS
    assert frame["code"].tolist() == sorted(km2) and len(frame) == 6
    assert frame.attrs["level"] == "kota"
    rows = frame.set_index("code")
    assert rows["area_km2"].to_dict() == pytest.approx(km2)
    assert (rows["reports_per_km2"] == rows["reports"] / rows["area_km2"]).all()
    # Jakarta Selatan as its KPIs; Jakarta Pusat: R6 breached both, R7 overdue both.
    assert rows.loc[JAKSEL, SUBAREA_COLUMNS[2:]].tolist() == pytest.approx(
        [6, km2[JAKSEL], 6 / km2[JAKSEL], 60.0, 80.0, 1]
    )
    assert rows.loc[JAKPUS, SUBAREA_COLUMNS[2:]].tolist() == pytest.approx(
        [2, km2[JAKPUS], 2 / km2[JAKPUS], 0.0, 0.0, 1]
    )
    empty = rows.drop(index=[JAKSEL, JAKPUS])
    assert len(empty) == 4 and (empty["reports"] == 0).all() and (empty["open_overdue"] == 0).all()
    assert (empty["reports_per_km2"] == 0).all()
    assert empty[["within_complete_pct", "within_coordinate_pct"]].isna().all().all()
    assert frame["reports"].sum() == CITY_MARCH["reports"], "R8, outside Jakarta, is nowhere"


def test_subarea_measures_of_a_kota_a_kecamatan_and_a_kelurahan(
    reader: psycopg.Connection,
) -> None:
    kota = subarea_measures(reader, MARCH, Scope(area=JAKSEL), as_of=AS_OF).set_index("code")
    assert list(kota.index) == list(areas_of(reader, "kecamatan", "kota_code", JAKSEL))
    assert len(kota) == 10
    # Kebayoran Baru: R4 met both, R5 coordinated in 3 h and still within its 7 days
    measured = ["reports", "within_complete_pct", "within_coordinate_pct", "open_overdue"]
    assert kota.loc[KEC_KEBAYORAN_BARU, measured].tolist() == [2, 100.0, 100.0, 0]
    assert kota.loc[KEC_TEBET, measured].tolist() == [4, 50.0, 66.7, 1]
    assert (kota.drop(index=[KEC_TEBET, KEC_KEBAYORAN_BARU])["reports"] == 0).all()

    kecamatan = subarea_measures(reader, MARCH, Scope(area=KEC_TEBET), as_of=AS_OF)
    assert kecamatan["code"].tolist() == list(
        areas_of(reader, "kelurahan", "kecamatan_code", KEC_TEBET)
    )
    assert len(kecamatan) == 7
    assert kecamatan.set_index("code")["reports"].to_dict() == {
        code: (4 if code == TEBET_TIMUR else 0) for code in kecamatan["code"]
    }

    kelurahan = subarea_measures(reader, MARCH, Scope(area=TEBET_TIMUR), as_of=AS_OF)
    assert kelurahan["code"].tolist() == [TEBET_TIMUR], "a kelurahan lists itself"
    assert kelurahan.loc[0, "reports"] == 4
    assert kelurahan.attrs["level"] == "kelurahan"

    # the kelurahan of a whole kota, when asked for
    kel_of_kota = subarea_measures(reader, MARCH, Scope("kelurahan", JAKSEL), as_of=AS_OF)
    assert kel_of_kota["code"].tolist() == list(areas_of(reader, "kelurahan", "kota_code", JAKSEL))
    with_reports = kel_of_kota[kel_of_kota["reports"] > 0].set_index("code")["reports"]
    assert with_reports.to_dict() == {MELAWAI_KEL: 2, TEBET_TIMUR: 4}


def test_subarea_shares_are_geo_sla_s(reader: psycopg.Connection) -> None:
    period = Period(MARCH.start, MARCH.end, AS_OF)
    for level in ("kota", "kecamatan", "kelurahan"):
        mine = subarea_measures(reader, MARCH, Scope(level=level), as_of=AS_OF).set_index("code")
        theirs = sla_summary(reader, period, level=level).set_index("code")
        columns = ["reports", "within_complete_pct", "within_coordinate_pct", "open_overdue"]
        pd.testing.assert_frame_equal(
            mine[columns], theirs.loc[mine.index, columns], check_dtype=False
        )


# == categories ===================================================================================
def test_top_categories_rank_counts_and_shares(reader: psycopg.Connection) -> None:
    labels = load_taxonomy().categories
    frame = top_categories(reader, MARCH, Scope())
    # sampah R3 R4 R7 Q1, jalan R1 R2 R6, banjir R5 (R8 is outside Jakarta)
    assert frame.to_dict("list") == {
        "category": ["sampah", "jalan", "banjir"],
        "label": [labels["sampah"], labels["jalan"], labels["banjir"]],
        "reports": [4, 3, 1],
        "share": pytest.approx([0.5, 0.375, 0.125]),
    }
    assert frame["share"].sum() == pytest.approx(1.0)
    assert (frame.attrs["total"], frame.attrs["other"]) == (8, 0)

    top2 = top_categories(reader, MARCH, Scope(), n=2)
    assert top2["category"].tolist() == ["sampah", "jalan"]
    assert top2["share"].sum() == pytest.approx(7 / 8), "shares of all reports, not of the top 2"
    assert (top2.attrs["total"], top2.attrs["other"]) == (8, 1)

    # Jakarta Pusat: jalan R6, sampah R7: a tie, broken by the category key
    tie = top_categories(reader, MARCH, Scope(area=JAKPUS))
    assert tie[["category", "reports", "share"]].values.tolist() == [
        ["jalan", 1, 0.5], ["sampah", 1, 0.5]]  # fmt: skip
    assert top_categories(reader, MARCH, Scope(area=MENTENG_DALAM)).empty


# == trend ========================================================================================
def test_daily_trend_fills_every_day_with_zeros(reader: psycopg.Connection) -> None:
    frame = daily_trend(reader, MARCH, Scope())
    assert frame["period"].tolist() == [date(2024, 3, d) for d in range(1, 32)]
    # 4 March: R1 R2 R4 R6 R7 Q1; 5 March: R3; 19 March (WIB): R5
    counts = dict(zip(frame["period"], frame["reports"], strict=True))
    assert {d: n for d, n in counts.items() if n} == {
        date(2024, 3, 4): 6, date(2024, 3, 5): 1, date(2024, 3, 19): 1}  # fmt: skip
    assert (frame["days"] == 1).all()
    kelurahan = daily_trend(reader, MARCH, Scope(area=TEBET_TIMUR))
    assert len(kelurahan) == 31 and kelurahan["reports"].sum() == 4


def test_weekly_and_monthly_trend_mark_partial_periods(reader: psycopg.Connection) -> None:
    weeks = daily_trend(reader, MARCH, Scope(), freq="week")
    assert weeks.values.tolist() == [
        [date(2024, 2, 26), 0, 3],  # 1-3 March only
        [date(2024, 3, 4), 7, 7],
        [date(2024, 3, 11), 0, 7],
        [date(2024, 3, 18), 1, 7],
        [date(2024, 3, 25), 0, 7],
    ]
    two_periods = Filters(date(2024, 1, 30), date(2024, 3, 31))
    months = daily_trend(reader, two_periods, Scope(), freq="month")
    assert months.values.tolist() == [
        [date(2024, 1, 1), 1, 2],  # P3 on 30 January (P0 is on the 29th, outside)
        [date(2024, 2, 1), 2, 29],
        [date(2024, 3, 1), 8, 31],
    ]
    empty = daily_trend(reader, Filters(date(2024, 6, 1), date(2024, 6, 30)), Scope(), freq="week")
    assert len(empty) == 5 and (empty["reports"] == 0).all()


# == rank =========================================================================================
def test_area_rank_uses_competition_ranking_among_the_level_and_within_the_parent(
    reader: psycopg.Connection,
) -> None:
    kelurahan = len(areas_of(reader, "kelurahan", None, None))
    in_tebet = len(areas_of(reader, "kelurahan", "kecamatan_code", KEC_TEBET))
    # Reports: Tebet Timur 4, Melawai 2, Gambir 2, all others 0 -> ranks 1, 2, 2, then 4.
    top = area_rank(reader, MARCH, TEBET_TIMUR)
    assert top == {
        "code": TEBET_TIMUR, "name": top["name"], "level": "kelurahan", "measure": "reports",
        "value": 4, "rank": 1, "peers": kelurahan, "parent_code": KEC_TEBET,
        "parent_name": top["parent_name"], "parent_rank": 1, "parent_peers": in_tebet,
    }  # fmt: skip
    assert "tebet" in top["name"].casefold() and "tebet" in top["parent_name"].casefold()
    for tied in (MELAWAI_KEL, GAMBIR_KEL):
        rank = area_rank(reader, MARCH, tied)
        assert (rank["value"], rank["rank"], rank["parent_rank"]) == (2, 2, 1), tied
    zero = area_rank(reader, MARCH, MENTENG_DALAM)
    assert (zero["value"], zero["rank"], zero["peers"]) == (0, 4, kelurahan)
    assert (zero["parent_rank"], zero["parent_peers"]) == (2, in_tebet)

    # Kota: Jakarta Selatan 6, Jakarta Pusat 2, the other four 0 (all rank 3); no parent.
    kota = area_rank(reader, MARCH, "3101")
    assert (kota["value"], kota["rank"], kota["peers"]) == (0, 3, 6)
    assert kota["parent_code"] is None and kota["parent_rank"] is None
    assert area_rank(reader, MARCH, JAKSEL)["rank"] == 1


def test_area_rank_per_km2_and_within_target(reader: psycopg.Connection) -> None:
    km2 = areas_of(reader, "kelurahan", None, None)
    density = {TEBET_TIMUR: 4 / km2[TEBET_TIMUR], MELAWAI_KEL: 2 / km2[MELAWAI_KEL],
               GAMBIR_KEL: 2 / km2[GAMBIR_KEL]}  # fmt: skip
    order = sorted(density, key=density.get, reverse=True)  # type: ignore[arg-type]
    for expected_rank, code in enumerate(order, start=1):
        rank = area_rank(reader, MARCH, code, measure="reports_per_km2")
        assert rank["value"] == pytest.approx(density[code])
        assert rank["rank"] == expected_rank
    # Within the completion target: Melawai 100 (R4; R5 undecided), Tebet Timur 50, Gambir 0.
    # Only these three have decided reports: the others are not ranked, nor counted as peers.
    for code, value, expected_rank in ((MELAWAI_KEL, 100.0, 1), (TEBET_TIMUR, 50.0, 2),
                                       (GAMBIR_KEL, 0.0, 3)):  # fmt: skip
        rank = area_rank(reader, MARCH, code, measure="within_complete_pct", as_of=AS_OF)
        assert (rank["value"], rank["rank"], rank["peers"]) == (value, expected_rank, 3), code
        assert (rank["parent_rank"], rank["parent_peers"]) == (1, 1), code
    unranked = area_rank(reader, MARCH, MENTENG_DALAM, measure="within_complete_pct")
    assert (unranked["value"], unranked["rank"], unranked["peers"]) == (None, None, 3)
    assert (unranked["parent_rank"], unranked["parent_peers"]) == (None, 1)


# == freshness ====================================================================================
def test_data_up_to_and_freshness(reader: psycopg.Connection) -> None:
    fresh = data_freshness(reader)
    assert fresh["data_up_to"] == LATEST_UPDATE == data_up_to(reader)
    assert fresh["last_ingest_at"] is not None and fresh["refreshed_at"] is not None
    assert fresh["refreshed_at"] >= fresh["last_ingest_at"]
    assert fresh["marts_behind"] is False
