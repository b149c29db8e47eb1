"""Behind PgBouncer in transaction mode (issue 15): with DB_TRANSACTION_POOLING the service's calls,
readiness, /metrics and the outbox relay (on DATABASE_SESSION_URL) all work while PgBouncer shares
two server sessions among every client; without it, the same calls fail, as the finding said.

The PgBouncer is the test's own (tests/e2e/pgbouncer.py), in front of the test database's server."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc

from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.entrypoints.events import build_relay
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.readiness import Readiness
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from booking_service.observability.metrics_endpoint import MetricsEndpoint
from tests.conftest import NOW, FakeClock, create_empty_database, drop_database
from tests.e2e.events_support import consume, count
from tests.e2e.pgbouncer import PgBouncer, free_port, pgbouncer
from tests.e2e.test_command_line import serve

Make = Callable[..., pb.CreateBookingRequest]
#: Calls in flight at once: more than PgBouncer's two server sessions, so that they share them.
LIFECYCLES = 8
#: The startup parameters the service sets on a direct connection (PgBouncer refuses them).
LIMITS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "tcp_keepalives_idle")
LIMITS_TOO = ("tcp_keepalives_interval", "tcp_keepalives_count")


@pytest.fixture
def bouncer(database_url: str) -> Iterator[PgBouncer]:
    with pgbouncer(database_url) as running:
        yield running


def behind(settings: Settings, bouncer: PgBouncer, database_url: str, *, pooling: bool = True) -> Settings:
    """The settings of a service whose DATABASE_URL is `bouncer`, its sessions going to the server."""
    return replace(
        settings,
        database_url=bouncer.url(database_url),
        database_session_url=database_url,
        db_transaction_pooling=pooling,
        db_pool_size=LIFECYCLES,
        db_max_overflow=0,
    )


async def lifecycle(
    stub: booking_pb2_grpc.BookingServiceAsyncStub, make: Make, n: int, now: datetime = NOW
) -> str:
    """Create, read (by id, by reference, in both lists), update and cancel one booking (the n-th
    hour two days after `now`, the service's clock)."""
    start = now + timedelta(days=2, hours=n)
    created = await stub.CreateBooking(
        make(unit_id=f"table-{n}", start_time=start, end_time=start + timedelta(hours=1))
    )
    booking_id = created.booking_id
    assert (await stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))).version == created.version
    reference = pb.GetBookingByReferenceRequest(booking_reference=created.booking_reference)
    assert (await stub.GetBookingByReference(reference)).booking_id == booking_id
    mine = await stub.ListGuestBookings(
        pb.ListGuestBookingsRequest(guest_id=created.guest.guest_id, page_size=50)
    )
    assert booking_id in {b.booking_id for b in mine.bookings}
    venue = await stub.ListVenueBookings(
        pb.ListVenueBookingsRequest(venue_id=created.venue.venue_id, page_size=50)
    )
    assert booking_id in {b.booking_id for b in venue.bookings}
    updated = await stub.UpdateBooking(
        pb.UpdateBookingRequest(booking_id=booking_id, expected_version=created.version, party_size=3)
    )
    cancelled = await stub.CancelBooking(
        pb.CancelBookingRequest(
            booking_id=booking_id, expected_version=updated.version, reason="plans changed"
        )
    )
    assert cancelled.status == pb.BOOKING_STATUS_CANCELLED
    return booking_id


async def lifecycles(app: Application, make: Make) -> list[str | BaseException]:
    """LIFECYCLES lifecycles at once over gRPC; each one's booking id, or what it failed with."""
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = booking_pb2_grpc.BookingServiceStub(channel)
            calls = [lifecycle(stub, make, n) for n in range(LIFECYCLES)]  # type: ignore[arg-type]
            return await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await server.stop(0)


@pytest.fixture
async def pooled(
    settings: Settings, bouncer: PgBouncer, database_url: str, peers: PeerUrls
) -> AsyncIterator[Application]:
    app = bootstrap(
        behind(settings, bouncer, database_url), bouncer.url(database_url), peers, clock=FakeClock()
    )
    yield app
    await app.aclose()


async def test_calls_readiness_and_metrics_work_behind_a_transaction_pooler(
    pooled: Application, bouncer: PgBouncer, database_url: str, new_booking: Make
) -> None:
    outcomes = await lifecycles(pooled, new_booking)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, failures
    readiness = Readiness(bouncer.url(database_url))
    metrics = MetricsEndpoint(pooled.connections, pooled.engine)
    server = RestServer(build_gateway(pooled.use_cases, readiness.is_ready, metrics=metrics), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            for _ in range(5):  # on whichever server session PgBouncer gives each probe
                assert await readiness.probe() is True
                assert (await client.get("/readyz")).status_code == 200
            scraped = (await client.get("/metrics")).text
            got = await client.get(f"/api/v1/bookings/{outcomes[0]}")
            assert got.status_code == 200, got.text
    finally:
        await server.stop(0)
        await readiness.aclose()
    assert "booking_outbox_unsent_events " in scraped  # the outbox query answered (else: no gauge)


async def test_each_transaction_keeps_the_limits_and_leaves_none_behind(
    settings: Settings, bouncer: PgBouncer, database_url: str, peers: PeerUrls
) -> None:
    """PgBouncer takes no limits at startup: each unit of work sets them (SET LOCAL), and the server
    session it used shows none of them to the next client."""
    pooled = replace(
        behind(settings, bouncer, database_url),
        db_statement_timeout=timedelta(seconds=7),
        db_lock_timeout=timedelta(seconds=3),
    )
    app = bootstrap(pooled, bouncer.url(database_url), peers)
    other = await asyncpg.connect(bouncer.url(database_url), statement_cache_size=0)
    try:
        for _ in range(4):
            async with app.use_cases.ctx.uow() as uow:
                session = uow._session  # type: ignore[attr-defined]
                shown = [await session.fetchrow(f"SHOW {name}") for name in LIMITS[:3]]
            assert [row[0] for row in shown] == ["7s", "3s", "1min"]
            after = await other.fetchval("SHOW statement_timeout")
            assert after != "7s", "a pooled transaction's limit stayed on the server session"
    finally:
        await other.close()
        await app.aclose()


async def test_the_relay_publishes_on_its_session_url(
    settings: Settings,
    bouncer: PgBouncer,
    database_url: str,
    kafka: EmbeddedKafka,
    peers: PeerUrls,
    new_booking: Make,
) -> None:
    """The relay, wired as serve wires it, takes its partitions' locks and LISTENs on
    DATABASE_SESSION_URL, and publishes what calls through the pooler committed."""
    topic = f"booking.events.pgbouncer.{id(bouncer)}"
    kafka.create_topic(topic, 4)
    configured = replace(behind(settings, bouncer, database_url), events_topic=topic)
    app = bootstrap(configured, bouncer.url(database_url), peers, clock=FakeClock())
    relay = build_relay(configured, configured.database_url or "", kafka.bootstrap_servers)
    running = asyncio.create_task(relay.run())
    try:
        booking_ids = [o for o in await lifecycles(app, new_booking) if isinstance(o, str)]
        assert len(booking_ids) == LIFECYCLES
        direct = await asyncpg.connect(database_url)
        try:
            expected = await direct.fetchval(
                "SELECT count(*) FROM booking_outbox WHERE booking_id = ANY($1::uuid[])", booking_ids
            )
            relay_sessions = await direct.fetch(
                "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND a.application_name = 'booking-service-relay'"
            )
        finally:
            await direct.close()
        mine = set(booking_ids)

        def until(received: list) -> bool:  # type: ignore[type-arg]
            return len({r.event.event_id for r in received if r.event.booking_id in mine}) >= expected

        received = await asyncio.to_thread(consume, kafka.bootstrap_servers, topic, until, 30)
        events = {r.event.event_id for r in received if r.event.booking_id in mine}
        assert len(events) == expected >= 3 * LIFECYCLES
        assert relay_sessions, "the relay holds its partitions' advisory locks"
    finally:
        relay.close()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await app.aclose()


async def test_a_session_lock_taken_through_the_pooler_is_anyones(database_url: str) -> None:
    """Why the relay takes its partitions' advisory locks on DATABASE_SESSION_URL: through the
    pooler, the lock stays with a server session that the next client gets, which then "takes" the
    same lock (a session may take its own lock again): two relays would publish one partition."""
    with pgbouncer(database_url, pool_size=1) as single:
        first, second = [
            await asyncpg.connect(single.url(database_url), statement_cache_size=0) for _ in range(2)
        ]
        try:
            key = uuid.uuid4().int % 2**31
            assert await first.fetchval("SELECT pg_try_advisory_lock(0, $1::int)", key)
            assert await second.fetchval("SELECT pg_try_advisory_lock(0, $1::int)", key)
        finally:
            await first.close()
            await second.close()


@pytest.mark.parametrize("pgbouncer_drops_the_limits", [False, True], ids=["refused", "ignored"])
async def test_without_the_setting_the_calls_fail(
    settings: Settings,
    database_url: str,
    peers: PeerUrls,
    new_booking: Make,
    caplog: pytest.LogCaptureFixture,
    pgbouncer_drops_the_limits: bool,
) -> None:
    """The finding: PgBouncer refuses the limits given at startup; told to drop them
    (ignore_startup_parameters), the named prepared statements of one client's connection are
    missing on, or collide on, the server session the next transaction gets."""
    ignored = (*LIMITS, *LIMITS_TOO) if pgbouncer_drops_the_limits else ()
    caplog.set_level(logging.ERROR)
    with pgbouncer(database_url, ignore_startup_parameters=ignored) as bouncer:
        configured = behind(settings, bouncer, database_url, pooling=False)
        app = bootstrap(configured, bouncer.url(database_url), peers, clock=FakeClock())
        try:
            outcomes = await lifecycles(app, new_booking)
            if not pgbouncer_drops_the_limits:  # UNAVAILABLE says no more: ask the pool why
                with pytest.raises(Exception, match="unsupported startup parameter: statement_timeout"):
                    await app.connections.acquire()
        finally:
            await app.aclose()
    assert any(isinstance(o, grpc.aio.AioRpcError) for o in outcomes), outcomes
    if pgbouncer_drops_the_limits:
        logged = "\n".join(str(r.exc_info[1]) for r in caplog.records if r.exc_info)
        named = r'prepared statement "__asyncpg_stmt_[0-9a-f]+__" (does not|already) exist'
        assert re.search(named, logged), logged


@pytest.mark.slow
async def test_serve_behind_a_transaction_pooler(server_url: str, tmp_path: Path, new_booking: Make) -> None:
    """`booking-service serve` as configured behind PgBouncer, on a database with no schema yet: it
    migrates on DATABASE_SESSION_URL, serves the calls through the pooler, says ready, reports the
    outbox backlog, publishes the events, and stops cleanly."""
    database_url = await create_empty_database(server_url, "booking_pgbouncer")
    port, http_port = free_port(), free_port()
    try:
        with (
            pgbouncer(database_url) as bouncer,
            serve(
                tmp_path / "data",
                port,
                tmp_path / "serve.log",
                http_port,
                dev=True,  # the broker and the peers embedded; the database is real
                DATABASE_URL=bouncer.url(database_url),
                DATABASE_SESSION_URL=database_url,
                DB_TRANSACTION_POOLING="true",
            ) as service,
        ):
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = booking_pb2_grpc.BookingServiceStub(channel)
                now = datetime.now(UTC).replace(microsecond=0)  # the service's clock is the real one
                calls = [lifecycle(stub, new_booking, n, now) for n in range(LIFECYCLES)]  # type: ignore[arg-type]
                booking_ids = await asyncio.gather(*calls)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client:
                assert (await client.get("/readyz")).status_code == 200
                assert "booking_outbox_unsent_events " in (await client.get("/metrics")).text
            servers = (tmp_path / "data" / "kafka.address").read_text().strip()
            direct = await asyncpg.connect(database_url)
            try:
                expected = await direct.fetchval(
                    "SELECT count(*) FROM booking_outbox WHERE booking_id = ANY($1::uuid[])", booking_ids
                )
            finally:
                await direct.close()
            received = await asyncio.to_thread(consume, servers, "booking.events", count(expected), 30)
            assert {r.event.booking_id for r in received} == set(booking_ids)
            service.process.send_signal(signal.SIGTERM)
            assert service.process.wait(timeout=30) == 0, service.log
        log = service.log
        assert "prepared statement" not in log
        assert "lost its database session" not in log
        assert "booking-service stopped" in log
    finally:
        await drop_database(server_url, database_url)
