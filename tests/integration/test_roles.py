"""The dashboard's role can read the api views and do nothing else; the writer can load."""

from __future__ import annotations

import psycopg
import pytest

from geo import db

FORBIDDEN = [
    pytest.param(
        "INSERT INTO api.reports (source, source_id) VALUES ('jaki', 'x')", id="insert-api-view"
    ),
    pytest.param("UPDATE api.admin_areas SET name = 'x'", id="update-api-view"),
    pytest.param("DELETE FROM api.admin_areas", id="delete-api-view"),
    pytest.param("SELECT count(*) FROM pantau.reports", id="read-internal-table"),
    pytest.param("DELETE FROM pantau.admin_areas", id="delete-internal-table"),
    pytest.param("CREATE TABLE api.x (i int)", id="create-in-api"),
    pytest.param("CREATE TABLE public.x (i int)", id="create-in-public"),
    pytest.param("CREATE TABLE pantau_staging.x (i int)", id="create-in-staging"),
    pytest.param("CREATE TEMP TABLE x (i int)", id="create-temp"),
    pytest.param("CREATE VIEW api.v AS SELECT 1", id="create-view"),
    pytest.param("CREATE SCHEMA evil", id="create-schema"),
    pytest.param("SELECT raw FROM pantau.rejected_rows", id="read-rejected-raw-rows"),
]


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_reader_cannot_write_or_create(reader_url: str, statement: str) -> None:
    with (
        db.connect(reader_url) as conn,
        pytest.raises(
            (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)
        ),
    ):
        conn.execute(statement)


def test_reader_cannot_write_even_outside_read_only_mode(reader_url: str) -> None:
    """Privileges, not just default_transaction_read_only, stop the reader."""
    with db.connect(reader_url) as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO api.reports (source, source_id) VALUES ('jaki', 'x')")


def test_reader_reads_api_views(reader_conn: psycopg.Connection) -> None:
    for view in ("admin_areas", "reports", "boundary_source", "ingest_runs"):
        reader_conn.execute(f"SELECT * FROM api.{view} LIMIT 1")


def test_writer_can_write_pipeline_tables(writer_conn: psycopg.Connection) -> None:
    run = writer_conn.execute(
        "INSERT INTO pantau.ingest_runs (source) VALUES ('jaki') RETURNING batch_id"
    ).fetchone()
    assert run is not None
    writer_conn.execute(
        "CREATE UNLOGGED TABLE pantau_staging.t (i int); DROP TABLE pantau_staging.t"
    )
    writer_conn.execute("CREATE TEMP TABLE t (i int)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        writer_conn.execute("CREATE TABLE api.sneaky (i int)")
