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
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from cryptography.hazmat.primitives.asymmetric import rsa

from booking_service.adapters.outbox_relay.relay import OutboxRelay, RelaySettings
from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from tests.conftest import FakeClock
from tests.e2e.security_support import TokenMaker, pem_verifier
from tests.e2e.test_command_line import BIN, free_port, serve
from tests.e2e.watch_support import Watcher, lagging_change, outbox_events, sse_events
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
    database_url: str, clock: FakeClock, peers: PeerUrls, guard: CallGuard | None = None, **settings: object
) -> AsyncIterator[Service]:
    """The service with watch settings of its own: a short keep-alive, few streams (and `guard`'s
    authentication, when given)."""
    overrides: dict[str, object] = {
        "db_pool_size": 20,
        "db_max_overflow": 20,
        "watch_keepalive": timedelta(seconds=KEEPALIVE),
        "watch_max_streams": 8,
        **settings,
    }
    app = bootstrap(replace(Settings(), **overrides), database_url, peers, clock=clock)  # type: ignore[arg-type]
    chain = interceptors(guard)
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain)
    rest_server = RestServer(
        build_gateway(app.use_cases, app.is_ready, chain=chain, guard=guard), "127.0.0.1", 0
    )
    await server.start()
    await rest_server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest_server.port}", timeout=30) as client:
        stub = booking_pb2_grpc.BookingServiceStub(channel)  # type: ignore[misc]
        yield Service(app, stub, client, database_url, f"127.0.0.1:{server.port}")
    await app.use_cases.watches.close()
    await channel.close()
    await rest_server.stop(30)
    await server.stop(30)
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
    assert got.events[0].type == "booking.created"
    assert got.events[0].booking.booking_id == created.booking_id
    assert got.events[-1].type == "booking.cancelled"
    assert got.positions == sorted(got.positions, key=_order)
    assert len(set(got.positions)) == len(got.positions)


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
    assert len(expected) >= 1000
    assert reconnects == 8
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
    first = await watcher.until(2, within=10)
    assert watcher.got.ids[0] == await late, "B was streamed before A, whose transaction began first"
    assert watcher.got.events[1].booking.booking_id == created.booking_id
    await watcher.close()
    again = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue, start_position=first.positions[0]))
    await again.open()
    assert (await again.until(1)).ids == [watcher.got.ids[1]]
    await again.close()


async def test_a_slow_watcher_is_dropped_while_a_fast_one_gets_everything(
    small_buffers: Service, new_booking: Make
) -> None:
    """The slow watcher reads nothing while five writers make 410 changes (its channel does not
    grow its HTTP/2 window, so little waits in flight), with a pause after 305 (its client has then
    taken nothing for over a second). It is dropped with RESOURCE_EXHAUSTED naming the position to
    resume from; the fast one gets every change; the slow one, resumed, the rest."""
    service = small_buffers
    template = new_booking()
    venue = template.venue.venue_id
    request = pb.WatchBookingsRequest(venue_id=venue)
    fast = Watcher(service.stub, request)
    await fast.open()
    slow_channel = grpc.aio.insecure_channel(service.grpc_target, options=[("grpc.http2.bdp_probe", 0)])
    slow = Watcher(booking_pb2_grpc.BookingServiceStub(slow_channel), request)  # type: ignore[misc]
    await slow.open()
    reading = asyncio.create_task(fast.until(10_000, within=120))  # reads as the changes come
    await asyncio.gather(*(_writer(service, new_booking, f"unit-{n}", 60) for n in range(5)))
    await asyncio.sleep(1.5)  # the slow one's transport is full: it has taken nothing for a while
    await asyncio.gather(*(_writer(service, new_booking, f"unit-b{n}", 20) for n in range(5)))
    expected = [event_id for event_id, _ in await outbox_events(service.database_url, venue_id=venue)]
    for _ in range(600):
        if len(fast.got.events) >= len(expected) or reading.done():
            break
        await asyncio.sleep(0.05)
    reading.cancel()
    (outcome,) = await asyncio.gather(reading, return_exceptions=True)
    if isinstance(outcome, grpc.aio.AioRpcError):
        raise outcome
    assert fast.got.ids == expected
    error = rich_error(await slow.ended())
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


async def test_a_venue_watch_and_a_guest_watch_each_get_only_their_own_changes(
    service: Service, new_booking: Make, ids: Callable[[str], str]
) -> None:
    base = new_booking()
    venue, other_venue = base.venue.venue_id, ids("other-venue")
    guest, other_guest = base.guest.guest_id, ids("other-guest")
    by_venue = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue))
    by_guest = Watcher(service.stub, pb.WatchBookingsRequest(guest_id=guest))
    await by_venue.open()
    await by_guest.open()
    mine = await service.stub.CreateBooking(new_booking(unit_id="u1"))  # venue and guest
    request = new_booking(unit_id="u2")
    request.guest.guest_id = other_guest
    venue_only = await service.stub.CreateBooking(request)
    request = new_booking(unit_id="u3")
    request.venue.venue_id = other_venue
    guest_only = await service.stub.CreateBooking(request)
    request = new_booking(unit_id="u4")
    request.venue.venue_id, request.guest.guest_id = other_venue, other_guest
    await service.stub.CreateBooking(request)  # neither
    for watcher, expected in (
        (by_venue, {mine.booking_id, venue_only.booking_id}),
        (by_guest, {mine.booking_id, guest_only.booking_id}),
    ):
        rows = await outbox_events(service.database_url, **_scope_of(watcher.request))
        got = await watcher.until(len(rows))
        assert got.ids == [event_id for event_id, _ in rows]
        assert {e.booking_id for e in got.events} == expected
        await asyncio.sleep(3 * KEEPALIVE)  # nothing else comes: heartbeats only
        events = len(got.events)
        await watcher.read()
        assert len(watcher.got.events) == events
        await watcher.close()


def _scope_of(request: pb.WatchBookingsRequest) -> dict[str, str]:
    return {"venue_id": request.venue_id} if request.venue_id else {"guest_id": request.guest_id}


async def test_an_idle_stream_gets_heartbeats_on_both_transports(service: Service, new_booking: Make) -> None:
    """With WATCH_KEEPALIVE_SECONDS at 0.5: over gRPC a message with no event and a position that
    never goes back, over server-sent events a comment line with the position as its id."""
    venue = new_booking().venue.venue_id
    watcher = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue))
    first = await watcher.open()
    async with asyncio.timeout(10):
        while len(watcher.got.heartbeats) < 3:
            await watcher.read()
    await watcher.close()
    assert not watcher.got.events
    positions = [first.position, *watcher.got.heartbeats]
    assert positions == sorted(positions, key=_order)
    async with service.rest.stream("GET", "/api/v1/bookings/watch", params={"venue_id": venue}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        async with asyncio.timeout(10):
            opening = await anext(events)
            idle = await anext(events)
        assert opening.comments == idle.comments == ["keep-alive"]
        assert opening.data is None
        assert idle.data is None
        assert opening.id
        assert idle.id
        assert _order(idle.id) >= _order(opening.id)


async def test_server_sent_events_resume_from_last_event_id(service: Service, new_booking: Make) -> None:
    request = new_booking()
    venue = request.venue.venue_id
    path, params = "/api/v1/bookings/watch", {"venue_id": venue}
    async with service.rest.stream("GET", path, params=params) as response:
        events = sse_events(response)
        opened = await anext(events)
        assert opened.comments == ["keep-alive"]
        created = await service.stub.CreateBooking(request)
        async with asyncio.timeout(10):
            event = await anext(events)
            while event.data is None:
                event = await anext(events)
    assert event.id
    body = json.loads(event.data)
    assert body["position"] == event.id
    assert body["heartbeat"] is False
    assert body["event"]["type"] == "booking.created"
    assert body["event"]["booking_id"] == body["event"]["booking"]["booking_id"] == created.booking_id
    # While no one watches: two more changes.
    await service.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=1)
    )
    await service.stub.CreateBooking(new_booking(unit_id="second"))
    rows = await outbox_events(service.database_url, venue_id=venue)
    missed = [event_id for event_id, position in rows if _order(position) > _order(event.id)]
    assert len(missed) >= 2  # (a cancellation is two events: booking.status_changed, booking.cancelled)
    # As an EventSource reconnects: its URL's start_position (the first heartbeat's, before the
    # booking) with the Last-Event-ID it saw last, which wins.
    again = {**params, "start_position": opened.id}
    async with service.rest.stream(
        "GET", path, params=again, headers={"Last-Event-ID": event.id}
    ) as response:
        events = sse_events(response)
        opening = await anext(events)
        assert opening.id == event.id  # the stream starts where the client stopped
        got: list[str] = []
        async with asyncio.timeout(10):
            while len(got) < len(missed):
                resumed = await anext(events)
                if resumed.data is not None:
                    got.append(json.loads(resumed.data)["event"]["event_id"])
    assert got == missed


async def test_a_start_position_older_than_the_outbox_keeps_is_refused_naming_the_oldest_kept(
    service: Service, new_booking: Make
) -> None:
    """The relay's purge deletes sent rows past retention and raises the horizon: a watch from
    before it is OUT_OF_RANGE (400) naming the oldest position it can resume from, never a silent gap."""
    request = new_booking()
    venue = request.venue.venue_id
    watcher = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue))
    before = (await watcher.open()).position
    await watcher.close()
    await service.stub.CreateBooking(request)
    conn = await asyncpg.connect(service.database_url)
    try:
        await conn.execute(
            "UPDATE booking_outbox SET sent_at = now() - interval '8 days' WHERE venue_id = $1", venue
        )
        relay = OutboxRelay(service.database_url, None, RelaySettings(retention=timedelta(days=7)))  # type: ignore[arg-type]
        await relay._purge(conn)
        horizon = await conn.fetchrow("SELECT xid, id FROM booking_outbox_horizon")
    finally:
        await conn.close()
    oldest = f"{horizon['xid']}.{horizon['id']}"
    assert _order(oldest) > _order(before)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue, start_position=before)).open()
    error = rich_error(refused.value)
    assert (error.code, error.reason) == (grpc.StatusCode.OUT_OF_RANGE, "WATCH_POSITION_PURGED")
    assert error.metadata == {"start_position": before, "oldest_position": oldest}
    assert oldest in error.message
    answer = await service.rest.get(
        "/api/v1/bookings/watch", params={"venue_id": venue, "start_position": before}
    )
    assert answer.status_code == 400
    assert answer.json()["details"][0]["reason"] == "WATCH_POSITION_PURGED"
    at_horizon = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue, start_position=oldest))
    assert (await at_horizon.open()).position == oldest
    await at_horizon.close()


async def test_requests_a_watch_cannot_serve_are_invalid(service: Service) -> None:
    for request, field in (
        (pb.WatchBookingsRequest(), "venue_id"),
        (pb.WatchBookingsRequest(venue_id="v", guest_id="g"), "guest_id"),
        (pb.WatchBookingsRequest(venue_id="v", start_position="12"), "start_position"),
        (pb.WatchBookingsRequest(venue_id="v", start_position=f"{1 << 62}.0"), "start_position"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await Watcher(service.stub, request).open()
        error = rich_error(refused.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, request
        assert field in error.violations, (request, error)
    answer = await service.rest.get("/api/v1/bookings/watch", params={"venue_id": "v", "start_position": "x"})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"


async def test_past_the_streams_a_process_serves_a_new_watch_is_refused(service: Service) -> None:
    """WATCH_MAX_STREAMS is 8 here: the 9th is RESOURCE_EXHAUSTED (429 over REST) until one ends."""
    watchers = [Watcher(service.stub, pb.WatchBookingsRequest(venue_id=f"v{n}")) for n in range(8)]
    for watcher in watchers:
        await watcher.open()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await Watcher(service.stub, pb.WatchBookingsRequest(venue_id="v9")).open()
    error = rich_error(refused.value)
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_MANY_WATCHERS")
    assert (await service.rest.get("/api/v1/bookings/watch", params={"venue_id": "v9"})).status_code == 429
    await watchers[0].close()
    for _ in range(200):  # the server learns of the cancellation at once; its stream ends soon after
        if service.app.use_cases.watches.streams <= 7:
            break
        await asyncio.sleep(0.05)
    ninth = Watcher(service.stub, pb.WatchBookingsRequest(venue_id="v9"))
    await ninth.open()
    for watcher in (*watchers[1:], ninth):
        await watcher.close()


async def test_open_streams_end_when_the_service_stops_and_the_servers_stop_at_once(
    database_url: str, clock: FakeClock, peers: PeerUrls, new_booking: Make
) -> None:
    """What `serve` does on SIGTERM (serve.py): the streams end with UNAVAILABLE (WATCH_CLOSED)
    naming where to resume, over gRPC and as a last `error` event over REST; the servers' stop
    then has no call left to wait for (its grace is 30 s here)."""
    async with serving(database_url, clock, peers) as service:
        venue = new_booking().venue.venue_id
        watcher = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=venue))
        await watcher.open()
        async with service.rest.stream(
            "GET", "/api/v1/bookings/watch", params={"venue_id": venue}
        ) as response:
            events = sse_events(response)
            await anext(events)
            await service.app.use_cases.watches.close()
            error = rich_error(await watcher.ended())
            assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "WATCH_CLOSED")
            assert error.metadata["resume_position"] == watcher.last
            last = await anext(events)
            while last.event != "error":
                last = await anext(events)
            status = json.loads(last.data or "{}")
            assert status["code"] == grpc.StatusCode.UNAVAILABLE.value[0]
            assert status["details"][0]["reason"] == "WATCH_CLOSED"
        started = time.perf_counter()
        # (serving's exit stops both servers with the grace below)
    assert time.perf_counter() - started < 10


async def test_a_watch_needs_the_read_scope(app: Application, new_booking: Make) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    guard = CallGuard(verifier=pem_verifier(key))
    chain = interceptors(guard)
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain)
    rest_server = RestServer(
        build_gateway(app.use_cases, app.is_ready, chain=chain, guard=guard), "127.0.0.1", 0
    )
    await server.start()
    await rest_server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stub = booking_pb2_grpc.BookingServiceStub(channel)  # type: ignore[misc]
    token = TokenMaker(key)
    request = pb.WatchBookingsRequest(venue_id=new_booking().venue.venue_id)
    try:
        writer = (("authorization", f"Bearer {token('bookings.write')}"),)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await Watcher(stub, request, writer).open()
        error = rich_error(refused.value)
        assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MISSING_SCOPE")
        assert error.metadata["required_scope"] == "bookings.read"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest_server.port}") as rest:
            answer = await rest.get(
                "/api/v1/bookings/watch",
                params={"venue_id": request.venue_id},
                headers={"authorization": f"Bearer {token('bookings.write')}"},
            )
            assert answer.status_code == 403
        reader = Watcher(stub, request, (("authorization", f"Bearer {token('bookings.read')}"),))
        await reader.open()
        await reader.close()
    finally:
        await app.use_cases.watches.close()
        await channel.close()
        await rest_server.stop(1)
        await server.stop(1)


LEEWAY = 1.0


@pytest.fixture
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def secured(
    database_url: str, clock: FakeClock, peers: PeerUrls, signing_key: rsa.RSAPrivateKey
) -> AsyncIterator[Service]:
    """The service with bearer tokens required, and a leeway of LEEWAY s."""
    guard = CallGuard(verifier=pem_verifier(signing_key, leeway=timedelta(seconds=LEEWAY)))
    async with serving(database_url, clock, peers, guard) as running:
        yield running


def _short_lived(key: rsa.RSAPrivateKey) -> tuple[str, float]:
    """A read token that expires in about 2 s, and when it stops admitting calls (exp + leeway)."""
    expires = int(time.time()) + 3
    return TokenMaker(key)("bookings.read", exp=expires), expires + LEEWAY


async def test_a_grpc_watch_ends_unauthenticated_when_its_token_expires(
    secured: Service, signing_key: rsa.RSAPrivateKey, new_booking: Make
) -> None:
    writer = (("authorization", f"Bearer {TokenMaker(signing_key)('bookings.write')}"),)
    token, ends = _short_lived(signing_key)
    reader = (("authorization", f"Bearer {token}"),)
    request = new_booking()
    watcher = Watcher(secured.stub, pb.WatchBookingsRequest(venue_id=request.venue.venue_id), reader)
    await watcher.open()
    await secured.stub.CreateBooking(request, metadata=writer)
    assert len((await watcher.until(1, within=10)).events) == 1  # events flow while the token holds
    error = await watcher.ended()
    ended = time.time()
    refused = rich_error(error)
    assert (refused.code, refused.reason) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_EXPIRED")
    assert ends <= ended < ends + 2  # at the token's expiry, not at the next event
    # What a new call with the same token is told.
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await Watcher(secured.stub, watcher.request, reader).open()
    anew = rich_error(again.value)
    assert (anew.code, anew.reason, anew.message) == (refused.code, refused.reason, refused.message)
    # A fresh token resumes from the last position: no event lost, none repeated.
    created = await secured.stub.CreateBooking(new_booking(unit_id="after"), metadata=writer)
    watcher.metadata = (("authorization", f"Bearer {TokenMaker(signing_key)('bookings.read')}"),)
    await watcher.open()
    got = await watcher.until(2, within=10)
    await watcher.close()
    assert got.events[1].booking_id == created.booking_id


async def test_server_sent_events_end_with_an_error_event_when_the_token_expires(
    secured: Service, signing_key: rsa.RSAPrivateKey, new_booking: Make
) -> None:
    writer = (("authorization", f"Bearer {TokenMaker(signing_key)('bookings.write')}"),)
    token, ends = _short_lived(signing_key)
    request = new_booking()
    path, params = "/api/v1/bookings/watch", {"venue_id": request.venue.venue_id}
    headers = {"authorization": f"Bearer {token}"}
    async with secured.rest.stream("GET", path, params=params, headers=headers) as response:
        assert response.status_code == 200
        events = sse_events(response)
        assert (await anext(events)).comments == ["keep-alive"]
        created = await secured.stub.CreateBooking(request, metadata=writer)
        async with asyncio.timeout(10):
            event = await anext(events)
            while event.data is None:
                event = await anext(events)
        assert json.loads(event.data)["event"]["booking_id"] == created.booking_id
        async with asyncio.timeout(30):
            while event.event != "error":
                event = await anext(events)
            ended = time.time()
            assert [rest async for rest in events] == []  # the response ends after it
    status = json.loads(event.data or "{}")
    assert status["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert status["details"][0]["reason"] == "TOKEN_EXPIRED"
    assert ends <= ended < ends + 2
    again = await secured.rest.get(path, params=params, headers=headers)
    assert again.status_code == 401
    assert again.json()["message"] == status["message"]
    assert again.json()["details"][0]["reason"] == "TOKEN_EXPIRED"


@pytest.mark.slow
def test_serve_ends_open_streams_on_sigterm_instead_of_waiting_out_its_grace(
    tmp_path: Path, database_url: str
) -> None:
    """`booking-service serve` with a gRPC watch and a server-sent events watch open: SIGTERM ends
    both at once (UNAVAILABLE, WATCH_CLOSED), and the stop takes far less than the 12 s of its
    20 s budget that calls in flight may have (waiting out open streams took all of it)."""
    port, http_port = free_port(), free_port()
    env = {"DATABASE_URL": database_url, "SHUTDOWN_GRACE_SECONDS": "20"}
    with serve(tmp_path / "data", port, tmp_path / "serve.log", http_port, dev=True, **env) as service:
        watch = [
            "-d",
            '{"venue_id": "v-sigterm"}',
            f"127.0.0.1:{port}",
            "booking.v1.BookingService/WatchBookings",
        ]
        grpc_watch = subprocess.Popen(
            [str(BIN / "grpcurl"), "-plaintext", *watch],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        sse_watch = subprocess.Popen(
            ["curl", "-sN", f"http://127.0.0.1:{http_port}/api/v1/bookings/watch?venue_id=v-sigterm"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert grpc_watch.stdout is not None
        assert sse_watch.stdout is not None
        assert '"heartbeat": true' in "".join(grpc_watch.stdout.readline() for _ in range(4))
        assert sse_watch.stdout.readline().strip() == ": keep-alive"
        began = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=30) == 0
        took = time.monotonic() - began
        grpc_said, _ = grpc_watch.communicate(timeout=10)
        sse_said, _ = sse_watch.communicate(timeout=10)
    print(f"serve stopped in {took:.1f} s with two watch streams open")
    assert "Unavailable" in grpc_said, grpc_said
    assert "WATCH_CLOSED" in grpc_said, grpc_said
    assert "event: error" in sse_said, sse_said
    assert "WATCH_CLOSED" in sse_said, sse_said
    assert took < 8, f"the stop waited {took:.1f} s for open streams"


async def test_head_of_the_stream_answers_at_once(service: Service) -> None:
    answer = await service.rest.head("/api/v1/bookings/watch", params={"venue_id": "v"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/event-stream"
