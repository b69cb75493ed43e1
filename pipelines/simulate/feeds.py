"""Writing the generated feeds: monthly (and size-capped) files, optionally gzip, deterministic.

Same arguments, same bytes: gzip headers carry no file name and a zero mtime, nothing depends
on the clock, and lines are written in the order they were generated.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

QLUE_HEADER = (
    "report_id,title,description,category,latitude,longitude,address,kelurahan,kecamatan,"
    "status,created_at,updated_at,completed_at,photo_url,photo_done_url,upvotes"
)
BOM = "\ufeff"


class MonthlyFiles:
    """Lines into ``<dir>/<prefix>_<YYYY-MM>[_pN].<ext>[.gz]``, one file open at a time.

    ``pending`` lines (later updates of a report) are written at the top of the next month's
    file; whatever is still pending at the end goes to the end of the last file.
    """

    def __init__(
        self,
        folder: Path,
        prefix: str,
        ext: str,
        *,
        gzip_files: bool,
        max_lines: int,
        header: str | None = None,
        bom_every: int = 0,
    ) -> None:
        self.folder = folder
        self.prefix, self.ext, self.gzip = prefix, ext, gzip_files
        self.max_lines, self.header, self.bom_every = max_lines, header, bom_every
        self.files: list[str] = []
        self.files_with_bom: list[str] = []
        self.pending: dict[str, list[str]] = {}
        self._month: str | None = None
        self._part = 0
        self._lines = 0
        self._fh: IO[str] | None = None
        self._raw: IO[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, month: str, lines: list[str]) -> str:
        """Append ``lines`` (no newlines) to the file of ``month``; return its name."""
        if month != self._month:
            self._open(month, part=1)
        for line in lines:
            if self._lines >= self.max_lines:
                self._open(month, part=self._part + 1)
            assert self._fh is not None
            self._fh.write(line)
            self._fh.write("\n")
            self._lines += 1
        return self.files[-1]

    def later(self, month: str, lines: list[str]) -> None:
        """Keep ``lines`` for the file of a later ``month``."""
        self.pending.setdefault(month, []).extend(lines)

    def close(self) -> None:
        """Flush what is pending and close the last file."""
        leftovers = [line for month in sorted(self.pending) for line in self.pending[month]]
        self.pending.clear()
        if leftovers and self._month is not None:
            self.write(self._month, leftovers)
        self._close()

    def _open(self, month: str, *, part: int) -> None:
        self._close()
        suffix = "" if part == 1 else f"_p{part}"
        name = f"{self.prefix}_{month}{suffix}.{self.ext}" + (".gz" if self.gzip else "")
        raw = (self.folder / name).open("wb")
        self._raw = raw
        stream: IO[bytes] = raw
        if self.gzip:
            stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)  # type: ignore[assignment]
        self._fh = io.TextIOWrapper(stream, encoding="utf-8", newline="\n")
        self.files.append(name)
        if self.bom_every and len(self.files) % self.bom_every == 1:
            self._fh.write(BOM)
            self.files_with_bom.append(name)
        if self.header:
            self._fh.write(self.header + "\n")
        self._month, self._part, self._lines = month, part, 0
        carried = self.pending.pop(month, []) if part == 1 else []
        for line in carried:
            self._fh.write(line + "\n")
            self._lines += 1

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closes the gzip stream, which flushes the trailer
            self._fh = None
        if self._raw is not None and not self._raw.closed:
            self._raw.close()
        self._raw = None


TRUTH_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("source_id", pa.string()),
        ("file", pa.string()),
        ("kelurahan_code", pa.string()),
        ("kecamatan_code", pa.string()),
        ("kota_code", pa.string()),
        ("category", pa.string()),
        ("source_category", pa.string()),
        ("hotspot_id", pa.string()),
        ("defect", pa.string()),
        ("status", pa.string()),
        ("source_status", pa.string()),
        ("created_at", pa.timestamp("s", tz="UTC")),
        ("coordinated_at", pa.timestamp("s", tz="UTC")),
        ("completed_at", pa.timestamp("s", tz="UTC")),
        ("updated_at", pa.timestamp("s", tz="UTC")),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
    ]
)


class TruthWriter:
    """The truth table, one Parquet row group per generated chunk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(path, TRUTH_SCHEMA, compression="zstd")
        self.rows = 0

    def write(self, columns: dict[str, object]) -> None:
        """Append one chunk (a dict of equal-length columns in :data:`TRUTH_SCHEMA`)."""
        table = pa.Table.from_pydict(columns, schema=TRUTH_SCHEMA)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file (writes the footer)."""
        self._writer.close()
