"""WatchBookings on a real PostgreSQL, over real gRPC and HTTP on loopback.

The changes come from the service itself (CreateBooking, UpdateBooking from concurrent writers)
and, where a transaction must commit out of id order, from a test transaction that writes an
outbox row the way the unit of work does (adapters/outbox.write) and holds it open. Every stream's
events are checked against the outbox rows of its venue or guest: each exactly once, none missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import asyncpg
import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc

from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from tests.conftest import FakeClock
from tests.e2e.watch_support import Events, Watcher, lagging_change, outbox_events, sse_events
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
KEEPALIVE = 0.5
BUFFER = 20


@dataclass
class Service:
    app: Application
    stub: booking_pb2_grpc.BookingServiceStub
    rest: httpx.AsyncClient
    database_url: str
    grpc_target: str


@contextlib.asynccontextmanager
async def serving(
    database_url: str, clock: FakeClock, peers: PeerUrls, **settings: object
) -> AsyncIterator[Service]:
    """The service with watch settings of its own: a short keep-alive, few streams."""
    overrides: dict[str, object] = {
        "db_pool_size": 20,
        "db_max_overflow": 20,
        "watch_keepalive": timedelta(seconds=KEEPALIVE),
        "watch_max_streams": 8,
        **settings,
    }
    app = bootstrap(replace(Settings(), **overrides), database_url, peers, clock=clock)  # type: ignore[arg-type]
    chain = interceptors()
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain)
    rest_server = RestServer(build_gateway(app.use_cases, app.is_ready, chain=chain), "127.0.0.1", 0)
    await server.start()
    await rest_server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest_server.port}", timeout=30) as client:
        stub = booking_pb2_grpc.BookingServiceStub(channel)  # type: ignore[misc]
        yield Service(app, stub, client, database_url, f"127.0.0.1:{server.port}")
    await app.use_cases.watches.close()
    await channel.close()
    await rest_server.stop(1)
    await server.stop(1)
    await app.aclose()


@pytest.fixture
async def service(database_url: str, clock: FakeClock, peers: PeerUrls) -> AsyncIterator[Service]:
    async with serving(database_url, clock, peers) as running:
        yield running


@pytest.fixture
async def small_buffers(database_url: str, clock: FakeClock, peers: PeerUrls) -> AsyncIterator[Service]:
    async with serving(database_url, clock, peers, watch_buffer_events=BUFFER) as running:
        yield running


async def test_a_watch_streams_a_venues_changes_with_their_positions(
    service: Service, new_booking: Make
) -> None:
    request = new_booking()
    watcher = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=request.venue.venue_id))
    await watcher.open()
    created = await service.stub.CreateBooking(request)
    await service.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=1)
    )
    expected = await outbox_events(service.database_url, venue_id=request.venue.venue_id)
    got = await watcher.until(len(expected))
    await watcher.close()
    assert [e.event_id for e in got.events] == [e for e, _ in expected]
    assert got.events[0].type == "booking.created" and got.events[0].booking.booking_id == created.booking_id
    assert got.events[-1].type == "booking.cancelled"
    assert got.positions == sorted(got.positions, key=_order) and len(set(got.positions)) == len(
        got.positions
    )


def _order(position: str) -> tuple[int, int]:
    xid, _, row = position.partition(".")
    return int(xid), int(row)


async def _writer(service: Service, make: Make, unit: str, updates: int) -> None:
    """One booking of the venue, then `updates` changes to it, one after another."""
    booking = await service.stub.CreateBooking(make(unit_id=unit))
    for version in range(1, updates + 1):
        await service.stub.UpdateBooking(
            pb.UpdateBookingRequest(
                booking_id=booking.booking_id, expected_version=version, special_requests=f"note {version}"
            )
        )


async def test_a_watch_that_disconnects_and_resumes_loses_and_repeats_nothing_across_1000_changes(
    service: Service, new_booking: Make
) -> None:
    """Six writers through the API and two whose transactions commit late (out of id order), 1,000+
    changes of one venue; the watcher disconnects at eight random points (seeded) and resumes from
    the last position it was given (an event's or a heartbeat's)."""
    seed = random.randrange(1 << 32)
    print(f"watch resume seed: {seed}")
    rng = random.Random(seed)
    template = new_booking()
    venue, guest = template.venue.venue_id, template.guest.guest_id
    watcher = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue))
    await watcher.open()
    points = set(rng.sample(range(1, 1000), 8))

    async def lagging(count: int) -> None:
        for _ in range(count):
            await lagging_change(service.database_url, venue, guest, rng.uniform(0, 0.05))

    started = time.perf_counter()
    writers = asyncio.gather(
        *(_writer(service, new_booking, f"unit-{n}", 150) for n in range(6)), lagging(50), lagging(50)
    )
    total: int | None = None
    reconnects = 0
    try:
        async with asyncio.timeout(240):
            while total is None or len(watcher.got.events) < total:
                if total is None and writers.done():
                    await writers
                    total = len(await outbox_events(service.database_url, venue_id=venue))
                message = await watcher.read()
                if not message.heartbeat and len(watcher.got.events) in points:
                    points.discard(len(watcher.got.events))
                    await watcher.close()
                    await asyncio.sleep(rng.uniform(0, 0.2))
                    await watcher.open()
                    reconnects += 1
    finally:
        await watcher.close()
        writers.cancel()
        await asyncio.gather(writers, return_exceptions=True)
    expected = await outbox_events(service.database_url, venue_id=venue)
    print(
        f"{len(expected)} changes, {reconnects} reconnects, {len(watcher.got.heartbeats)} heartbeats, "
        f"{time.perf_counter() - started:.1f} s"
    )
    assert len(expected) >= 1000 and reconnects == 8
    assert watcher.got.ids == [event_id for event_id, _ in expected]  # all, once each, in order
    assert watcher.got.positions == [position for _, position in expected]


async def test_a_change_whose_transaction_commits_late_is_streamed_before_later_ones(
    service: Service, new_booking: Make
) -> None:
    """Row A is written first (smaller id) but commits after row B: B is held back until A
    committed, then A and B come in that order, so that a resume from B's position misses nothing.
    (With positions by id alone, B came first and a resume after it lost A.)"""
    request = new_booking()
    venue = request.venue.venue_id
    watcher = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue))
    await watcher.open()
    late = asyncio.create_task(lagging_change(service.database_url, venue, request.guest.guest_id, 2.0))
    await asyncio.sleep(0.5)  # A's row is in, its transaction open
    created = await service.stub.CreateBooking(request)
    first = await watcher.until(1, timeout=10)
    assert late.done(), "B was streamed while A's transaction was still open"
    await watcher.until(2)
    assert watcher.got.ids[0] == await late
    assert watcher.got.events[1].booking.booking_id == created.booking_id
    await watcher.close()
    again = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue, start_position=first.positions[0]))
    await again.open()
    assert (await again.until(1)).ids == [watcher.got.ids[1]]
    await again.close()


async def test_a_slow_watcher_is_dropped_while_a_fast_one_gets_everything(
    small_buffers: Service, new_booking: Make
) -> None:
    """The slow watcher reads nothing while five writers make 405 changes (its channel does not
    grow its HTTP/2 window, so little waits in flight). It is dropped with RESOURCE_EXHAUSTED naming
    the position to resume from; the fast one gets every change; the slow one, resumed, the rest."""
    service = small_buffers
    template = new_booking()
    venue = template.venue.venue_id
    request = pb.WatchBookingsRequest(venue_id=venue)
    fast = Watcher(service.stub, request)
    await fast.open()
    slow_channel = grpc.aio.insecure_channel(service.grpc_target, options=[("grpc.http2.bdp_probe", 0)])
    slow = Watcher(booking_pb2_grpc.BookingServiceStub(slow_channel), request)  # type: ignore[misc]
    await slow.open()
    await asyncio.gather(*(_writer(service, new_booking, f"unit-{n}", 80) for n in range(5)))
    expected = [event_id for event_id, _ in await outbox_events(service.database_url, venue_id=venue)]
    assert (await fast.until(len(expected))).ids == expected
    with pytest.raises(grpc.aio.AioRpcError) as dropped:
        while True:
            await slow.read()
    error = rich_error(dropped.value)
    print(f"the slow watcher was given {len(slow.got.events)} of {len(expected)} before it was dropped")
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "WATCHER_TOO_SLOW")
    assert error.metadata["resume_position"] == slow.last
    assert f"resume from position {slow.last}" in error.message
    assert len(slow.got.events) < len(expected)
    await slow.open()  # from its last position
    assert (await slow.until(len(expected))).ids == expected
    await slow.close()
    await fast.close()
    await slow_channel.close()
