"""The unit of work on a real database, on the driver: what is not committed is rolled back; a
connection the server killed, or one a cancellation cut off mid-statement, is dropped from the pool
instead of being handed to the next request; a statement's own error leaves the connection usable."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import asyncpg
import pytest

from booking_service.adapters.unit_of_work import PostgresUnitOfWork
from booking_service.bootstrap import Application
from booking_service.domain.errors import StorageUnavailable, UnitUnavailable
from booking_service.service_layer.sagas.log import DONE, Saga
from tests.conftest import NOW
from tests.helpers import assert_dead_connections_leave_the_pool
from tests.integration.test_repository import make_booking


async def backend_pids(database_url: str) -> set[int]:
    admin = await asyncpg.connect(database_url)
    try:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    return {row["pid"] for row in rows}


async def test_what_is_not_committed_is_rolled_back(app: Application, ids) -> None:
    booking = make_booking(ids)
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        await uow.bookings.add(booking)  # no commit
    async with uow:
        assert await uow.bookings.get(booking.booking_id) is None


async def test_json_columns_hold_json_values_and_read_back_decoded(
    app: Application, ids, database_url: str
) -> None:
    """jsonb goes to the driver as JSON text and comes back decoded (the codecs SQLAlchemy's dialect
    installs on the pool's connections): stored as objects, not as JSON strings."""
    booking, key = make_booking(ids), ids("key")
    data = {"stay": {"unit": "room-1"}}
    saga = Saga(str(uuid.uuid4()), booking.booking_id, "create", NOW, NOW, DONE, data=data)  # no recovery
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        await uow.idempotency.claim("M", key, b"f", NOW, timedelta(hours=1))
        await uow.bookings.add(booking)
        await uow.idempotency.complete("M", key, booking)
        await uow.sagas.add(saga)
        await uow.commit()
    admin = await asyncpg.connect(database_url)
    try:
        response = (
            "SELECT jsonb_typeof(response), response->>'booking_id' FROM idempotency_keys WHERE key = $1"
        )
        assert tuple(await admin.fetchrow(response, key)) == ("object", booking.booking_id)
        stored = "SELECT jsonb_typeof(data), data->'stay'->>'unit' FROM booking_sagas WHERE saga_id = $1"
        assert tuple(await admin.fetchrow(stored, saga.saga_id)) == ("object", "room-1")
        events = "SELECT count(*) FROM booking_outbox WHERE booking_id = $1 AND trace_context IS NULL"
        assert await admin.fetchval(events, booking.booking_id) == 1  # no trace: SQL NULL, not 'null'
    finally:
        await admin.close()
    async with uow:
        db = uow.sagas._db  # type: ignore[attr-defined]
        row = await db.fetchrow("SELECT data FROM booking_sagas WHERE saga_id = $1", saga.saga_id)
    assert row["data"] == data


async def test_a_statement_error_leaves_the_connection_usable(
    app: Application, ids, database_url: str
) -> None:
    booking = make_booking(ids)
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        await uow.bookings.add(booking)
        await uow.commit()
    twin = make_booking(ids)  # the same unit and time: the exclusion constraint refuses it
    pids: list[int] = []

    async def refused() -> None:
        async with uow:
            pids.append(uow.bookings._db.connection.get_server_pid())  # type: ignore[attr-defined]
            await uow.bookings.add(twin)

    with pytest.raises(UnitUnavailable):
        await refused()
    pid = pids[0]
    assert pid in await backend_pids(database_url)  # rolled back and given back, not dropped
    async with uow:
        assert await uow.bookings.get(booking.booking_id) is not None


async def test_a_statement_cut_off_by_a_cancellation_drops_its_connection(
    app: Application, database_url: str
) -> None:
    uow = PostgresUnitOfWork(app.connections)
    pids: list[int] = []

    async def slow() -> None:
        async with uow:
            pids.append(uow.bookings._db.connection.get_server_pid())  # type: ignore[attr-defined]
            await uow.bookings._db.execute("SELECT pg_sleep(5)")  # type: ignore[attr-defined]

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await slow()
    for _ in range(50):  # the dropped connection's backend goes away
        if pids[0] not in await backend_pids(database_url):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the connection cut off mid-statement went back to the pool")
    async with uow:  # and the next unit of work gets a working one
        assert await uow.bookings.get("00000000-0000-4000-8000-000000000000") is None


async def test_a_connection_the_server_killed_is_dropped_from_the_pool(
    app: Application, ids, database_url: str
) -> None:
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        await uow.bookings.add(make_booking(ids))
        await uow.commit()

    async def attempt() -> None:
        async with uow:
            assert await uow.bookings.get("00000000-0000-4000-8000-000000000000") is None

    await assert_dead_connections_leave_the_pool(app.connections, database_url, attempt)


async def test_a_rollback_the_server_cannot_answer_is_unavailable(
    app: Application, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A unit of work that read and left without committing, on a connection that died meanwhile:
    its rollback fails, and that is StorageUnavailable (retry), not an unexplained driver error;
    the operator's log says why (the client is told only UNAVAILABLE)."""
    uow = PostgresUnitOfWork(app.connections)

    async def read_then_lose_the_connection() -> None:
        async with uow:
            assert await uow.bookings.get("00000000-0000-4000-8000-000000000000") is None
            pid = uow.bookings._db.connection.get_server_pid()  # type: ignore[attr-defined]
            admin = await asyncpg.connect(database_url)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            await asyncio.sleep(0.1)

    with (
        caplog.at_level(logging.WARNING, logger="booking_service.database"),
        pytest.raises(StorageUnavailable),
    ):
        await read_then_lose_the_connection()
    causes = [r.cause for r in caplog.records if r.getMessage() == "the database is unavailable"]  # type: ignore[attr-defined]
    assert causes, caplog.text
    assert any("terminat" in cause.lower() or "connection" in cause.lower() for cause in causes), causes
    async with uow:  # the dead connection left the pool
        assert await uow.bookings.get("00000000-0000-4000-8000-000000000000") is None
