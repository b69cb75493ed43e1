"""JAKI (and the CRM it feeds): JSON Lines, an API page ``{"data": [...]}`` or a JSON array.

Rules beyond ``../shared/FEEDS.md``, decided here and tested:

- ``id`` (integer or digit string) is the key; ``code`` is kept as the ticket number.
- Statuses are compared ignoring case and spacing; anything outside the five CRM statuses is
  rejected (``unknown_status``), never guessed.
- ``histories`` are sorted by time when out of order (repair ``histories_reordered``). The
  coordination time is the first move out of *Menunggu*; the completion time is the first
  *Selesai*. A report whose status is *Selesai* but whose history has no *Selesai* entry takes
  ``updatedAt`` as its completion time (noted). Without histories the coordination time is
  unknown (NULL, noted), not invented.
- A timestamp without a zone is Jakarta time (WIB).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from pipelines.sources.base import (
    COMPLETED,
    COORDINATED,
    IN_PROGRESS,
    RECEIVED,
    WIB,
    FileSource,
    RawRow,
    Rejected,
    Rejection,
    Report,
    fold_status,
    in_box,
    parse_time,
)

STATUSES = {
    "menunggu": RECEIVED,
    "disposisi": COORDINATED,
    "proses koordinasi": IN_PROGRESS,
    "estimasi waktu selesai": IN_PROGRESS,
    "selesai": COMPLETED,
}
#: The spellings FEEDS.md gives, looked up before folding case and spacing (the fast path).
EXACT_STATUSES = {
    "Menunggu": RECEIVED,
    "Disposisi": COORDINATED,
    "Proses Koordinasi": IN_PROGRESS,
    "Estimasi Waktu Selesai": IN_PROGRESS,
    "Selesai": COMPLETED,
}
_FOLDED = {
    "Menunggu": "menunggu",
    "Disposisi": "disposisi",
    "Proses Koordinasi": "proses koordinasi",
    "Estimasi Waktu Selesai": "estimasi waktu selesai",
    "Selesai": "selesai",
}
BOM = b"\xef\xbb\xbf"


class JakiFiles(FileSource):
    """JAKI files: ``.jsonl`` / ``.json``, optionally ``.gz``."""

    name = "jaki"
    suffixes = (".jsonl", ".json", ".jsonl.gz", ".json.gz")

    def rows(self) -> Iterator[tuple[RawRow, Report | Rejection]]:
        """Every report read from every file, parsed or rejected."""
        for path in self.files:
            self.current_file = path
            for raw, obj in self._objects(path):
                if isinstance(obj, Rejection):
                    yield raw, obj
                    continue
                try:
                    yield raw, self.parse(obj)
                except Rejected as exc:
                    yield raw, Rejection(exc.reason, exc.detail)

    # -- reading ----------------------------------------------------------------------------
    def _objects(self, path: Path) -> Iterator[tuple[RawRow, Any]]:
        """JSON documents are read whole; JSON Lines are streamed line by line."""
        name = path.name
        if not name.lower().removesuffix(".gz").endswith(".jsonl"):
            data = self._strip_bom(_read_bytes(path))
            document = _whole_document(data)
            if document is not None:
                yield from self._document_items(name, document)
                return
            lines: Iterator[bytes] = iter(data.split(b"\n"))
        else:
            lines = self._stream_lines(path)
        for line_no, line in enumerate(lines, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            try:
                obj = orjson.loads(stripped)
            except orjson.JSONDecodeError as exc:
                yield RawRow(name, line_no, stripped), Rejection("malformed_json", str(exc)[:200])
                continue
            yield RawRow(name, line_no, stripped), _without_nul(obj, stripped, self.tally)

    def _document_items(self, name: str, document: list[Any]) -> Iterator[tuple[RawRow, Any]]:
        for i, item in enumerate(document, start=1):
            try:
                text = orjson.dumps(item).decode()
            except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes
                yield RawRow(name, i, repr(item)[:2000]), Rejection("malformed_json", str(exc))
                continue
            yield RawRow(name, i, text), _without_nul(item, text.encode(), self.tally)

    def _stream_lines(self, path: Path) -> Iterator[bytes]:
        """The lines of a (possibly gzipped) JSON Lines file, memory flat, BOM removed."""
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            first = fh.readline()
            yield self._strip_bom(first)
            yield from fh

    def _strip_bom(self, data: bytes) -> bytes:
        if data.startswith(BOM):
            self.tally.repaired["byte_order_mark"] += 1
            return data[len(BOM) :]
        return data

    # -- one report --------------------------------------------------------------------------
    def parse(self, obj: Any) -> Report:
        """A canonical report from one JAKI object (raises :class:`Rejected`).

        Most rows take :meth:`_clean`, which handles the common shape in one pass; anything
        else (a variant, a repair, a note or a rejection) goes through :meth:`_parse_rules`.
        """
        return self._clean(obj) or self._parse_rules(obj)

    def _clean(self, obj: Any) -> Report | None:
        """The report of a row with the usual shape, or None when :meth:`_parse_rules` must decide.

        It accepts only what :meth:`_parse_rules` would turn into the same report without a
        repair, a note or a rejection (the two are compared row for row in the tests), and it
        touches the tallies only through the redaction, which both share. Parsing is ~60 % of
        the ingest's CPU; this path halves the Python work per row (bench/README.md).
        """
        if type(obj) is not dict:
            return None
        get = obj.get
        ident = get("id")
        state = get("tstatus")
        if type(ident) is not int or ident < 0 or type(state) is not dict:
            return None
        source_status = state.get("name")
        status = EXACT_STATUSES.get(source_status) if type(source_status) is str else None
        created_text = get("createdAt")
        created = _clean_time(created_text)
        history = get("histories")
        if status is None or created is None or type(history) is not list:
            return None
        # the first step is usually stamped with createdAt, the last with updatedAt: the same
        # text is the same instant, parsed once
        coordinated = completed = latest = latest_text = None
        for entry in history:
            if type(entry) is not dict:
                return None
            raw_status = entry.get("status")
            step = _FOLDED.get(raw_status) if type(raw_status) is str else None
            text = entry.get("createdAt")
            moment = created if text == created_text else _clean_time(text)
            if step is None or moment is None or (latest is not None and moment < latest):
                return None  # an unknown step or an unordered history: noted or repaired
            latest, latest_text = moment, text
            if coordinated is None and step != "menunggu":
                coordinated = moment
            if completed is None and step == "selesai":
                completed = moment
        raw_updated = get("updatedAt")
        if raw_updated:
            updated = latest if raw_updated == latest_text else _clean_time(raw_updated)
            if updated is None:
                return None
        else:
            updated = created if latest is None else max(created, latest)
        if status == COMPLETED:
            if completed is None:
                return None  # completion taken from updatedAt: noted
        else:
            completed = None
        if status == RECEIVED and coordinated is not None:
            return None  # the history ran ahead of the status: noted
        if (
            updated < created
            or (coordinated is not None and coordinated < created)
            or (completed is not None and completed < created)
        ):
            return None  # clock skew (clamped) or an impossible lifecycle (rejected)
        lat = get("lat")
        lng = get("lng")
        if type(lat) is not float or type(lng) is not float or not in_box(lng, lat):
            return None  # zero, missing, swapped, text or outside the box
        group = get("complaintCategory")
        label = group.get("name") if type(group) is dict else None
        if type(label) is not str or not _clean_text(label):
            return None
        category = self.taxonomy.labels.get(("jaki", label))
        if category is None:
            return None  # spelled differently, or unmapped (noted)
        zone = get("zone")
        agency = zone.get("name") if type(zone) is dict else zone
        documents = get("documents")
        photo = (
            documents[0].get("url")
            if isinstance(documents, list) and documents and isinstance(documents[0], dict)
            else None
        )
        code = get("code")
        for value in (agency, photo, code):
            if value is not None and (type(value) is not str or not _clean_text(value)):
                return None
        return Report(
            source="jaki",
            source_id=str(ident),
            ticket_code=code,
            category=category,
            source_category=label,
            status=status,
            source_status=str(source_status),
            created_at=created,
            coordinated_at=coordinated,
            completed_at=completed,
            updated_at=updated,
            agency=agency,
            lng=lng,
            lat=lat,
            photo_url=photo,
            photo_done_url=None,
            text_redacted=self.text(get("content")),
        )

    def _parse_rules(self, obj: Any) -> Report:
        """Every rule of the module docstring, one field at a time."""
        if not isinstance(obj, dict):
            raise Rejected("not_an_object", type(obj).__name__)
        source_id = _report_id(obj.get("id"))
        source_status = _name(obj.get("tstatus"))
        exact = EXACT_STATUSES.get(source_status) if source_status is not None else None
        status = exact or STATUSES.get(fold_status(source_status))
        if status is None:
            raise Rejected("unknown_status", repr(source_status))
        created = parse_time(obj.get("createdAt"), "createdAt")
        history = self._history(obj.get("histories"))
        updated = parse_time(obj["updatedAt"], "updatedAt") if obj.get("updatedAt") else None
        updated = updated or max([created, *(t for _, t in history)])
        coordinated = next((t for s, t in history if s != "menunggu"), None)
        completed = next((t for s, t in history if s == "selesai"), None)
        if status == COMPLETED and completed is None:
            completed = updated
            self.tally.notes["completion_from_updated_at"] += 1
        if status != COMPLETED:
            completed = None
        if status == RECEIVED and coordinated is not None:
            coordinated = None  # the status is the truth: the history ran ahead of it
            self.tally.notes["history_ahead_of_status"] += 1
        coordinated, completed, updated = self.lifecycle(created, coordinated, completed, updated)
        lng, lat = self.coordinates(obj.get("lat"), obj.get("lng"))
        label = _name(obj.get("complaintCategory"))
        documents = obj.get("documents")
        photo = (
            documents[0].get("url")
            if isinstance(documents, list) and documents and isinstance(documents[0], dict)
            else None
        )
        return Report(
            source="jaki",
            source_id=source_id,
            ticket_code=_text_or_none(obj.get("code")),
            category=self.category(label),
            source_category=label,
            status=status,
            source_status=str(source_status),
            created_at=created,
            coordinated_at=coordinated,
            completed_at=completed,
            updated_at=updated,
            agency=_name(obj.get("zone")),
            lng=lng,
            lat=lat,
            photo_url=_text_or_none(photo),
            photo_done_url=None,
            text_redacted=self.text(obj.get("content")),
        )

    def _history(self, value: Any) -> list[tuple[str, datetime]]:
        if value is None:
            self.tally.notes["missing_histories"] += 1
            return []
        if not isinstance(value, list):
            raise Rejected("invalid_histories", type(value).__name__)
        entries = []
        for entry in value:
            if type(entry) is not dict:
                raise Rejected("invalid_histories", "an entry is not an object")
            raw_status = entry.get("status")
            folded = _FOLDED.get(raw_status) if type(raw_status) is str else None
            status = folded or fold_status(raw_status)
            if status not in STATUSES:
                self.tally.notes["unknown_history_status"] += 1
                continue
            entries.append((status, parse_time(entry.get("createdAt"), "histories.createdAt")))
        ordered = sorted(entries, key=lambda e: e[1])
        if ordered != entries:
            self.tally.repaired["histories_reordered"] += 1
        return ordered


def _clean_time(value: Any) -> datetime | None:
    """:func:`parse_time` of an ISO 8601 string it accepts as is, else None (no exception)."""
    if type(value) is not str or len(value) < 16 or value[10] not in "T ":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=WIB)
    return moment if 2000 <= moment.year <= 2100 else None


def _clean_text(value: str) -> bool:
    """Non-empty, without surrounding blanks: kept exactly as given by the rules too."""
    return bool(value) and not value[0].isspace() and not value[-1].isspace()


def _read_bytes(path: Path) -> bytes:
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def _whole_document(data: bytes) -> list[Any] | None:
    """The reports of a JSON document (API page or array), or None when it is not one."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None  # JSON Lines in a .json file: read line by line
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        return list(document["data"])
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        return [document]
    return None


def _report_id(value: Any) -> str:
    """JAKI ids are non-negative integers: ``"007"`` and ``7`` are the same report."""
    if value is None or value == "":
        raise Rejected("missing_id", "id is empty")
    if type(value) is int and value >= 0:
        return str(value)
    if type(value) is str and value.strip().isascii() and value.strip().isdigit():
        return str(int(value.strip()))
    raise Rejected("invalid_id", repr(value)[:80])


def _without_nul(obj: Any, data: bytes, tally: Any) -> Any:
    """The object with NUL characters removed from its strings (PostgreSQL refuses them)."""
    if b"\\u0000" not in data:
        return obj
    tally.repaired["nul_characters"] += 1
    return _strip_nul(obj)


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    return value


def _name(value: Any) -> str | None:
    """``{"name": ...}`` -> the name (also accepts a plain string)."""
    if type(value) is dict:
        value = value.get("name")
    if type(value) is str and value and not value[0].isspace() and not value[-1].isspace():
        return value  # the fast path: a clean name
    return _text_or_none(value)


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
