"""The caller's deadline bounds the peer calls, over gRPC (the call's own deadline) and REST (a
Grpc-Timeout header): a pricing peer that fails every attempt at once, with retries enough for
about 13 s of backoff, ends the call as UNAVAILABLE `PEER_UNAVAILABLE` before the deadline
instead of running past it into DEADLINE_EXCEEDED."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2_grpc

from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from tests.conftest import FakeClock, Sandbox
from tests.e2e.test_rest_api import API, Make, body_of
from tests.helpers import rich_error
from tests.integration.scripted_peer import Scripted, answer, scripted


async def always_503(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await peer.read_request(reader)
        writer.write(answer(503, b'{"error": {"code": "unavailable", "message": "down"}}'))
        await writer.drain()


@pytest.fixture
async def failing_pricing(
    database_url: str, settings: Settings, sandbox: Sandbox
) -> AsyncIterator[tuple[Application, Scripted]]:
    """The service with its pricing peer failing at once, 20 retries a call (about 13 s of pauses on
    average), a breaker that never opens."""
    quick = replace(settings, peer_timeout=timedelta(seconds=5), peer_retries=20, peer_failures_to_open=1000)
    async with scripted(always_503) as pricing:
        app = bootstrap(
            quick, database_url, PeerUrls(sandbox.url, pricing.url, sandbox.url), clock=FakeClock()
        )
        yield app, pricing
        await app.aclose()


async def test_grpc_retries_stop_at_the_calls_deadline(
    failing_pricing: tuple[Application, Scripted], new_booking: Make
) -> None:
    app, pricing = failing_pricing
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = booking_pb2_grpc.BookingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.CreateBooking(new_booking(), timeout=1.0)  # type: ignore[attr-defined]
    await server.stop(0)
    error = rich_error(failed.value)
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "PEER_UNAVAILABLE")
    assert 1 <= len(pricing.requests) < 21  # the retries were cut short


async def test_rest_retries_stop_at_the_grpc_timeout_header(
    failing_pricing: tuple[Application, Scripted], new_booking: Make
) -> None:
    app, pricing = failing_pricing
    server = RestServer(build_gateway(app.use_cases, app.is_ready), "127.0.0.1", 0)
    await server.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as rest:
        answered = await rest.post(API, json=body_of(new_booking()), headers={"Grpc-Timeout": "1S"})
    await server.stop(0)
    assert answered.status_code == 503
    assert answered.json()["details"][0]["reason"] == "PEER_UNAVAILABLE"
    assert 1 <= len(pricing.requests) < 21  # the retries were cut short
