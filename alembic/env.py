"""Alembic environment: runs the migrations on DATABASE_URL (or the URL the caller configured),
under an advisory lock so that several replicas starting at once migrate one after another."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from booking_service.adapters.database import async_url
from booking_service.adapters.tables import metadata
from booking_service.config import ConfigError, Settings

MIGRATION_LOCK = 0x626F6F6B  # "book"

config = context.config
if config.config_file_name is not None and not config.attributes.get("configured_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """The service's URL (`booking-service migrate`, `serve`), or for `alembic upgrade head` run by
    hand the one the service would migrate on: DATABASE_SESSION_URL when set (the lock below must
    stay with one session; a transaction pooler's would not), else DATABASE_URL."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    try:
        settings = Settings.from_env()
        if settings.database_url:
            return settings.session_url(settings.database_url)
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    raise SystemExit(
        "Set DATABASE_URL, or run `booking-service migrate` (it starts the embedded PostgreSQL)."
    )


def run_migrations_offline() -> None:
    context.configure(url=str(async_url(database_url())), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.commit()
    try:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()


async def run_migrations_online() -> None:
    engine = create_async_engine(async_url(database_url()), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
