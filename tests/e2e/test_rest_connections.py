"""One client cannot take REST down (finding 3): heads and bodies that never finish are timed out and
capped per client address, so that /readyz and calls from other clients are still answered; a head
over the size limit is 431; a body cut short is never run; what the HTTP parser refuses is answered
like any refusal. Loopback only, bounded in count and time."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from booking.v1 import booking_pb2 as pb

from booking_service.bootstrap import Application
from booking_service.entrypoints.http_limits import ConnectionLimits
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from tests.e2e.test_rest_api import body_of

Make = Callable[..., pb.CreateBookingRequest]
HALF_OPEN = 300
MISSING = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture
async def server(app: Application) -> AsyncIterator[RestServer]:
    limits = ConnectionLimits(
        header_timeout_seconds=2,
        body_timeout_seconds=1,
        max_header_bytes=16 * 1024,
        max_connections_per_address=32,
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


async def _raw(
    server: RestServer, source: str, request: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection from `source` that sent `request` (keep the writer: dropping it closes it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=(source, 0))
    writer.write(request)
    return reader, writer


def _answer(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


async def test_bodies_that_trickle_are_cut_and_others_are_served(server: RestServer) -> None:
    """Sixty requests from three addresses (under the per-address cap) that send their head and then
    a byte of their body now and then: each is answered 408 once the body timeout passes, while
    another client is served meanwhile."""
    head = b"POST /api/v1/bookings HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n{"
    connections = [await _raw(server, f"127.0.0.{3 + i % 3}", head) for i in range(60)]
    async with _client(server, "127.0.0.2") as other:
        assert (await other.get("/readyz")).status_code == 200
    for reader, writer in connections:
        status, headers, body = _answer(await asyncio.wait_for(reader.read(), timeout=5))
        writer.close()
        assert status == 408
        assert body["details"][0]["reason"] == "REQUEST_TIMEOUT"  # type: ignore[index]
        assert headers["x-request-id"]


async def test_a_body_cut_short_is_never_run(server: RestServer, new_booking: Make) -> None:
    """The client leaves after 25 bytes of a 100-byte body: the cancel is not run on what came."""
    async with _client(server, "127.0.0.2") as client:
        created = (await client.post("/api/v1/bookings", json=body_of(new_booking()))).json()
        path = f"/api/v1/bookings/{created['booking_id']}/cancel"
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        whole_so_far = b'{"expected_version": "1"}'  # a valid cancel, had it been all
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n".encode() + whole_so_far
        )
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.5)
        stored = (await client.get(f"/api/v1/bookings/{created['booking_id']}")).json()
        assert stored["status"] == "BOOKING_STATUS_PENDING"


@pytest.mark.parametrize(
    "header",
    [
        b"Content-Length: 1e3",
        b"Content-Length: -1",
        b"X-Actor: a\x01b",
        b"Content-Length: 2\r\nContent-Length: 3",
    ],
)
async def test_what_the_http_parser_refuses_is_answered_like_any_refusal(
    server: RestServer, header: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="booking_service.http")
    reader, writer = await _raw(
        server, "127.0.0.2", b"POST /api/v1/bookings HTTP/1.1\r\nHost: t\r\n" + header + b"\r\n\r\n{}"
    )
    status, headers, body = _answer(await asyncio.wait_for(reader.read(), timeout=5))
    writer.close()
    assert status == 400
    assert body["code"] == 3
    assert body["details"][0]["reason"] == "MALFORMED_REQUEST"  # type: ignore[index]
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == headers["x-request-id"]]
    assert [(r.status, r.reason) for r in lines] == [(400, "MALFORMED_REQUEST")]  # type: ignore[attr-defined]


async def test_an_answer_before_the_body_was_read_closes_the_connection(server: RestServer) -> None:
    """A 404 for a POST whose body was never read (here, after Expect: 100-continue): the body left
    unread is no next request, so the connection ends with the answer."""
    reader, writer = await _raw(
        server,
        "127.0.0.2",
        b"POST /nope HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 60\r\n\r\n",
    )
    status, headers, _ = _answer(await asyncio.wait_for(reader.read(), timeout=5))  # read() ends: closed
    writer.close()
    assert (status, headers["connection"]) == (404, "close")
    async with _client(server, "127.0.0.2") as client:  # a body read whole keeps the connection
        answer = await client.post("/api/v1/bookings", content=b"{}")
        assert answer.status_code == 400
        assert "connection" not in answer.headers


async def test_a_pipelined_request_the_parser_refuses_waits_for_the_answers_before_it(
    server: RestServer,
) -> None:
    """Two requests in one write, the second malformed: the first is answered, then the second is
    refused (the refusal used to go out at once and the first's answer was lost)."""
    reader, writer = await _raw(
        server,
        "127.0.0.2",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
    )
    raw = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    first, _, rest = raw.partition(b'{"status":"live"}')
    assert first.startswith(b"HTTP/1.1 200"), raw
    assert rest.startswith(b"HTTP/1.1 400"), raw
    assert b"MALFORMED_REQUEST" in rest, raw
