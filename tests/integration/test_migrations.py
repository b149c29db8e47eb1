"""Alembic builds the whole schema, takes it down again, and matches the tables the code uses."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from booking_service.adapters import migrations
from booking_service.adapters.database import async_url
from booking_service.adapters.tables import metadata
from tests.conftest import _with_database, drop_database


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    name = f"booking_migrate_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = _with_database(server_url, name)
    yield url
    await drop_database(server_url, url)


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


async def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    await migrations.upgrade(empty_database)
    assert await tables(empty_database) >= {"bookings", "booking_status_history", "idempotency_keys"}
    config = migrations.alembic_config(empty_database)
    import asyncio

    await asyncio.to_thread(command.downgrade, config, "base")
    assert await tables(empty_database) == {"alembic_version"}
    await migrations.upgrade(empty_database)
    await migrations.upgrade(empty_database)  # a second upgrade is a no-op
    assert "bookings" in await tables(empty_database)


async def test_the_migrated_schema_matches_the_tables_in_code(database_url: str) -> None:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


def test_alembic_upgrade_head_from_the_command_line(repo_root: Path, empty_database: str) -> None:
    alembic = Path(sys.executable).parent / "alembic"
    result = subprocess.run(
        [str(alembic), "upgrade", "head"],
        cwd=repo_root,
        env={**os.environ, "DATABASE_URL": empty_database},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> 0001" in result.stderr
