"""A relay whose database connection goes silent gives its outbox partitions up within seconds (issue
15): its statements time out (SessionLimits), its session ends, and another relay takes the
partitions over and publishes. It used to wait on the dead connection for as long as the kernel
kept it (about two hours), holding every partition's advisory lock."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from booking.v1 import booking_pb2 as pb

from booking_service.adapters.database import SessionLimits
from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.adapters.outbox import PARTITIONS
from booking_service.adapters.outbox_relay.relay import OutboxRelay
from tests.e2e.events_support import EventWorld, count, event_world
from tests.e2e.tcp_proxy import TcpProxy

Make = Callable[..., pb.CreateBookingRequest]
QUICK = SessionLimits(connect=1, statement=1, keepalive=2)


@pytest.fixture
async def world(private_database: str, settings, kafka: EmbeddedKafka, peers) -> AsyncIterator[EventWorld]:  # type: ignore[no-untyped-def]
    async with event_world(private_database, settings, kafka, peers) as running:
        yield running


async def holds_all(relay: OutboxRelay, within: float) -> float:
    """Seconds until the relay holds every partition (AssertionError past `within`)."""
    started = time.monotonic()
    while len(relay.held) < PARTITIONS:
        if time.monotonic() - started > within:
            raise AssertionError(f"the relay holds {len(relay.held)} of {PARTITIONS} partitions")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_relay_whose_connection_goes_silent_gives_its_partitions_up(
    world: EventWorld, new_booking: Make
) -> None:
    proxy = TcpProxy.before(world.database_url)
    await proxy.start()
    try:
        connect = functools.partial(asyncpg.connect, **QUICK.connect_args("relay-behind-proxy"))
        first = world.start_relay(database_url=proxy.url(world.database_url), connect=connect)
        await holds_all(first, within=10)
        second = world.start_relay(connect=functools.partial(asyncpg.connect, **QUICK.connect_args()))
        await asyncio.sleep(0.5)
        assert second.held == set()
        proxy.hole()  # the first relay's connection: open, and silent
        taken_over_in = await holds_all(second, within=30)
        print(f"partitions taken over {taken_over_in:.1f} s after the first relay's connection went silent")
        booking = await world.stub.CreateBooking(new_booking())
        received = await world.receive(count(1))
        assert received[0].event.booking_id == booking.booking_id
    finally:
        proxy.mend()
        await proxy.close()


async def test_every_session_carries_the_limits(world: EventWorld) -> None:
    """The pool's sessions and the relay's: a statement, lock and keepalive bound on the server (the
    keepalive on TCP; PostgreSQL has none for a Unix socket, the embedded one's)."""
    relay = await asyncpg.connect(world.database_url, **QUICK.connect_args())
    try:
        names = ("statement_timeout", "tcp_keepalives_idle")
        shown = {name: await relay.fetchval(f"SHOW {name}") for name in names}
        over_tcp = await relay.fetchval("SELECT inet_server_addr() IS NOT NULL")
    finally:
        await relay.close()
    assert shown == {"statement_timeout": "1s", "tcp_keepalives_idle": "2" if over_tcp else "0"}
    async with world.app.engine.connect() as pooled:
        raw = await pooled.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        assert (
            await driver.fetchval("SHOW statement_timeout"),
            await driver.fetchval("SHOW lock_timeout"),
        ) == (
            "30s",
            "5s",
        )
