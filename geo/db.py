"""Database connections and read helpers.

Three connection strings, one per role (see the migrations in ``pipelines/sql``):

- the *admin* URL (``DATABASE_URL`` or the project-local cluster) runs migrations;
- the *writer* URL (role ``pantau_writer``) is what the pipelines load data with;
- the *reader* URL (role ``pantau_reader``) is all the dashboard ever gets: it can read the
  ``api`` views and nothing else.

The project-local cluster records the port it listens on in ``<pgdata>/port`` so that every
process (CLI, dashboard, tests) finds it without configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg.conninfo import conninfo_to_dict

from geo.errors import DatabaseUnavailableError
from geo.settings import READER_ROLE, WRITER_ROLE, Settings, get_settings

#: Superuser created by ``initdb`` in the project-local cluster.
LOCAL_SUPERUSER = "postgres"
LOCAL_HOST = "127.0.0.1"


#: PostgreSQL's binary COPY header (signature, flags, header extension length) and trailer,
#: around rows a caller encodes itself.
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
COPY_BINARY_TRAILER = b"\xff\xff"


def local_port_file(pgdata: Path) -> Path:
    """Where the project-local cluster records its port."""
    return pgdata / "port"


def read_local_port(pgdata: Path) -> int | None:
    """The port the local cluster was last started on, or None when it was never started."""
    path = local_port_file(pgdata)
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def local_url(port: int, dbname: str, *, user: str = LOCAL_SUPERUSER) -> str:
    """URL of a database in the project-local cluster (trust auth on loopback, no password)."""
    return f"postgresql://{user}@{LOCAL_HOST}:{port}/{dbname}"


def admin_url(settings: Settings | None = None) -> str:
    """URL used for migrations and administration.

    Raises
    ------
    DatabaseUnavailableError
        When no ``DATABASE_URL`` is set and the local cluster has never been started.
    """
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    port = read_local_port(settings.pgdata)
    if port is None:
        msg = (
            "No database configured: set DATABASE_URL, or start the project-local PostGIS "
            "with `python -m pipelines db up`."
        )
        raise DatabaseUnavailableError(msg)
    return local_url(port, settings.db_name)


def url_from_params(params: dict[str, Any], *, scheme: str = "postgresql") -> str:
    """A ``postgresql://`` URL from libpq parameters (user and password percent-encoded)."""
    params = dict(params)
    user = quote(str(params.pop("user", "") or ""), safe="")
    password = quote(str(params.pop("password", "") or ""), safe="")
    host = params.pop("host", "") or ""
    port = params.pop("port", "") or ""
    dbname = quote(str(params.pop("dbname", "") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    netloc = f"{host}:{port}" if port else str(host)
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{scheme}://{credentials}{netloc}/{dbname}" + (f"?{query}" if query else "")


def with_user(url: str, user: str) -> str:
    """The same server and database as ``url``, as another (password-less) user."""
    params = conninfo_to_dict(url)
    params.pop("password", None)
    params["user"] = user
    return url_from_params(params)


def with_dbname(url: str, dbname: str) -> str:
    """The same server and credentials as ``url``, on another database."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return url_from_params(params)


def writer_url(settings: Settings | None = None) -> str:
    """Connection for the pipelines (role ``pantau_writer``)."""
    settings = settings or get_settings()
    return settings.writer_url or with_user(admin_url(settings), WRITER_ROLE)


def reader_url(settings: Settings | None = None) -> str:
    """Connection for the dashboard (role ``pantau_reader``, read-only)."""
    settings = settings or get_settings()
    return settings.reader_url or with_user(admin_url(settings), READER_ROLE)


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    params = conninfo_to_dict(url)
    if params.get("password"):
        params["password"] = "***"
    return url_from_params(params)


def connect(url: str, *, autocommit: bool = False, timeout: int = 5) -> psycopg.Connection:
    """Open a connection, turning "cannot connect" into a :class:`DatabaseUnavailableError`."""
    try:
        return psycopg.connect(
            url, autocommit=autocommit, connect_timeout=timeout, application_name="pantau"
        )
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"Cannot connect to {redact_url(url)}: {first_line}"
        raise DatabaseUnavailableError(msg) from exc


def read_frame(
    conn: psycopg.Connection, query: Any, params: Sequence[Any] | dict[str, Any] | None = None
) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame (column names from the cursor)."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        columns = [c.name for c in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def read_geoframe(
    conn: psycopg.Connection,
    query: Any,
    params: Sequence[Any] | dict[str, Any] | None = None,
    *,
    geom_col: str = "geom",
) -> gpd.GeoDataFrame:
    """Run a query whose ``geom_col`` is WKB (``ST_AsBinary``) and return a GeoDataFrame.

    Geometry travels as WKB and is decoded by shapely in one vectorised call, which is much
    faster than parsing text for thousands of polygons.
    """
    frame = read_frame(conn, query, params)
    wkb = frame.pop(geom_col) if geom_col in frame else pd.Series([], dtype=object)
    geoms = shapely.from_wkb([bytes(v) if v is not None else None for v in wkb])
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")
