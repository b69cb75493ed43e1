"""Turning generated reports into feed lines, with the defects real feeds have.

Every variant of ``../shared/FEEDS.md`` is produced at the ``--defects`` rate, one defect per
affected report, and recorded in the truth table so the ingest can be scored against it:

=========================== ========= ================================================
defect                      sources   what the ingest should do
=========================== ========= ================================================
coords_swapped              both      repair (swap back: the point falls in Jakarta)
coords_zero                 both      reject (zero coordinates)
coords_missing              both      reject (no coordinates)
coords_as_strings           jaki      accept (numeric strings)
comma_decimal               qlue      repair (``-6,2261``)
outside_jakarta, in_sea     both      keep, flagged outside, no owner
tz_plus7, tz_none           jaki      accept (``+07:00``; no zone means WIB)
unknown_status              both      reject (unknown status)
status_spelling             jaki      accept (case and spacing vary)
unknown_category            both      keep as ``unmapped``
category_case               qlue      accept (labels in varying case)
histories_missing           jaki      keep (no coordination time)
histories_unordered         jaki      accept (sort them)
completion_before_creation  both      reject (impossible timestamps)
duplicate_line              both      count once (the exact line appears twice)
later_update                both      update (an older snapshot, then the newer one in
                                      the next month's file)
pii_phone, pii_email,       both      redact before storing
pii_nik, pii_plate
malformed_line              jaki      reject (truncated JSON)
missing_id                  both      reject (no id)
=========================== ========= ================================================

Qlue files also start with a byte-order mark every third file (listed in ``manifest.json``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.simulate import text
from pipelines.simulate.lifecycle import CANONICAL, JAKI_STATUSES, QLUE_STATUS, Lifecycle
from pipelines.simulate.space import sample_outside
from pipelines.simulate.world import OUTSIDE_BOXES, SEA_BOXES, World

WIB = np.timedelta64(7 * 3600, "s")

JAKI_DEFECTS = (
    "coords_swapped",
    "coords_zero",
    "coords_missing",
    "coords_as_strings",
    "outside_jakarta",
    "in_sea",
    "tz_plus7",
    "tz_none",
    "unknown_status",
    "status_spelling",
    "unknown_category",
    "histories_missing",
    "histories_unordered",
    "completion_before_creation",
    "duplicate_line",
    "later_update",
    "pii_phone",
    "pii_email",
    "pii_nik",
    "pii_plate",
    "malformed_line",
    "missing_id",
)
QLUE_DEFECTS = (
    "coords_swapped",
    "coords_zero",
    "coords_missing",
    "comma_decimal",
    "outside_jakarta",
    "in_sea",
    "unknown_status",
    "unknown_category",
    "category_case",
    "completion_before_creation",
    "duplicate_line",
    "later_update",
    "pii_phone",
    "pii_email",
    "pii_nik",
    "pii_plate",
    "missing_id",
)
UNKNOWN_STATUS = {"jaki": "Dibatalkan", "qlue": "rejected"}
UNKNOWN_CATEGORY = {"jaki": "Kategori Baru (Uji Coba)", "qlue": "Lain-lain"}

#: Truth columns filled per record (times come from the lifecycle arrays).
TRUTH_COLUMNS = (
    "source",
    "source_id",
    "file",
    "kelurahan_code",
    "kecamatan_code",
    "kota_code",
    "category",
    "source_category",
    "hotspot_id",
    "defect",
    "status",
    "source_status",
    "lat",
    "lng",
)


def choose_defects(source: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """One defect kind (or "") per report, at ``rate``, uniform over the source's kinds."""
    defect = np.full(len(source), "", dtype=object)
    hit = rng.random(len(source)) < rate
    for src, kinds in (("jaki", JAKI_DEFECTS), ("qlue", QLUE_DEFECTS)):
        sel = np.flatnonzero(hit & (source == src))
        defect[sel] = np.asarray(kinds, dtype=object)[rng.integers(0, len(kinds), len(sel))]
    return defect


@dataclass
class Record:
    """One report's lines and truth."""

    source: str
    month: str
    lines: list[str]
    truth: dict[str, Any]
    defect: str
    later_month: str = ""
    later_lines: list[str] = field(default_factory=list)


def _utc(values: np.ndarray) -> np.ndarray:
    return np.char.add(np.datetime_as_string(values, unit="ms"), "Z")


def _local(values: np.ndarray) -> np.ndarray:
    """UTC instants as Jakarta wall-clock times (WIB has no daylight saving)."""
    return np.asarray(values + WIB, dtype="datetime64[s]")


def _wib(values: np.ndarray, suffix: str) -> np.ndarray:
    return np.char.add(np.datetime_as_string(_local(values), unit="s"), suffix)


def _qlue_time(values: np.ndarray) -> np.ndarray:
    return np.char.replace(np.datetime_as_string(_local(values), unit="s"), "T", " ")


def _next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year + mon // 12}-{mon % 12 + 1:02d}"


class Serialiser:
    """Keeps the id counters of a run and writes each report as its source would."""

    def __init__(self, world: World, seed: int, as_of: np.datetime64) -> None:
        self.world = world
        self.seed = seed
        self.as_of = as_of
        self.next_jaki_id = 4_000_000
        self.jaki_daily: dict[str, int] = {}
        self.qlue_yearly: dict[int, int] = {}
        kel = world.kelurahan
        self.kel_code = kel["code"].to_numpy()
        self.kec_code = kel["kecamatan_code"].to_numpy()
        self.kota_code = kel["kota_code"].to_numpy()
        self.kel_name = kel["name"].to_numpy()
        self.kec_name = kel["kecamatan_name"].to_numpy()
        self.kota_name = kel["kota_name"].to_numpy()

    # -- the chunk -----------------------------------------------------------------------------
    def records(
        self,
        chunk: Any,
        agencies: np.ndarray,
        life: Lifecycle,
        defect: np.ndarray,
        rng: np.random.Generator,
    ) -> list[Record]:
        """Lines and truth of every report of ``chunk``, in order."""
        n = len(chunk.source)
        lng, lat = chunk.lng.copy(), chunk.lat.copy()
        outside = np.isin(defect, ("outside_jakarta", "in_sea"))
        for kind, boxes in (("outside_jakarta", OUTSIDE_BOXES), ("in_sea", SEA_BOXES)):
            sel = np.flatnonzero(defect == kind)
            if len(sel):
                lng[sel], lat[sel] = sample_outside(boxes, len(sel), self.world.all_units, rng)
        times = {
            "created": chunk.created,
            "disposed": life.disposed,
            "processing": life.processing,
            "ews": life.ews,
            "completed": life.completed,
            "updated": life.updated,
        }
        utc = {k: _utc(v) for k, v in times.items()}
        wib_zone = {k: _wib(v, "+07:00") for k, v in times.items()}
        wib_none = {k: _wib(v, "") for k, v in times.items()}
        qlue_t = {k: _qlue_time(v) for k, v in times.items()}
        month = np.char.replace(np.datetime_as_string(_local(chunk.created), unit="M"), "T", "")
        yymmdd = np.char.replace(np.datetime_as_string(_local(chunk.created), unit="D"), "-", "")
        out = []
        for i in range(n):
            kind = defect[i]
            if kind == "later_update" and life.stage[i] == 0:
                kind = "duplicate_line"  # nothing newer to show: the same snapshot twice
            ctx = _Row(i, str(month[i]), kind, lng[i], lat[i], bool(outside[i]))
            if chunk.source[i] == "jaki":
                clock = wib_zone if kind == "tz_plus7" else wib_none if kind == "tz_none" else utc
                record = self._jaki(chunk, agencies, life, ctx, clock, str(yymmdd[i])[2:], rng)
            else:
                record = self._qlue(chunk, life, ctx, qlue_t, rng)
            out.append(record)
        return out

    # -- shared ------------------------------------------------------------------------------
    def _truth(
        self, chunk: Any, life: Lifecycle, row: _Row, source_id: str, status: str
    ) -> dict[str, Any]:
        i, k = row.i, chunk.k[row.i]
        inside = not row.outside
        return {
            "source": chunk.source[i],
            "source_id": source_id,
            "kelurahan_code": self.kel_code[k] if inside else None,
            "kecamatan_code": self.kec_code[k] if inside else None,
            "kota_code": self.kota_code[k] if inside else None,
            "category": chunk.category[i],
            "source_category": chunk.label[i],
            "hotspot_id": (chunk.hotspot[i] or None) if inside else None,
            "defect": row.defect or None,
            "status": CANONICAL[life.stage[i]],
            "source_status": status,
            "lat": float(row.lat),
            "lng": float(row.lng),
        }

    def _text(self, category: str, defect: str, rng: np.random.Generator) -> tuple[str, str, str]:
        problem = text.problem(category, rng)
        street, detail = text.location(rng)
        if defect.startswith("pii_"):
            detail = f"{detail}. {text.personal_data(defect[4:], rng)}"
        return problem, street, detail

    # -- JAKI ------------------------------------------------------------------------------
    def _jaki(
        self,
        chunk: Any,
        agencies: np.ndarray,
        life: Lifecycle,
        row: _Row,
        clock: dict[str, np.ndarray],
        yymmdd: str,
        rng: np.random.Generator,
    ) -> Record:
        i, kind = row.i, row.defect
        report_id = self.next_jaki_id
        self.next_jaki_id += 1
        seq = self.jaki_daily.get(yymmdd, 0) + 1
        self.jaki_daily[yymmdd] = seq
        k = chunk.k[i]
        stage = int(life.stage[i])
        status = JAKI_STATUSES[stage]
        label = UNKNOWN_CATEGORY["jaki"] if kind == "unknown_category" else chunk.label[i]
        problem, street, detail = self._text(chunk.category[i], kind, rng)
        events = [
            ("Menunggu", "created"),
            ("Disposisi", "disposed"),
            ("Proses Koordinasi", "processing"),
            ("Estimasi Waktu Selesai", "ews"),
            ("Selesai", "completed"),
        ]
        happened = {
            "created": True,
            "disposed": life.disposed[i],
            "processing": life.processing[i],
            "ews": life.ews[i],
            "completed": life.completed[i],
        }
        histories = [
            {"status": s, "createdAt": str(clock[t][i])}
            for s, t in events
            if happened[t] is True or not np.isnat(happened[t])
        ]
        created_at, updated_at = str(clock["created"][i]), str(clock["updated"][i])
        if kind == "completion_before_creation":
            status = "Selesai"
            done = str(_utc(np.array([chunk.created[i] - np.timedelta64(5 * 3600, "s")]))[0])
            histories = [
                {"status": "Menunggu", "createdAt": created_at},
                {"status": "Selesai", "createdAt": done},
            ]
            updated_at = created_at
        written_status = status
        if kind == "unknown_status":
            written_status = UNKNOWN_STATUS["jaki"]
        elif kind == "status_spelling":
            written_status = (
                f"  {status.lower()} " if rng.random() < 0.5 else status.upper().replace(" ", "  ")
            )
        lat: Any = row.lat
        lng: Any = row.lng
        if kind == "coords_swapped":
            lat, lng = lng, lat
        elif kind == "coords_zero":
            lat, lng = 0, 0
        elif kind == "coords_missing":
            lat, lng = (None, None) if rng.random() < 0.5 else ("", "")
        elif kind == "coords_as_strings":
            lat, lng = f"{lat:.7f}", f"{lng:.7f}"
        if kind == "histories_unordered":
            histories = histories[::-1] if len(histories) > 1 else histories
        village = self.kel_name[k].upper() if rng.random() < 0.08 else self.kel_name[k]
        report = {
            "id": None if kind == "missing_id" else report_id,
            "code": f"JK{yymmdd}{seq:03d}",
            "content": f"Permasalahan: {problem}\nKategori: {label}\nLokasi: {street}\n"
            f"Detail Alamat Laporan: {detail}",
            "lat": lat,
            "lng": lng,
            "createdAt": created_at,
            "updatedAt": updated_at,
            "tstatus": {"name": written_status},
            "complaintCategory": {"name": label},
            "zone": {"name": agencies[i]},
            "village": {
                "name": village,
                "district": {"name": self.kec_name[k], "city": {"name": self.kota_name[k]}},
            },
            "documents": [{"url": f"https://example.invalid/jaki/{report_id}/1.jpg"}],
        }
        if kind != "histories_missing":
            report["histories"] = histories
        line = json.dumps(report, ensure_ascii=False, separators=(",", ":"))
        lines = [line]
        record = Record("jaki", row.month, lines, {}, kind)
        if kind == "malformed_line":
            lines[0] = line[: len(line) // 2]
        elif kind == "duplicate_line":
            lines.append(line)
        elif kind == "later_update":
            early = dict(
                report, updatedAt=created_at, tstatus={"name": "Menunggu"}, histories=histories[:1]
            )
            record.lines = [json.dumps(early, ensure_ascii=False, separators=(",", ":"))]
            record.later_month, record.later_lines = _next_month(row.month), [line]
        record.truth = self._truth(chunk, life, row, str(report_id), status)
        return record

    # -- Qlue ------------------------------------------------------------------------------
    def _qlue(
        self,
        chunk: Any,
        life: Lifecycle,
        row: _Row,
        clock: dict[str, np.ndarray],
        rng: np.random.Generator,
    ) -> Record:
        i, kind = row.i, row.defect
        year = int(row.month[:4])
        seq = self.qlue_yearly.get(year, 0) + 1
        self.qlue_yearly[year] = seq
        report_id = f"QL-{year}-{seq:07d}"
        k = chunk.k[i]
        stage = int(life.stage[i])
        status = QLUE_STATUS[stage]
        label = chunk.label[i]
        if kind == "unknown_category":
            label = UNKNOWN_CATEGORY["qlue"]
        elif kind == "category_case" or rng.random() < 0.1:
            label = label.upper() if rng.random() < 0.5 else label.lower()
        problem, street, detail = self._text(chunk.category[i], kind, rng)
        description = f"{problem}, {detail}."
        if rng.random() < 0.15:
            description += "\nSudah lama tidak ditangani, mohon segera."
        created, updated = str(clock["created"][i]), str(clock["updated"][i])
        completed = str(clock["completed"][i]) if stage == 4 else ""
        if kind == "completion_before_creation":
            status = "complete"
            completed = str(
                _qlue_time(np.array([chunk.created[i] - np.timedelta64(5 * 3600, "s")]))[0]
            )
            updated = completed
        written_status = UNKNOWN_STATUS["qlue"] if kind == "unknown_status" else status
        lat, lng = f"{row.lat:.7f}", f"{row.lng:.7f}"
        if kind == "coords_swapped":
            lat, lng = lng, lat
        elif kind == "coords_zero":
            lat, lng = "0", "0"
        elif kind == "coords_missing":
            lat, lng = "", ""
        elif kind == "comma_decimal":
            lat, lng = lat.replace(".", ","), lng.replace(".", ",")
        fields = [
            "" if kind == "missing_id" else report_id,
            problem,
            description,
            label,
            lat,
            lng,
            f"{street}, {self.kel_name[k]}, {self.kec_name[k]}, Jakarta",
            self.kel_name[k].upper(),
            self.kec_name[k].upper(),
            written_status,
            created,
            updated,
            completed,
            f"https://example.invalid/qlue/{report_id}.jpg",
            f"https://example.invalid/qlue/{report_id}-done.jpg" if completed else "",
            str(int(rng.poisson(2))),
        ]
        line = _csv_line(fields)
        record = Record("qlue", row.month, [line], {}, kind)
        if kind == "duplicate_line":
            record.lines.append(line)
        elif kind == "later_update":
            early = list(fields)
            early[9], early[11], early[12], early[14] = "wait", created, "", ""
            record.lines = [_csv_line(early)]
            record.later_month, record.later_lines = _next_month(row.month), [line]
        record.truth = self._truth(chunk, life, row, report_id, status)
        return record


@dataclass
class _Row:
    i: int
    month: str
    defect: str
    lng: float
    lat: float
    outside: bool


def _csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()
