"""Parse feed files in worker processes and hand ready binary COPY payloads to the loader.

Parsing is pure Python (about 12 us per report) while PostgreSQL waits; on a multi-core
machine the files of a batch are parsed by several worker processes at once. Each worker
returns, per file, the staging rows already encoded in PostgreSQL's binary COPY format (the
loader just forwards the bytes), the file's rejections and its tallies. The batch is still
one transaction: workers never touch the database.

Workers are forked: ``spawn`` would re-import the caller's main module, which breaks any
script that calls :func:`pipelines.ingest.ingest` without a ``__main__`` guard. A forked
worker inherits the loader's open connection but never uses it, and it ends with
``os._exit`` (how multiprocessing ends forked workers), so libpq never closes the shared
socket from the child.
"""

from __future__ import annotations

import multiprocessing
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from psycopg._copy_base import BinaryFormatter  # pinned psycopg; see requirements.txt
from psycopg.adapt import Transformer
from psycopg.postgres import types
from psycopg.pq import Format

from geo.errors import PantauError
from pipelines.sources import SOURCES
from pipelines.sources.base import RawRow, Rejection, Report, Tally

#: PostgreSQL's binary COPY header (signature, flags, extension length) and trailer.
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
TRAILER = b"\xff\xff"


class FeedReadError(PantauError):
    """A feed file cannot be read (truncated or corrupt compression, I/O error)."""


@dataclass
class FilePart:
    """What one worker made of one file."""

    index: int
    rows: int
    payload: bytes
    ids: list[str]  # the staged rows' ids, in order (the loader finds repeats with them)
    rejections: list[tuple[RawRow, Rejection]]
    tally: Tally


#: Rows of one file fit in the low bits of its staging ``seq`` (file index above them), so the
#: numbering follows file and line order. Kept below 2**32 for the first 256 files on purpose:
#: PostgreSQL hashes a bigint by folding its high half into the low half, and ``index << 32``
#: made rows of different files collide in every hash join on ``seq`` (24 files gave chains of
#: 24; the insert's join took 3.2 s instead of 0.9 s at 900k rows).
ROWS_PER_FILE = 1 << 24

#: Below this many bytes of input, starting processes costs more than it saves.
MIN_PARALLEL_BYTES = 32 * 2**20


def workers_for(files: list[Path]) -> int:
    """How many worker processes are worth starting (1 means: parse in the loader)."""
    if len(files) < 2 or sum(p.stat().st_size for p in files) < MIN_PARALLEL_BYTES:
        return 1  # a small batch: starting processes costs more than it saves
    return max(1, min(len(files), (os.cpu_count() or 1)))


#: The interior-cells lookup (cell -> area code) the forked workers inherit (a module global:
#: 30 MB are not worth pickling to every worker).
_interior: dict[int, str] = {}


def parse_files(
    source: str,
    files: list[Path],
    stage_types: tuple[str, ...],
    workers: int,
    interior: dict[int, str],
) -> Iterator[FilePart]:
    """Every file's part, in file order, parsed by ``workers`` processes."""
    global _interior  # handed to the forked workers
    _interior = interior
    jobs = [(source, str(path), i, stage_types) for i, path in enumerate(files)]
    with multiprocessing.get_context("fork").Pool(processes=workers) as pool:
        yield from pool.imap(_parse_file, jobs)


def _oid(name: str) -> int:
    info = types.get(name)
    if info is None:  # pragma: no cover - a typo in the staging layout
        msg = f"unknown PostgreSQL type {name!r}"
        raise ValueError(msg)
    return info.oid


def _parse_file(job: tuple[str, str, int, tuple[str, ...]]) -> FilePart:
    from pipelines.ingest import stage_row  # the worker's own import of the row layout

    source, path, index, stage_types = job
    adapter = SOURCES[source]([Path(path)])
    transformer = Transformer()
    transformer.set_dumper_types([_oid(t) for t in stage_types], Format.BINARY)
    formatter = BinaryFormatter(transformer)
    out = bytearray()
    rejections: list[tuple[RawRow, Rejection]] = []
    ids: list[str] = []
    rows = 0
    try:
        for raw, parsed in adapter.rows():
            rows += 1
            if rows == ROWS_PER_FILE:
                msg = f"{path} has {ROWS_PER_FILE - 1:,}+ rows: split it into smaller files"
                raise FeedReadError(msg)
            if isinstance(parsed, Report):
                out += formatter.write_row(
                    stage_row(index * ROWS_PER_FILE + rows, parsed, _interior)
                )
                ids.append(parsed.source_id)
            else:
                rejections.append((raw, parsed))
    except (OSError, EOFError, zlib.error) as exc:
        msg = f"cannot read {path}: {exc}"
        raise FeedReadError(msg) from None
    out += formatter.end()
    payload = bytes(out[len(SIGNATURE) : -len(TRAILER)]) if len(out) > len(SIGNATURE) + 2 else b""
    return FilePart(index, rows, payload, ids, rejections, adapter.tally)
