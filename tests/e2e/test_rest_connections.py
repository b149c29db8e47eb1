"""One client cannot take REST down (finding 3): heads that never finish are timed out and capped
per client address, so that /readyz and calls from other clients are still answered; a head over
the size limit is 431. Loopback only, bounded in count and time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from booking_service.bootstrap import Application
from booking_service.entrypoints.http_limits import ConnectionLimits
from booking_service.entrypoints.rest.server import RestServer, build_gateway

HALF_OPEN = 300
MISSING = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture
async def server(app: Application) -> AsyncIterator[RestServer]:
    limits = ConnectionLimits(
        header_timeout_seconds=2, max_header_bytes=16 * 1024, max_connections_per_address=32
    )
    rest_server = RestServer(
        build_gateway(app.use_cases, app.is_ready), "127.0.0.1", 0, max_connections=200, limits=limits
    )
    await rest_server.start()
    yield rest_server
    await rest_server.stop(0)


def _client(server: RestServer, source: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=5, transport=transport)


async def test_half_open_connections_from_one_client_do_not_starve_others(server: RestServer) -> None:
    async with AsyncExitStack() as stack:
        writers = []
        for _ in range(HALF_OPEN):  # more than the server's 200 connections
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port), 5)
            stack.callback(writer.close)
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            writers.append(writer)
        await asyncio.sleep(0.2)
        other = await stack.enter_async_context(_client(server, "127.0.0.2"))
        assert (await other.get("/readyz")).status_code == 200
        assert (await other.get(f"/api/v1/bookings/{MISSING}")).status_code == 404
        # The half-open heads are given up after the header timeout: the same address is served again.
        await asyncio.sleep(2.5)
        same = await stack.enter_async_context(_client(server, "127.0.0.1"))
        assert (await same.get("/readyz")).status_code == 200


async def test_a_head_over_the_limit_is_431(server: RestServer) -> None:
    async with _client(server, "127.0.0.1") as client:
        answer = await client.get("/readyz", headers={"X-Big": "a" * (1 << 20)})
        assert answer.status_code == 431
        assert (await client.get("/readyz", headers={"X-Fits": "a" * 8192})).status_code == 200
