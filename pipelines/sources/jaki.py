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

import contextlib
import gzip
import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson

from geo.settings import JAKARTA_BOX
from pipelines.sources.base import (
    COMPLETED,
    COORDINATED,
    FIRST_YEAR,
    IN_PROGRESS,
    LAST_YEAR,
    RECEIVED,
    WIB,
    FileSource,
    Parsed,
    Rejected,
    Rejection,
    Report,
    ReportFields,
    fold_status,
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
#: in_years and in_box, inlined in the fast path (0.25 us a row: six calls)
_MIN_LNG, _MIN_LAT, _MAX_LNG, _MAX_LAT = JAKARTA_BOX


class _Name(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: str


class _Document(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    url: str | None = None


class _Step(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    status: str
    createdAt: datetime  # noqa: N815 - the feed's field name


class _City(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: str | None = None


class _District(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: str | None = None
    city: _City | None = None


class _Village(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: str | None = None
    district: _District | None = None


class _Usual(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The usual JAKI row, as FEEDS.md shows it: every field typed, nothing else allowed.

    Every field is declared and unknown ones are refused: msgspec skips an undeclared value
    without checking all of it (a number too large for a double, say, or invalid UTF-8), which
    orjson refuses, so a row with anything undeclared goes to the rules.
    """

    id: int
    tstatus: _Name
    createdAt: datetime  # noqa: N815
    lat: float
    lng: float
    complaintCategory: _Name  # noqa: N815
    histories: list[_Step]
    code: str | None = None
    content: str | None = None
    updatedAt: datetime | None = None  # noqa: N815
    zone: _Name | None = None
    village: _Village | None = None
    documents: list[_Document] | None = None


#: Decodes the usual row; anything else raises (then orjson and the rules take the row).
_USUAL = msgspec.json.Decoder(_Usual)


class JakiFiles(FileSource):
    """JAKI files: ``.jsonl`` / ``.json``, optionally ``.gz``."""

    name = "jaki"
    suffixes = (".jsonl", ".json", ".jsonl.gz", ".json.gz")

    def read(self, path: Path) -> Iterator[Parsed]:
        """One JSON text per report: JSON Lines streamed line by line, documents read whole."""
        lines: contextlib.AbstractContextManager[Iterator[bytes]]
        if not path.name.lower().removesuffix(".gz").endswith(".jsonl"):
            data = self._strip_bom(_read_bytes(path))
            document = _whole_document(data)
            if document is not None:
                yield from self._document_items(document)
                return
            lines = contextlib.nullcontext(iter(data.split(b"\n")))
        else:
            lines = self._open_lines(path)
        parse_line = self.parse_line
        with lines as each:
            for line_no, line in enumerate(each, start=1):
                stripped = line.strip()
                if stripped:
                    yield line_no, stripped, parse_line(stripped)

    def _document_items(self, document: list[Any]) -> Iterator[Parsed]:
        """The items of a JSON document, each written back as one JSON text."""
        for i, item in enumerate(document, start=1):
            try:
                text = orjson.dumps(item)
            except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes
                yield i, repr(item)[:2000], Rejection("malformed_json", str(exc))
                continue
            yield i, text, self.parse_line(text)

    @contextlib.contextmanager
    def _open_lines(self, path: Path) -> Iterator[Iterator[bytes]]:
        """The lines of a (possibly gzipped) JSON Lines file, memory flat, BOM removed.

        The file object itself after the first line: no generator frame between it and the
        reader (one resumed frame per row costs 0.1 us).
        """
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            yield itertools.chain([self._strip_bom(fh.readline())], fh)

    def _strip_bom(self, data: bytes) -> bytes:
        if data.startswith(BOM):
            self.tally.repaired["byte_order_mark"] += 1
            return data[len(BOM) :]
        return data

    # -- one report --------------------------------------------------------------------------
    def parse_line(self, line: bytes) -> ReportFields | Report | Rejection:
        """The canonical report of one JSON text (or its fields), or its rejection.

        Most rows take :meth:`usual`: msgspec decodes the usual shape straight into typed
        fields (in C, skipping the dictionaries) and one pass checks them. Anything else (a
        variant, a repair, a note or a rejection) is decoded by orjson and goes through
        :meth:`parse`, the full rules.
        """
        try:
            fields = self.usual(_USUAL.decode(line))
        except (msgspec.MsgspecError, RecursionError):
            fields = None  # not the usual shape: the rules decide
        if fields is not None:
            return fields
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return Rejection("malformed_json", str(exc)[:200])
        try:
            return self.parse(_without_nul(obj, line, self.tally))
        except Rejected as exc:
            return Rejection(exc.reason, exc.detail)

    def usual(self, row: _Usual) -> ReportFields | None:
        """The report of a row with the usual shape (its fields), or None when :meth:`parse`
        must decide.

        It accepts only what :meth:`parse` would turn into the same report without a repair, a
        note or a rejection (the two are compared row for row in the tests), and it touches the
        tallies only through the redaction, which both share. Parsing is most of the ingest's
        CPU; this path takes a third of the rules' time per row (bench/README.md).
        """
        ident = row.id
        source_status = row.tstatus.name
        status = EXACT_STATUSES.get(source_status)
        # msgspec read the timestamps (as the rules' read_time does); a zone-less one is WIB
        created = row.createdAt
        if created.tzinfo is None:
            created = created.replace(tzinfo=WIB)
        # orjson reads ids of 2**64 and more as floats (an invalid id for the rules)
        if status is None or not FIRST_YEAR <= created.year <= LAST_YEAR or not 0 <= ident < 2**63:
            return None
        coordinated = completed = latest = None
        for entry in row.histories:
            step = _FOLDED.get(entry.status)
            moment = entry.createdAt
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=WIB)
            # an unknown step or an unordered history (noted or repaired), or a year the rules
            # refuse: each step's own (steps in different zones can be in order and still have
            # years outside the range between the first step's and the last one's)
            if (
                step is None
                or (latest is not None and moment < latest)
                or not FIRST_YEAR <= moment.year <= LAST_YEAR
            ):
                return None
            latest = moment
            if coordinated is None and step != "menunggu":
                coordinated = moment
            if completed is None and step == "selesai":
                completed = moment
        updated = row.updatedAt
        if updated is not None:
            if updated.tzinfo is None:
                updated = updated.replace(tzinfo=WIB)
            if not FIRST_YEAR <= updated.year <= LAST_YEAR:
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
        lat, lng = row.lat, row.lng
        if not (_MIN_LNG <= lng <= _MAX_LNG and _MIN_LAT <= lat <= _MAX_LAT):
            return None  # zero, swapped or outside the box
        label = row.complaintCategory.name
        # the mapping table's labels have no surrounding blanks: one with them is not found
        category = self.taxonomy.labels.get(("jaki", label))
        if category is None:
            return None  # spelled differently, or unmapped (noted)
        agency = row.zone.name if row.zone is not None else None
        documents = row.documents
        photo = documents[0].url if documents else None
        code = row.code
        # kept as given only without surrounding blanks (base.clean_text, inlined: a call per
        # text cost 0.15 us a row)
        for value in (agency, photo, code):
            if value is not None and (not value or value[0].isspace() or value[-1].isspace()):
                return None
        if _holds_nul(row):
            return None  # removed by the rules, and counted
        return (  # Report's fields
            "jaki",  # source
            str(ident),  # source_id
            code,  # ticket_code
            category,
            label,  # source_category
            status,
            source_status,
            created,  # created_at
            coordinated,  # coordinated_at
            completed,  # completed_at
            updated,  # updated_at
            agency,
            photo,  # photo_url
            None,  # photo_done_url
            self.text(row.content),  # text_redacted
            lng,
            lat,
        )

    def parse(self, obj: Any) -> Report:
        """A canonical report from one decoded JAKI value: every rule of the module docstring.

        Raises :class:`Rejected` when the row cannot be used.
        """
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


def _holds_nul(row: _Usual) -> bool:
    """Whether a text of the row holds a NUL character (``\\u0000`` in the JSON).

    The rules remove it and count a repair, so the fast path steps aside. Statuses, labels and
    timestamps holding one fail their lookups or their parsing, and a key holding one is an
    unknown field; these are the other texts (0.15 us a row, where searching every line for the
    escape took 0.45).
    """
    for text in (row.code, row.content, row.zone.name if row.zone is not None else None):
        if text is not None and "\x00" in text:
            return True
    for document in row.documents or ():
        if document.url is not None and "\x00" in document.url:
            return True
    village = row.village
    if village is None:
        return False
    if village.name is not None and "\x00" in village.name:
        return True
    district = village.district
    if district is None:
        return False
    if district.name is not None and "\x00" in district.name:
        return True
    city = district.city
    return city is not None and city.name is not None and "\x00" in city.name


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
    """The object with NUL characters removed from its strings (PostgreSQL refuses them).

    Counted when the decoded object held one: not for an escaped backslash before ``u0000``
    (text, not a NUL), nor for a NUL in a repeated key's value that the last copy replaced.
    The line's escape is only the quick test that most lines pass.
    """
    if b"\\u0000" not in data:
        return obj
    stripped = _strip_nul(obj)
    if stripped != obj:
        tally.repaired["nul_characters"] += 1
    return stripped


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
