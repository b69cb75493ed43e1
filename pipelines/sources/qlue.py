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
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pipelines.sources.base import (
    COMPLETED,
    IN_PROGRESS,
    RECEIVED,
    FileSource,
    Parsed,
    Rejected,
    Rejection,
    Report,
    ReportFields,
    clean_text,
    clean_time,
    fold_status,
    in_box,
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

# Long texts are legal; an unbalanced quote can swallow a whole file into one field, which is
# then rejected as one malformed row instead of stopping the batch.
csv.field_size_limit(64 * 1024 * 1024)


class QlueFiles(FileSource):
    """Qlue files: ``.csv``, optionally ``.gz``."""

    name = "qlue"
    suffixes = (".csv", ".csv.gz")

    def read(self, path: Path) -> Iterator[Parsed]:
        """Every data row of one file: its record's last line number, its fields, its result."""
        with _open_text(path) as fh:
            reader = csv.reader(self._lines(fh))
            header = _next_record(reader)
            while isinstance(header, list) and len(header) <= 1 and not "".join(header).strip():
                header = _next_record(reader)  # blank lines before the header
            if header is None or isinstance(header, csv.Error):
                return
            header = [h.strip().lower() for h in header]
            missing = [c for c in REQUIRED if c not in header]
            usual = self.usual if header == list(COLUMNS) else None  # the FEEDS layout: by position
            while True:
                fields = _next_record(reader)
                if fields is None:
                    break
                if isinstance(fields, csv.Error):
                    yield reader.line_num, "", Rejection("malformed_row", str(fields)[:200])
                    continue
                if len(fields) <= 1 and not "".join(fields).strip():
                    continue  # a blank line is not a record (",,," is: rejected below)
                number = reader.line_num
                if missing:
                    detail = f"header lacks {', '.join(missing)}"
                    yield number, fields, Rejection("unknown_layout", detail)
                elif len(fields) != len(header):
                    detail = f"{len(fields)} fields, header has {len(header)}"
                    yield number, fields, Rejection("malformed_row", detail)
                elif not "".join(fields).strip():  # every field blank (faster than any(...))
                    yield number, fields, Rejection("empty_row", "every field is blank")
                else:
                    report = usual(fields) if usual else None
                    yield number, fields, report or self._parse_fields(header, fields)

    def _lines(self, fh: IO[str]) -> Iterator[str]:
        """The file's lines: a byte-order mark and NUL characters removed (and counted)."""
        first = fh.readline()
        if first.startswith("\ufeff"):
            self.tally.repaired["byte_order_mark"] += 1
            first = first[1:]
        for line in itertools.chain([first], fh):
            if "\x00" in line:
                self.tally.repaired["nul_characters"] += 1
                line = line.replace("\x00", "")
            yield line

    def _parse_fields(self, header: list[str], fields: list[str]) -> Report | Rejection:
        try:
            return self.parse(dict(zip(header, fields, strict=True)))
        except Rejected as exc:
            return Rejection(exc.reason, exc.detail)

    def usual(self, fields: list[str]) -> ReportFields | None:
        """The report of a usual row in the FEEDS layout (its fields), or None when
        :meth:`parse` must decide.

        It accepts only what :meth:`parse` would turn into the same report without a repair, a
        rejection or a note other than the one every ``complete`` row gets, and it touches the
        tallies as :meth:`parse` does for such a row (the two are compared row for row in the
        tests). It reads the fields by position and takes about half the rules' time.
        """
        (
            source_id, title, description, label, lat_text, lng_text, address, _, _,
            source_status, created_text, updated_text, completed_text, photo, photo_done, _,
        ) = fields  # fmt: skip
        status = STATUSES.get(source_status)
        created = clean_time(created_text)
        if status is None or created is None or not clean_text(source_id):
            return None
        updated = clean_time(updated_text) if updated_text else created
        completed = clean_time(completed_text) if completed_text else None
        if updated is None or (completed_text and completed is None):
            return None
        if (status == COMPLETED) != (completed is not None):
            return None  # completion taken from updated_at, or dropped while open: noted
        if updated < created or (completed is not None and completed < created):
            return None  # clock skew (clamped) or an impossible lifecycle (rejected)
        if "," in lat_text or "," in lng_text:
            return None  # a decimal comma (repaired)
        try:
            lat, lng = float(lat_text), float(lng_text)
        except ValueError:
            return None
        if not in_box(lng, lat):
            return None  # zero, swapped, out of range or outside the box
        # the taxonomy ignores case and spacing, as the rules' category() does (a tenth of the
        # generated Qlue labels are written in capitals or in lower case)
        category = self.taxonomy.category_of("qlue", label) if clean_text(label) else None
        if category is None:
            return None  # surrounded by blanks, or unmapped (noted)
        if status == COMPLETED:
            self.tally.notes["coordination_time_unknown"] += 1
        text = "\n".join(p for p in (title.strip(), description.strip(), address.strip()) if p)
        return (  # Report's fields
            "qlue",  # source
            source_id,
            None,  # ticket_code
            category,
            label,  # source_category
            status,
            source_status,
            created,  # created_at
            updated if status == IN_PROGRESS else None,  # coordinated_at
            completed,  # completed_at
            updated,  # updated_at
            None,  # agency
            photo.strip() or None,  # photo_url
            photo_done.strip() or None,  # photo_done_url
            self.text(text) if text else None,  # text_redacted
            lng,
            lat,
        )

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
        coordinated, completed, updated = self.lifecycle(created, coordinated, completed, updated)
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


def _next_record(reader: Any) -> list[str] | csv.Error | None:
    """The next CSV record, the error that stopped it, or None at the end."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        return exc
