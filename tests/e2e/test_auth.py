"""Bearer tokens and scopes on both transports, against a real server on loopback.

Every bad token is refused with UNAUTHENTICATED (401 and a WWW-Authenticate challenge on REST), a
token without the scope with PERMISSION_DENIED (403) even for a booking that does not exist, and
the token's subject is the actor in the booking's history.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from booking.v1 import venue_policy_pb2 as vp
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from booking_service.bootstrap import Application
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.auth.rate_limit import RateLimiter
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from booking_service.observability.metrics_endpoint import MetricsEndpoint
from tests.e2e.security_support import (
    AUDIENCE,
    ISSUER,
    TokenMaker,
    hmac_token,
    pem_verifier,
    public_pem,
    unsigned_token,
)
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
ALL = "bookings.read bookings.write bookings.operate"


@dataclass
class Secured:
    stub: booking_pb2_grpc.BookingServiceStub
    channel: grpc.aio.Channel
    rest: httpx.AsyncClient
    token: TokenMaker
    public_key: bytes


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def _secured(
    app: Application, key: rsa.RSAPrivateKey, limiter: RateLimiter | None, **open_to_all: bool
) -> AsyncIterator[Secured]:
    verifier = pem_verifier(key)
    guard = CallGuard(verifier=verifier, limiter=limiter, **open_to_all)
    chain = interceptors(guard)
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain)
    gateway = build_gateway(
        app.use_cases,
        app.is_ready,
        chain=chain,
        guard=guard,
        metrics=MetricsEndpoint(app.connections, app.engine),
    )
    rest_server = RestServer(gateway, "127.0.0.1", 0)
    await server.start()
    await rest_server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest_server.port}", timeout=30) as client:
        yield Secured(
            booking_pb2_grpc.BookingServiceStub(channel), channel, client, TokenMaker(key), public_pem(key)
        )  # type: ignore[misc]
    await channel.close()
    await rest_server.stop(0)
    await server.stop(0)


@pytest.fixture
async def secured(app: Application, signing_key: rsa.RSAPrivateKey) -> AsyncIterator[Secured]:
    async for value in _secured(app, signing_key, None):
        yield value


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def grpc_error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value


def bad_tokens(s: Secured) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": now + 300, "scope": ALL}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired": s.token(ALL, exp=now - 60, iat=now - 600, nbf=now - 600),
        "not yet valid": s.token(ALL, nbf=now + 600),
        "wrong issuer": s.token(ALL, iss="https://evil.example/"),
        "wrong audience": s.token(ALL, aud="another-service"),
        "no expiry": s.token(ALL, exp=None),
        "bad signature": TokenMaker(other_key)(ALL),
        "alg none": unsigned_token(**claims),
        "hmac with the public key": hmac_token(s.public_key, **claims),
        "garbage": "not-a-jwt",
    }


async def test_calls_without_a_token_are_unauthenticated(secured: Secured) -> None:
    error = await grpc_error(secured.stub.GetBooking(pb.GetBookingRequest(booking_id=str(uuid.uuid4()))))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert rich_error(error).reason == "MISSING_CREDENTIALS"
    answer = await secured.rest.get(f"/api/v1/bookings/{uuid.uuid4()}")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="booking-service"'
    assert answer.json()["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]


async def test_every_bad_token_is_refused_on_both_transports(secured: Secured) -> None:
    missing = pb.GetBookingRequest(booking_id=str(uuid.uuid4()))
    for case, token in bad_tokens(secured).items():
        error = await grpc_error(secured.stub.GetBooking(missing, metadata=bearer(token)))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, case
        assert token not in (error.details() or ""), "the token is never echoed"
        answer = await secured.rest.get(
            f"/api/v1/bookings/{missing.booking_id}", headers={"authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 401, case
        assert answer.headers["www-authenticate"].startswith(
            'Bearer realm="booking-service", error="invalid_token"'
        )


async def test_a_token_with_another_scheme_is_refused(secured: Secured) -> None:
    answer = await secured.rest.get(
        f"/api/v1/bookings/{uuid.uuid4()}", headers={"authorization": "Basic YTpi"}
    )
    assert answer.status_code == 401


async def test_a_missing_scope_is_denied_before_the_booking_is_looked_up(
    secured: Secured, new_booking: Make
) -> None:
    writer = bearer(secured.token("bookings.write"))
    booking = await secured.stub.CreateBooking(new_booking(), metadata=writer)
    reader_only = bearer(secured.token("bookings.read"))
    for booking_id in (booking.booking_id, str(uuid.uuid4())):  # existing and missing: the same answer
        error = await grpc_error(
            secured.stub.CancelBooking(
                pb.CancelBookingRequest(booking_id=booking_id, expected_version=1), metadata=reader_only
            )
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        info = rich_error(error)
        assert (info.reason, info.metadata["required_scope"]) == ("MISSING_SCOPE", "bookings.write")
        assert "bookings.write" in (error.details() or "")
    no_read = bearer(secured.token("bookings.write"))
    for booking_id in (booking.booking_id, str(uuid.uuid4())):
        error = await grpc_error(
            secured.stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id), metadata=no_read)
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        answer = await secured.rest.get(
            f"/api/v1/bookings/{booking_id}",
            headers={"authorization": f"Bearer {secured.token('bookings.write')}"},
        )
        assert answer.status_code == 403
        assert answer.headers["www-authenticate"] == (
            'Bearer realm="booking-service", error="insufficient_scope", scope="bookings.read"'
        )


async def test_staff_status_changes_need_the_operate_scope(
    secured: Secured, new_booking: Make, app: Application
) -> None:
    writer = bearer(secured.token("bookings.read bookings.write", subject="booking-web"))
    booking = await secured.stub.CreateBooking(new_booking(), metadata=writer)
    confirmed = await secured.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id,
            expected_version=booking.version,
            status=pb.BOOKING_STATUS_CONFIRMED,
        ),
        metadata=writer,
    )
    check_in = pb.UpdateBookingStatusRequest(
        booking_id=booking.booking_id, expected_version=confirmed.version, status=pb.BOOKING_STATUS_CHECKED_IN
    )
    error = await grpc_error(secured.stub.UpdateBookingStatus(check_in, metadata=writer))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rich_error(error).metadata["required_scope"] == "bookings.operate"


async def test_the_token_subject_is_the_actor_in_the_history(secured: Secured, new_booking: Make) -> None:
    created = await secured.stub.CreateBooking(
        new_booking(), metadata=bearer(secured.token("bookings.write", subject="svc-booking-web"))
    )
    answer = await secured.rest.post(
        f"/api/v1/bookings/{created.booking_id}/cancel",
        json={"expected_version": created.version, "reason": "guest called"},
        headers={
            "authorization": f"Bearer {secured.token('bookings.write', subject='agent-42')}",
            "x-actor": "forged",
        },
    )
    assert answer.status_code == 200, answer.text
    booking = await secured.stub.GetBooking(
        pb.GetBookingRequest(booking_id=created.booking_id), metadata=bearer(secured.token(ALL))
    )
    assert [entry.actor for entry in booking.history] == ["svc-booking-web", "agent-42"]


async def test_health_stays_open_and_reflection_needs_the_read_scope(secured: Secured) -> None:
    health = health_pb2_grpc.HealthStub(secured.channel)
    assert (
        await health.Check(health_pb2.HealthCheckRequest())
    ).status == health_pb2.HealthCheckResponse.SERVING
    assert (await secured.rest.get("/healthz")).status_code == 200
    reflection = reflection_pb2_grpc.ServerReflectionStub(secured.channel)
    ask = reflection_pb2.ServerReflectionRequest(list_services="")

    async def list_services(metadata: tuple[tuple[str, str], ...]) -> list[str]:
        call = reflection.ServerReflectionInfo(iter([ask]), metadata=metadata)
        return [s.name async for answer in call for s in answer.list_services_response.service]

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await list_services(())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "booking.v1.BookingService" in await list_services(bearer(secured.token("bookings.read")))


@pytest.fixture
async def limited(app: Application, signing_key: rsa.RSAPrivateKey) -> AsyncIterator[Secured]:
    async for value in _secured(app, signing_key, RateLimiter(per_second=0.5, burst=3)):
        yield value


async def test_a_caller_over_its_rate_is_refused_while_another_is_served(limited: Secured) -> None:
    greedy = bearer(limited.token(subject="greedy"))
    request = pb.GetBookingRequest(booking_id=str(uuid.uuid4()))
    for _ in range(3):  # the burst: served (the booking does not exist)
        assert (
            await grpc_error(limited.stub.GetBooking(request, metadata=greedy))
        ).code() == grpc.StatusCode.NOT_FOUND
    error = await grpc_error(limited.stub.GetBooking(request, metadata=greedy))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert rich_error(error).reason == "RATE_LIMITED"
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    retry = error_details_pb2.RetryInfo()
    assert status is not None
    assert any(d.Unpack(retry) for d in status.details if d.Is(retry.DESCRIPTOR))
    assert 0 < retry.retry_delay.ToNanoseconds() <= 2e9
    answer = await limited.rest.get(
        f"/api/v1/bookings/{request.booking_id}",
        headers={"authorization": f"Bearer {limited.token(subject='greedy')}"},
    )
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["retry-after"]) <= 2
    other = bearer(limited.token(subject="patient"))
    assert (
        await grpc_error(limited.stub.GetBooking(request, metadata=other))
    ).code() == grpc.StatusCode.NOT_FOUND


async def test_metrics_need_the_read_scope_unless_configured_open(
    secured: Secured, app: Application, signing_key: rsa.RSAPrivateKey
) -> None:
    assert (await secured.rest.get("/metrics")).status_code == 401
    writer = {"authorization": f"Bearer {secured.token('bookings.write')}"}
    assert (await secured.rest.get("/metrics", headers=writer)).status_code == 403
    reader = {"authorization": f"Bearer {secured.token('bookings.read')}"}
    scraped = await secured.rest.get("/metrics", headers=reader)
    assert scraped.status_code == 200
    assert "booking_calls_total" in scraped.text
    async for open_metrics in _secured(app, signing_key, None, public_metrics=True, public_reflection=True):
        assert (await open_metrics.rest.get("/metrics")).status_code == 200
        reflection = reflection_pb2_grpc.ServerReflectionStub(open_metrics.channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        answers = [a async for a in reflection.ServerReflectionInfo(iter([ask]))]
        assert answers
        assert (await open_metrics.rest.get(f"/api/v1/bookings/{uuid.uuid4()}")).status_code == 401


async def test_who_calls_is_decided_before_the_bytes_are_read(secured: Secured) -> None:
    """Bytes that do not decode still meet the guard first: no token is UNAUTHENTICATED, whatever
    the body; with a valid token they are INVALID_ARGUMENT MALFORMED_REQUEST."""
    raw = secured.channel.unary_unary(
        "/booking.v1.BookingService/GetBooking", request_serializer=None, response_deserializer=None
    )
    not_utf8 = b"\x0a\x03\xff\xfe\xfd"
    anonymous = rich_error(await grpc_error(raw(not_utf8)))
    assert anonymous.code is grpc.StatusCode.UNAUTHENTICATED
    reader = rich_error(await grpc_error(raw(not_utf8, metadata=bearer(secured.token("bookings.read")))))
    assert (reader.code, reader.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")


async def test_venue_rules_are_read_with_the_read_scope_and_changed_only_with_venues_manage(
    secured: Secured, ids: Callable[[str], str]
) -> None:
    venue = ids("venue")
    get = vp.GetVenuePolicyRequest(venue_id=venue)
    change = vp.UpdateVenuePolicyRequest(policy=vp.VenuePolicy(venue_id=venue, max_party_size=6))
    reader = bearer(secured.token("bookings.read", subject="front-desk"))
    assert (await secured.stub.GetVenuePolicy(get, metadata=reader)).version == 0
    staff = bearer(secured.token(ALL, subject="staff"))  # every booking scope, not venues.manage
    error = await grpc_error(secured.stub.UpdateVenuePolicy(change, metadata=staff))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rich_error(error).metadata["required_scope"] == "venues.manage"
    answer = await secured.rest.put(
        f"/api/v1/venues/{venue}/policy",
        json={"max_party_size": 6},
        headers={"authorization": f"Bearer {secured.token(ALL)}"},
    )
    assert answer.status_code == 403, answer.text
    manager = bearer(secured.token("venues.manage", subject="venue-admin"))
    changed = await secured.stub.UpdateVenuePolicy(change, metadata=manager)
    assert (changed.version, changed.history[0].actor) == (1, "venue-admin")
    error = await grpc_error(secured.stub.GetVenuePolicy(get, metadata=manager))
    assert rich_error(error).metadata["required_scope"] == "bookings.read"
