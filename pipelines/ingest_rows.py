"""The rows an ingest writes: ``pantau.reports``' own columns, encoded once for binary COPY.

Every report is encoded by the process that parses it (a worker, or the loader for a small
batch) in the layout of ``pantau.reports`` itself, so the loader can COPY it straight into the
table: no staging table and no ``INSERT .. SELECT`` (PostgreSQL's COPY writes whole pages at a
time: a million rows cost 5.4 s of PostgreSQL through a staging table, 4.0 s directly;
bench/README.md). Its owner comes from one of two places:

- the interior lookup (:mod:`pipelines.boundaries.squares`), when the point's square lies
  wholly inside one unit (about 90 % of the points): the row is complete at once;
- otherwise PostGIS (``ST_Covers``, :mod:`pipelines.spatial_join`), asked by the loader for the
  owners of a chunk's points: the row is encoded with empty owner columns, last in the row
  (:class:`EncodedRows`), and the loader swaps them for the owner's (:class:`OwnerColumns`).

A row the loader holds back (an id repeated in the batch, or stored before it) goes to a
staging table whose layout is ``seq`` followed by the same columns: its ``seq`` is put in front
of its bytes (:func:`staged`).

:class:`RowEncoder` is the compiled encoder (``pipelines/_rowcodec.c``) when it is built, else
its Python reference :class:`PyRowEncoder`, which states what a row is; the tests hold the two
to the same bytes.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from h3.api import basic_int as h3int
from psycopg import sql
from psycopg._copy_base import format_row_binary  # pinned psycopg; see requirements.txt
from psycopg.adapt import AdaptersMap, Transformer
from psycopg.postgres import types
from psycopg.pq import Format
from psycopg.types.string import BytesBinaryDumper

from geo.settings import H3_STORED_RESOLUTION
from pipelines.boundaries.squares import (
    LEVEL_SHIFT,
    LEVELS,
    ROW_SHIFT,
    SQUARES_PER_DEGREE,
    square_owner,
)
from pipelines.sources.base import REPORT_FIELDS, WIB, Report, ReportFields, report_fields
from pipelines.spatial_join import codes_query

try:
    from pipelines import _rowcodec  # type: ignore[attr-defined]
except ImportError:  # not built: the Python encoder (tests/unit/test_rowcodec.py says so)
    _rowcodec = None

#: The columns of ``pantau.reports`` in the order the rows are encoded, with their binary COPY
#: types: first a :class:`Report`'s own fields in its order (the point aside), so that a report's
#: fields are the row's start; then what the encoding adds; the owner last (a row waiting for its
#: owner ends with these columns empty, and the loader swaps that end for the owner's columns).
#: The point goes as its EWKB bytes: binary COPY carries no type, and PostGIS's receive function
#: reads EWKB.
_LAYOUT = (
    ("source", "text"),
    ("source_id", "text"),
    ("ticket_code", "text"),
    ("category", "text"),
    ("source_category", "text"),
    ("status", "text"),
    ("source_status", "text"),
    ("created_at", "timestamptz"),
    ("coordinated_at", "timestamptz"),
    ("completed_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("agency", "text"),
    ("photo_url", "text"),
    ("photo_done_url", "text"),
    ("text_redacted", "text"),
    ("geom", "bytea"),
    ("h3_r12", "int8"),
    ("batch_id", "int8"),
    ("area_code", "text"),
    ("kelurahan_code", "text"),
    ("kecamatan_code", "text"),
    ("kota_code", "text"),
    ("outside", "bool"),
)
REPORT_COLUMNS = tuple(name for name, _ in _LAYOUT)
REPORT_TYPES = tuple(kind for _, kind in _LAYOUT)
#: The staging layout: the line's place in the batch first (the newest copy of an id wins, the
#: later line on a tie), then a report row.
STAGE_COLUMNS = ("seq", *REPORT_COLUMNS)
STAGE_TYPES = ("int8", *REPORT_TYPES)

#: An owner's columns in a report row: unit, kelurahan (none for a placeholder), kecamatan,
#: kota, and ``outside`` (false).
Owner = tuple[str, str | None, str | None, str, bool]
#: The same columns of a row without an owner (yet): outside, until located.
NO_OWNER: tuple[None, None, None, None, bool] = (None, None, None, None, True)

#: Where the owner's columns start; where a report's fields hold the point and its creation time.
_OWNER_FROM = REPORT_COLUMNS.index("area_code")
_LNG, _LAT = len(REPORT_FIELDS) - 2, len(REPORT_FIELDS) - 1
_CREATED = REPORT_FIELDS.index("created_at")
_ID = REPORT_FIELDS.index("source_id")

_EWKB_POINT = struct.pack("<BII", 1, 0x20000001, 4326)  # little endian, Point with SRID 4326
_XY = struct.Struct("<dd").pack
_STAGE_HEAD = struct.Struct(">hiq").pack  # field count, then seq's length and value
_DAY = timedelta(days=1)
#: the squares' constants, for the compiled encoder (which looks up two levels, as
#: squares.square_owner does)
_LEVEL1, _LEVEL2 = 1 << LEVEL_SHIFT, 2 << LEVEL_SHIFT
_PER_DEGREE1, _PER_DEGREE2 = float(SQUARES_PER_DEGREE), float(SQUARES_PER_DEGREE << 1)
#: midnight of 1970-01-01 in Jakarta: a report's day is counted from it
_WIB_EPOCH = datetime(1970, 1, 1, tzinfo=WIB)


def staged(seq: int, row: bytes | memoryview) -> bytes:
    """A report row's bytes (as :func:`encoder` wrote them) as a staging row with ``seq``."""
    return _STAGE_HEAD(len(STAGE_COLUMNS), 8, seq) + row[2:]


#: psycopg's adapters, but ``bytea`` dumped by its (C) bytes dumper: the default one for the
#: type is the DB-API ``Binary`` wrapper's, in Python (0.13 us more per field).
_ADAPTERS = AdaptersMap(psycopg.adapters)
_ADAPTERS.register_dumper(bytes, BytesBinaryDumper)


def encoder(column_types: Sequence[str]) -> Callable[[Sequence[Any], bytearray], None]:
    """``write(values, out)``: append one row of these types to ``out``, in binary COPY format.

    It is psycopg's own (C) row encoder, without its formatter's buffering and header, so each
    row's bytes start where ``len(out)`` was.
    """
    transformer = Transformer(_ADAPTERS)
    transformer.set_dumper_types([_oid(name) for name in column_types], Format.BINARY)

    def write(values: Sequence[Any], out: bytearray) -> None:
        format_row_binary(values, transformer, out)

    return write


def _oid(name: str) -> int:
    info = types.get(name)
    if info is None:  # pragma: no cover - a typo in the layout
        msg = f"unknown PostgreSQL type {name!r}"
        raise ValueError(msg)
    return info.oid


@dataclass
class Encoded:
    """Rows encoded back to back, each at its ``offsets`` entry, with its id, seq and day."""

    data: bytearray = field(default_factory=bytearray)
    offsets: array[int] = field(default_factory=lambda: array("q"))
    ids: list[str] = field(default_factory=list)
    seqs: array[int] = field(default_factory=lambda: array("q"))
    days: array[int] = field(default_factory=lambda: array("i"))

    def end(self, i: int) -> int:
        """Where row ``i`` ends in ``data``."""
        return self.offsets[i + 1] if i + 1 < len(self.offsets) else len(self.data)

    def rows(self) -> Iterator[tuple[int, memoryview, str, int]]:
        """``(seq, row bytes, id, day)`` of every row."""
        data = memoryview(self.data)
        ends = [*self.offsets[1:], len(data)]
        for i, source_id in enumerate(self.ids):
            yield self.seqs[i], data[self.offsets[i] : ends[i]], source_id, self.days[i]


@dataclass
class EncodedRows:
    """A file's reports (or a serial batch's), encoded as rows of ``pantau.reports``.

    ``located``: rows complete with their owner. ``pending``: rows waiting for their owner
    (its columns, last, are empty), with their points as binary COPY rows ``(seq, geom)``.
    """

    located: Encoded = field(default_factory=Encoded)
    pending: Encoded = field(default_factory=Encoded)
    points: bytearray = field(default_factory=bytearray)
    #: the file holding the three buffers on their way from a worker to the loader, and their
    #: sizes
    handed_over: Path | None = None
    sizes: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.located.ids) + len(self.pending.ids)

    def hand_over(self, path: Path) -> None:
        """Write the encoded bytes to ``path`` (in a worker); the loader takes them back.

        Handing 500 MB of rows from the workers to the loader through the pool's pipe cost 1.5
        CPU seconds (pickled, written, read, unpickled); through a file on a memory file system,
        one write and one read. Plain writes, not a shared memory map: a full file system then
        fails the write (and the bytes go through the pipe after all) where a map would kill the
        worker with SIGBUS and leave the pool waiting forever.
        """
        buffers = (self.located.data, self.pending.data, self.points)
        try:
            with path.open("wb") as out:
                for buffer in buffers:
                    out.write(buffer)
        except OSError:  # no room: the pipe it is
            path.unlink(missing_ok=True)
            return
        self.sizes = tuple(map(len, buffers))
        self.located.data = self.pending.data = self.points = bytearray()
        self.handed_over = path

    def take(self) -> None:
        """Read the bytes a worker handed over back in (in the loader), and remove its file."""
        if self.handed_over is None:
            return
        taken = [bytearray(size) for size in self.sizes]
        with self.handed_over.open("rb") as source:
            for buffer in taken:
                if source.readinto(buffer) != len(buffer):
                    msg = f"{self.handed_over} is shorter than written"
                    raise OSError(msg)
        self.handed_over.unlink()
        self.located.data, self.pending.data, self.points = taken
        self.handed_over = None


class PyRowEncoder:
    """Encodes reports into :class:`EncodedRows` (the owner looked up when it can be), in Python.

    The reference for the compiled encoder (:class:`NativeRowEncoder`, ``_rowcodec.c``): the
    tests compare the two byte for byte, and the ingest falls back on this one when the
    compiled module was not built (about 2.5 us a row slower).
    """

    def __init__(self, owners: dict[int, Owner], batch: int) -> None:
        self.owners = owners
        self.batch = batch
        self.row = encoder(REPORT_TYPES)
        self.point = encoder(("int8", "bytea"))
        self.rows = EncodedRows()

    def __len__(self) -> int:
        return len(self.rows)

    def take(self) -> EncodedRows:
        """The rows encoded since the last take; the encoder starts again empty."""
        rows, self.rows = self.rows, EncodedRows()
        return rows

    def add(self, seq: int, report: Report | ReportFields) -> None:
        """Encode ``report`` (line ``seq`` of the batch).

        A fast path's fields are encoded as they are; a :class:`Report` is read into its fields
        first (0.3 us: the 1 % of rows that take the rules).
        """
        # one row, in the order of REPORT_COLUMNS: the fields (the point aside), the point as
        # EWKB (what ST_SetSRID(ST_MakePoint(lng, lat), 4326) stores), its res-12 cell, the
        # batch, the owner (none: NULLs and outside, until located)
        rows = self.rows
        fields = report if isinstance(report, tuple) else report_fields(report)
        lng, lat = fields[_LNG], fields[_LAT]
        cell = h3int.latlng_to_cell(lat, lng, H3_STORED_RESOLUTION)
        owner = square_owner(self.owners, lat, lng)
        point = _EWKB_POINT + _XY(lng, lat)
        values = fields[:_LNG] + (point, cell, self.batch) + (owner or NO_OWNER)
        into = rows.located if owner else rows.pending
        # the creation day in Jakarta, as days since 1970-01-01 (the marts' day)
        day = (fields[_CREATED] - _WIB_EPOCH) // _DAY
        # a value the row cannot take leaves nothing behind: the buffers stay in step
        start, count, points = len(into.data), len(into.ids), len(rows.points)
        try:
            self.row(values, into.data)
            into.seqs.append(seq)
            into.offsets.append(start)
            into.ids.append(fields[_ID])
            into.days.append(day)
            if not owner:
                self.point((seq, point), rows.points)
        except BaseException:
            del into.data[start:], rows.points[points:]
            for column in (into.seqs, into.offsets, into.ids, into.days):
                del column[count:]
            raise


class NativeRowEncoder:
    """:class:`PyRowEncoder`'s work in compiled code (``pipelines/_rowcodec.c``): same bytes.

    The ingest is CPU-bound, and in Python the encoding took 3.2 of the 7.3 us a JAKI row
    cost a worker (psycopg's C row encoder 0.85 of it, the rest the bookkeeping around it);
    compiled, 1.3 us, 0.4 of it h3's own function (bench/README.md). One thread per encoder.
    """

    def __init__(self, owners: dict[int, Owner], batch: int) -> None:
        if _rowcodec is None:  # pragma: no cover - the build is part of `make venv`
            msg = "pipelines._rowcodec is not built (make venv builds it)"
            raise RuntimeError(msg)
        self._native = _rowcodec.Encoder(
            owners=owners,
            batch=batch,
            h3_cell=h3int.latlng_to_cell,
            resolution=H3_STORED_RESOLUTION,
            report_fields=report_fields,
            kinds=_KINDS,
            ident=_ID,
            created=_CREATED,
            level1=_LEVEL1,
            level2=_LEVEL2,
            per_degree1=_PER_DEGREE1,
            per_degree2=_PER_DEGREE2,
            row_shift=ROW_SHIFT,
        )
        #: ``add(seq, report)``: the compiled method itself (no Python call in between)
        self.add: Callable[[int, Report | ReportFields], None] = self._native.add

    def __len__(self) -> int:
        return len(self._native)

    def take(self) -> EncodedRows:
        """The rows encoded since the last take; the encoder starts again empty."""
        located, pending, points = self._native.take()
        return EncodedRows(located=_encoded(*located), pending=_encoded(*pending), points=points)


def _encoded(data: bytearray, offsets: bytes, ids: list[str], seqs: bytes, days: bytes) -> Encoded:
    rows = Encoded(data=data, ids=ids)
    rows.offsets.frombytes(offsets)
    rows.seqs.frombytes(seqs)
    rows.days.frombytes(days)
    return rows


#: The report fields' kinds for the compiled encoder: ``t`` text, ``z`` timestamptz.
_KINDS = "".join({"text": "t", "timestamptz": "z"}[kind] for kind in REPORT_TYPES[:_LNG])
if LEVELS != 2 or REPORT_TYPES[_LNG:] != (
    "bytea",
    "int8",
    "int8",
    "text",
    "text",
    "text",
    "text",
    "bool",
):
    # pragma: no cover - _rowcodec.c writes this tail itself
    msg = "the squares' levels or pantau.reports' last columns changed: update _rowcodec.c"
    raise ImportError(msg)

#: The encoder the ingest uses: the compiled one when it is built.
RowEncoder: type[NativeRowEncoder] | type[PyRowEncoder] = (
    NativeRowEncoder if _rowcodec is not None else PyRowEncoder
)


class OwnerColumns:
    """The owner's encoded columns for each unit code (None: outside every unit)."""

    def __init__(self, owners: dict[str, Owner]) -> None:
        write = encoder(REPORT_TYPES[_OWNER_FROM:])
        self.columns: dict[str | None, bytes] = {}
        for code, owner in [*owners.items(), (None, NO_OWNER)]:
            out = bytearray()
            write(owner, out)
            self.columns[code] = bytes(out[2:])  # without the field count
        self.unknown = len(self.columns[None])  # how a pending row ends

    def complete(self, row: memoryview, code: str | None) -> tuple[memoryview, bytes]:
        """A pending row's bytes with its owner: the row up to its owner, the owner's columns."""
        return row[: -self.unknown], self.columns[code]


def area_owners(conn: psycopg.Connection) -> dict[str, Owner]:
    """Every unit's codes as a report row holds them (a placeholder has no kelurahan).

    Asked of :func:`pipelines.spatial_join.codes_query`, so that rows encoded in Python follow
    the rule the SQL paths follow.
    """
    every_unit = sql.SQL("(SELECT code AS id, code AS area_code FROM pantau.admin_areas)")
    return {
        code: (area, kelurahan, kecamatan, kota, False)
        for code, area, kelurahan, kecamatan, kota in conn.execute(codes_query(every_unit))
    }
