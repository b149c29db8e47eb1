"""The pure rules of authentication and limits: the scope table, the token bucket, the HTTP
challenge headers, and the settings that refuse to run an open service on the network."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import grpc
import jwt
import pytest
from booking.v1 import booking_pb2 as pb
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.message_factory import GetMessageClass

from booking_service.config import ConfigError, Settings
from booking_service.entrypoints.auth import scopes
from booking_service.entrypoints.auth.keys import PemKeys
from booking_service.entrypoints.auth.rate_limit import RateLimiter
from booking_service.entrypoints.auth.refusal import CallRefused, missing_scope, unauthenticated
from booking_service.entrypoints.auth.tokens import TokenVerifier
from booking_service.entrypoints.grpc.errors import refusal_status
from booking_service.entrypoints.grpc.services import SERVICE
from booking_service.entrypoints.rest.status_headers import status_headers
from booking_service.entrypoints.serve import is_loopback, refuse_open_on_network
from tests.e2e.security_support import public_pem


def test_every_rpc_of_the_service_has_a_scope() -> None:
    for method in SERVICE.methods:
        name = f"/{SERVICE.full_name}/{method.name}"
        request = GetMessageClass(method.input_type)()
        assert scopes.required_scope(name, request) in {
            "bookings.read",
            "bookings.write",
            "bookings.operate",
            "venues.manage",
            "guests.erase",
        }, name


def test_staff_statuses_need_operate_others_write() -> None:
    method = "/booking.v1.BookingService/UpdateBookingStatus"
    for status, scope in [
        (pb.BOOKING_STATUS_CHECKED_IN, "bookings.operate"),
        (pb.BOOKING_STATUS_COMPLETED, "bookings.operate"),
        (pb.BOOKING_STATUS_NO_SHOW, "bookings.operate"),
        (pb.BOOKING_STATUS_CONFIRMED, "bookings.write"),
        (pb.BOOKING_STATUS_CANCELLED, "bookings.write"),
    ]:
        assert scopes.required_scope(method, pb.UpdateBookingStatusRequest(status=status)) == scope


def test_an_unlisted_method_needs_a_scope_nobody_has() -> None:
    assert scopes.required_scope("/booking.v1.BookingService/DropEverything") == scopes.UNLISTED


def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(per_second=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0, "callers have buckets of their own"
    now[0] += 0.5
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0
    now[0] += 100
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0], "refilled up to the burst, no further"
    assert limiter.take("a") > 0


def test_challenges_and_retry_after() -> None:
    def headers(refusal: CallRefused) -> dict[bytes, bytes]:
        return dict(status_headers(refusal_status(refusal)))

    assert headers(unauthenticated("MISSING_CREDENTIALS", "x")) == {
        b"www-authenticate": b'Bearer realm="booking-service"'
    }
    assert headers(unauthenticated("TOKEN_EXPIRED", 'The "token" expired.'))[b"www-authenticate"] == (
        b'Bearer realm="booking-service", error="invalid_token", error_description="The \'token\' expired."'
    )
    assert headers(missing_scope("bookings.operate"))[b"www-authenticate"] == (
        b'Bearer realm="booking-service", error="insufficient_scope", scope="bookings.operate"'
    )
    limited = CallRefused(grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED", "slow down", retry_after=1.2)
    assert headers(limited) == {b"retry-after": b"2"}


def test_tokens_signed_with_ec_keys_and_scope_lists() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    verifier = TokenVerifier(
        PemKeys([public_pem(key)]), "iss", "aud", timedelta(0), max_lifetime=timedelta(hours=1)
    )
    expires = int(time.time()) + 300
    token = jwt.encode(
        {"iss": "iss", "aud": "aud", "sub": "ops", "exp": expires, "scp": ["bookings.read"]}, key, "ES256"
    )
    caller = verifier.verify(token)
    assert (caller.subject, caller.scopes, caller.authenticated) == (
        "ops",
        frozenset({"bookings.read"}),
        True,
    )
    bad_scope = jwt.encode(
        {"iss": "iss", "aud": "aud", "sub": "ops", "exp": expires, "scope": 7}, key, "ES256"
    )
    with pytest.raises(CallRefused, match="scope"):
        verifier.verify(bad_scope)


def test_an_open_service_stays_on_loopback(tmp_path: Path) -> None:
    assert all(map(is_loopback, ["localhost", "127.0.0.1", "::1"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "booking.internal"]))
    refuse_open_on_network(Settings(bind_host="127.0.0.1"))
    with pytest.raises(ConfigError, match="AUTH_ALLOW_OPEN"):
        refuse_open_on_network(Settings(bind_host="0.0.0.0"))
    refuse_open_on_network(Settings(bind_host="0.0.0.0", auth_allow_open=True))
    key = tmp_path / "key.pem"
    key.write_bytes(public_pem(ec.generate_private_key(ec.SECP256R1())))
    secured = Settings(
        bind_host="0.0.0.0", auth_jwt_public_key_files=(key,), auth_jwt_issuer="i", auth_jwt_audience="a"
    )
    refuse_open_on_network(secured)
    secured.check()


def test_settings_that_cannot_work_are_refused(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ConfigError, match="go together"):
        Settings(grpc_tls_cert_file=cert).check()
    with pytest.raises(ConfigError, match="needs GRPC_TLS_CERT_FILE"):
        Settings(grpc_client_ca_file=cert).check()
    with pytest.raises(ConfigError, match="AUTH_JWT_ISSUER"):
        Settings(auth_jwt_public_key_files=(cert,)).check()
    with pytest.raises(ConfigError, match="does not exist"):
        replace(Settings(), grpc_tls_cert_file=tmp_path / "nope", grpc_tls_key_file=cert).check()
    env = Settings.from_env(
        {
            "AUTH_ALLOW_OPEN": "yes",
            "RATE_LIMIT_PER_SECOND": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
        }
    )
    assert (env.auth_allow_open, env.rate_limit_per_second, env.otel_traces_exporter) == (True, 0.0, "otlp")
    with pytest.raises(ConfigError):
        Settings.from_env({"AUTH_ALLOW_OPEN": "maybe"})
