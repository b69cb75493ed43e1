"""Parse feed files in worker processes and hand ready binary COPY rows to the loader.

Parsing is Python (about 9 us per report) while PostgreSQL waits; on a multi-core machine the
files of a batch are parsed by several worker processes at once. Each worker returns, per file,
its rows already encoded in PostgreSQL's binary COPY format (:mod:`pipelines.ingest_rows`: the
loader just forwards the bytes), the file's rejections and its tallies. The batch is still one
transaction: workers never touch the database.

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
from multiprocessing import resource_tracker, shared_memory
from pathlib import Path

from geo.errors import PantauError
from pipelines import ingest_rows as layout
from pipelines.sources import SOURCES
from pipelines.sources.base import RawRow, Rejection, Report, Tally


class FeedReadError(PantauError):
    """A feed file cannot be read (truncated or corrupt compression, I/O error)."""


@dataclass
class FilePart:
    """What one worker made of one file: its rows encoded for the loader, its rejections."""

    index: int
    rows: int
    rejections: list[tuple[RawRow, Rejection]]
    tally: Tally
    encoded: layout.EncodedRows


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


#: What the forked workers inherit (module globals: the 30 MB lookup is not worth pickling to
#: every worker): the interior-cells lookup (res-11 cell -> owner), the batch id, and the prefix
#: of the names of the shared memory blocks that carry the encoded rows to the loader.
_owners: dict[int, layout.Owner] = {}
_batch = 0
_blocks = ""


def parse_files(
    source: str, files: list[Path], workers: int, owners: dict[int, layout.Owner], batch: int
) -> Iterator[FilePart]:
    """Every file's part, in file order, parsed by ``workers`` processes."""
    global _owners, _batch, _blocks  # handed to the forked workers
    _owners, _batch, _blocks = owners, batch, f"pantau-{os.getpid()}-{batch}-"
    jobs = [(source, str(path), i) for i, path in enumerate(files)]
    # the workers' shared memory blocks are registered with this process's resource tracker,
    # which frees any left behind if the loader dies
    resource_tracker.ensure_running()
    with multiprocessing.get_context("fork").Pool(processes=workers) as pool:
        results = pool.imap(_parse_file, jobs)
        try:
            for part in results:
                part.encoded.take()
                yield part
        except BaseException:  # a batch that stopped early: free the blocks of unloaded parts
            pool.terminate()
            pool.join()
            _unlink_blocks(_blocks)
            raise


def _unlink_blocks(prefix: str) -> None:
    """Unlink the shared memory blocks whose name starts with ``prefix`` (Linux lists them)."""
    folder = Path("/dev/shm")
    if not folder.is_dir():
        return  # elsewhere the resource tracker frees them when the process ends
    for path in folder.glob(f"{prefix}*"):
        try:
            shared_memory.SharedMemory(path.name).unlink()
        except FileNotFoundError:
            continue


def _parse_file(job: tuple[str, str, int]) -> FilePart:
    source, path, index = job
    adapter = SOURCES[source]([Path(path)])
    part = FilePart(index, 0, [], adapter.tally, layout.EncodedRows())
    add, encoded = layout.RowEncoder(_owners, _batch).add, part.encoded
    seq = first = index * ROWS_PER_FILE
    try:
        for raw, parsed in adapter.rows():
            seq += 1
            if isinstance(parsed, Report):
                add(encoded, seq, parsed)
            else:
                part.rejections.append((raw, parsed))
            if seq - first == ROWS_PER_FILE:
                msg = f"{path} has {ROWS_PER_FILE - 1:,}+ rows: split it into smaller files"
                raise FeedReadError(msg)
    except (OSError, EOFError, zlib.error) as exc:
        msg = f"cannot read {path}: {exc}"
        raise FeedReadError(msg) from None
    part.rows = seq - first
    part.encoded.share(f"{_blocks}{index}")
    return part
