"""Running the Alembic migrations from the service (`booking-service migrate`, and `serve` at start
unless MIGRATE_ON_START=false), and checking that a database is at the schema this code needs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from alembic.script import ScriptDirectory

from booking_service.adapters.database import driver_url

_PACKAGE = Path(__file__).resolve().parent.parent


def script_location() -> Path:
    """The migrations: inside the installed wheel, or alembic/ beside the package in a checkout."""
    for candidate in (_PACKAGE / "_alembic", _PACKAGE.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("no Alembic migrations found beside booking_service")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade(database_url: str) -> None:
    """`alembic upgrade head`, in a thread of its own (Alembic runs its own event loop)."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")


def create_index_concurrently(name: str, table: str, columns: Sequence[str], **options: Any) -> None:
    """For a migration after the first, on a table that may hold rows: builds the index with CREATE
    INDEX CONCURRENTLY, outside the migration's transaction, so the service's writes to the table go
    on while it builds (a plain CREATE INDEX blocks them until it ends). It must be the only thing
    its migration does: a migration whose transaction committed half-way cannot be run again.

    A valid index of that name is left as it is. A concurrent build that failed half-way leaves an
    INVALID index behind, which is dropped first, so running the migration again finishes the job.
    (In offline mode, `migrate --sql`, the drop is unconditional.) `options` as for
    `op.create_index` (unique, postgresql_where, ...). tests/unit/test_migration_locks.py holds every
    migration to this rule."""
    context = op.get_context()
    if not context.as_sql:
        valid = (
            op.get_bind()
            .execute(
                sa.text(
                    "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                    " WHERE c.oid = to_regclass(:name)"
                ),
                {"name": name},
            )
            .scalar()
        )
        if valid:
            return
    with context.autocommit_block():
        op.drop_index(name, table_name=table, if_exists=True, postgresql_concurrently=True)
        op.create_index(name, table, list(columns), postgresql_concurrently=True, **options)


def drop_index_concurrently(name: str, table: str) -> None:
    """The downgrade of create_index_concurrently: DROP INDEX CONCURRENTLY, outside the transaction."""
    with op.get_context().autocommit_block():
        op.drop_index(name, table_name=table, if_exists=True, postgresql_concurrently=True)


class SchemaBehind(Exception):
    """The database lacks migrations this code needs; the message names them and what to run."""


def head() -> str:
    """The newest migration this code ships (its revision id)."""
    revision = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()
    assert revision is not None
    return revision


async def require_current(database_url: str) -> None:
    """Raises SchemaBehind unless the database is at head() (for a service that does not migrate at
    start: a migration job, with the DDL rights, ran `booking-service migrate` before it)."""
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        exists = await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        current = await connection.fetchval("SELECT version_num FROM alembic_version") if exists else None
    finally:
        await connection.close()
    wanted = head()
    if current != wanted:
        raise SchemaBehind(
            f"the database's schema is at {current or 'nothing (no migrations applied)'}, and this service "
            f"needs {wanted}: run `booking-service migrate` (the job that holds the DDL rights), "
            "or set MIGRATE_ON_START=true"
        )
