"""Failed authentication is rate limited per client address on both transports (finding 6), and
REST knows who calls before it reads a body: an anonymous client cannot make the service parse one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from booking_service.bootstrap import Application
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.auth.rate_limit import RateLimiter
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from tests.e2e.security_support import TokenMaker, pem_verifier
from tests.helpers import rich_error

BURST = 5
MISSING = "00000000-0000-4000-8000-00000000dead"


@dataclass
class Guarded:
    stub: booking_pb2_grpc.BookingServiceStub
    rest: httpx.AsyncClient
    port: int
    token: TokenMaker
    forged: TokenMaker  # signed with a key the service does not trust


@pytest.fixture
async def guarded(app: Application) -> AsyncIterator[Guarded]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = pem_verifier(key)
    guard = CallGuard(verifier=verifier, failures=RateLimiter(0.01, BURST))
    chain = interceptors(guard)
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain)
    rest_server = RestServer(
        build_gateway(app.use_cases, app.is_ready, chain=chain, guard=guard), "127.0.0.1", 0
    )
    await server.start()
    await rest_server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest_server.port}", timeout=10) as client:
        yield Guarded(
            booking_pb2_grpc.BookingServiceStub(channel),
            client,
            rest_server.port,
            TokenMaker(key),
            TokenMaker(other),
        )  # type: ignore[misc]
    await channel.close()
    await rest_server.stop(0)
    await server.stop(0)


async def test_failed_authentication_over_grpc_is_rate_limited(guarded: Guarded) -> None:
    codes = []
    for _ in range(BURST + 3):
        metadata = (("authorization", f"Bearer {guarded.forged('bookings.read')}"),)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await guarded.stub.GetBooking(pb.GetBookingRequest(booking_id=MISSING), metadata=metadata)
        codes.append(raised.value.code())
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * BURST + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 3
    assert rich_error(raised.value).reason == "AUTH_FAILURES"
    status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
    assert status is not None
    assert any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)


async def test_failed_authentication_over_rest_is_rate_limited(guarded: Guarded) -> None:
    statuses = []
    for _ in range(BURST + 3):
        headers = {"authorization": f"Bearer {guarded.forged('bookings.read')}"}
        answer = await guarded.rest.get(f"/api/v1/bookings/{MISSING}", headers=headers)
        statuses.append(answer.status_code)
    assert statuses == [401] * BURST + [429] * 3
    assert answer.json()["details"][0]["reason"] == "AUTH_FAILURES"
    assert int(answer.headers["retry-after"]) >= 1


async def test_a_good_token_is_served(guarded: Guarded) -> None:
    headers = {"authorization": f"Bearer {guarded.token('bookings.read')}"}
    answer = await guarded.rest.get(f"/api/v1/bookings/{MISSING}", headers=headers)
    assert answer.status_code == 404


async def _status_line(port: int, head: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


async def test_rest_authenticates_before_it_reads_a_body(guarded: Guarded) -> None:
    # A large body declared and never sent: the anonymous caller is refused without it being read.
    head = b"POST /api/v1/bookings HTTP/1.1\r\nHost: t\r\nContent-Length: 500000\r\n\r\n"
    assert (await _status_line(guarded.port, head)).startswith(b"HTTP/1.1 401 ")
    # A body the gateway cannot parse is not parsed for a caller it does not know: 401, not 400.
    nested = b'{"guest":' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert (await guarded.rest.post("/api/v1/bookings", content=nested)).status_code == 401
