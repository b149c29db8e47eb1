"""Alembic builds the whole schema, takes it down again, and matches the tables the code uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
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
from booking_service.config import ConfigError, Settings
from booking_service.entrypoints.serve import prepare_schema
from tests.conftest import create_empty_database, drop_database


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    url = await create_empty_database(server_url, "booking_migrate")
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


async def test_the_money_record_migration_keeps_old_bookings_truthful(empty_database: str) -> None:
    """0006 reads the money of bookings made before it (a planned refund in refunded_amount_minor,
    the release sagas' data) into the money record, and gives running sagas their booking."""
    import asyncio

    config = migrations.alembic_config(empty_database)
    await asyncio.to_thread(command.upgrade, config, "0005")
    conn = await asyncpg.connect(empty_database)
    try:
        cases = {  # status, confirmed, planned refund, the release saga's status and refund id
            "voided": ("CANCELLED", False, None, "done", None),
            "voiding": ("CANCELLED", False, None, "running", None),
            "refunded": ("CANCELLED", True, 24000, "done", "re_old"),
            "refunding": ("CANCELLED", True, 24000, "running", None),
            "paid": ("CONFIRMED", True, None, None, None),
            "open": ("PENDING", False, None, None, None),
        }
        ids = {name: str(uuid.uuid4()) for name in cases}
        for name, (status, confirmed, refunded, saga, refund_id) in cases.items():
            await conn.execute(
                "INSERT INTO bookings (booking_id, booking_reference, guest_id, guest_name, venue_id,"
                " venue_type, venue_time_zone, start_time, end_time, local_start_date, party_size, status,"
                " price_amount_minor, price_currency, payment_intent_id, version, create_time, update_time,"
                " confirm_time, cancel_time, requires_prepayment, refunded_amount_minor)"
                " VALUES ($1, $2, 'g', 'G', 'v', 'HOTEL', 'UTC', now(), now() + interval '1 day',"
                " current_date, 2, $3, 24000, 'EUR', $4, 2, now(), now(), $5, now(), true, $6)",
                ids[name],
                f"BK-{name.upper()}"[:16],
                status,
                f"pi_{name}",
                datetime.now(UTC) if confirmed else None,
                refunded,
            )
            if saga is not None:
                data = json.dumps({"refund_id": refund_id} if refund_id else {})
                await conn.execute(
                    "INSERT INTO booking_sagas (saga_id, booking_id, kind, status, step, data, lease_until,"
                    " created_at, updated_at) VALUES ($1, $2, 'release', $3, 'planned', $4::jsonb, now(),"
                    " now(), now())",
                    str(uuid.uuid4()),
                    ids[name],
                    saga,
                    data,
                )
        await migrations.upgrade(empty_database)
        rows = {
            r["booking_id"]: r
            for r in await conn.fetch(
                "SELECT booking_id::text, payment_status, captured_amount_minor, refunds::text, saga_id"
                " FROM bookings"
            )
        }
    finally:
        await conn.close()
    got = {name: rows[ids[name]] for name in cases}
    assert {n: r["payment_status"] for n, r in got.items()} == {
        "voided": "VOIDED",
        "voiding": "REQUIRES_CONFIRMATION",  # its release saga voids it and records it
        "refunded": "CAPTURED",
        "refunding": "CAPTURED",
        "paid": "CAPTURED",
        "open": "REQUIRES_CONFIRMATION",
    }
    [made] = json.loads(got["refunded"]["refunds"])
    assert (made["status"], made["refund_id"], made["amount_minor"]) == ("SUCCEEDED", "re_old", 24000)
    [asked] = json.loads(got["refunding"]["refunds"])
    assert (asked["status"], asked["refund_id"], asked["reason"]) == ("REQUESTED", "", "booking cancelled")
    assert got["refunding"]["saga_id"] is not None  # the running release holds its booking
    assert got["voided"]["saga_id"] is None


async def test_a_service_that_does_not_migrate_checks_the_schema_is_current(empty_database: str) -> None:
    """MIGRATE_ON_START=false (a migration job holds the DDL rights): serve refuses a database
    behind the code, naming both revisions and what to run."""
    with pytest.raises(ConfigError, match=r"at nothing .* needs \w+: run `booking-service migrate`"):
        await prepare_schema(Settings(migrate_on_start=False), empty_database)
    assert await tables(empty_database) == set()  # nothing was migrated
    await prepare_schema(Settings(), empty_database)  # MIGRATE_ON_START's default: migrated
    await prepare_schema(Settings(migrate_on_start=False), empty_database)  # current: nothing to say


async def test_an_index_built_concurrently_keeps_a_valid_one_and_rebuilds_a_broken_one(
    empty_database: str,
) -> None:
    """0007 builds booking_sagas_attention concurrently. A database that 0006 once gave that index
    keeps it as it is; one left INVALID by a concurrent build that failed half-way gets it rebuilt."""
    import asyncio

    config = migrations.alembic_config(empty_database)
    await asyncio.to_thread(command.upgrade, config, "0006")
    conn = await asyncpg.connect(empty_database)
    index = (
        "SELECT c.oid, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE c.relname = $1"
    )
    plain = (
        "CREATE INDEX booking_sagas_attention ON booking_sagas (updated_at) WHERE status = 'needs_attention'"
    )
    try:
        assert await conn.fetchrow(index, "booking_sagas_attention") is None
        await conn.execute(plain)
        made_by_0006 = await conn.fetchrow(index, "booking_sagas_attention")
        await migrations.upgrade(empty_database)
        assert await conn.fetchrow(index, "booking_sagas_attention") == made_by_0006

        await asyncio.to_thread(command.downgrade, config, "0006")
        assert await conn.fetchrow(index, "booking_sagas_attention") is None
        await conn.execute(plain)
        await conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'booking_sagas_attention'::regclass"
        )
        await migrations.upgrade(empty_database)
        rebuilt = await conn.fetchrow(index, "booking_sagas_attention")
        assert rebuilt is not None
        assert rebuilt["indisvalid"]
        assert rebuilt["oid"] != made_by_0006["oid"]
    finally:
        await conn.close()


async def test_0009_runs_again_over_itself_and_compares_blocked_times(empty_database: str) -> None:
    """Issue 17: 0009 is repeatable (a run cut off by a lost connection, a stamp written back by
    hand), and leaves the exclusion constraint comparing the buffered times."""
    await migrations.upgrade(empty_database)
    conn = await asyncpg.connect(empty_database)
    try:
        await conn.execute("UPDATE alembic_version SET version_num = '0008'")
        await migrations.upgrade(empty_database)
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == migrations.head()
        definition = await conn.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'bookings_no_double_booking'"
        )
        assert (
            "booking_blocked_range(start_time, end_time, buffer_before_seconds, buffer_after_seconds)"
            in definition
        )
        volatility = await conn.fetchval(
            "SELECT provolatile FROM pg_proc WHERE proname = 'booking_blocked_range'"
        )
        assert volatility == b"i"  # IMMUTABLE (a "char" comes back as bytes)
    finally:
        await conn.close()
