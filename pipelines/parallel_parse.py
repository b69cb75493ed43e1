"""Parse feed files in worker processes and hand ready binary COPY rows to the loader.

Parsing is Python (about 9 us per report) while PostgreSQL waits; on a multi-core machine the
files of a batch are parsed by several worker processes at once. Each worker returns, per file,
its rows already encoded in PostgreSQL's binary COPY format (:mod:`pipelines.ingest_rows`; the
loader completes the rows whose owner PostGIS must find, and COPYs them), the file's
rejections and its tallies. The encoded bytes travel through a file in a per-batch folder on
the memory file system (``/dev/shm``) when it has room, else through the pool's pipe. The
batch is still one transaction: workers never touch the database.

Workers are forked: ``spawn`` would re-import the caller's main module, which breaks any
script that calls :func:`pipelines.ingest.ingest` without a ``__main__`` guard. A forked
worker inherits the loader's open connection but never uses it, and it ends with
``os._exit`` (how multiprocessing ends forked workers), so libpq never closes the shared
socket from the child.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import tempfile
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from geo.errors import PantauError
from pipelines import ingest_rows as layout
from pipelines.sources import SOURCES
from pipelines.sources.base import RawRow, Rejection, Tally


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


def workers_for(sizes: list[int]) -> int:
    """How many worker processes are worth starting for files of these sizes (1 means: parse
    in the loader)."""
    if len(sizes) < 2 or sum(sizes) < MIN_PARALLEL_BYTES:
        return 1  # a small batch: starting processes costs more than it saves
    return max(1, min(len(sizes), (os.cpu_count() or 1)))


#: What the forked workers inherit (module globals: the 30 MB lookup is not worth pickling to
#: every worker): the interior lookup (square -> owner), the batch id, and the folder
#: the workers write their encoded rows into (None: they go through the pipe).
_owners: dict[int, layout.Owner] = {}
_batch = 0
_handover: Path | None = None

#: The memory file system, and the prefix of the batches' hand-over folders on it.
SHM = Path("/dev/shm")
HANDOVER_PREFIX = "pantau-ingest-"


def parse_files(
    source: str,
    files: list[Path],
    workers: int,
    owners: dict[int, layout.Owner],
    batch: int,
    input_bytes: int,
) -> Generator[FilePart, None, None]:
    """Every file's part, in file order, parsed by ``workers`` processes.

    ``input_bytes``, the files' size, is about the size of their encoded rows (for the hand-over
    folder's room).

    Close the generator if the batch stops early (``contextlib.closing``): that stops the
    workers and removes the hand-over folder at once, not when the exception is forgotten.
    """
    global _owners, _batch, _handover  # handed to the forked workers
    jobs = [(source, str(path), i) for i, path in enumerate(files)]
    with _handover_folder(input_bytes) as folder:
        _owners, _batch, _handover = owners, batch, folder
        with multiprocessing.get_context("fork").Pool(processes=workers) as pool:
            for part in pool.imap(_parse_file, jobs):
                try:
                    part.encoded.take()
                except OSError as exc:
                    msg = f"cannot take back the parsed rows of {files[part.index]}: {exc}"
                    raise FeedReadError(msg) from None
                yield part


@contextlib.contextmanager
def _handover_folder(size: int) -> Iterator[Path | None]:
    """A fresh folder on ``/dev/shm`` for one batch (None when it lacks room for ``size``).

    Removed at the end, whatever happens; folders of loaders that died (``kill -9``) are
    removed by the next batch.
    """
    _remove_orphans()
    if not SHM.is_dir() or not os.access(SHM, os.W_OK):
        yield None
        return
    free = os.statvfs(SHM)
    if free.f_bavail * free.f_frsize < 2 * size:  # a small /dev/shm (containers: 64 MB)
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix=f"{HANDOVER_PREFIX}{os.getpid()}-", dir=SHM))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_orphans() -> None:
    """Remove the hand-over folders of loaders that no longer run."""
    for folder in SHM.glob(f"{HANDOVER_PREFIX}*-*") if SHM.is_dir() else []:
        pid = folder.name.removeprefix(HANDOVER_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    return True


def _parse_file(job: tuple[str, str, int]) -> FilePart:
    source, path, index = job
    adapter = SOURCES[source]([Path(path)])
    part = FilePart(index, 0, [], adapter.tally, layout.EncodedRows())
    encoder = layout.RowEncoder(_owners, _batch)
    add, name = encoder.add, Path(path).name
    seq = first = index * ROWS_PER_FILE
    try:
        for number, data, parsed in adapter.read(Path(path)):
            seq += 1
            if isinstance(parsed, Rejection):
                part.rejections.append((RawRow(name, number, data), parsed))
            else:
                add(seq, parsed)
            if seq - first == ROWS_PER_FILE:
                msg = f"{path} has {ROWS_PER_FILE - 1:,}+ rows: split it into smaller files"
                raise FeedReadError(msg)
    except (OSError, EOFError, zlib.error) as exc:
        msg = f"cannot read {path}: {exc}"
        raise FeedReadError(msg) from None
    part.rows = seq - first
    part.encoded = encoder.take()
    if _handover is not None:
        part.encoded.hand_over(_handover / str(index))
    return part
