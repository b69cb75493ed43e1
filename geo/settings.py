"""Typed settings, read from the environment in one place.

Why one module: the pipelines, the dashboard, the tests and the benchmarks must agree on which
database they talk to and where reference data lives. Everything that can be configured is
here, with its environment variable and default.

=========================  ==============================================================
``DATABASE_URL``           An existing PostgreSQL >= 13 server with PostGIS >= 3 (admin
                           user, used for migrations). Unset: a project-local cluster in
                           ``.pgdata/`` is managed by ``python -m pipelines db up``.
``PANTAU_WRITER_URL``      Connection used by the pipelines (default: ``DATABASE_URL`` with
                           the user ``pantau_writer``).
``PANTAU_READER_URL``      Connection used by the dashboard (default: ``DATABASE_URL`` with
                           the user ``pantau_reader``).
``PANTAU_DATA_MIRROR``     Offline mirror of the reference data (default ``../shared/data``
                           when that folder exists).
``PANTAU_PGDATA``          Folder of the project-local cluster (default ``.pgdata``).
``PANTAU_CACHE_DIR``       Download cache (default ``.cache``).
``PANTAU_DB_NAME``         Database name in the local cluster (default ``pantau``).
=========================  ==============================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The repository root: settings resolve relative paths from here, not from the caller's cwd.
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Jakarta (WIB) is UTC+7 all year, without daylight saving.
TIMEZONE = "Asia/Jakarta"

#: Role names created by the migrations (cluster-wide in PostgreSQL).
WRITER_ROLE = "pantau_writer"
READER_ROLE = "pantau_reader"

#: Generous lon/lat box around DKI Jakarta, Kepulauan Seribu included (minx, miny, maxx, maxy).
#: Boundary files outside it have a wrong CRS; a swapped lat/lng is repaired only into it.
JAKARTA_BOX = (105.9, -6.6, 107.3, -5.0)

#: H3 resolution stored per report; coarser levels are derived in SQL.
H3_STORED_RESOLUTION = 12


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved configuration; build it with :func:`get_settings`."""

    database_url: str | None
    writer_url: str | None
    reader_url: str | None
    data_mirror: Path | None
    pgdata: Path
    cache_dir: Path
    db_name: str

    @property
    def manages_local_cluster(self) -> bool:
        """True when no external server is configured and ``.pgdata/`` is ours to run."""
        return self.database_url is None


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    path = Path(value) if value else default
    return path if path.is_absolute() else (REPO_ROOT / path)


def _default_mirror() -> Path | None:
    value = os.environ.get("PANTAU_DATA_MIRROR")
    if value:
        return Path(value).expanduser().resolve()
    shared = REPO_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else None


def get_settings() -> Settings:
    """Read the environment now (not at import time, so tests can change it)."""
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        writer_url=os.environ.get("PANTAU_WRITER_URL") or None,
        reader_url=os.environ.get("PANTAU_READER_URL") or None,
        data_mirror=_default_mirror(),
        pgdata=_path_from_env("PANTAU_PGDATA", Path(".pgdata")),
        cache_dir=_path_from_env("PANTAU_CACHE_DIR", Path(".cache")),
        db_name=os.environ.get("PANTAU_DB_NAME", "pantau"),
    )
