"""Migrations apply once, in order, and re-running them changes nothing."""

from __future__ import annotations

from geo import db
from pipelines.migrate import MIGRATIONS_DIR, migrate, yoyo_url


def test_migrate_twice_is_idempotent(admin_url: str) -> None:
    again = migrate(admin_url)
    assert again.applied == []
    expected = sorted(p.stem for p in MIGRATIONS_DIR.glob("[0-9]*.sql"))
    assert sorted(again.already_applied) == expected
    with db.connect(admin_url) as conn:
        recorded = [
            r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration ORDER BY 1")
        ]
    assert recorded == expected


def test_schema_objects_exist(admin_url: str) -> None:
    with db.connect(admin_url) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema IN ('pantau', 'api')"
            )
        }
        geom_types = dict(
            conn.execute(
                "SELECT f_table_name || '.' || f_geometry_column, type || ':' || srid "
                "FROM geometry_columns WHERE f_table_schema = 'pantau'"
            ).fetchall()
        )
        column_types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'pantau' AND table_name = 'reports'"
            ).fetchall()
        )
    assert {
        "pantau.admin_areas",
        "pantau.admin_area_parts",
        "pantau.reports",
        "pantau.rejected_rows",
        "pantau.ingest_runs",
        "pantau.boundary_loads",
        "api.admin_areas",
        "api.reports",
        "api.boundary_source",
        "api.ingest_runs",
    } <= tables
    assert geom_types == {
        "admin_areas.geom": "MULTIPOLYGON:4326",
        "admin_area_parts.geom": "POLYGON:4326",
        "reports.geom": "POINT:4326",
    }
    for column in ("created_at", "coordinated_at", "completed_at", "updated_at"):
        assert column_types[column] == "timestamp with time zone"
    assert column_types["h3_r12"] == "bigint"


def test_api_reports_has_the_documented_columns(reader_url: str) -> None:
    with db.connect(reader_url) as conn:
        cur = conn.execute("SELECT * FROM api.reports LIMIT 0")
        columns = [c.name for c in cur.description or []]
    documented = [
        "source",
        "source_id",
        "category",
        "source_category",
        "status",
        "created_at",
        "coordinated_at",
        "completed_at",
        "updated_at",
        "lat",
        "lng",
        "kelurahan_code",
        "kecamatan_code",
        "kota_code",
        "h3_r12",
        "outside",
    ]
    assert columns[: len(documented)] == documented


def test_yoyo_url_keeps_credentials_and_options() -> None:
    url = yoyo_url("postgresql://u:p%40ss@db.example:6543/pantau?sslmode=require")
    assert url == "postgresql+psycopg://u:p%40ss@db.example:6543/pantau?sslmode=require"
    from yoyo.connections import parse_uri

    parsed = parse_uri(url)
    assert (parsed.username, parsed.password, parsed.hostname, parsed.port, parsed.database) == (
        "u",
        "p@ss",
        "db.example",
        6543,
        "pantau",
    )
    assert parsed.args == {"sslmode": "require"}
