"""Bytes the decoder refuses, over gRPC: INVALID_ARGUMENT MALFORMED_REQUEST like any refused call,
with the x-request-id trailer, one access-log line and a booking_calls_total sample (issue 14).

The bytes are sent as they are (an identity serializer), so that no client library cleans them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from booking.v1 import booking_pb2 as pb

from booking_service.bootstrap import Application
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.observability.metrics import REGISTRY
from tests.helpers import rich_error

SERVICE = "/booking.v1.BookingService/"
Make = Callable[..., pb.CreateBookingRequest]


@pytest.fixture
async def channel(app: Application) -> AsyncIterator[grpc.aio.Channel]:
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    yield channel
    await channel.close()
    await server.stop(0)


def calls(method: str, code: str) -> float:
    labels = {"transport": "grpc", "method": method, "code": code}
    return REGISTRY.get_sample_value("booking_calls_total", labels) or 0.0


async def counted(method: str, code: str, wanted: float) -> float:
    """The count once it reaches `wanted`, or what it is after 5 s: the server counts a call when
    its handler's task ends, which may be just after the client has the status."""
    for _ in range(100):
        if calls(method, code) >= wanted:
            break
        await asyncio.sleep(0.05)
    return calls(method, code)


async def refused_as_malformed(
    channel: grpc.aio.Channel, rpc: str, body: bytes, caplog: pytest.LogCaptureFixture, request_id: str
) -> None:
    """Sends `body` to `rpc` and checks every trace a refused call leaves."""
    caplog.set_level(logging.INFO, logger="booking_service.access")
    method = SERVICE + rpc
    before = calls(method, "INVALID_ARGUMENT")
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)(
        body, metadata=(("x-request-id", request_id),), timeout=10
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST"), error
    assert ("x-request-id", request_id) in tuple(await call.trailing_metadata())
    assert await counted(method, "INVALID_ARGUMENT", before + 1) == before + 1
    lines = [r for r in caplog.records if r.message == "rpc" and getattr(r, "request_id", "") == request_id]
    assert [(r.method, r.code, r.reason) for r in lines] == [  # type: ignore[attr-defined]
        (method, "INVALID_ARGUMENT", "MALFORMED_REQUEST")
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no traceback for a refusal"


async def test_a_booking_id_that_is_not_utf8_is_a_malformed_request(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"\x0a\x03\xff\xfe\xfd"  # booking_id (field 1, length 3) = ff fe fd
    await refused_as_malformed(channel, "GetBooking", body, caplog, "req-utf8-id")


async def test_a_guest_name_that_is_not_utf8_is_a_malformed_request(
    channel: grpc.aio.Channel, new_booking: Make, caplog: pytest.LogCaptureFixture
) -> None:
    valid = new_booking().SerializeToString()
    assert valid.count(b"Ada Lovelace") == 1
    body = valid.replace(b"Ada Lovelace", b"Ada \xc3\x28\xff\xfe\xfd ace")  # same length, not UTF-8
    await refused_as_malformed(channel, "CreateBooking", body, caplog, "req-utf8-name")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\x0a\x10abc", id="a-string-cut-short"),
        pytest.param(b"\x80\x80\x80", id="a-tag-cut-short"),
        pytest.param(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", id="a-varint-too-long"),
        pytest.param(b"\x0c", id="an-end-group-never-started"),
    ],
)
async def test_truncated_or_corrupt_bytes_are_a_malformed_request(
    channel: grpc.aio.Channel, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    await refused_as_malformed(channel, "GetBookingByReference", body, caplog, "req-corrupt")


async def test_a_cut_create_request_is_a_malformed_request(
    channel: grpc.aio.Channel, new_booking: Make, caplog: pytest.LogCaptureFixture
) -> None:
    valid = new_booking().SerializeToString()
    cut = valid[: valid.index(b"Ada Lovelace") + 4]  # inside the guest's name
    await refused_as_malformed(channel, "CreateBooking", cut, caplog, "req-cut")


async def test_a_field_of_an_unknown_wire_type_is_a_malformed_request(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"\x0a\x02ok" + b"\x0f\x00\x00\x00"  # field 1, then field 1 with wire type 7 (none such)
    await refused_as_malformed(channel, "CancelBooking", body, caplog, "req-wire-type")


async def test_the_service_still_answers_after_malformed_requests(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    await refused_as_malformed(channel, "GetBooking", b"\x0a\x03\xff\xfe\xfd", caplog, "req-before")
    get = channel.unary_unary(
        SERVICE + "GetBooking",
        request_serializer=pb.GetBookingRequest.SerializeToString,
        response_deserializer=pb.Booking.FromString,
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await get(pb.GetBookingRequest(booking_id="00000000-0000-4000-8000-000000000000"), timeout=10)
    assert rich_error(raised.value).reason == "BOOKING_NOT_FOUND"


async def test_a_refusal_of_many_bad_mask_paths_fits_in_the_trailers(
    channel: grpc.aio.Channel, new_booking: Make
) -> None:
    """Each bad path once listed a violation: 1,000 paths made trailers over the client's 16 KiB
    limit, and the client saw RESOURCE_EXHAUSTED without a reason or request id."""
    update = channel.unary_unary(
        SERVICE + "UpdateBooking",
        request_serializer=pb.UpdateBookingRequest.SerializeToString,
        response_deserializer=pb.Booking.FromString,
    )
    request = pb.UpdateBookingRequest(
        booking_id="00000000-0000-4000-8000-000000000000", expected_version=1, party_size=3
    )
    request.update_mask.paths.extend(f"no_such_field_{i}" for i in range(50_000))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await update(request, timeout=10)
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST"), error
    assert error.violations["update_mask"] == "and 49981 more paths that cannot be updated"


@pytest.mark.parametrize("method", [SERVICE + "Nope", "/no.such.Service/Call", "/" + "x" * 5000])
async def test_a_method_the_server_lacks_is_refused_in_the_chain(
    channel: grpc.aio.Channel, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """It was grpc's bare UNIMPLEMENTED "Method not found!": no reason, no request id, no log line."""
    caplog.set_level(logging.INFO, logger="booking_service.access")
    before = calls("(unknown method)", "UNIMPLEMENTED")
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)(
        b"\x0a\x01x", metadata=(("x-request-id", "req-no-method"),), timeout=10
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.UNIMPLEMENTED, "METHOD_NOT_FOUND"), error
    assert ("x-request-id", "req-no-method") in tuple(await call.trailing_metadata())
    assert await counted("(unknown method)", "UNIMPLEMENTED", before + 1) == before + 1
    lines = [r for r in caplog.records if getattr(r, "request_id", "") == "req-no-method"]
    assert [(r.method, r.code) for r in lines] == [("(unknown method)", "UNIMPLEMENTED")]  # type: ignore[attr-defined]
