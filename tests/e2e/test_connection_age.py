"""GRPC_MAX_CONNECTION_AGE_SECONDS (issue 15): the server ends old connections gracefully (GOAWAY),
so a client behind an L4 balancer reconnects, and may land on another replica; calls go on."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc

from booking_service.bootstrap import Application
from booking_service.entrypoints.grpc.server import GrpcServer

MISSING = "00000000-0000-4000-8000-000000000000"


async def peers_seen(port: int, caplog: pytest.LogCaptureFixture, pause: float) -> list[str]:
    """The client addresses the server logged for two calls on one channel, `pause` seconds apart."""
    caplog.set_level(logging.INFO, logger="booking_service.access")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = booking_pb2_grpc.BookingServiceStub(channel)  # type: ignore[no-untyped-call]
        for request_id in ("age-1", "age-2"):
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetBooking(
                    pb.GetBookingRequest(booking_id=MISSING),
                    metadata=(("x-request-id", request_id),),
                    timeout=5,
                )
            await asyncio.sleep(pause)
    return [
        r.peer  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "request_id", "") in ("age-1", "age-2")
    ]


@pytest.mark.parametrize(("age", "reconnects"), [(0.3, True), (0, False)])
async def test_old_connections_are_ended_and_calls_go_on(
    app: Application, caplog: pytest.LogCaptureFixture, age: float, reconnects: bool
) -> None:
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, max_connection_age_seconds=age)
    await server.start()
    try:
        first, second = await peers_seen(server.port, caplog, pause=1.0)
    finally:
        await server.stop(0)
    assert (first != second) is reconnects  # a new connection: another client port
