"""WatchBookings on a real PostgreSQL, over real gRPC and HTTP on loopback.

The changes come from the service itself (CreateBooking, UpdateBooking from concurrent writers)
and, where a transaction must commit out of id order, from a test transaction that writes an
outbox row the way the unit of work does (adapters/outbox.write) and holds it open. Every stream's
events are checked against the outbox rows of its venue or guest: each exactly once, none missing.
"""

from __future__ import annotations

import asyncio
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


@pytest.fixture
async def service(database_url: str, clock: FakeClock, peers: PeerUrls) -> AsyncIterator[Service]:
    settings = replace(
        Settings(),
        db_pool_size=20,
        db_max_overflow=20,
        watch_keepalive=timedelta(seconds=KEEPALIVE),
        watch_buffer_events=BUFFER,
        watch_max_streams=8,
    )
    app = bootstrap(settings, database_url, peers, clock=clock)
    chain = interceptors()
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain)
    rest_server = RestServer(build_gateway(app.use_cases, app.is_ready, chain=chain), "127.0.0.1", 0)
    await server.start()
    await rest_server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest_server.port}", timeout=30) as client:
        yield Service(app, booking_pb2_grpc.BookingServiceStub(channel), client, database_url)  # type: ignore[misc]
    await app.use_cases.watches.close()
    await channel.close()
    await rest_server.stop(1)
    await server.stop(1)
    await app.aclose()


async def test_a_watch_streams_a_venues_changes_with_their_positions(service: Service, new_booking: Make) -> None:
    request = new_booking()
    watcher = Watcher(service.stub, pb.WatchBookingsRequest(venue_id=request.venue.venue_id))
    await watcher.open()
    created = await service.stub.CreateBooking(request)
    await service.stub.CancelBooking(pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=1))
    expected = await outbox_events(service.database_url, venue_id=request.venue.venue_id)
    got = await watcher.until(len(expected))
    await watcher.close()
    assert [e.event_id for e in got.events] == [e for e, _ in expected]
    assert got.events[0].type == "booking.created" and got.events[0].booking.booking_id == created.booking_id
    assert got.events[-1].type == "booking.cancelled"
    assert got.positions == sorted(got.positions, key=_order) and len(set(got.positions)) == len(got.positions)


def _order(position: str) -> tuple[int, int]:
    xid, _, row = position.partition(".")
    return int(xid), int(row)
