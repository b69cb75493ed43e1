"""Apply the versioned SQL migrations in ``pipelines/sql/migrations``.

We use yoyo-migrations: plain ``.sql`` files applied in name order, each in its own
transaction, recorded in ``_yoyo_migration`` and guarded by a lock so that two processes never
migrate at once. It needs no ORM (unlike Alembic) and keeps the schema readable as SQL.
``post-apply.sql`` (the grants) runs after every migrate, so privileges always cover every
object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from yoyo import get_backend, read_migrations

from geo.db import url_from_params
from geo.errors import PantauError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "sql" / "migrations"


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """What ``migrate`` did: the ids applied now and those applied before."""

    applied: list[str]
    already_applied: list[str]


def yoyo_url(url: str) -> str:
    """A yoyo URL (``postgresql+psycopg://``) for any libpq URL or key=value string."""
    return url_from_params(conninfo_to_dict(url), scheme="postgresql+psycopg")


def migrate(url: str) -> MigrationResult:
    """Apply every pending migration to the database at ``url`` (idempotent)."""
    try:
        backend = get_backend(yoyo_url(url))
    except Exception as exc:  # yoyo wraps driver errors in its own types
        msg = f"Cannot open the database for migrations: {exc}"
        raise PantauError(msg) from exc
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        before = [m.id for m in migrations if m not in pending]
        backend.apply_migrations_only(pending)
        backend.run_post_apply(migrations)
    return MigrationResult(applied=[m.id for m in pending], already_applied=before)
