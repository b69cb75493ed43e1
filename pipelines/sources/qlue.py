"""Qlue: CSV exports (optionally ``.gz``), UTF-8 with or without a byte-order mark.

Rules beyond ``../shared/FEEDS.md``, decided here and tested:

- Times are WIB without a zone (``YYYY-MM-DD HH:MM:SS``).
- Status ``wait`` -> received, ``process`` -> in progress, ``complete`` -> completed; anything
  else is rejected.
- **Coordination time.** Qlue has none: a row with status ``process`` gives its ``updated_at``
  as the coordination time, and the ingest keeps the earliest one it has seen for the report
  across files and batches. A report first seen ``complete`` has an unknown coordination time
  (NULL, noted), not one invented from its completion.
- A ``complete`` row with an empty ``completed_at`` takes ``updated_at`` (noted).
- A file whose header lacks the FEEDS columns has every data row rejected
  (``unknown_layout``), so the rows are kept and counted; a row with the wrong number of
  fields is rejected (``malformed_row``).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from pipelines.sources.base import (
    COMPLETED,
    IN_PROGRESS,
    RECEIVED,
    FileSource,
    RawRow,
    Rejected,
    Rejection,
    Report,
    check_order,
    fold_status,
    parse_time,
)

COLUMNS = (
    "report_id",
    "title",
    "description",
    "category",
    "latitude",
    "longitude",
    "address",
    "kelurahan",
    "kecamatan",
    "status",
    "created_at",
    "updated_at",
    "completed_at",
    "photo_url",
    "photo_done_url",
    "upvotes",
)
REQUIRED = ("report_id", "category", "latitude", "longitude", "status", "created_at")
STATUSES = {"wait": RECEIVED, "process": IN_PROGRESS, "complete": COMPLETED}


class QlueFiles(FileSource):
    """Qlue files: ``.csv``, optionally ``.gz``."""

    name = "qlue"
    suffixes = (".csv", ".csv.gz")

    def rows(self) -> Iterator[tuple[RawRow, Report | Rejection]]:
        """Every data row of every file, parsed or rejected."""
        for path in self.files:
            with _open_text(path) as fh:
                yield from self._file_rows(path.name, fh)

    def _file_rows(self, name: str, fh: IO[str]) -> Iterator[tuple[RawRow, Report | Rejection]]:
        first = fh.read(1)
        if first == "\ufeff":
            self.tally.repaired["byte_order_mark"] += 1
            first = ""
        reader = csv.reader(_prepend(first, fh))
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in header]
        for fields in reader:
            raw = RawRow(name, reader.line_num, _csv_text(fields))
            if not any(f.strip() for f in fields):
                continue  # a blank line is not a row
            if missing:
                yield raw, Rejection("unknown_layout", f"header lacks {', '.join(missing)}")
            elif len(fields) != len(header):
                yield (
                    raw,
                    Rejection("malformed_row", f"{len(fields)} fields, header has {len(header)}"),
                )
            else:
                try:
                    yield raw, self.parse(dict(zip(header, fields, strict=True)))
                except Rejected as exc:
                    yield raw, Rejection(exc.reason, exc.detail)

    def parse(self, row: dict[str, str]) -> Report:
        """A canonical report from one Qlue row (raises :class:`Rejected`)."""
        source_id = row.get("report_id", "").strip()
        if not source_id:
            raise Rejected("missing_id", "report_id is empty")
        source_status = row.get("status", "")
        status = STATUSES.get(fold_status(source_status))
        if status is None:
            raise Rejected("unknown_status", repr(source_status))
        created = parse_time(row.get("created_at"), "created_at")
        updated = (
            parse_time(row["updated_at"], "updated_at")
            if row.get("updated_at", "").strip()
            else created
        )
        completed = (
            parse_time(row["completed_at"], "completed_at")
            if row.get("completed_at", "").strip()
            else None
        )
        coordinated = updated if status == IN_PROGRESS else None
        if status == COMPLETED:
            if completed is None:
                completed = updated
                self.tally.notes["completion_from_updated_at"] += 1
            self.tally.notes["coordination_time_unknown"] += 1
        elif completed is not None:
            self.tally.notes["completed_at_while_open"] += 1
            completed = None
        check_order(created, coordinated, completed, updated)
        lng, lat = self.coordinates(row.get("latitude"), row.get("longitude"))
        label = row.get("category", "").strip() or None
        text = "\n".join(
            p
            for p in (
                row.get("title", "").strip(),
                row.get("description", "").strip(),
                row.get("address", "").strip(),
            )
            if p
        )
        return Report(
            source="qlue",
            source_id=source_id,
            ticket_code=None,
            category=self.category(label),
            source_category=label,
            status=status,
            source_status=source_status.strip(),
            created_at=created,
            coordinated_at=coordinated,
            completed_at=completed,
            updated_at=updated,
            agency=None,
            lng=lng,
            lat=lat,
            photo_url=row.get("photo_url", "").strip() or None,
            photo_done_url=row.get("photo_done_url", "").strip() or None,
            text_redacted=self.text(text) if text else None,
        )


def _open_text(path: Path) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(
            gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline=""
        )
    return path.open(encoding="utf-8", errors="replace", newline="")


def _prepend(first: str, fh: IO[str]) -> Iterator[str]:
    """The stream's lines with the already-read first character put back."""
    lines = iter(fh)
    head = next(lines, "")
    yield first + head
    yield from lines


def _csv_text(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()
