"""The rows an ingest writes: ``pantau.reports``' own columns, encoded once for binary COPY.

A report whose point lies in an *interior* H3 cell (:mod:`pipelines.boundaries.cells`: the
res-11 cell lies wholly inside one unit, about 84 % of the points) already knows its owner when
it is parsed, so its row is encoded in the layout of ``pantau.reports`` itself and COPYed
straight into the table: no staging table, no ``INSERT .. SELECT``, and PostgreSQL's COPY
writes whole pages at a time (a million rows: 5.4 s of PostgreSQL through a staging table, 4.0
s directly; bench/README.md). Every other row (no owner yet, or an id the loader holds back
as a repeat) goes to a staging table whose layout is ``seq`` followed by the same columns, so a
held-back row only needs its ``seq`` put in front of its bytes (:func:`staged`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from h3.api import basic_int as h3int
from psycopg._copy_base import format_row_binary  # pinned psycopg; see requirements.txt
from psycopg.adapt import Transformer
from psycopg.postgres import types
from psycopg.pq import Format

from pipelines.boundaries.cells import CELL_RESOLUTION, interior_cells
from pipelines.sources.base import Report

H3_RESOLUTION = 12

#: The columns of ``pantau.reports`` in the order the rows are encoded.
REPORT_COLUMNS = (
    "source",
    "source_id",
    "ticket_code",
    "category",
    "source_category",
    "status",
    "source_status",
    "created_at",
    "coordinated_at",
    "completed_at",
    "updated_at",
    "agency",
    "geom",
    "h3_r12",
    "area_code",
    "kelurahan_code",
    "kecamatan_code",
    "kota_code",
    "outside",
    "photo_url",
    "photo_done_url",
    "text_redacted",
    "batch_id",
)
#: Their binary COPY types. The point goes as its EWKB bytes: binary COPY carries no type, and
#: PostGIS's receive function reads EWKB.
REPORT_TYPES = (
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "text",
    "bytea",
    "int8",
    "text",
    "text",
    "text",
    "text",
    "bool",
    "text",
    "text",
    "text",
    "int8",
)
#: The staging layout: the line's place in the batch first (the newest copy of an id wins, the
#: later line on a tie), then a report row.
STAGE_COLUMNS = ("seq", *REPORT_COLUMNS)
STAGE_TYPES = ("int8", *REPORT_TYPES)

#: PostgreSQL's binary COPY header (signature, flags, extension length) and trailer.
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
TRAILER = b"\xff\xff"

#: An owner as a report row holds it: unit, kelurahan (none for a placeholder), kecamatan, kota.
Owner = tuple[str, str | None, str | None, str | None]
NO_OWNER: tuple[None, None, None, None] = (None, None, None, None)

_EWKB_POINT = struct.pack("<BII", 1, 0x20000001, 4326)  # little endian, Point with SRID 4326
_XY = struct.Struct("<dd").pack
_STAGE_HEAD = struct.Struct(">hiq").pack  # field count, then seq's length and value
_SECONDS_PER_DAY = 86_400
_WIB_SECONDS = 7 * 3600


def point_ewkb(lng: float, lat: float) -> bytes:
    """The point as EWKB, exactly what ``ST_SetSRID(ST_MakePoint(lng, lat), 4326)`` stores."""
    return _EWKB_POINT + _XY(lng, lat)


def report_values(r: Report, cell: int, owner: Owner | None, batch: int) -> tuple[Any, ...]:
    """One report row, in the order of :data:`REPORT_COLUMNS` (no owner: NULLs, to be located)."""
    area, kelurahan, kecamatan, kota = owner or NO_OWNER
    return (
        r.source,
        r.source_id,
        r.ticket_code,
        r.category,
        r.source_category,
        r.status,
        r.source_status,
        r.created_at,
        r.coordinated_at,
        r.completed_at,
        r.updated_at,
        r.agency,
        _EWKB_POINT + _XY(r.lng, r.lat),
        cell,
        area,
        kelurahan,
        kecamatan,
        kota,
        area is None,
        r.photo_url,
        r.photo_done_url,
        r.text_redacted,
        batch,
    )


def cells_of(r: Report) -> tuple[int, int]:
    """The report's H3 res-12 cell (stored) and its res-11 cell (the interior lookup's key).

    Both from the coordinates: H3 is not a strict hierarchy, and a point may lie outside the
    parent of its res-12 cell (:mod:`pipelines.boundaries.cells`).
    """
    return (
        h3int.latlng_to_cell(r.lat, r.lng, H3_RESOLUTION),
        h3int.latlng_to_cell(r.lat, r.lng, CELL_RESOLUTION),
    )


def jakarta_day(r: Report) -> int:
    """The report's creation day in Jakarta, as days since 1970-01-01 (the marts' day)."""
    return (int(r.created_at.timestamp()) + _WIB_SECONDS) // _SECONDS_PER_DAY


def staged(seq: int, row: bytes | memoryview) -> bytes:
    """A report row's bytes (as :func:`encoder` wrote them) as a staging row with ``seq``."""
    return _STAGE_HEAD(len(STAGE_COLUMNS), 8, seq) + row[2:]


def encoder(column_types: Sequence[str]) -> Callable[[Sequence[Any], bytearray], None]:
    """``write(values, out)``: append one row of these types to ``out``, in binary COPY format.

    It is psycopg's own (C) row encoder, without its formatter's buffering and header, so each
    row's bytes start where ``len(out)`` was.
    """
    transformer = Transformer()
    transformer.set_dumper_types([_oid(name) for name in column_types], Format.BINARY)

    def write(values: Sequence[Any], out: bytearray) -> None:
        format_row_binary(values, transformer, out)

    return write


def owners_by_cell(conn: psycopg.Connection) -> dict[int, Owner]:
    """The interior cells with their owner's codes (about 0.2 s for Jakarta; shared tuples)."""
    owners: dict[str, Owner] = {
        code: (code, None if placeholder else code, kecamatan, kota)
        for code, placeholder, kecamatan, kota in conn.execute(
            "SELECT code, is_placeholder, kecamatan_code, kota_code FROM pantau.admin_areas"
        )
    }
    return {cell: owners[code] for cell, code in interior_cells(conn).items()}


def _oid(name: str) -> int:
    info = types.get(name)
    if info is None:  # pragma: no cover - a typo in the layout
        msg = f"unknown PostgreSQL type {name!r}"
        raise ValueError(msg)
    return info.oid
