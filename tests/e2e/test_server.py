"""The server around the servicer: health, request ids, the access log, database failures, draining."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import asyncpg
import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from booking_service.bootstrap import bootstrap
from booking_service.config import Settings
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.service_layer.use_cases import UseCases
from tests.conftest import FakeClock
from tests.helpers import BrokenReads, rich_error

Make = Callable[..., pb.CreateBookingRequest]


@asynccontextmanager
async def serving(use_cases: UseCases) -> AsyncIterator[tuple[GrpcServer, grpc.aio.Channel]]:
    server = GrpcServer(use_cases, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield server, channel
    finally:
        await channel.close()
        await server.stop(0)


async def test_health_is_serving_for_the_server_and_the_service(app) -> None:
    async with serving(app.use_cases) as (_, channel):
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "booking.v1.BookingService"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_request_id_is_echoed_and_logged(app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="booking_service.access")
    async with serving(app.use_cases) as (_, channel):
        call = booking_pb2_grpc.BookingServiceStub(channel).GetBooking(
            pb.GetBookingRequest(booking_id="00000000-0000-4000-8000-000000000000"),
            metadata=(("x-request-id", "req-42"),),
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await call
        assert ("x-request-id", "req-42") in tuple(await call.trailing_metadata())
        answered = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), metadata=(("x-request-id", "req-43"),)
        )
        await answered
        assert ("x-request-id", "req-43") in tuple(await answered.trailing_metadata())
    [line] = [r for r in caplog.records if r.message == "rpc"]
    assert (line.method, line.code, line.reason, line.request_id) == (  # type: ignore[attr-defined]
        "/booking.v1.BookingService/GetBooking",
        "NOT_FOUND",
        "BOOKING_NOT_FOUND",
        "req-42",
    )
    assert line.duration_ms >= 0  # type: ignore[attr-defined]


async def test_a_lock_held_too_long_is_aborted_not_hung(
    database_url: str, settings: Settings, new_booking: Make, peers
) -> None:
    app = bootstrap(
        replace(settings, db_lock_timeout=timedelta(milliseconds=300)), database_url, peers, clock=FakeClock()
    )
    try:
        async with serving(app.use_cases) as (_, channel):
            stub = booking_pb2_grpc.BookingServiceStub(channel)
            created = await stub.CreateBooking(new_booking())
            blocker = await asyncpg.connect(database_url)
            try:
                async with blocker.transaction():
                    await blocker.execute(
                        "SELECT 1 FROM bookings WHERE booking_id = $1 FOR UPDATE", created.booking_id
                    )
                    with pytest.raises(grpc.aio.AioRpcError) as raised:
                        await stub.UpdateBooking(
                            pb.UpdateBookingRequest(
                                booking_id=created.booking_id, expected_version=1, party_size=3
                            )
                        )
            finally:
                await blocker.close()
        error = rich_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "CONTENTION")
    finally:
        await app.aclose()


async def test_an_unreachable_database_is_unavailable(settings: Settings, peers) -> None:
    app = bootstrap(settings, "postgresql://postgres@127.0.0.1:1/nowhere", peers)
    try:
        assert not await app.is_ready()
        async with serving(app.use_cases) as (_, channel):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await booking_pb2_grpc.BookingServiceStub(channel).GetBooking(
                    pb.GetBookingRequest(booking_id="00000000-0000-4000-8000-000000000000")
                )
        error = rich_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "STORAGE_UNAVAILABLE")
    finally:
        await app.aclose()


async def test_an_unexpected_failure_is_internal_and_reveals_nothing(
    app, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_uow() -> object:
        raise RuntimeError("secret detail from deep inside")

    broken = replace(app.use_cases.ctx, uow=broken_uow, reads=BrokenReads("secret detail from deep inside"))
    use_cases = replace(app.use_cases, ctx=broken)
    async with serving(use_cases) as (_, channel):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await booking_pb2_grpc.BookingServiceStub(channel).GetBooking(
                pb.GetBookingRequest(booking_id="00000000-0000-4000-8000-000000000000"),
                metadata=(("x-request-id", "req-500"),),
            )
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INTERNAL, "INTERNAL")
    assert "secret" not in error.message
    assert "req-500" in error.message
    assert any(r.exc_info and "secret detail" in str(r.exc_info[1]) for r in caplog.records)


async def test_draining_finishes_calls_in_flight_and_reports_not_serving(
    app, database_url: str, new_booking: Make
) -> None:
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stub = booking_pb2_grpc.BookingServiceStub(channel)
    created = await stub.CreateBooking(new_booking())
    blocker = await asyncpg.connect(database_url)
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.execute("SELECT 1 FROM bookings WHERE booking_id = $1 FOR UPDATE", created.booking_id)
    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service="booking.v1.BookingService")
    )
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
    in_flight = asyncio.ensure_future(
        stub.UpdateBooking(
            pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, party_size=3)
        )
    )
    await asyncio.sleep(0.2)  # the update now waits for the row lock
    stopping = asyncio.ensure_future(server.stop(5))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
    watch.cancel()
    await asyncio.sleep(0.2)
    second = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    with pytest.raises(grpc.aio.AioRpcError):
        await health_pb2_grpc.HealthStub(second).Check(health_pb2.HealthCheckRequest(), timeout=1)
    await second.close()
    await transaction.rollback()
    await blocker.close()
    updated = await in_flight
    assert (updated.version, updated.party_size) == (2, 3)
    await stopping
    await channel.close()
