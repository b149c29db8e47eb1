"""The peer calls' HTTP engine (httpx over aiohttp, adapters/peers/engine.py) through PeerHttp, against
real servers on loopback: the sandbox peers for the ordinary exchange, and a scripted TCP peer for
what a peer may do on the wire (informational answers, bytes after the body, Transfer-Encoding with
Content-Length, huge bodies, closes, stalls, garbage, TLS). Each exchange must stay in step: a call
gets its own answer, never a piece of another's."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterator

import pytest

from booking_service.adapters.peers.breaker import CircuitBreaker
from booking_service.adapters.peers.engine import peer_transport
from booking_service.adapters.peers.http import PeerAnswer, PeerHttp
from booking_service.domain.errors import PeerRejected, PeerUnavailable
from booking_service.request_context import request_id_var
from tests.conftest import Sandbox
from tests.e2e.security_support import Pki
from tests.integration.scripted_peer import Scripted, answer, scripted


def peer_at(url: str, **options: object) -> PeerHttp:
    settings: dict[str, object] = {"timeout": 2.0, "retries": 0, **options}
    return PeerHttp("inventory", url, **settings)  # type: ignore[arg-type]


@pytest.fixture
def request_id() -> Iterator[str]:
    token = request_id_var.set("req-peer-1")
    yield "req-peer-1"
    request_id_var.reset(token)


async def test_the_sandbox_answers_and_a_4xx_is_an_answer(sandbox: Sandbox) -> None:
    peer = peer_at(sandbox.url)
    try:
        for _ in range(3):
            assert "remaining_capacity" in await peer.call(
                "POST",
                "/api/v1/inventory/check-availability",
                {
                    "venue_id": "v-transport",
                    "start_time": "2030-01-03T18:00:00+00:00",
                    "end_time": "2030-01-03T20:00:00+00:00",
                    "party_size": 2,
                },
            )
        with pytest.raises(PeerAnswer) as refused:
            await peer.call("POST", "/api/v1/inventory/reserve", {"currency": "EUR"})
        assert refused.value.status == 400
        assert peer.breaker.state == "closed"
    finally:
        await peer.aclose()


async def test_requests_reach_the_peer_whole_over_one_kept_alive_connection(request_id: str) -> None:
    async def echo(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await peer.read_request(reader)
            writer.write(answer(201, b'{"ok":true}', extra=b"X-Answer: yes\r\n"))
            await writer.drain()

    async with scripted(echo) as server:
        peer = peer_at(server.url)
        for _ in range(3):
            assert await peer.call("POST", "/api/v1/things?x=1", {"a": 1}, key="k-1") == {"ok": True}
        await peer.aclose()
    assert server.connections == 1
    head, body = server.requests[0]
    assert head.startswith(b"POST /api/v1/things?x=1 HTTP/1.1\r\n")
    lines = head.lower().split(b"\r\n")
    assert b"idempotency-key: k-1" in lines
    assert b"x-request-id: req-peer-1" in lines
    assert b"content-length: 7" in lines
    assert body == b'{"a":1}'


async def test_chunked_and_close_delimited_answers_are_read_whole() -> None:
    async def chunked(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await peer.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b'4;ext=1\r\n{"a"\r\n4\r\n: 1}\r\n0\r\nX-Trailer: t\r\n\r\n')
        await writer.drain()
        await peer.read_request(reader)  # the connection was kept: a second request arrives on it
        writer.write(b'HTTP/1.0 200 OK\r\n\r\n{"b": 2}')
        await writer.drain()

    async with scripted(chunked) as server:
        peer = peer_at(server.url)
        assert await peer.call("GET", "/") == {"a": 1}
        assert await peer.call("GET", "/") == {"b": 2}
        await peer.aclose()
    assert server.connections == 1


async def test_an_early_hints_answer_is_not_the_answer() -> None:
    """103 Early Hints comes before the real answer; the next call on the connection gets its own."""

    async def hints(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for n in (1, 2):
            await peer.read_request(reader)
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            writer.write(answer(200, b'{"n": %d}' % n))
            await writer.drain()

    async with scripted(hints) as server:
        peer = peer_at(server.url)
        assert await peer.call("GET", "/first") == {"n": 1}
        assert await peer.call("GET", "/second") == {"n": 2}
        await peer.aclose()


async def test_bytes_after_a_body_never_become_the_next_answer() -> None:
    smuggled = answer(200, b'{"smuggled": true}')

    async def extra(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = len(peer.requests) == 0
        while True:
            await peer.read_request(reader)
            writer.write(answer(200, b'{"n": %d}' % len(peer.requests)) + (smuggled if first else b""))
            await writer.drain()
            first = False

    async with scripted(extra) as server:
        peer = peer_at(server.url)
        assert await peer.call("GET", "/first") == {"n": 1}
        assert await peer.call("GET", "/second") == {"n": 2}
        await peer.aclose()


async def test_an_answer_with_transfer_encoding_and_content_length_does_not_desynchronise() -> None:
    """Both headers: the answer is refused or read as chunked, and its connection is never reused."""
    smuggled = answer(200, b'{"smuggled": true}')
    body = b'8\r\n{"n": 1}\r\n0\r\n\r\n' + smuggled

    async def both(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = len(peer.requests) == 0
        while True:
            await peer.read_request(reader)
            if first:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(body)
                    + body
                )
            else:
                writer.write(answer(200, b'{"n": %d}' % len(peer.requests)))
            await writer.drain()
            first = False

    async with scripted(both) as server:
        peer = peer_at(server.url)
        with contextlib.suppress(PeerUnavailable):  # refused as malformed: as good
            assert await peer.call("GET", "/first") == {"n": 1}
        assert await peer.call("GET", "/second") == {"n": 2}
        await peer.aclose()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_huge_answer_is_refused_without_reading_it(framing: str) -> None:
    """300 MiB announced (or streamed chunked, never ending): a permanent error once past the cap."""
    sent = 0

    async def huge(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await peer.read_request(reader)
        if framing == "content-length":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (300 << 20))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        while sent < 300 << 20:
            writer.write(chunk if framing == "content-length" else b"10000\r\n" + chunk + b"\r\n")
            await writer.drain()
            sent += len(chunk)

    async with scripted(huge) as server:
        peer = peer_at(server.url, timeout=60.0, max_response_bytes=1 << 20)
        with pytest.raises(PeerRejected) as refused:
            await peer.call("GET", "/huge")
        await peer.aclose()
    assert refused.value.metadata == {"peer": "inventory", "code": "answer_too_large"}
    assert peer.breaker.state == "closed"  # one failure of five
    assert sent < 300 << 20  # the client stopped reading; the server could not send it all


async def test_a_header_value_with_cr_or_lf_is_never_sent() -> None:
    async def ok(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await peer.read_request(reader)
            writer.write(answer(200))
            await writer.drain()

    async with scripted(ok) as server:
        peer = peer_at(server.url, breaker=CircuitBreaker(failures_to_open=1))
        for key in ("k\r\nX-Injected: yes", "k\nX-Injected: yes", "k\rX-Injected: yes"):
            with pytest.raises(ValueError, match=r"[Nn]ewline|carriage|CR|LF|header"):
                await peer.call("POST", "/api/v1/inventory/reserve", {}, key=key)
        assert await peer.call("POST", "/api/v1/inventory/reserve", {}, key="k") == {}  # breaker closed
        await peer.aclose()
    assert all(b"x-injected" not in head.lower() for head, _ in server.requests)


async def test_a_connection_the_peer_closed_while_idle_is_not_reused() -> None:
    async def once(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await peer.read_request(reader)
        writer.write(answer(200))
        await writer.drain()  # then the server closes: keep-alive was not honoured

    async with scripted(once) as server:
        peer = peer_at(server.url)
        await peer.call("GET", "/")
        await asyncio.sleep(0.05)  # the close arrives while the connection idles in the pool
        assert await peer.call("GET", "/") == {}
        await peer.aclose()
    assert server.connections == 2


async def test_idle_connections_expire() -> None:
    async def keep(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await peer.read_request(reader)
            writer.write(answer(200))
            await writer.drain()

    async with scripted(keep) as server:
        peer = peer_at(server.url, transport=peer_transport(keepalive_seconds=0.1))
        await peer.call("GET", "/")
        await asyncio.sleep(0.5)  # idle longer than the keep-alive expiry
        await peer.call("GET", "/")
        await peer.aclose()
    assert server.connections == 2


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # closed without an answer
        b"SSH-2.0-OpenSSH\r\n\r\n",  # not HTTP
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # closed mid-body
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
    ],
)
async def test_a_broken_answer_is_a_transient_failure(reply: bytes) -> None:
    async def broken(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await peer.read_request(reader)
        writer.write(reply)
        await writer.drain()

    async with scripted(broken) as server:
        peer = peer_at(server.url, retries=1)
        with pytest.raises(PeerUnavailable):
            await peer.call("POST", "/", {})  # (a GET aiohttp itself resends once on a dropped connection)
        await peer.aclose()
    assert len(server.requests) == 2  # retried once


async def test_a_stalled_peer_times_out_and_a_closed_port_is_unavailable() -> None:
    async def stall(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await peer.read_request(reader)
        await reader.read()  # until the client gives up and closes

    async with scripted(stall) as server:
        peer = peer_at(server.url, timeout=0.2)
        with pytest.raises(PeerUnavailable, match="Timeout"):
            await peer.call("GET", "/")
    with pytest.raises(PeerUnavailable):
        await peer.call("GET", "/")  # the server is gone: nothing listens there now
    await peer.aclose()


async def test_a_peer_over_tls_is_verified_against_the_trusted_authority(tmp_path) -> None:
    pki, stranger = Pki.make(tmp_path, "client"), Pki.make(tmp_path, "client", prefix="other-")
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(pki.server_cert_file, pki.server_key_file)

    async def reply(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await peer.read_request(reader)
        writer.write(answer(200, b'{"secret": 1}'))
        await writer.drain()

    async with scripted(reply, tls=server_side) as server:
        trusting = peer_at(
            server.url, transport=peer_transport(ssl_context=ssl.create_default_context(cafile=pki.ca_file))
        )
        assert await trusting.call("GET", "/") == {"secret": 1}
        await trusting.aclose()
        suspicious = peer_at(
            server.url,
            transport=peer_transport(ssl_context=ssl.create_default_context(cafile=stranger.ca_file)),
        )
        with pytest.raises(PeerUnavailable):
            await suspicious.call("GET", "/")
        await suspicious.aclose()
