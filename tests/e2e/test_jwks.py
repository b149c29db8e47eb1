"""Signing keys from the identity provider's JWKS, served over loopback by a real HTTP server, checked
through a real gRPC server with the guard: a rotation needs no restart (an unknown kid refreshes the
set early, at most once per interval), a retired key is refused after a refresh, a key is used only
with its own algorithm, and until a first fetch succeeds every token is refused, clearly."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from booking_service.bootstrap import Application
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.auth.jwks import MAX_JWKS_BYTES, JwksKeys
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.http_server import AsgiServer
from tests.e2e.security_support import AUDIENCE, ISSUER, TokenMaker, hmac_token, unsigned_token, verifier
from tests.helpers import rich_error

ACCEPTED = "accepted"  # the call got past the guard: the booking it asks for does not exist
UNKNOWN_KID = "UNAUTHENTICATED INVALID_TOKEN: The bearer token's signing key (kid) is not one"


def jwk(key: rsa.RSAPrivateKey, kid: str, **fields: str) -> dict[str, Any]:
    """The public half of `key` as a JWK (RFC 7517), with its kid and any other fields."""
    return RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": kid, "use": "sig"} | fields


@dataclass
class IdentityProvider:
    """The JWKS endpoint: serves `keys` (or `body`, if set) with `status`, and counts the fetches."""

    keys: list[dict[str, Any]]
    status: int = 200
    body: bytes | None = None
    fetches: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.fetches += 1
        body = self.body if self.body is not None else json.dumps({"keys": self.keys}).encode()
        headers = [(b"content-type", b"application/jwk-set+json")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@dataclass
class Service:
    """The booking service's gRPC port, guarded by tokens verified with `jwks`'s keys."""

    stub: booking_pb2_grpc.BookingServiceStub
    jwks: JwksKeys
    provider: IdentityProvider
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def call(self, token: str) -> str:
        """ACCEPTED, or the refusal's code, reason and message."""
        request = pb.GetBookingRequest(booking_id=str(uuid.uuid4()))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await self.stub.GetBooking(request, metadata=(("authorization", f"Bearer {token}"),))
        error = raised.value
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return ACCEPTED
        return f"{error.code().name} {rich_error(error).reason}: {error.details()}"


KEY_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
Start = Callable[..., Awaitable[Service]]


@pytest.fixture
async def start(app: Application) -> AsyncIterator[Start]:
    """Starts the provider with `keys` and the service (its first fetch, then the refresh task)."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def started(keys: list[dict[str, Any]], refresh_seconds: float = 300, status: int = 200) -> Service:
        provider = IdentityProvider(keys, status)
        idp = AsgiServer(provider, "127.0.0.1", 0)
        await idp.start()
        jwks = JwksKeys(
            f"http://127.0.0.1:{idp.port}/.well-known/jwks.json",
            refresh_interval=timedelta(seconds=refresh_seconds),
        )
        await jwks.refresh()
        refreshing = asyncio.create_task(jwks.run())
        server = GrpcServer(
            app.use_cases, "127.0.0.1", 0, chain=interceptors(CallGuard(verifier=verifier(jwks)))
        )
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")

        async def stop() -> None:
            await channel.close()
            await server.stop(0)
            refreshing.cancel()
            await asyncio.gather(refreshing, return_exceptions=True)
            await jwks.aclose()
            await idp.stop(0)

        stops.append(stop)
        return Service(booking_pb2_grpc.BookingServiceStub(channel), jwks, provider)

    yield started
    for stop in stops:
        await stop()


async def eventually(service: Service, token: str, expected: str, seconds: float = 5.0) -> int:
    """Calls with `token` until the answer starts with `expected`, within `seconds`; the calls made."""
    calls = 0
    async with asyncio.timeout(seconds):
        while True:
            calls += 1
            if (await service.call(token)).startswith(expected):
                return calls
            await asyncio.sleep(0.05)


async def test_a_new_key_is_used_without_a_restart(start: Start) -> None:
    """The refresh interval is 300 s: only the early refresh an unknown kid asks for can bring key b."""
    service = await start([jwk(KEY_A, "a")])
    signed_by_a, signed_by_b = TokenMaker(KEY_A, kid="a"), TokenMaker(KEY_B, kid="b")
    assert await service.call(signed_by_a()) == ACCEPTED
    service.provider.keys = [jwk(KEY_A, "a"), jwk(KEY_B, "b")]  # the provider publishes b, then signs with it
    assert await service.call(signed_by_b()) != ACCEPTED  # not known yet: refused, and a refresh is asked for
    await eventually(service, signed_by_b(), ACCEPTED, seconds=5)
    assert await service.call(signed_by_a()) == ACCEPTED
    assert service.provider.fetches == 2, "the first fetch and one early refresh"


async def test_a_retired_key_is_refused_after_a_refresh(start: Start) -> None:
    service = await start([jwk(KEY_A, "a"), jwk(KEY_B, "b")], refresh_seconds=0.5)
    signed_by_a, signed_by_b = TokenMaker(KEY_A, kid="a"), TokenMaker(KEY_B, kid="b")
    assert await service.call(signed_by_a()) == ACCEPTED
    service.provider.keys = [jwk(KEY_B, "b")]
    await eventually(service, signed_by_a(), UNKNOWN_KID, seconds=5)
    assert await service.call(signed_by_b()) == ACCEPTED


async def test_unknown_kids_are_refused_and_refresh_at_most_once_per_interval(start: Start) -> None:
    service = await start([jwk(KEY_A, "a")])
    for n in range(10):
        answer = await service.call(TokenMaker(KEY_A, kid=f"made-up-{n}")())
        assert answer.startswith(UNKNOWN_KID), answer
    await asyncio.sleep(0.3)
    assert service.provider.fetches == 2, "the first fetch and one early refresh, not ten"
    no_kid = await service.call(TokenMaker(KEY_A)())
    assert no_kid == "UNAUTHENTICATED INVALID_TOKEN: The bearer token does not name its signing key (kid)."


async def test_a_key_is_used_only_with_its_own_algorithm(start: Start) -> None:
    public_jwk = jwk(KEY_A, "a", alg="RS384")
    service = await start([public_jwk, jwk(KEY_B, "enc", use="enc")])
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 300}
    refused = "UNAUTHENTICATED INVALID_TOKEN: The bearer token's algorithm is not accepted."
    assert await service.call(TokenMaker(KEY_A, kid="a", algorithm="RS384")()) == ACCEPTED
    assert await service.call(TokenMaker(KEY_A, kid="a", algorithm="RS256")()) == refused
    assert await service.call(TokenMaker(KEY_A, kid="a", algorithm="PS384")()) == refused
    for secret in (json.dumps(public_jwk).encode(), public_jwk["n"].encode()):  # algorithm confusion
        assert await service.call(hmac_token(secret, kid="a", **claims)) == refused
    assert await service.call(unsigned_token(kid="a", **claims)) == refused
    encryption_key = await service.call(TokenMaker(KEY_B, kid="enc")())
    assert encryption_key.startswith(UNKNOWN_KID)


async def test_the_service_starts_without_keys_and_keeps_the_last_good_ones(start: Start) -> None:
    service = await start([jwk(KEY_A, "a")], status=503)  # the provider is down at start
    token = TokenMaker(KEY_A, kid="a")()
    assert await service.call(token) == (
        "UNAUTHENTICATED SIGNING_KEYS_UNKNOWN: The service does not know the token signing keys yet "
        "(the identity provider's JWKS could not be fetched); try again shortly."
    )
    service.provider.status = 200
    await eventually(service, token, ACCEPTED, seconds=5)  # retried in the background: 1 s, 2 s, ...
    for failure in (
        {"status": 500},
        {"body": b"<html>maintenance</html>"},
        {"body": b'{"keys": []}'},
        {"body": json.dumps({"keys": [jwk(KEY_B, "b")], "padding": "x" * MAX_JWKS_BYTES}).encode()},
    ):
        service.provider.status, service.provider.body = failure.get("status", 200), failure.get("body")
        assert not await service.jwks.refresh(), failure
        assert await service.call(token) == ACCEPTED, "the last good keys are kept"
        assert await service.call(TokenMaker(KEY_B, kid="b")()) != ACCEPTED
