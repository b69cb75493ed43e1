"""`db up | down | status | url` on a throw-away project-local cluster (real PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from geo.errors import ServerSetupError
from pipelines import cluster

REPO = Path(__file__).resolve().parents[2]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def cluster_env() -> Iterator[dict[str, str]]:
    """Environment for a second cluster in a temporary folder the server account can reach."""
    root = Path(tempfile.mkdtemp(prefix="pantau-pgdata-", dir="/tmp"))
    root.chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "PANTAU_WRITER_URL", "PANTAU_READER_URL"}
    }
    env |= {"PANTAU_PGDATA": str(root / "pgdata"), "PANTAU_DB_NAME": "pantau_cluster_test"}
    yield env
    _cli(env, "db", "down")
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_up_down_up_keeps_data(cluster_env: dict[str, str]) -> None:
    up = _cli(cluster_env, "db", "up")
    assert up.returncode == 0, up.stderr
    assert "PostGIS" in up.stdout
    url = _cli(cluster_env, "db", "url").stdout.strip()
    assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith(
        "/pantau_cluster_test"
    )

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('survives a restart')")

    again = _cli(cluster_env, "db", "up")
    assert again.returncode == 0 and "Already running" in again.stdout

    status = _cli(cluster_env, "db", "status")
    assert status.returncode == 0 and "running" in status.stdout and "PostGIS 3" in status.stdout

    down = _cli(cluster_env, "db", "down")
    assert down.returncode == 0 and "Stopped" in down.stdout
    stopped = _cli(cluster_env, "db", "status")
    assert stopped.returncode == 1 and "not running" in stopped.stdout
    assert "Traceback" not in stopped.stderr

    assert _cli(cluster_env, "db", "up").returncode == 0
    assert _cli(cluster_env, "db", "url").stdout.strip() == url, "the port is kept when free"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT note FROM kept").fetchall() == [("survives a restart",)]


def test_missing_server_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "find_server", lambda: None)
    with pytest.raises(
        ServerSetupError, match=r"apt-get install -y postgresql postgresql-<major>-postgis-3"
    ):
        cluster.ensure_server(install=False)


def test_missing_postgis_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = cluster.ServerBinaries(bindir=tmp_path, major=16, sharedir=tmp_path)
    monkeypatch.setattr(cluster, "find_server", lambda: fake)
    with pytest.raises(ServerSetupError, match=r"postgresql-16-postgis-3"):
        cluster.ensure_server(install=False)


def test_no_database_configured_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PANTAU_PGDATA"] = str(tmp_path / "never-started")
    result = _cli(env, "migrate")
    assert result.returncode == 1
    assert result.stderr.startswith("error: No database configured")
    assert "Traceback" not in result.stderr


def test_unreachable_database_url_is_a_clear_error() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"}
    result = _cli(env, "boundaries", "status")
    assert result.returncode == 1
    assert result.stderr.startswith("error: Cannot connect to")
    assert "Traceback" not in result.stderr
