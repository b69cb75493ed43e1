"""``pipelines refresh`` on the real PostGIS test database: incremental equals full, and cheap.

Two months of generated feeds are ingested in batches (each refreshing the marts
incrementally), then updated by re-ingested files that change statuses and move creation
days, so old and new days are queued; the three marts must then equal a full rebuild row for
row, and agree with counts made independently in Python from ``pantau.reports``. Small
hand-made files check that a refresh touches exactly the queued days, that a refresh that fails
(a broken targets file, a database error) keeps the queue and the marts, and the command line.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from h3.api import basic_int as h3int

from geo import db
from geo.errors import PantauError
from geo.sla import SlaConfigError
from pipelines.ingest import IngestResult, ingest
from pipelines.refresh import RefreshResult, refresh
from pipelines.simulate.generate import Options, simulate
from pipelines.sources.base import parse_time
from tests.conftest import clear_reports

REPO_ROOT = Path(__file__).resolve().parents[2]
WIB = timezone(timedelta(hours=7))

#: Each mart in full, in a total order (mart_daily has no key: duplicates must show).
MARTS = {
    "mart_daily": "SELECT day, area_code, kelurahan_code, kecamatan_code, kota_code, category, "
    "source, status, reports FROM pantau.mart_daily ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
    "mart_h3_weekly": "SELECT week, res, cell, category, source, reports "
    "FROM pantau.mart_h3_weekly ORDER BY 1, 2, 3, 4, 5, 6",
    "mart_sla_facts": "SELECT source, source_id, day, week, created_at, coordinated_at, "
    "completed_at, category, status, area_code, kelurahan_code, kecamatan_code, kota_code, "
    "coordinate_h, complete_h FROM pantau.mart_sla_facts ORDER BY 1, 2",
}
RESULT_KEYS = {
    "mode", "days", "weeks", "daily_rows", "h3_rows", "sla_rows", "data_up_to", "seconds",
}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _empty_after_the_module(writer_url: str) -> Iterator[None]:
    yield
    clear_reports(writer_url)


@pytest.fixture
def url(bps2020_loaded: str) -> str:
    """Writer URL with BPS 2020 loaded, no reports and empty marts."""
    clear_reports(bps2020_loaded)
    return bps2020_loaded


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with db.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with db.connect(url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in MARTS.items()}


def queued(url: str) -> set[date]:
    return {row[0] for row in query(url, "SELECT day FROM pantau.mart_dirty_days")}


def refresh_now(url: str, *, full: bool = False) -> RefreshResult:
    with db.connect(url) as conn:
        return refresh(conn, full=full)


def up_to(result: RefreshResult) -> datetime | None:
    return datetime.fromisoformat(result.data_up_to) if result.data_up_to else None


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def wib_day(moment: datetime) -> date:
    return moment.astimezone(WIB).date()


def check_ingest(result: IngestResult) -> None:
    assert result.refresh_error is None, result.refresh_error
    assert result.read == result.inserted + result.updated + result.unchanged + result.rejected


# == 1. incremental == full ========================================================================
@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory, bps2020_path: Path) -> Path:
    """March and April 2024, about 150 reports a day from both feeds, 5 % defects."""
    out = tmp_path_factory.mktemp("refresh_feed")
    simulate(
        Options(
            start=date(2024, 3, 1),
            end=date(2024, 4, 30),
            seed=23,
            out=out,
            per_day=150,
            defects=0.05,
            boundaries=bps2020_path,
            jaki_share={2024: 0.5},
            progress=False,
        )
    )
    return out


def jaki_objects(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Every parseable JAKI object of the generated files, by id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and obj.get("id") is not None:
                out.setdefault(str(obj["id"]), []).append(obj)
    return out


def qlue_rows(folder: Path) -> tuple[list[str], dict[str, list[dict[str, str]]]]:
    out: dict[str, list[dict[str, str]]] = {}
    header: list[str] = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            for row in reader:
                out.setdefault(row["report_id"], []).append(row)
    return header, out


#: How far back (days) the creation time of every fourth updated JAKI report is moved: to
#: another day of the same week, another week, and into January and February (new days).
SHIFTS = [1, 3, 9, 20, 45, 2, 7, 30, 60, 14]


def updated_jaki_file(url: str, feed: Path, path: Path) -> tuple[Path, set[date], int]:
    """40 open JAKI reports completed a day later; every fourth also created earlier.

    Returns the file, the days the update must queue (old and new creation days) and the
    number of reports updated.
    """
    objects = jaki_objects(feed / "jaki")
    stored = query(
        url,
        "SELECT source_id, created_at, updated_at FROM pantau.reports "
        "WHERE source = 'jaki' AND status <> 'completed' ORDER BY md5(source_id)",
    )
    chosen = [(sid, c, u) for sid, c, u in stored if len(objects.get(sid, [])) == 1][:40]
    assert len(chosen) == 40
    out, days = [], set()
    for i, (sid, created, updated) in enumerate(chosen):
        obj = dict(objects[sid][0])
        done = (updated + timedelta(days=1)).astimezone(UTC)
        new_created = created
        if i % 4 == 0:
            new_created = created - timedelta(days=SHIFTS[i // 4], hours=5)
            obj["createdAt"] = new_created.isoformat()
        history = obj.get("histories")
        if not isinstance(history, list):
            history = [{"status": "Menunggu", "createdAt": new_created.isoformat()}]
        obj["histories"] = [*history, {"status": "Selesai", "createdAt": done.isoformat()}]
        obj["tstatus"] = {"name": "Selesai"}
        obj["updatedAt"] = done.isoformat()
        assert parse_time(obj["createdAt"], "createdAt") == new_created
        out.append(obj)
        days |= {wib_day(created), wib_day(new_created)}
    path.write_text("".join(json.dumps(o) + "\n" for o in out), encoding="utf-8")
    return path, days, len(out)


def qlue_time(moment: datetime) -> str:
    """A Qlue timestamp: WIB without a zone."""
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")


def updated_qlue_file(url: str, feed: Path, path: Path) -> tuple[Path, int]:
    """30 open Qlue reports seen again three hours after their last update: waiting ones "in
    process", those in process "complete"; every fifth one also created two days earlier."""
    header, rows = qlue_rows(feed / "qlue")
    stored = query(
        url,
        "SELECT source_id, status, created_at, updated_at FROM pantau.reports "
        "WHERE source = 'qlue' AND status <> 'completed' ORDER BY md5(source_id)",
    )
    chosen = [r for r in stored if len(rows.get(r[0], [])) == 1][:30]
    assert len(chosen) == 30
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        for i, (sid, status, created, updated) in enumerate(chosen):
            row = dict(rows[sid][0])
            later = qlue_time(updated + timedelta(hours=3))
            row["updated_at"] = later
            if status == "received":
                row["status"], row["completed_at"] = "process", ""
            else:
                row["status"], row["completed_at"] = "complete", later
            if i % 5 == 0:
                row["created_at"] = qlue_time(created - timedelta(days=2))
            writer.writerow(row)
    return path, len(chosen)


def test_incremental_refreshes_equal_a_full_rebuild(url: str, feed: Path, tmp_path: Path) -> None:
    batches = [
        ("jaki", feed / "jaki" / "jaki_2024-03.jsonl"),
        ("qlue", feed / "qlue" / "qlue_2024-03.csv"),
        ("jaki", feed / "jaki" / "jaki_2024-04.jsonl"),
        ("qlue", feed / "qlue" / "qlue_2024-04.csv"),
    ]
    for source, path in batches:
        result = ingest(source, [path], url=url, progress=False)  # refreshes the marts itself
        check_ingest(result)
        assert result.inserted > 1000, (source, path.name)
        assert queued(url) == set(), "the ingest's own refresh emptied the queue"
    refreshes = query(url, "SELECT mode, days FROM pantau.mart_refreshes ORDER BY refresh_id")
    assert [mode for mode, _ in refreshes] == ["incremental"] * 4
    assert all(days >= 28 for _, days in refreshes), refreshes

    # Updates: completed a day later; every fourth one also created earlier (old + new day).
    path, expected_days, n = updated_jaki_file(url, feed, tmp_path / "jaki_updates.jsonl")
    result = ingest("jaki", [path], url=url, progress=False, refresh_marts=False)
    check_ingest(result)
    assert (result.updated, result.inserted, result.rejected) == (n, 0, 0)
    assert queued(url) == expected_days
    assert any(d < date(2024, 3, 1) for d in expected_days), "new days before the feed"
    moved = refresh_now(url)
    assert (moved.mode, moved.days) == ("incremental", len(expected_days))
    assert moved.weeks == len({monday(d) for d in expected_days})
    assert queued(url) == set()
    qlue_path, n_qlue = updated_qlue_file(url, feed, tmp_path / "qlue_updates.csv")
    result = ingest("qlue", [qlue_path], url=url, progress=False)
    check_ingest(result)
    assert (result.updated, result.rejected) == (n_qlue, 0)

    incremental = snapshot(url)
    last_up_to = query(
        url, "SELECT data_up_to FROM pantau.mart_refreshes ORDER BY refresh_id DESC LIMIT 1"
    )[0][0]
    full = refresh_now(url, full=True)
    assert full.mode == "full"
    rebuilt = snapshot(url)
    for name in MARTS:
        assert len(incremental[name]) == len(rebuilt[name]), name
        assert incremental[name] == rebuilt[name], f"{name}: incremental differs from full"
    (total,) = query(url, "SELECT count(*), max(updated_at) FROM pantau.reports")
    assert full.sla_rows == total[0] == len(rebuilt["mart_sla_facts"])
    assert full.daily_rows == len(rebuilt["mart_daily"])
    assert full.h3_rows == len(rebuilt["mart_h3_weekly"])
    assert full.days == len({row[0] for row in rebuilt["mart_daily"]})
    assert last_up_to == total[1] == datetime.fromisoformat(str(full.data_up_to))

    # The marts against counts made here, in Python, from the reports themselves.
    reports = query(
        url,
        "SELECT created_at, area_code, category, source, status, h3_r12, coordinated_at, "
        "completed_at, source_id FROM pantau.reports",
    )
    per_day = Counter(wib_day(r[0]) for r in reports)
    daily_sum: Counter[date] = Counter()
    for row in rebuilt["mart_daily"]:
        daily_sum[row[0]] += row[-1]
    assert daily_sum == per_day
    per_key = Counter((wib_day(r[0]), r[1], r[2], r[3], r[4]) for r in reports)
    assert (
        Counter({(row[0], row[1], row[5], row[6], row[7]): row[8] for row in rebuilt["mart_daily"]})
        == per_key
    )
    grouped = query(
        url,
        "SELECT (created_at AT TIME ZONE 'Asia/Jakarta')::date, area_code, category, source, "
        "status, count(*) FROM pantau.reports GROUP BY 1, 2, 3, 4, 5",
    )
    assert {row[:5]: row[5] for row in grouped} == per_key
    cells = Counter(
        (monday(wib_day(r[0])), res, h3int.cell_to_parent(r[5], res), r[2], r[3])
        for r in reports
        for res in (7, 8, 9)
    )
    assert Counter({row[:5]: row[5] for row in rebuilt["mart_h3_weekly"]}) == cells
    facts = {row[1]: row for row in rebuilt["mart_sla_facts"]}
    for created, _, _, _, _, _, coordinated, completed, sid in reports[:2000]:
        fact = facts[sid]
        assert fact[2] == wib_day(created) and fact[3] == monday(wib_day(created))
        for value, event in ((fact[13], coordinated), (fact[14], completed)):
            expected = None if event is None else (event - created).total_seconds() / 3600
            assert value == (None if expected is None else pytest.approx(expected)), sid


# == 2. only the touched days ======================================================================
def jaki_report(report_id: int, created: datetime, **changes: Any) -> dict[str, Any]:
    """A waiting JAKI report in Tebet created at ``created``."""
    obj: dict[str, Any] = {
        "id": report_id,
        "code": f"JK{report_id:06d}",
        "content": "Permasalahan: Lampu jalan mati",
        "lat": -6.2261,
        "lng": 106.8532,
        "createdAt": created.isoformat(),
        "updatedAt": created.isoformat(),
        "tstatus": {"name": "Menunggu"},
        "complaintCategory": {"name": "Jalan"},
        "zone": {"name": "Suku Dinas Bina Marga"},
        "histories": [{"status": "Menunggu", "createdAt": created.isoformat()}],
    }
    obj.update(changes)
    return obj


def write_jsonl(path: Path, objs: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def wib(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=WIB)


#: Friday 1 March (twice) and Saturday 2 March: one ISO week (Monday 26 February).
START = [jaki_report(1, wib(1)), jaki_report(2, wib(1, 15)), jaki_report(3, wib(2, 0))]


def daily(url: str) -> dict[date, int]:
    return dict(query(url, "SELECT day, sum(reports)::int FROM pantau.mart_daily GROUP BY day"))


def test_a_full_refresh_by_the_writer_vacuums_and_analyzes_the_marts(url: str) -> None:
    """The pipelines' role owns the marts (migration 0006): its VACUUM ANALYZE is not skipped."""
    with db.connect(url) as conn:
        before = conn.execute("SELECT now()").fetchone()
        conn.rollback()
        refresh(conn, full=True)
    assert before is not None
    for _ in range(50):  # the statistics collector reports on its own schedule
        with db.connect(url) as conn:
            rows = conn.execute(
                "SELECT relname, last_vacuum, last_analyze FROM pg_stat_user_tables "
                "WHERE schemaname = 'pantau' "
                "AND relname IN ('mart_daily', 'mart_h3_weekly', 'mart_sla_facts')"
            ).fetchall()
        if len(rows) == 3 and all(
            v and a and v >= before[0] and a >= before[0] for _, v, a in rows
        ):
            break
        time.sleep(0.1)
    assert sorted(r[0] for r in rows) == ["mart_daily", "mart_h3_weekly", "mart_sla_facts"]
    for name, vacuumed, analyzed in rows:
        assert vacuumed is not None and vacuumed >= before[0], name
        assert analyzed is not None and analyzed >= before[0], name


def test_only_the_touched_days_are_refreshed(url: str, tmp_path: Path) -> None:
    check_ingest(ingest("jaki", [write_jsonl(tmp_path / "a.jsonl", START)], url=url))
    first = query(url, "SELECT mode, days FROM pantau.mart_refreshes")
    assert first == [("incremental", 2)], "the ingest refreshed its two days"
    full = refresh_now(url, full=True)
    assert (full.days, full.weeks, full.daily_rows, full.sla_rows) == (2, 1, 2, 3)
    assert daily(url) == {date(2024, 3, 1): 2, date(2024, 3, 2): 1}

    # One new report on a new day (Monday 11 March, a new week): one day, one week.
    new = write_jsonl(tmp_path / "b.jsonl", [jaki_report(4, wib(11))])
    check_ingest(ingest("jaki", [new], url=url, refresh_marts=False))
    assert queued(url) == {date(2024, 3, 11)}
    before = snapshot(url)
    one = refresh_now(url)
    assert (one.mode, one.days, one.weeks) == ("incremental", 1, 1)
    assert (one.daily_rows, one.sla_rows, one.h3_rows) == (1, 1, 3)  # res 7, 8 and 9
    after = snapshot(url)
    assert set(after["mart_daily"]) - set(before["mart_daily"]) == {
        row for row in after["mart_daily"] if row[0] == date(2024, 3, 11)
    }
    assert set(before["mart_daily"]) <= set(after["mart_daily"]), "other days untouched"
    assert daily(url) == {date(2024, 3, 1): 2, date(2024, 3, 2): 1, date(2024, 3, 11): 1}

    # The same file again changes nothing and queues nothing.
    again = ingest("jaki", [new], url=url, refresh_marts=False)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    assert queued(url) == set()
    nothing = refresh_now(url)
    assert (nothing.days, nothing.weeks, nothing.daily_rows, nothing.h3_rows) == (0, 0, 0, 0)
    assert nothing.sla_rows == 0
    assert snapshot(url) == after
    assert up_to(nothing) == up_to(one) == wib(11)

    # Report 3 was created on Saturday 2 March; a newer copy says Monday 4 March (a new week).
    moved = jaki_report(3, wib(4, 8), updatedAt=wib(4, 10).isoformat())
    result = ingest("jaki", [write_jsonl(tmp_path / "c.jsonl", [moved])], url=url,
                    refresh_marts=False)  # fmt: skip
    assert result.updated == 1
    assert queued(url) == {date(2024, 3, 2), date(2024, 3, 4)}, "the old and the new day"
    two = refresh_now(url)
    assert (two.days, two.weeks) == (2, 2)
    assert daily(url) == {date(2024, 3, 1): 2, date(2024, 3, 4): 1, date(2024, 3, 11): 1}
    weeks = query(
        url, "SELECT week, sum(reports)::int FROM pantau.mart_h3_weekly WHERE res = 9 GROUP BY 1"
    )
    assert dict(weeks) == {date(2024, 2, 26): 2, date(2024, 3, 4): 1, date(2024, 3, 11): 1}
    (fact,) = query(url, "SELECT day, week FROM pantau.mart_sla_facts WHERE source_id = '3'")
    assert fact == (date(2024, 3, 4), date(2024, 3, 4))
    assert up_to(two) == wib(11), "the latest update of any report, not of the days refreshed"
    incremental = snapshot(url)
    refresh_now(url, full=True)
    assert snapshot(url) == incremental


def test_a_day_is_judged_in_jakarta_time(url: str, tmp_path: Path) -> None:
    # 23:30 UTC on 4 March is 06:30 WIB on 5 March; 16:59 UTC on 10 March (a Sunday) is
    # 23:59 WIB, still Sunday: the week of Monday 4 March.
    objs = [
        jaki_report(1, datetime(2024, 3, 4, 23, 30, tzinfo=UTC)),
        jaki_report(2, datetime(2024, 3, 10, 16, 59, tzinfo=UTC)),
        jaki_report(3, datetime(2024, 3, 10, 17, 0, tzinfo=UTC)),  # 00:00 WIB Monday 11 March
    ]
    check_ingest(ingest("jaki", [write_jsonl(tmp_path / "a.jsonl", objs)], url=url))
    assert daily(url) == {date(2024, 3, 5): 1, date(2024, 3, 10): 1, date(2024, 3, 11): 1}
    weeks = query(
        url, "SELECT week, sum(reports)::int FROM pantau.mart_h3_weekly WHERE res = 7 GROUP BY 1"
    )
    assert dict(weeks) == {date(2024, 3, 4): 2, date(2024, 3, 11): 1}


# == 3. a failed refresh keeps the queue ===========================================================
def refresh_log(url: str) -> list[tuple[Any, ...]]:
    return query(url, "SELECT refresh_id, mode, days FROM pantau.mart_refreshes ORDER BY 1")


def test_a_broken_targets_file_stops_the_refresh_and_keeps_the_queue(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_ingest(ingest("jaki", [write_jsonl(tmp_path / "a.jsonl", START)], url=url))
    new = write_jsonl(tmp_path / "b.jsonl", [jaki_report(4, wib(11))])
    check_ingest(ingest("jaki", [new], url=url, refresh_marts=False))
    marts, log = snapshot(url), refresh_log(url)

    broken = tmp_path / "sla.toml"
    broken.write_text("[default]\ncoordinate_hours = 6\ncomplete_hours = \n", encoding="utf-8")
    monkeypatch.setattr("geo.sla.SLA_FILE", broken)
    with pytest.raises(SlaConfigError, match=r"sla\.toml is not valid TOML"):
        refresh_now(url)
    with pytest.raises(PantauError):
        refresh_now(url, full=True)
    assert queued(url) == {date(2024, 3, 11)}
    assert snapshot(url) == marts and refresh_log(url) == log

    # An ingest with the broken file loads its batch and says why the marts lag behind.
    later = write_jsonl(tmp_path / "c.jsonl", [jaki_report(5, wib(12))])
    result = ingest("jaki", [later], url=url)
    assert result.inserted == 1
    assert result.refresh_error is not None and "not valid TOML" in result.refresh_error
    assert queued(url) == {date(2024, 3, 11), date(2024, 3, 12)}
    assert snapshot(url) == marts

    monkeypatch.undo()
    caught_up = refresh_now(url)
    assert (caught_up.days, caught_up.weeks) == (2, 1)
    assert queued(url) == set()
    assert daily(url) == {
        date(2024, 3, 1): 2, date(2024, 3, 2): 1, date(2024, 3, 11): 1, date(2024, 3, 12): 1
    }  # fmt: skip


def test_a_database_error_mid_refresh_rolls_back_and_keeps_the_queue(
    url: str, admin_url: str, tmp_path: Path
) -> None:
    check_ingest(ingest("jaki", [write_jsonl(tmp_path / "a.jsonl", START)], url=url))
    new = [jaki_report(4, wib(11)), jaki_report(999, wib(12))]
    check_ingest(ingest("jaki", [write_jsonl(tmp_path / "b.jsonl", new)], url=url,
                        refresh_marts=False))  # fmt: skip
    marts, log = snapshot(url), refresh_log(url)
    # The SLA facts are inserted last: by then the queue was taken and the other marts written.
    with db.connect(admin_url) as conn:
        conn.execute(
            "ALTER TABLE pantau.mart_sla_facts ADD CONSTRAINT test_refuses_999 "
            "CHECK (source_id <> '999') NOT VALID"
        )
        conn.commit()
    try:
        expected = r"Refreshing the marts failed, they are unchanged \(the queue is kept\): "
        with pytest.raises(PantauError, match=expected + ".*test_refuses_999") as info:
            refresh_now(url)
        assert "\n" not in str(info.value)
        assert isinstance(info.value.__cause__, psycopg.errors.CheckViolation)
        assert queued(url) == {date(2024, 3, 11), date(2024, 3, 12)}
        assert snapshot(url) == marts, "no mart changed, not even the daily one written first"
        assert refresh_log(url) == log
    finally:
        with db.connect(admin_url) as conn:
            conn.execute("ALTER TABLE pantau.mart_sla_facts DROP CONSTRAINT test_refuses_999")
            conn.commit()
    done = refresh_now(url)
    assert (done.days, done.sla_rows) == (2, 2)
    assert queued(url) == set()


# == 4. the command line ===========================================================================
def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_cli_refresh_prints_json_last(url: str, tmp_path: Path, test_env: dict[str, str]) -> None:
    check_ingest(ingest("jaki", [write_jsonl(tmp_path / "a.jsonl", START)], url=url,
                        refresh_marts=False))  # fmt: skip
    proc = run_cli("refresh", "--json", env=test_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("Refreshed (incremental) 2 day(s), 1 week(s) in ")
    out = json.loads(lines[-1])
    assert set(out) == RESULT_KEYS
    assert (out["mode"], out["days"], out["weeks"], out["daily_rows"], out["sla_rows"]) == (
        "incremental", 2, 1, 2, 3
    )  # fmt: skip
    assert datetime.fromisoformat(out["data_up_to"]) == wib(2, 0)
    assert queued(url) == set()

    proc = run_cli("refresh", "--full", "--json", env=test_env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out["mode"], out["days"], out["weeks"], out["sla_rows"]) == ("full", 2, 1, 3)
    assert [m for _, m, _ in refresh_log(url)] == ["incremental", "full"]
