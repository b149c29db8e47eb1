"""Readiness (issue 15): the database is asked on a connection outside the request pool, within a
short timeout; `/readyz` and gRPC health follow it, and a busy pool does not make the pod not ready."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from booking_service.adapters import migrations
from booking_service.bootstrap import Application
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.readiness import Readiness
from tests.conftest import create_empty_database, drop_database
from tests.e2e.tcp_proxy import TcpProxy

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy.before(database_url)
    await proxy.start()
    yield proxy
    await proxy.close()


async def health(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        return int(answer.status)


@pytest.mark.parametrize("fault", ["cut", "hole"])
async def test_health_follows_the_database(
    app: Application, database_url: str, proxy: TcpProxy, fault: str
) -> None:
    """A refused connection (cut) and one that answers nothing (hole: the probe times out in 0.5 s)
    both turn health NOT_SERVING and /readyz false; both are SERVING again once it answers."""
    readiness = Readiness(proxy.url(database_url), interval_seconds=0.1, timeout_seconds=0.5)
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    readiness.on_change(server.set_serving)
    await server.start()
    try:
        assert await readiness.probe() is True
        assert await health(server.port) == SERVING
        if fault == "cut":
            proxy.cut()
        else:
            proxy.hole()
        started = asyncio.get_running_loop().time()
        assert await readiness.probe() is False
        assert asyncio.get_running_loop().time() - started < 2
        assert (await health(server.port), await readiness.is_ready()) == (NOT_SERVING, False)
        proxy.mend()
        assert await readiness.probe() is True
        assert (await health(server.port), await readiness.is_ready()) == (SERVING, True)
    finally:
        await readiness.aclose()
        await server.stop(0)


async def test_a_busy_pool_does_not_make_the_service_not_ready(app: Application, database_url: str) -> None:
    readiness = Readiness(database_url, timeout_seconds=0.5)
    held = []
    try:
        for _ in range(app.connections.max_size):
            held.append(await app.connections.acquire())
        assert await readiness.probe() is True  # the request pool is exhausted; readiness is not
    finally:
        await readiness.aclose()
        for connection in held:
            await app.connections.release(connection)


async def test_a_database_without_the_schema_is_not_ready(server_url: str) -> None:
    """A database that answers but holds no schema (dropped and made again, say) serves no call:
    readiness says so, with the cause in its log line, and is ready once the schema is there."""
    url = await create_empty_database(server_url, "booking_ready")
    readiness = Readiness(url, timeout_seconds=2)
    try:
        assert await readiness.probe() is False
        await migrations.upgrade(url)
        assert await readiness.probe() is True
    finally:
        await readiness.aclose()
        await drop_database(server_url, url)
