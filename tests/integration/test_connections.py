"""The request pool (adapters/connections.py) on a real database: a call that finds no connection
free within the pool timeout is UNAVAILABLE (pool_exhausted), as under SQLAlchemy's pool; a read cut
off mid-statement ends its connection; a connection given back inside a transaction is ended; json
and jsonb travel as SQLAlchemy's dialect had them (decoded on the way out, str on the way in)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from booking_service.adapters.booking_reads import PostgresBookingReads, fetch
from booking_service.adapters.connections import Connections
from booking_service.adapters.database import create_engine
from booking_service.adapters.unit_of_work import PostgresUnitOfWork
from booking_service.domain.errors import StorageUnavailable

PID = "SELECT pg_backend_pid() AS pid"


@pytest.fixture
async def single(database_url: str) -> AsyncIterator[Connections]:
    """A pool of one connection that waits 0.2 s for it."""
    connections = Connections(database_url, pool_size=1, max_overflow=0, timeout_seconds=0.2)
    yield connections
    await connections.aclose()


async def pid_of(connections: Connections) -> int:
    return int((await fetch(connections, PID))[0]["pid"])


async def test_a_call_that_finds_every_connection_busy_is_unavailable(single: Connections) -> None:
    held = await single.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as read:
            await PostgresBookingReads(single).get("00000000-0000-4000-8000-000000000000")
        assert 0.2 <= time.monotonic() - started < 2  # it waited the pool timeout, no more
        with pytest.raises(StorageUnavailable) as written:
            async with PostgresUnitOfWork(single):
                pass
        for raised in (read, written):
            assert raised.value.metadata == {"reason": "pool_exhausted"}
        assert single.stats() == (1, 0, 1)
    finally:
        await single.release(held)
    assert await pid_of(single) > 0  # given back: the next call has it
    assert single.stats() == (0, 1, 1)


async def test_a_read_cut_off_mid_statement_ends_its_connection(single: Connections) -> None:
    before = await pid_of(single)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await fetch(single, "SELECT pg_sleep(5)")
    assert await pid_of(single) != before  # a new connection: the cut-off one was not given back


async def test_a_connection_given_back_inside_a_transaction_is_ended(single: Connections) -> None:
    connection = await single.acquire()
    before = connection.get_server_pid()
    await connection.execute("BEGIN")
    await single.release(connection)
    assert await pid_of(single) != before


async def test_a_discarded_connection_is_ended_and_an_unused_one_kept(single: Connections) -> None:
    first = await pid_of(single)
    assert await pid_of(single) == first  # kept: no reset, no new connection
    connection = await single.acquire()
    await single.release(connection, discard=True)
    assert await pid_of(single) != first


async def test_json_and_jsonb_travel_as_under_sqlalchemy(database_url: str, single: Connections) -> None:
    statement = "SELECT $1::jsonb AS b, $2::json AS j, '{\"a\": [1, 2.5]}'::jsonb AS lb, 'null'::json AS lj"
    arguments = ('{"k": "v", "n": 1}', "[1, 2]")
    ours = dict((await fetch(single, statement, *arguments))[0])
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            theirs = dict(await driver.fetchrow(statement, *arguments))  # type: ignore[union-attr]
    finally:
        await engine.dispose()
    assert ours == theirs == {"b": {"k": "v", "n": 1}, "j": [1, 2], "lb": {"a": [1, 2.5]}, "lj": None}


async def test_a_closed_pool_refuses_calls(database_url: str) -> None:
    connections = Connections(database_url, pool_size=1, max_overflow=0)
    assert await pid_of(connections) > 0
    await connections.aclose()
    with pytest.raises(StorageUnavailable):
        await fetch(connections, PID)
