"""The request id at the edges (request_context.py's rule): an id that is not 1-128 characters of
printable ASCII is replaced by a fresh UUID on both transports, never refused, and a create that
calls the three peers with it succeeds (the id goes into their request headers).

Over gRPC, values that are not printable ASCII (`café`, CR/LF, control characters, DEL) cannot be
sent at all: grpc's core refuses them in the client ("Illegal header value", validate_metadata.cc)
and in the server, and a metadata block over the server's limit (8 KiB) is refused before any
handler runs; what can arrive (too long, a leading space) is tested over gRPC, the rest over REST,
whose calls run through the same interceptor."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc

from tests.e2e.test_rest_api import API, Make, body_of

#: Ids the rule replaces, as raw bytes (what a client may put on the wire).
BAD = {
    "non-ascii": "café".encode(),
    "latin-1": "caf\xe9".encode("latin-1"),
    "60 KiB": b"r" * (60 * 1024),  # a 1 MiB head is refused whole, with 431 (test_rest_connections.py)
    "129 characters": b"r" * 129,
    "bare CR": b"a\rb",
    "control character": b"a\x01b",
    "tab": b"a\tb",
    "DEL": b"a\x7fb",
    "folded line": b"a\r\n b",
}


def is_fresh_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


async def raw_post(
    rest: httpx.AsyncClient, path: str, body: bytes, request_id: bytes
) -> tuple[int, dict[str, bytes], bytes]:
    """One HTTP/1.1 request written byte for byte (clients refuse to send these ids)."""
    url = rest.base_url
    reader, writer = await asyncio.open_connection(url.host, url.port, limit=1 << 22)
    writer.write(
        b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        b"X-Request-Id: %s\r\nConnection: close\r\n\r\n"
        % (path.encode(), url.host.encode(), len(body), request_id)
        + body
    )
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, content = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, content


@pytest.mark.parametrize("request_id", BAD.values(), ids=BAD.keys())
async def test_rest_replaces_a_bad_request_id(
    rest: httpx.AsyncClient, new_booking: Make, request_id: bytes
) -> None:
    status, headers, content = await raw_post(
        rest, API, json.dumps(body_of(new_booking())).encode(), request_id
    )
    assert is_fresh_uuid(headers[b"x-request-id"].decode())  # never the one sent
    if status == 400:  # bytes the HTTP parser refuses (a control character): refused like any request
        assert json.loads(content)["details"][0]["reason"] == "MALFORMED_REQUEST"
        return
    assert status == 200, content
    assert json.loads(content)["status"] == "BOOKING_STATUS_PENDING"


async def test_rest_keeps_a_good_request_id(rest: httpx.AsyncClient, new_booking: Make) -> None:
    good = "req-" + "r" * 124
    answered = await rest.post(API, json=body_of(new_booking()), headers={"X-Request-Id": good})
    assert (answered.status_code, answered.headers["x-request-id"]) == (200, good)


GRPC_BAD = {"129 characters": "r" * 129, "4 KiB": "r" * 4096, "leading space": " r", "trailing space": "r "}


@pytest.mark.parametrize("request_id", GRPC_BAD.values(), ids=GRPC_BAD.keys())
async def test_grpc_replaces_a_bad_request_id(
    stub: booking_pb2_grpc.BookingServiceAsyncStub, new_booking: Make, request_id: str
) -> None:
    call = stub.CreateBooking(new_booking(), metadata=(("x-request-id", request_id),))
    assert (await call).status == pb.BOOKING_STATUS_PENDING
    [answered] = [v for k, v in await call.trailing_metadata() if k == "x-request-id"]
    assert is_fresh_uuid(answered)
