"""A project-local PostgreSQL + PostGIS cluster that starts itself.

Why not the distribution's own cluster: a developer or CI machine may have none, or one we
must not touch. Ours lives in ``.pgdata/`` (gitignored), listens only on 127.0.0.1 on a free
port, trusts local connections and is started and stopped with ``pg_ctl``.

PostgreSQL refuses to run as root. When the caller is root, every server command runs as the
unprivileged ``postgres`` account (created by the Debian/Ubuntu packages), and ``.pgdata`` is
handed to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from geo.db import LOCAL_SUPERUSER, connect, local_port_file, local_url, read_local_port
from geo.errors import ServerSetupError

#: The port we try first; any free port above it is taken when it is busy.
PREFERRED_PORT = 55432
SERVER_ACCOUNT = "postgres"
MIN_MAJOR = 13

#: Server settings written to ``pantau.conf`` in the data folder at every start. Sized for the
#: 2-core / 24 GiB machines this project runs on; the parallel-worker settings matter for the
#: spatial join (see bench/README.md).
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "shared_buffers": "'1GB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    # Bulk loads: fewer checkpoints (and so fewer full-page images) during a batch, and the
    # full-page images that remain compressed.
    "checkpoint_timeout": "'30min'",
    "wal_compression": "on",
    "wal_buffers": "'64MB'",
    "max_parallel_workers_per_gather": "2",
    "jit": "off",
    "timezone": "'UTC'",
    "log_min_messages": "warning",
}


@dataclass(frozen=True, slots=True)
class ServerBinaries:
    """Where the PostgreSQL server programs of one major version are."""

    bindir: Path
    major: int
    sharedir: Path

    @property
    def has_postgis(self) -> bool:
        """PostGIS is installed for this major version."""
        return (self.sharedir / "extension" / "postgis.control").exists()

    def tool(self, name: str) -> str:
        """Absolute path of one of the server programs (``initdb``, ``pg_ctl``)."""
        return str(self.bindir / name)


def find_server() -> ServerBinaries | None:
    """The newest installed PostgreSQL server (Debian layout first, then ``pg_config``)."""
    found: list[ServerBinaries] = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bindir / "initdb").exists() and bindir.parent.name.isdigit():
            major = int(bindir.parent.name)
            found.append(ServerBinaries(bindir, major, Path(f"/usr/share/postgresql/{major}")))
    pg_config = shutil.which("pg_config")
    if not found and pg_config:
        bindir = Path(_output([pg_config, "--bindir"]))
        sharedir = Path(_output([pg_config, "--sharedir"]))
        version = _output([pg_config, "--version"]).split()[1]
        if (bindir / "initdb").exists():
            found.append(ServerBinaries(bindir, int(version.split(".")[0]), sharedir))
    found = [b for b in found if b.major >= MIN_MAJOR]
    return max(found, key=lambda b: b.major) if found else None


def _output(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def install_command(major: int | None) -> str:
    """The apt command that installs what is missing (shown to non-root users)."""
    postgis = f"postgresql-{major}-postgis-3" if major else "postgresql-<major>-postgis-3"
    return f"sudo apt-get update && sudo apt-get install -y postgresql {postgis}"


def ensure_server(*, install: bool = True) -> ServerBinaries:
    """Find PostgreSQL with PostGIS, installing both with apt when we are root on Debian/Ubuntu.

    Raises
    ------
    ServerSetupError
        When something is missing and cannot be installed from here; the message holds the
        exact command to run.
    """
    server = find_server()
    if server and server.has_postgis:
        return server
    can_apt = os.geteuid() == 0 and shutil.which("apt-get") is not None
    if not (install and can_apt):
        what = "PostGIS" if server else "PostgreSQL and PostGIS"
        msg = (
            f"{what} not found. Install with:\n  "
            f"{install_command(server.major if server else None)}"
            "\nor point DATABASE_URL at an existing PostgreSQL >= 13 server with PostGIS >= 3."
        )
        raise ServerSetupError(msg)
    _apt_install(["postgresql"] if server is None else [])
    server = find_server()
    if server is None:
        msg = "apt installed postgresql but no server programs were found in /usr/lib/postgresql."
        raise ServerSetupError(msg)
    if not server.has_postgis:
        _apt_install([f"postgresql-{server.major}-postgis-3"])
    if not server.has_postgis:
        msg = f"PostGIS is still missing after installing postgresql-{server.major}-postgis-3."
        raise ServerSetupError(msg)
    return server


def _apt_install(packages: list[str]) -> None:
    if not packages:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"Installing {' '.join(packages)} with apt-get ...", flush=True)
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            msg = f"`{' '.join(cmd)}` failed:\n{tail}"
            raise ServerSetupError(msg)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As PostgreSQL does for its own socket: connections of the previous run lingering in
        # TIME_WAIT must not make the port look busy (the URL would change at every restart).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(previous: int | None) -> int:
    """Reuse the previous port when it is free (so URLs stay stable), else the next free one."""
    for port in ([previous] if previous else []) + list(
        range(PREFERRED_PORT, PREFERRED_PORT + 200)
    ):
        if _port_is_free(port):
            return port
    msg = f"No free port between {PREFERRED_PORT} and {PREFERRED_PORT + 199} on 127.0.0.1."
    raise ServerSetupError(msg)


class LocalCluster:
    """The cluster in ``root`` (normally ``.pgdata/``): data in ``data/``, log in ``server.log``."""

    def __init__(self, root: Path, server: ServerBinaries) -> None:
        self.root = root
        self.server = server
        self.datadir = root / "data"
        self.logfile = root / "server.log"
        self._account = _server_account()

    # -- state ---------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        """``initdb`` has run here."""
        return (self.datadir / "PG_VERSION").exists()

    @property
    def port(self) -> int | None:
        """The port of the last start."""
        return read_local_port(self.root)

    def is_running(self) -> bool:
        """Ask ``pg_ctl status`` (0 means a live postmaster owns the data folder)."""
        if not self.initialised:
            return False
        result = self._run([self.server.tool("pg_ctl"), "status", "-D", str(self.datadir)])
        return result.returncode == 0

    # -- actions -------------------------------------------------------------------------
    def init(self) -> None:
        """Create the cluster (once): UTF-8, trust auth on loopback only."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._hand_over(self.root)
        result = self._run(
            [
                self.server.tool("initdb"),
                "-D",
                str(self.datadir),
                "-U",
                LOCAL_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        if result.returncode != 0:
            msg = f"initdb failed:\n{result.stderr.strip() or result.stdout.strip()}"
            raise ServerSetupError(msg)
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# Pantau's settings, rewritten at every start\n"
                "include_if_exists = 'pantau.conf'\n"
            )

    def start(self) -> int:
        """Start on a free loopback port and wait until it accepts connections."""
        port = choose_port(self.port)
        settings = {**SERVER_SETTINGS, "port": str(port)}
        conf = self.datadir / "pantau.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        self._hand_over(conf)
        self.logfile.touch()
        self._hand_over(self.logfile)
        result = self._run(
            [
                self.server.tool("pg_ctl"),
                "start",
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
            ]
        )
        if result.returncode != 0:
            log_tail = "\n".join(self.logfile.read_text(errors="replace").splitlines()[-10:])
            msg = f"PostgreSQL did not start (see {self.logfile}):\n{log_tail}"
            raise ServerSetupError(msg)
        local_port_file(self.root).write_text(f"{port}\n")
        return port

    def stop(self) -> bool:
        """Stop it (fast shutdown: sessions are ended, committed data is kept)."""
        if not self.is_running():
            return False
        result = self._run(
            [self.server.tool("pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w"]
        )
        if result.returncode != 0:
            msg = f"pg_ctl stop failed: {result.stderr.strip()}"
            raise ServerSetupError(msg)
        return True

    def ensure_database(self, name: str) -> None:
        """Create the database ``name`` (and PostGIS in it) when missing."""
        ensure_database(local_url(self._require_port(), "postgres"), name)

    def _require_port(self) -> int:
        port = self.port
        if port is None:
            msg = "The local cluster has no recorded port: run `python -m pipelines db up`."
            raise ServerSetupError(msg)
        return port

    # -- running as the unprivileged account --------------------------------------------
    def _run(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._account is not None:
            kwargs = {
                "user": self._account.pw_uid,
                "group": self._account.pw_gid,
                "extra_groups": [],
            }
        env = {**os.environ, "LC_ALL": "C"}
        return subprocess.run(  # type: ignore[call-overload]
            cmd, capture_output=True, text=True, check=False, env=env, cwd="/", **kwargs
        )

    def _hand_over(self, path: Path) -> None:
        """Give ``path`` to the server account and check that it can reach it."""
        if self._account is None:
            return
        os.chown(path, self._account.pw_uid, self._account.pw_gid)
        probe = self._run(["test", "-w", str(path)])
        if probe.returncode != 0:
            msg = (
                f"The server runs as '{SERVER_ACCOUNT}' and cannot reach {path}: make its parent "
                "folders traversable (chmod o+x) or set PANTAU_PGDATA to a folder it can reach."
            )
            raise ServerSetupError(msg)


def _server_account() -> pwd.struct_passwd | None:
    """The account the server must run as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        msg = (
            f"Running as root, but there is no '{SERVER_ACCOUNT}' account to run PostgreSQL as "
            "(PostgreSQL refuses to run as root). Install the postgresql package, which creates it."
        )
        raise ServerSetupError(msg) from None


def ensure_database(maintenance_url: str, name: str) -> bool:
    """Create database ``name`` through ``maintenance_url`` if it does not exist.

    Returns True when it was created.
    """
    with connect(maintenance_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def ensure_postgis(url: str) -> str:
    """Create the PostGIS extension if allowed; return its version.

    Raises
    ------
    ServerSetupError
        When PostGIS is not available on the server or the user may not create it.
    """
    with connect(url, autocommit=True) as conn:
        available = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
        if available is None:
            msg = "The server has no PostGIS extension available: install PostGIS >= 3 on it."
            raise ServerSetupError(msg)
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.errors.InsufficientPrivilege:
            installed = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
            ).fetchone()
            if installed is None:
                msg = (
                    "PostGIS is available but not installed in this database, and this user may "
                    "not create it: ask an administrator to run CREATE EXTENSION postgis."
                )
                raise ServerSetupError(msg) from None
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
        ).fetchone()
        return str(row[0]) if row else "?"
