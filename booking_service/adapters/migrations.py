"""Running the Alembic migrations from the service (`booking-service migrate`, and `serve` at start
unless MIGRATE_ON_START=false), and checking that a database is at the schema this code needs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
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
