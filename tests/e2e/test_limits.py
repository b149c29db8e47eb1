"""Limits on a real server: a default deadline for calls that bring none, shedding above the calls
in flight (UNAVAILABLE / 503 with Retry-After, at once), and the maximum request size on both
transports. A row lock held by the test keeps a call in flight for as long as it likes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc

from booking_service.bootstrap import Application
from booking_service.entrypoints.grpc.limits import CallLimits
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]


@dataclass
class Limited:
    stub: booking_pb2_grpc.BookingServiceStub
    rest: httpx.AsyncClient


@pytest.fixture
async def limited(app: Application) -> AsyncIterator[Limited]:
    chain = interceptors(limits=CallLimits(default_deadline_seconds=0.5, max_in_flight=1))
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain, max_message_bytes=64 * 1024)
    rest_server = RestServer(
        build_gateway(app.use_cases, app.is_ready, chain=chain, max_body_bytes=64 * 1024), "127.0.0.1", 0
    )
    await server.start()
    await rest_server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest_server.port}", timeout=10) as client:
        yield Limited(booking_pb2_grpc.BookingServiceStub(channel), client)  # type: ignore[misc]
    await channel.close()
    await rest_server.stop(0)
    await server.stop(0)


@pytest.fixture
async def row_lock(database_url: str) -> AsyncIterator[Callable[[str], asyncio.Future[None]]]:
    """Locks a booking's row until the test ends, so that a change to it waits."""
    blocker = await asyncpg.connect(database_url)
    transaction = blocker.transaction()
    await transaction.start()

    async def lock(booking_id: str) -> None:
        await blocker.execute("SELECT 1 FROM bookings WHERE booking_id = $1 FOR UPDATE", booking_id)

    yield lock  # type: ignore[misc]
    await transaction.rollback()
    await blocker.close()


async def test_a_call_without_a_deadline_gets_the_default(
    limited: Limited, new_booking: Make, row_lock
) -> None:
    created = await limited.stub.CreateBooking(new_booking())
    await row_lock(created.booking_id)
    started = asyncio.get_running_loop().time()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await limited.stub.UpdateBooking(
            pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, party_size=3)
        )
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert asyncio.get_running_loop().time() - started < 3, "the default (0.5 s), not the lock timeout (5 s)"
    answer = await limited.rest.put(
        f"/api/v1/bookings/{created.booking_id}", json={"expected_version": 1, "party_size": 3}
    )
    assert answer.status_code == 504


async def test_calls_above_the_limit_in_flight_are_shed_at_once(
    limited: Limited, new_booking: Make, row_lock
) -> None:
    created = await limited.stub.CreateBooking(new_booking())
    await row_lock(created.booking_id)
    waiting = asyncio.ensure_future(
        limited.stub.UpdateBooking(
            pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, party_size=3)
        )
    )
    await asyncio.sleep(0.2)  # the update holds the one slot, waiting for the row
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await limited.stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert rich_error(raised.value).reason == "OVERLOADED"
    answer = await limited.rest.get(f"/api/v1/bookings/{created.booking_id}")
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "1")
    with pytest.raises(grpc.aio.AioRpcError):
        await waiting  # the default deadline ends it
    fetched = await limited.stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert fetched.booking_id == created.booking_id, "the slot is free again"


async def test_requests_over_the_size_limit_are_refused(limited: Limited, new_booking: Make) -> None:
    huge = new_booking(special_requests="x" * (100 * 1024))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await limited.stub.CreateBooking(huge)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    answer = await limited.rest.post("/api/v1/bookings", content=b"{" + b" " * (100 * 1024) + b"}")
    assert answer.status_code == 413
