"""``pipelines ingest`` on the real PostGIS test database, scored against the generator's truth.

A five-week run of both feeds with a defect on one report in ten is generated once for the
module; each test starts from empty report tables, ingests, and compares what the database
holds with ``truth.parquet``: clean reports land in their true kelurahan with their category,
status and times; every planted defect is repaired, kept or rejected with its reason; personal
data never reaches ``pantau.reports``; the counts add up; a second run changes nothing; later
snapshots update; a killed run leaves nothing behind. The command line is run as a user would.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from geo import db
from pipelines.ingest import IngestResult, ingest
from pipelines.simulate.generate import Options, simulate
from pipelines.sources.base import Report
from pipelines.sources.jaki import JakiFiles

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_DB = os.environ.get("PANTAU_TEST_DB", "pantau_test")

#: Planted defects that must end as rejected rows, and the reason each must carry.
REJECTED_AS = {
    "coords_zero": "zero_coordinates",
    "coords_missing": "missing_coordinates",
    "unknown_status": "unknown_status",
    "completion_before_creation": "completed_before_created",
    "malformed_line": "malformed_json",
    "missing_id": "missing_id",
}
OUTSIDE = ("outside_jakarta", "in_sea")
#: The labels the generator writes for unknown_category (pipelines/simulate/defects.py).
UNKNOWN_LABEL = {"jaki": "Kategori Baru (Uji Coba)", "qlue": "Lain-lain"}
QLUE_STATUS = {"wait": "received", "process": "in_progress", "complete": "completed"}
JSON_KEYS = {
    "batch_id", "source", "files", "read", "inserted", "updated", "unchanged", "rejected",
    "rejected_by_reason", "repaired_by_kind", "outside_area", "seconds",
}  # fmt: skip
#: The personal data the generator plants (pipelines/simulate/text.py), found in raw texts.
PII = {
    "pii_phone": re.compile(r"08\d{2}-\d{4}-\d{4}"),
    "pii_email": re.compile(r"[\w.]+@gmail\.com"),
    "pii_nik": re.compile(r"3171\d{12}"),
    "pii_plate": re.compile(r"mobil (B \d{1,4} [A-Z]{3})"),
}
TOKEN = {
    "pii_phone": "[TELEPON]",
    "pii_email": "[EMAIL]",
    "pii_nik": "[NIK]",
    "pii_plate": "[PLAT]",
}
JAKI_ID = re.compile(r'^\{"id":(\d+)')

REPORT_COLUMNS = """
    source_id, ticket_code, category, source_category, status, source_status, created_at,
    coordinated_at, completed_at, updated_at, ST_X(geom) AS lng, ST_Y(geom) AS lat, area_code,
    kelurahan_code, kecamatan_code, kota_code, outside, text_redacted, batch_id, photo_url,
    photo_done_url, agency
"""


# -- the generated feeds ---------------------------------------------------------------------
@dataclass
class Feeds:
    out: Path

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.out / "manifest.json").read_text(encoding="utf-8"))

    @cached_property
    def truth(self) -> pd.DataFrame:
        return pd.read_parquet(self.out / "truth.parquet")

    def folder(self, source: str) -> Path:
        return self.out / source

    def truth_of(self, source: str) -> dict[str, dict[str, Any]]:
        """Truth rows of one source by id, NaN/NaT as None, times as aware datetimes."""
        frame = self.truth[self.truth["source"] == source]
        out = {}
        for record in frame.to_dict("records"):
            row = {k: (None if _missing(v) else v) for k, v in record.items()}
            for key in ("created_at", "coordinated_at", "completed_at", "updated_at"):
                if row[key] is not None:
                    row[key] = row[key].to_pydatetime()
            out[str(row["source_id"])] = row
        return out

    def defects(self, source: str) -> Counter[str]:
        frame = self.truth[self.truth["source"] == source]
        return Counter(d for d in frame["defect"] if isinstance(d, str) and d)

    def raw_texts(self, source: str) -> dict[str, list[str]]:
        """The free text of every input row, by id (JAKI content; Qlue title/desc/address)."""
        out: dict[str, list[str]] = {}
        if source == "jaki":
            for path in sorted(self.folder("jaki").iterdir()):
                for line in path.read_text(encoding="utf-8").splitlines():
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if obj.get("id") is not None:
                        out.setdefault(str(obj["id"]), []).append(obj.get("content") or "")
        else:
            for path in sorted(self.folder("qlue").iterdir()):
                with path.open(encoding="utf-8-sig", newline="") as fh:
                    for row in csv.DictReader(fh):
                        text = " ".join((row["title"], row["description"], row["address"]))
                        out.setdefault(row["report_id"], []).append(text)
        return out


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory, bps2020_path: Path) -> Feeds:
    """Five weeks across a month end, both sources about equally, 10 % of reports defective."""
    out = tmp_path_factory.mktemp("feeds")
    simulate(
        Options(
            start=date(2024, 1, 15),
            end=date(2024, 2, 18),
            seed=5,
            out=out,
            per_day=300,
            defects=0.1,
            boundaries=bps2020_path,
            jaki_share={2024: 0.5},
            progress=False,
        )
    )
    return Feeds(out)


def clean(url: str) -> None:
    """Empty report tables (children first: reports and rejected rows point to their run)."""
    with db.connect(url) as conn:
        conn.execute("DELETE FROM pantau.reports")
        conn.execute("DELETE FROM pantau.rejected_rows")
        conn.execute("DELETE FROM pantau.ingest_runs")
        conn.commit()


@pytest.fixture(scope="module", autouse=True)
def _empty_after_the_module(writer_url: str) -> Iterator[None]:
    """Leave no reports behind for the test modules that run after this one."""
    yield
    clean(writer_url)


@pytest.fixture
def url(bps2020_loaded: str) -> str:
    """The writer URL of the test database with BPS 2020 loaded and no reports."""
    clean(bps2020_loaded)
    return bps2020_loaded


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with db.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(url: str, sql: str, params: Any = None) -> Any:
    return query(url, sql, params)[0][0]


def reports(url: str, source: str) -> dict[str, dict[str, Any]]:
    with db.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(f"SELECT {REPORT_COLUMNS} FROM pantau.reports WHERE source = %s", [source])
        return {row["source_id"]: row for row in cur.fetchall()}


def rejected_rows(url: str, source: str) -> list[dict[str, Any]]:
    with db.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            "SELECT batch_id, file, line_no, reason, detail, raw FROM pantau.rejected_rows "
            "WHERE source = %s ORDER BY rejected_id",
            [source],
        )
        return cur.fetchall()


def raw_id(source: str, raw: str) -> str | None:
    """The id of a rejected raw row (None when it has none)."""
    if source == "jaki":
        match = JAKI_ID.match(raw)
        return match.group(1) if match else None
    fields = next(csv.reader(io.StringIO(raw)))
    return fields[0] or None


def check_invariant(result: IngestResult | dict[str, Any]) -> None:
    r = result if isinstance(result, dict) else result.as_dict()
    assert r["read"] == r["inserted"] + r["updated"] + r["unchanged"] + r["rejected"]
    assert r["rejected"] == sum(r["rejected_by_reason"].values())
    assert min(r["read"], r["inserted"], r["updated"], r["unchanged"], r["rejected"]) >= 0


# == 1. generated feeds against the truth ==========================================================
@pytest.mark.parametrize("source", ["jaki", "qlue"])
def test_counts_of_a_generated_feed(url: str, feeds: Feeds, source: str) -> None:
    result = ingest(source, [feeds.folder(source)], url=url, progress=False)
    check_invariant(result)
    defects = feeds.defects(source)
    truth = feeds.truth_of(source)
    n_rejected = sum(defects[k] for k in REJECTED_AS)
    assert result.files == len(feeds.manifest["files"][source])
    assert result.read == feeds.manifest["lines_by_source"][source]
    assert result.inserted == len(truth) - n_rejected
    assert result.updated == 0
    assert result.unchanged == defects["duplicate_line"] + defects["later_update"]
    assert result.duplicates_in_batch == result.unchanged
    assert result.rejected == n_rejected
    assert result.rejected_by_reason == {
        REJECTED_AS[k]: n for k, n in sorted(defects.items()) if k in REJECTED_AS
    }
    assert result.outside_area == sum(defects[k] for k in OUTSIDE)
    assert result.repaired_by_kind.get("swapped_coordinates", 0) == defects["coords_swapped"]
    if source == "qlue":
        bom = len(feeds.manifest["qlue_files_with_bom"])
        assert bom >= 1
        assert result.repaired_by_kind.get("byte_order_mark", 0) == bom
        n = defects["comma_decimal"]
        assert n > 0
        assert result.repaired_by_kind.get("comma_decimal") in (n, 2 * n)  # per row or value

    # The run log holds the same numbers, and everything points to the batch.
    (run,) = query(
        url,
        "SELECT batch_id, source, status, finished_at IS NOT NULL, read_count, inserted, updated,"
        " unchanged, rejected, outside_area, details FROM pantau.ingest_runs",
    )
    assert run[:10] == (
        result.batch_id, source, "succeeded", True, result.read, result.inserted,
        result.updated, result.unchanged, result.rejected, result.outside_area,
    )  # fmt: skip
    assert run[10]["rejected_by_reason"] == result.rejected_by_reason
    assert run[4] == run[5] + run[6] + run[7] + run[8]
    assert scalar(url, "SELECT count(*) FROM pantau.reports WHERE batch_id = %s",
                  [result.batch_id]) == result.inserted  # fmt: skip
    assert scalar(url, "SELECT count(*) FROM pantau.reports") == result.inserted
    by_batch = query(url, "SELECT batch_id, count(*) FROM pantau.rejected_rows GROUP BY 1")
    assert by_batch == [(result.batch_id, result.rejected)], "rejected rows point to their batch"


@pytest.mark.parametrize("source", ["jaki", "qlue"])
def test_clean_reports_match_the_truth(url: str, feeds: Feeds, source: str) -> None:
    ingest(source, [feeds.folder(source)], url=url, progress=False)
    stored = reports(url, source)
    clean_rows = [t for t in feeds.truth_of(source).values() if t["defect"] is None]
    assert len(clean_rows) > 2000
    wrong: Counter[str] = Counter()
    for t in clean_rows:
        r = stored.get(t["source_id"])
        if r is None:
            wrong["missing"] += 1
            continue
        for key in ("kelurahan_code", "kecamatan_code", "kota_code", "category",
                    "created_at", "updated_at"):  # fmt: skip
            wrong[key] += r[key] != t[key]
        wrong["outside"] += r["outside"] is not False
        wrong["area_code"] += r["area_code"] != t["kelurahan_code"]
        wrong["position"] += abs(r["lat"] - t["lat"]) > 1e-6 or abs(r["lng"] - t["lng"]) > 1e-6
        wrong["source_category"] += (
            r["source_category"].casefold() != t["source_category"].casefold()
        )
        if source == "jaki":
            status = t["status"]
            coordinated = t["coordinated_at"] if status != "received" else None
            wrong["ticket_code"] += not (r["ticket_code"] or "").startswith("JK")
        else:
            status = QLUE_STATUS[t["source_status"]]
            coordinated = t["updated_at"] if t["source_status"] == "process" else None
            wrong["ticket_code"] += r["ticket_code"] is not None
        wrong["status"] += r["status"] != status
        wrong["coordinated_at"] += r["coordinated_at"] != coordinated
        completed = t["completed_at"] if status == "completed" else None
        wrong["completed_at"] += r["completed_at"] != completed
    assert +wrong == Counter(), f"clean {source} reports differing from the truth"


@pytest.mark.parametrize("source", ["jaki", "qlue"])
def test_every_planted_defect_is_repaired_kept_or_rejected(
    url: str, feeds: Feeds, source: str
) -> None:
    result = ingest(source, [feeds.folder(source)], url=url, progress=False)
    stored = reports(url, source)
    truth = feeds.truth_of(source)
    planted = feeds.defects(source)
    expected_kinds = {
        "jaki": {"coords_swapped", "coords_zero", "coords_missing", "coords_as_strings",
                 "outside_jakarta", "in_sea", "tz_plus7", "tz_none", "unknown_status",
                 "status_spelling", "unknown_category", "histories_missing",
                 "histories_unordered", "completion_before_creation", "duplicate_line",
                 "later_update", "pii_phone", "pii_email", "pii_nik", "pii_plate",
                 "malformed_line", "missing_id"},
        "qlue": {"coords_swapped", "coords_zero", "coords_missing", "comma_decimal",
                 "outside_jakarta", "in_sea", "unknown_status", "unknown_category",
                 "category_case", "completion_before_creation", "duplicate_line",
                 "later_update", "pii_phone", "pii_email", "pii_nik", "pii_plate",
                 "missing_id"},
    }[source]  # fmt: skip
    assert set(planted) == expected_kinds, "the run plants every kind of defect"

    # Rejected rows: each planted rejection, with its reason, and nothing else.
    rejected = rejected_rows(url, source)
    assert {r["batch_id"] for r in rejected} == {result.batch_id}
    by_id = {raw_id(source, r["raw"]): r["reason"] for r in rejected}
    without_id = [r for r in rejected if raw_id(source, r["raw"]) is None]
    assert [r["reason"] for r in without_id] == ["missing_id"] * planted["missing_id"]
    assert all(r["raw"] and r["file"] and r["line_no"] for r in rejected), "raw rows are kept"

    problems = []
    for sid, t in truth.items():
        kind, r = t["defect"], stored.get(sid)
        if kind is None:
            continue
        if kind in REJECTED_AS:
            if kind == "missing_id":
                ok = r is None
            else:
                ok = r is None and by_id.get(sid) == REJECTED_AS[kind]
        elif r is None:
            ok = False
        elif kind in OUTSIDE:
            ok = (
                r["outside"] is True
                and r["kelurahan_code"] is None
                and r["kecamatan_code"] is None
                and r["kota_code"] is None
                and r["area_code"] is None
            )
        elif kind == "unknown_category":
            ok = r["category"] == "unmapped" and r["source_category"] == UNKNOWN_LABEL[source]
        elif kind == "histories_missing":
            ok = r["coordinated_at"] is None and r["kelurahan_code"] == t["kelurahan_code"]
        elif kind == "histories_unordered":
            want = t["coordinated_at"] if t["status"] != "received" else None
            ok = r["coordinated_at"] == want
        elif kind in ("later_update", "status_spelling"):
            want = t["status"] if source == "jaki" else QLUE_STATUS[t["source_status"]]
            ok = r["status"] == want and r["updated_at"] == t["updated_at"]
        elif kind in TOKEN:
            ok = TOKEN[kind] in (r["text_redacted"] or "")
        else:  # repaired or accepted as is: swaps, comma decimals, strings, zones, case
            ok = True
        # Whatever was kept sits where the truth says, with the true creation time.
        if ok and r is not None and kind not in OUTSIDE:
            ok = (
                r["kelurahan_code"] == t["kelurahan_code"]
                and r["created_at"] == t["created_at"]
                and abs(r["lat"] - t["lat"]) < 1e-6
                and abs(r["lng"] - t["lng"]) < 1e-6
            )
            if kind != "unknown_category":
                ok = ok and r["category"] == t["category"]
        if not ok:
            keys = ("status", "category", "source_category", "kelurahan_code", "coordinated_at")
            problems.append((kind, sid, r and {k: r[k] for k in keys}))
    assert problems == [], f"{len(problems)} planted defects mishandled"
    assert len(stored) == result.inserted


@pytest.mark.parametrize("source", ["jaki", "qlue"])
def test_personal_data_never_reaches_the_reports(url: str, feeds: Feeds, source: str) -> None:
    result = ingest(source, [feeds.folder(source)], url=url, progress=False)
    truth = feeds.truth_of(source)
    texts = feeds.raw_texts(source)
    data: dict[str, list[str]] = {kind: [] for kind in PII}
    for sid, t in truth.items():
        if t["defect"] in PII and sid in texts:
            found = PII[t["defect"]].findall(" ".join(texts[sid]))
            assert found, f"{sid}: the planted {t['defect']} is in the feed"
            data[t["defect"]] += found
    assert all(len(values) >= 5 for values in data.values()), {k: len(v) for k, v in data.items()}
    everything = [d for values in data.values() for d in values]
    leaked = query(
        url,
        "SELECT d FROM unnest(%s::text[]) AS d WHERE EXISTS "
        "(SELECT 1 FROM pantau.reports AS r WHERE strpos(r::text, d) > 0)",
        [everything],
    )
    assert leaked == [], "planted personal data found in pantau.reports"
    shaped = query(
        url,
        r"""SELECT source_id, text_redacted FROM pantau.reports WHERE
            text_redacted ~ '08[0-9]{2}-?[0-9]{4}-?[0-9]{4}'
         OR text_redacted ~ '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}'
         OR text_redacted ~ '(^|[^0-9])[0-9]{16}([^0-9]|$)'
         OR text_redacted ~ 'mobil [A-Z]{1,2} [0-9]{1,4} [A-Z]{1,3}\M'""",
    )
    assert shaped == [], "text shaped like personal data in pantau.reports"
    for kind, key in (("pii_phone", "phone"), ("pii_email", "email"), ("pii_nik", "nik"),
                      ("pii_plate", "plate")):  # fmt: skip
        assert result.redacted.get(key, 0) >= len(data[kind]), key


def test_reader_sees_reports_through_the_api_but_no_raw_rows(
    url: str, feeds: Feeds, reader_url: str
) -> None:
    results = [ingest(s, [feeds.folder(s)], url=url, progress=False) for s in ("jaki", "qlue")]
    with db.connect(reader_url) as conn:
        columns = [
            c.name for c in conn.execute("SELECT * FROM api.reports LIMIT 0").description or []
        ]
        counts = dict(
            conn.execute("SELECT source, count(*) FROM api.reports GROUP BY 1").fetchall()
        )
        inside = conn.execute(
            "SELECT count(*) FILTER (WHERE kelurahan_code IS NOT NULL AND NOT outside), "
            "count(*) FILTER (WHERE outside AND kelurahan_code IS NULL) FROM api.reports"
        ).fetchone()
        runs = conn.execute(
            "SELECT source, read_count, inserted, rejected FROM api.ingest_runs ORDER BY batch_id"
        ).fetchall()
        for table in ("pantau.rejected_rows", "pantau.reports"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT * FROM {table} LIMIT 1")
            conn.rollback()
    assert counts == {r.source: r.inserted for r in results}
    assert "text_redacted" not in columns and "raw" not in columns
    assert {"lat", "lng", "kelurahan_code", "status", "category", "outside"} <= set(columns)
    assert inside is not None
    assert inside[1] == sum(r.outside_area for r in results)
    assert inside[0] + inside[1] == sum(counts.values())
    assert runs == [(r.source, r.read, r.inserted, r.rejected) for r in results]


@pytest.mark.parametrize("source", ["jaki", "qlue"])
def test_second_ingest_of_the_same_files_changes_nothing(
    url: str, feeds: Feeds, source: str
) -> None:
    snapshot = (
        "SELECT count(*), md5(string_agg(r::text, '|' ORDER BY source, source_id)) "
        "FROM pantau.reports AS r"
    )
    first = ingest(source, [feeds.folder(source)], url=url, progress=False)
    before = query(url, snapshot)
    second = ingest(source, [feeds.folder(source)], url=url, progress=False)
    check_invariant(second)
    assert (second.inserted, second.updated, second.outside_area) == (0, 0, 0)
    assert first.outside_area > 0, "the feed has points outside Jakarta"
    assert second.read == first.read
    assert second.rejected == first.rejected
    assert second.unchanged == first.read - first.rejected
    assert query(url, snapshot) == before, "not a single stored value changed"
    statuses = query(url, "SELECT status, count(*) FROM pantau.ingest_runs GROUP BY 1")
    assert statuses == [("succeeded", 2)]


# == 2. updates ===================================================================================
def jaki_report(report_id: int, **changes: Any) -> dict[str, Any]:
    """A JAKI report in Tebet (received at 2024-03-01 08:00 WIB)."""
    obj: dict[str, Any] = {
        "id": report_id,
        "code": f"JK240301{report_id:03d}",
        "content": "Permasalahan: Lampu jalan mati\nKategori: Penerangan Jalan Umum",
        "lat": -6.2261,
        "lng": 106.8532,
        "createdAt": "2024-03-01T01:00:00.000Z",
        "updatedAt": "2024-03-01T01:00:00.000Z",
        "tstatus": {"name": "Menunggu"},
        "complaintCategory": {"name": "Jalan"},
        "zone": {"name": "Suku Dinas Bina Marga"},
        "histories": [{"status": "Menunggu", "createdAt": "2024-03-01T01:00:00.000Z"}],
    }
    obj.update(changes)
    return obj


def write_jsonl(path: Path, objs: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


QLUE_HEADER = (
    "report_id,title,description,category,latitude,longitude,address,kelurahan,kecamatan,"
    "status,created_at,updated_at,completed_at,photo_url,photo_done_url,upvotes"
)


def qlue_row(report_id: str, status: str, updated: str, completed: str = "") -> str:
    return (
        f"{report_id},Sampah,Sampah menumpuk,Sampah,-6.2261,106.8532,Jl. Tebet Raya,TEBET BARAT,"
        f"TEBET,{status},2024-03-01 08:00:00,{updated},{completed},,,0"
    )


def write_csv(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(QLUE_HEADER + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def test_outside_area_counts_the_reports_stored_outside(url: str, tmp_path: Path) -> None:
    """Outside every unit (the Java Sea): counted once per report this batch stores."""
    sea = {"lat": -5.95, "lng": 106.80}  # in the Jakarta box, north of the coast
    newer = {**sea, "updatedAt": "2024-03-01T02:00:00.000Z"}
    feed = write_jsonl(
        tmp_path / "a.jsonl",
        [jaki_report(1, **sea), jaki_report(2), jaki_report(3, **sea), jaki_report(3, **newer)],
    )
    first = ingest("jaki", [feed], url=url, progress=False)
    assert (first.inserted, first.unchanged, first.outside_area) == (3, 1, 2)
    again = ingest("jaki", [feed], url=url, progress=False)
    assert (again.inserted, again.updated, again.outside_area) == (0, 0, 0)
    later = write_jsonl(
        tmp_path / "b.jsonl", [jaki_report(1, **{**sea, "updatedAt": "2024-03-01T03:00:00.000Z"})]
    )
    update = ingest("jaki", [later], url=url, progress=False)
    assert (update.updated, update.outside_area) == (1, 1)
    assert scalar(url, "SELECT count(*) FROM pantau.reports WHERE outside") == 2


def test_newer_snapshot_updates_older_or_equal_does_not(url: str, tmp_path: Path) -> None:
    history = [
        {"status": "Menunggu", "createdAt": "2024-03-01T01:00:00Z"},
        {"status": "Disposisi", "createdAt": "2024-03-01T03:00:00Z"},
    ]
    first = ingest("jaki", [write_jsonl(tmp_path / "1.jsonl", [jaki_report(7)])], url=url)
    assert (first.inserted, first.updated, first.unchanged) == (1, 0, 0)
    tebet = reports(url, "jaki")["7"]["kelurahan_code"]
    assert tebet is not None

    newer = jaki_report(
        7, updatedAt="2024-03-01T03:00:00Z", tstatus={"name": "Disposisi"}, histories=history,
        lat=-6.1754, lng=106.8272,  # the reporter moved the pin to Monas
    )  # fmt: skip
    second = ingest("jaki", [write_jsonl(tmp_path / "2.jsonl", [newer])], url=url)
    check_invariant(second)
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 0)
    row = reports(url, "jaki")["7"]
    assert (row["status"], row["source_status"]) == ("coordinated", "Disposisi")
    assert (row["coordinated_at"], row["updated_at"]) == (at(3), at(3))
    assert row["batch_id"] == second.batch_id
    assert (row["lat"], row["lng"]) == (-6.1754, 106.8272)
    monas = row["kelurahan_code"]
    assert monas is not None and monas != tebet, "the moved point is joined again"

    older = jaki_report(7, updatedAt="2024-03-01T02:00:00Z", tstatus={"name": "Selesai"})
    equal = jaki_report(7, updatedAt="2024-03-01T03:00:00Z", tstatus={"name": "Selesai"})
    for name, obj in (("3.jsonl", older), ("4.jsonl", equal)):
        result = ingest("jaki", [write_jsonl(tmp_path / name, [obj])], url=url)
        assert (result.inserted, result.updated, result.unchanged) == (0, 0, 1), name
        row = reports(url, "jaki")["7"]
        assert (row["status"], row["batch_id"], row["kelurahan_code"]) == (
            "coordinated", second.batch_id, monas
        )  # fmt: skip
    assert scalar(url, "SELECT count(*) FROM pantau.reports") == 1


def test_a_kept_coordination_time_never_precedes_a_corrected_creation_time(
    url: str, tmp_path: Path
) -> None:
    """A newer copy without history keeps the stored coordination time only if it still fits."""
    history = [
        {"status": "Menunggu", "createdAt": "2024-03-01T01:00:00Z"},
        {"status": "Disposisi", "createdAt": "2024-03-01T03:00:00Z"},
    ]
    first = jaki_report(
        9, updatedAt="2024-03-01T03:00:00Z", tstatus={"name": "Disposisi"}, histories=history
    )
    ingest("jaki", [write_jsonl(tmp_path / "1.jsonl", [first])], url=url)
    assert reports(url, "jaki")["9"]["coordinated_at"] == at(3)
    moved = jaki_report(
        9, createdAt="2024-03-01T05:00:00Z", updatedAt="2024-03-01T06:00:00Z",
        tstatus={"name": "Disposisi"}, histories=None,
    )  # fmt: skip
    result = ingest("jaki", [write_jsonl(tmp_path / "2.jsonl", [moved])], url=url)
    assert result.updated == 1
    row = reports(url, "jaki")["9"]
    assert (row["created_at"], row["coordinated_at"]) == (at(5), None)
    later = jaki_report(
        9, createdAt="2024-03-01T05:00:00Z", updatedAt="2024-03-01T07:00:00Z",
        tstatus={"name": "Disposisi"}, histories=None,
    )  # fmt: skip
    ingest("jaki", [write_jsonl(tmp_path / "3.jsonl", [later])], url=url)
    assert reports(url, "jaki")["9"]["coordinated_at"] is None


def test_same_id_twice_in_one_batch_counts_once_and_the_newest_wins(
    url: str, tmp_path: Path
) -> None:
    done = [
        {"status": "Menunggu", "createdAt": "2024-03-01T01:00:00Z"},
        {"status": "Disposisi", "createdAt": "2024-03-01T02:00:00Z"},
        {"status": "Selesai", "createdAt": "2024-03-02T01:00:00Z"},
    ]
    objs = [
        jaki_report(1, updatedAt="2024-03-02T01:00:00Z", tstatus={"name": "Selesai"},
                    histories=done),  # newest first in the file
        jaki_report(1),
        jaki_report(2, tstatus={"name": "Menunggu"}, zone={"name": "first"}),
        jaki_report(2, tstatus={"name": "Menunggu"}, zone={"name": "second"}),  # a tie
    ]  # fmt: skip
    result = ingest("jaki", [write_jsonl(tmp_path / "f.jsonl", objs)], url=url)
    check_invariant(result)
    assert (result.read, result.inserted, result.updated, result.unchanged) == (4, 2, 0, 2)
    assert result.duplicates_in_batch == 2
    rows = reports(url, "jaki")
    assert (rows["1"]["status"], rows["1"]["completed_at"]) == ("completed", at(1, day=2))
    assert rows["1"]["coordinated_at"] == at(2)
    assert rows["2"]["agency"] == "second", "on a tie the later line wins"


def test_qlue_process_then_complete_keeps_the_coordination_time(url: str, tmp_path: Path) -> None:
    # Across batches: the process snapshot first, the complete one in a later file.
    a = ingest(
        "qlue",
        [write_csv(tmp_path / "a" / "1.csv", [qlue_row("QL-A", "process", "2024-03-01 10:00:00")])],
        url=url,
    )
    assert (a.inserted, a.updated) == (1, 0)
    b = ingest("qlue", [write_csv(tmp_path / "a" / "2.csv", [qlue_row(
        "QL-A", "complete", "2024-03-02 09:00:00", "2024-03-02 09:00:00")])], url=url)  # fmt: skip
    assert (b.inserted, b.updated) == (0, 1)
    # In one batch: both snapshots in one file, in either order.
    rows = [
        qlue_row("QL-B", "process", "2024-03-01 10:00:00"),
        qlue_row("QL-B", "complete", "2024-03-02 09:00:00", "2024-03-02 09:00:00"),
        qlue_row("QL-C", "complete", "2024-03-02 09:00:00", "2024-03-02 09:00:00"),
        qlue_row("QL-C", "process", "2024-03-01 10:00:00"),
    ]
    c = ingest("qlue", [write_csv(tmp_path / "b" / "1.csv", rows)], url=url)
    assert (c.read, c.inserted, c.unchanged) == (4, 2, 2)
    stored = reports(url, "qlue")
    for sid in ("QL-A", "QL-B", "QL-C"):
        row = stored[sid]
        assert row["status"] == "completed", sid
        assert row["coordinated_at"] == at(3), f"{sid}: 10:00 WIB, from the process snapshot"
        assert row["completed_at"] == at(2, day=2), sid


def test_qlue_later_process_snapshot_keeps_the_first_coordination_time_across_batches(
    url: str, tmp_path: Path
) -> None:
    ingest(
        "qlue",
        [write_csv(tmp_path / "1.csv", [qlue_row("QL-D", "process", "2024-03-01 10:00:00")])],
        url=url,
    )
    ingest(
        "qlue",
        [write_csv(tmp_path / "2.csv", [qlue_row("QL-D", "process", "2024-03-01 15:00:00")])],
        url=url,
    )
    row = reports(url, "qlue")["QL-D"]
    assert row["updated_at"] == at(8)
    assert row["coordinated_at"] == at(3), "the earliest process time is kept"


def test_qlue_two_process_snapshots_in_one_batch_keep_the_first_coordination_time(
    url: str, tmp_path: Path
) -> None:
    rows = [
        qlue_row("QL-E", "process", "2024-03-01 10:00:00"),
        qlue_row("QL-E", "process", "2024-03-01 15:00:00"),
    ]
    ingest("qlue", [write_csv(tmp_path / "1.csv", rows)], url=url)
    row = reports(url, "qlue")["QL-E"]
    assert row["updated_at"] == at(8)
    assert row["coordinated_at"] == at(3)


# == 3. rows the database cannot take must not sink the batch ======================================
@pytest.mark.parametrize("source", ["jaki", "qlue"])
def test_nul_character_in_a_text_does_not_fail_the_batch(
    url: str, tmp_path: Path, source: str
) -> None:
    if source == "jaki":
        objs = [jaki_report(1), jaki_report(2, content="Lampu mati\u0000 sejak kemarin")]
        path = write_jsonl(tmp_path / "f.jsonl", objs)
    else:
        path = write_csv(tmp_path / "f.csv", [
            qlue_row("QL-1", "wait", "2024-03-01 08:00:00"),
            qlue_row("QL-2", "wait", "2024-03-01 08:00:00").replace("Sampah menumpuk", "Sam\0pah"),
        ])  # fmt: skip
    result = ingest(source, [path], url=url)
    check_invariant(result)
    assert result.inserted + result.rejected == 2
    assert result.inserted >= 1


def test_completion_seconds_before_creation_does_not_fail_the_batch(
    url: str, tmp_path: Path
) -> None:
    history = [
        {"status": "Menunggu", "createdAt": "2024-03-01T01:00:00Z"},
        {"status": "Selesai", "createdAt": "2024-03-01T00:59:30Z"},
    ]
    odd = jaki_report(2, tstatus={"name": "Selesai"}, histories=history)
    result = ingest("jaki", [write_jsonl(tmp_path / "f.jsonl", [jaki_report(1), odd])], url=url)
    check_invariant(result)
    assert result.inserted + result.rejected == 2
    assert result.inserted >= 1


def test_database_failure_leaves_nothing_and_records_a_failed_run(
    url: str, admin_url: str, tmp_path: Path, test_env: dict[str, str]
) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", [jaki_report(1), jaki_report(2, id=None)])
    env = {**test_env, "PGOPTIONS": "-c lock_timeout=300"}
    with db.connect(admin_url) as lock:
        lock.execute("LOCK TABLE pantau.reports IN ACCESS EXCLUSIVE MODE")
        proc = run_cli("ingest", "--source", "jaki", str(path), "--json", env=env)
        lock.rollback()
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: Ingest of jaki failed, nothing was loaded")
    assert "Traceback" not in proc.stderr
    assert scalar(url, "SELECT count(*) FROM pantau.reports") == 0
    assert scalar(url, "SELECT count(*) FROM pantau.rejected_rows") == 0
    (run,) = query(url, "SELECT status, details FROM pantau.ingest_runs")
    assert run[0] == "failed"
    assert "lock" in run[1]["error"]
    assert staging_tables(url) == []


# == 4. kill -9 ====================================================================================
def staging_tables(url: str) -> list[str]:
    return [
        r[0]
        for r in query(
            url, "SELECT tablename FROM pg_tables WHERE schemaname = 'pantau_staging' ORDER BY 1"
        )
    ]


def ingest_backends(admin_url: str) -> list[tuple[int, str]]:
    return [
        (int(pid), str(q))
        for pid, q in query(
            admin_url,
            "SELECT pid, query FROM pg_stat_activity WHERE datname = %s "
            "AND usename = 'pantau_writer' AND pid <> pg_backend_pid()",
            [TEST_DB],
        )
    ]


@pytest.fixture(scope="module")
def big_feed(tmp_path_factory: pytest.TempPathFactory, bps2020_path: Path) -> Path:
    """60,000 JAKI reports in one file (about 50 MB): a batch that takes a few seconds."""
    out = tmp_path_factory.mktemp("big")
    simulate(
        Options(
            start=date(2024, 3, 1),
            end=date(2024, 3, 31),
            seed=9,
            out=out,
            reports=60_000,
            boundaries=bps2020_path,
            jaki_share={2024: 1.0},
            progress=False,
        )
    )
    return out / "jaki"


def test_kill_9_mid_batch_leaves_nothing_and_a_rerun_is_exact(
    url: str, admin_url: str, big_feed: Path, test_env: dict[str, str]
) -> None:
    command = [sys.executable, "-m", "pipelines", "ingest", "--source", "jaki", str(big_feed),
               "--json"]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=REPO_ROOT, env=test_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        backend = None
        while time.monotonic() < deadline and proc.poll() is None:
            copying = [pid for pid, q in ingest_backends(admin_url) if q.startswith("COPY")]
            if copying:
                backend = copying[0]
                break
            time.sleep(0.02)
        assert backend is not None, "the ingest reached its COPY"
        time.sleep(0.3)  # well inside the batch: run row, staging table, rows streaming
        assert proc.poll() is None, "still running when killed"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The server notices the closed connection and aborts the transaction.
    deadline = time.monotonic() + 20
    while ingest_backends(admin_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ingest_backends(admin_url) == [], "the killed session is gone"
    assert scalar(url, "SELECT count(*) FROM pantau.reports") == 0
    assert scalar(url, "SELECT count(*) FROM pantau.rejected_rows") == 0
    assert scalar(url, "SELECT count(*) FROM pantau.ingest_runs") == 0, "no run row survives"
    assert staging_tables(url) == [], "the unlogged staging tables vanished with the transaction"

    rerun = subprocess.run(
        command, cwd=REPO_ROOT, env=test_env, capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout.strip().splitlines()[-1])
    check_invariant(result)
    pairs = list(JakiFiles([big_feed]).rows())
    ids = {r.source_id for _, r in pairs if isinstance(r, Report)}
    assert result["read"] == len(pairs) > 60_000
    assert result["inserted"] == len(ids)
    assert result["rejected"] == sum(1 for _, r in pairs if not isinstance(r, Report))
    assert result["updated"] == 0
    assert scalar(url, "SELECT count(*) FROM pantau.reports") == len(ids)
    assert scalar(url, "SELECT count(DISTINCT source_id) FROM pantau.reports") == len(ids)
    assert scalar(url, "SELECT count(*) FROM pantau.rejected_rows") == result["rejected"]
    runs = query(url, "SELECT batch_id, status, read_count FROM pantau.ingest_runs")
    assert runs == [(result["batch_id"], "succeeded", result["read"])]
    assert staging_tables(url) == []


# == 5. the command line ===========================================================================
def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_cli_json_is_the_last_line_with_the_issue_keys(
    url: str, feeds: Feeds, test_env: dict[str, str]
) -> None:
    proc = run_cli("ingest", "--source", "qlue", str(feeds.folder("qlue")), "--json", env=test_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) > 1, "the human summary comes first"
    result = json.loads(lines[-1])
    assert isinstance(result, dict)
    assert set(result) >= JSON_KEYS, JSON_KEYS - set(result)
    check_invariant(result)
    assert result["source"] == "qlue"
    assert result["files"] == len(feeds.manifest["files"]["qlue"])
    assert result["read"] == feeds.manifest["lines_by_source"]["qlue"]
    assert isinstance(result["seconds"], float) and result["seconds"] > 0
    assert all(isinstance(result[k], dict) for k in ("rejected_by_reason", "repaired_by_kind"))
    assert scalar(url, "SELECT count(*) FROM pantau.reports") == result["inserted"]
    (run,) = query(url, "SELECT batch_id, read_count FROM pantau.ingest_runs")
    assert run == (result["batch_id"], result["read"])
    assert f"read {result['read']:,} = inserted {result['inserted']:,}" in proc.stdout


def test_cli_searches_a_folder_recursively_for_the_source_suffixes(
    url: str, tmp_path: Path, test_env: dict[str, str]
) -> None:
    write_jsonl(tmp_path / "a" / "b" / "one.jsonl", [jaki_report(1)])
    (tmp_path / "a" / "two.json.gz").write_bytes(gzip.compress(json.dumps(
        {"data": [jaki_report(2), jaki_report(3)], "meta": {}}).encode()))  # fmt: skip
    write_csv(tmp_path / "a" / "qlue.csv", [qlue_row("QL-1", "wait", "2024-03-01 08:00:00")])
    (tmp_path / "README.txt").write_text("not a feed")
    proc = run_cli("ingest", "--source", "jaki", str(tmp_path), "--json", env=test_env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["files"], result["read"], result["inserted"]) == (2, 3, 3)
    (files,) = query(url, "SELECT files FROM pantau.ingest_runs")[0]
    assert sorted(Path(f).name for f in files) == ["one.jsonl", "two.json.gz"]

    proc = run_cli("ingest", "--source", "qlue", str(tmp_path), "--json", env=test_env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["files"], result["read"], result["inserted"]) == (1, 1, 1)


def test_cli_missing_path_is_a_one_line_error(
    url: str, tmp_path: Path, test_env: dict[str, str]
) -> None:
    missing = tmp_path / "nowhere" / "jaki.jsonl"
    proc = run_cli("ingest", "--source", "jaki", str(missing), "--json", env=test_env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: No such file or folder: {missing}"]
    assert proc.stdout == ""
    assert scalar(url, "SELECT count(*) FROM pantau.ingest_runs") == 0


@pytest.mark.parametrize("source", ["jaki", "qlue"])
def test_cli_folder_without_feed_files_is_a_clear_error(
    url: str, tmp_path: Path, test_env: dict[str, str], source: str
) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("nothing here")
    proc = run_cli("ingest", "--source", source, str(empty), env=test_env)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: No {source} files (")
    assert str(empty) in line
    assert (".jsonl" if source == "jaki" else ".csv") in line
    assert "Traceback" not in proc.stderr
    assert scalar(url, "SELECT count(*) FROM pantau.ingest_runs") == 0


def test_cli_unknown_source_is_refused(url: str, tmp_path: Path, test_env: dict[str, str]) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", [jaki_report(1)])
    proc = run_cli("ingest", "--source", "lapor", str(path), env=test_env)
    assert proc.returncode == 2
    assert "lapor" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_truncated_gzip_is_a_one_line_error(
    url: str, tmp_path: Path, test_env: dict[str, str]
) -> None:
    data = gzip.compress(b"".join(json.dumps(jaki_report(i)).encode() + b"\n"
                                  for i in range(1, 200)))  # fmt: skip
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    proc = run_cli("ingest", "--source", "jaki", str(path), env=test_env)
    assert "Traceback" not in proc.stderr, proc.stderr[-500:]
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error:") and "cut.jsonl.gz" in line, line
    assert scalar(url, "SELECT count(*) FROM pantau.reports") == 0
    assert query(url, "SELECT status FROM pantau.ingest_runs") == [("failed",)]


def test_cli_corrupt_gzip_is_a_one_line_error_and_a_failed_run(
    url: str, tmp_path: Path, test_env: dict[str, str]
) -> None:
    path = tmp_path / "plain.jsonl.gz"
    path.write_text(json.dumps(jaki_report(1)) + "\n")  # not compressed at all
    proc = run_cli("ingest", "--source", "jaki", str(path), env=test_env)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: Ingest of jaki failed while reading ")
    assert "plain.jsonl.gz, nothing was loaded:" in line and "gzip" in line
    assert scalar(url, "SELECT count(*) FROM pantau.reports") == 0
    assert query(url, "SELECT status FROM pantau.ingest_runs") == [("failed",)]
