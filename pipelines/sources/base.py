"""What every source adapter produces: canonical reports, or rejections with a reason.

An adapter reads one source's files (``../shared/FEEDS.md`` is the contract) and yields, for
every row it reads, exactly one :class:`Report` or one :class:`Rejection`, so the batch
invariant ``read == inserted + updated + unchanged + rejected`` can be kept exactly. Repairs
it is sure of (swapped coordinates, comma decimals, a byte-order mark, unordered histories) are
applied and counted; nothing else is guessed.

The ingest reads a batch one file at a time (:meth:`FileSource.read`): a row that loads never
becomes a :class:`RawRow`, and the fast paths' reports stay plain tuples
(:data:`ReportFields`). :meth:`FileSource.rows` gives the same rows as ``(raw, result)`` pairs.
A live adapter (the apps' APIs) would implement the same :class:`Source` protocol, with pages
for files.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import operator
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar, Protocol

import msgspec

from geo.settings import JAKARTA_BOX
from geo.taxonomy import UNMAPPED, Taxonomy, load_taxonomy
from pipelines.redact import redact

WIB = timezone(timedelta(hours=7), "WIB")

#: Canonical lifecycle (pantau.reports.status).
RECEIVED, COORDINATED, IN_PROGRESS, COMPLETED = (
    "received",
    "coordinated",
    "in_progress",
    "completed",
)


@dataclass(slots=True)
class Report:
    """One canonical report, as the ``pantau.reports`` table wants it.

    The fields are in the order of the table's columns as the ingest writes them, the point
    last (it becomes ``geom``). The adapters' fast paths return the same fields as a plain tuple
    (:data:`ReportFields`): a tuple costs a quarter of a Report to build, on every row.
    """

    source: str
    source_id: str
    ticket_code: str | None
    category: str
    source_category: str | None
    status: str
    source_status: str
    created_at: datetime
    coordinated_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    agency: str | None
    photo_url: str | None
    photo_done_url: str | None
    text_redacted: str | None
    lng: float
    lat: float


#: A report's fields as a plain tuple, in :class:`Report`'s order: ``Report(*fields)`` is the
#: report.
ReportFields = tuple[Any, ...]
#: The names of a report's fields, in that order.
REPORT_FIELDS = tuple(f.name for f in dataclasses.fields(Report))
#: The fields of a :class:`Report` as such a tuple.
report_fields: Callable[[Report], ReportFields] = operator.attrgetter(*REPORT_FIELDS)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that cannot be used, with a machine-readable reason (kept whole, never dropped)."""

    reason: str
    detail: str = ""


class Rejected(Exception):
    """Raised inside an adapter to reject the current row."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class RawRow:
    """A row as read: where it came from and its text (stored as is when rejected).

    ``data`` is the row as the adapter holds it: text, the line's bytes (decoded on demand,
    invalid UTF-8 replaced) or a CSV record's fields (written back as one CSV line on demand).
    Only rejected rows are ever shown, so the ~98 % that load never pay for the text; the ingest
    makes one for rejected rows only. Not frozen: :meth:`FileSource.rows` makes one for every
    row, and a frozen one costs three times as much (0.3 us).
    """

    file: str
    line_no: int
    data: str | bytes | list[str]

    @property
    def text(self) -> str:
        """The row as text."""
        if isinstance(self.data, bytes):
            return self.data.decode("utf-8", errors="replace")
        if isinstance(self.data, list):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(self.data)
            return buffer.getvalue()
        return self.data


#: One row as :meth:`FileSource.read` gives it: its line (or record) number, the row as read
#: (:attr:`RawRow.data`), and its report, the report's fields, or its rejection.
Parsed = tuple[int, str | bytes | list[str], Report | ReportFields | Rejection]


@dataclass
class Tally:
    """What an adapter repaired or noticed while parsing (for the run summary)."""

    repaired: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    redacted: Counter[str] = field(default_factory=Counter)


class Source(Protocol):
    """The interface every adapter implements (what the ingest uses)."""

    name: str
    files: list[Path]
    tally: Tally
    current_file: Path | None

    def read(self, path: Path) -> Iterator[Parsed]:
        """Every row of one file: its number, the row as read, its report or its rejection."""
        ...

    def rows(self) -> Iterator[tuple[RawRow, Report | Rejection]]:
        """Every row of every file, with its canonical report or its rejection."""
        ...


class FileSource:
    """Base of the file adapters: finds the files, holds the taxonomy and the tallies."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]

    def __init__(self, paths: list[Path]) -> None:
        self.files = discover(paths, self.suffixes)
        self.taxonomy: Taxonomy = load_taxonomy()
        self.tally = Tally()
        self.current_file: Path | None = None  # the file being read (for error messages)

    def rows(self) -> Iterator[tuple[RawRow, Report | Rejection]]:
        """Every row of every file, in file order, with its report or its rejection."""
        for path in self.files:
            self.current_file = path
            name = path.name
            for number, data, result in self.read(path):
                yield (
                    RawRow(name, number, data),
                    Report(*result) if isinstance(result, tuple) else result,
                )

    def read(self, path: Path) -> Iterator[Parsed]:
        """Every row of one file: its number, the row as read and what it gives.

        The ingest's workers read files this way: a row that loads never becomes a
        :class:`RawRow`, and a usual row's report stays a tuple (:data:`ReportFields`).
        """
        raise NotImplementedError

    # -- shared field rules ----------------------------------------------------------------
    def category(self, label: str | None) -> str:
        """The canonical category of a source label; ``unmapped`` (counted) when unknown."""
        category = self.taxonomy.category_of(self.name, label)
        if category is None:
            self.tally.notes["unmapped_category"] += 1
            return UNMAPPED
        return category

    def lifecycle(
        self,
        created: datetime,
        coordinated: datetime | None,
        completed: datetime | None,
        updated: datetime,
    ) -> tuple[datetime | None, datetime | None, datetime]:
        """Check the order of the events; clamp (and count) a few seconds of clock skew."""
        if check_order(created, coordinated, completed, updated):
            self.tally.repaired["clock_skew_clamped"] += 1
            coordinated, completed = clamp(coordinated, created), clamp(completed, created)
            updated = max(updated, created)
        return coordinated, completed, updated

    def text(self, value: object) -> str | None:
        """Free text with personal data redacted (counted per kind)."""
        if value is None:
            return None
        cleaned, counts = redact(value if type(value) is str else str(value))
        if counts:
            self.tally.redacted.update(counts)
        return cleaned

    def coordinates(self, lat: object, lng: object) -> tuple[float, float]:
        """(lng, lat) from numbers or numeric strings, comma decimals and swaps repaired."""
        lat_f, lat_comma = _number(lat, "lat")
        lng_f, lng_comma = _number(lng, "lng")
        if lat_comma or lng_comma:
            self.tally.repaired["comma_decimal"] += 1
        if lat_f == 0 or lng_f == 0:
            raise Rejected("zero_coordinates", f"lat {lat_f}, lng {lng_f}")
        if in_box(lng_f, lat_f):
            return lng_f, lat_f
        if in_box(lat_f, lng_f):
            self.tally.repaired["swapped_coordinates"] += 1
            return lat_f, lng_f
        if not (-90 <= lat_f <= 90 and -180 <= lng_f <= 180):
            raise Rejected("invalid_coordinates", f"lat {lat_f}, lng {lng_f} out of range")
        return lng_f, lat_f


def _number(value: object, name: str) -> tuple[float, bool]:
    """A coordinate, and whether it was written with a decimal comma."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Rejected("missing_coordinates", f"{name} is empty")
    if isinstance(value, bool):
        raise Rejected("invalid_coordinates", f"{name} is {value!r}")
    comma = False
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if "," in text and "." not in text:
            text = text.replace(",", ".")
            comma = True
        try:
            number = float(text)
        except ValueError:
            raise Rejected("invalid_coordinates", f"{name} is {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise Rejected("invalid_coordinates", f"{name} is {value!r}")
    return number, comma


def in_box(lng: float, lat: float) -> bool:
    """Inside the generous Jakarta box."""
    minx, miny, maxx, maxy = JAKARTA_BOX
    return minx <= lng <= maxx and miny <= lat <= maxy


def parse_time(value: object, field_name: str) -> datetime:
    """An instant from ISO 8601 / RFC 3339 text; a zone-less local time is taken as WIB.

    Accepts ``2024-01-06T01:15:22.000Z``, ``2024-01-06T08:15:22+07:00``,
    ``2024-01-06T08:15:22`` and ``2024-01-06 08:15:22`` (:func:`read_time` says how). A date
    without a time is refused: it is not a moment.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Rejected("missing_timestamp", f"{field_name} is empty")
    text = str(value).strip()
    moment = read_time(text)
    if moment is None:
        raise Rejected("invalid_timestamp", f"{field_name} is {text[:60]!r}")
    return _in_range(moment, field_name)


def read_time(text: str) -> datetime | None:
    """The instant ``text`` names, or None; a zone-less time is Jakarta time (WIB).

    RFC 3339 first, read by msgspec (``T`` or a space between date and time, either case;
    fractions beyond the microsecond rounded): the adapters' fast paths let msgspec decode
    timestamps straight into datetimes, and this makes the rules read every such text exactly
    as they do. Other ISO 8601 forms with a time (``2024-01-06T08:15Z``, ``+07`` offsets) are
    read by Python's ``datetime.fromisoformat``.
    """
    try:
        moment = msgspec.convert(text, datetime)
    except (msgspec.ValidationError, UnicodeEncodeError):  # the latter: a lone surrogate
        if len(text) < 16 or text[10] not in "T ":  # a date alone, or not ISO 8601
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=WIB)


def _in_range(moment: datetime, field_name: str) -> datetime:
    if not in_years(moment):
        raise Rejected("invalid_timestamp", f"{field_name} year {moment.year}")
    return moment


def clean_time(value: Any) -> datetime | None:
    """:func:`parse_time` of a string it accepts, else None (no exception).

    For the adapters' fast paths: None sends the row to the full rules.
    """
    if type(value) is not str:
        return None
    moment = read_time(value)
    return moment if moment is not None and in_years(moment) else None


#: The years :func:`parse_time` accepts (the fast paths compare them inline).
FIRST_YEAR, LAST_YEAR = 2000, 2100


def in_years(moment: datetime) -> bool:
    """Within the years :func:`parse_time` accepts (2000-2100)."""
    return FIRST_YEAR <= moment.year <= LAST_YEAR


def clean_text(value: str) -> bool:
    """Non-empty, without surrounding blanks: kept exactly as given by the rules too."""
    return bool(value) and not value[0].isspace() and not value[-1].isspace()


#: Clock differences smaller than this between creation and a later event are tolerated.
TOLERANCE = timedelta(minutes=1)


def check_order(
    created: datetime, coordinated: datetime | None, completed: datetime | None, updated: datetime
) -> bool:
    """Reject impossible lifecycles: an event before the report existed.

    Returns True when an event lies before creation by less than :data:`TOLERANCE` (clock
    skew between the app and the CRM): the caller clamps it to the creation time.
    """
    skew = False
    for name, moment in (
        ("completed", completed),
        ("coordinated", coordinated),
        ("updated", updated),
    ):
        if moment is not None and moment < created:
            if moment < created - TOLERANCE:
                detail = f"{name} {moment.isoformat()} < created {created.isoformat()}"
                raise Rejected(f"{name}_before_created", detail)
            skew = True
    return skew


def clamp(moment: datetime | None, floor: datetime) -> datetime | None:
    """``moment`` raised to ``floor`` (events a few seconds before creation)."""
    return None if moment is None else max(moment, floor)


def fold_status(value: object) -> str:
    """A status as compared: case and spacing ignored ("  SELESAI " -> "selesai")."""
    return " ".join(str(value).split()).casefold() if value is not None else ""


def discover(paths: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """The files to read: given files as they are, folders searched recursively by suffix."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes)
            )
        elif path.is_file():
            found.append(path)
        else:
            from geo.errors import PantauError

            msg = f"No such file or folder: {path}"
            raise PantauError(msg)
    return found
