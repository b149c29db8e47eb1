"""The peer clients' HTTP/1.1 transport against real servers on loopback: the sandbox peers (uvicorn)
for the ordinary exchange, and a scripted TCP server for what a peer may do on the wire (chunked
bodies, answers delimited by the close, idle connections closed, stalls, garbage, a close in the
middle of an answer). Each failure must leave as the httpx exception PeerHttp's retry rules expect."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from booking_service.adapters.peers.transport import Http1Transport
from tests.conftest import Sandbox
from tests.e2e.security_support import Pki


@asynccontextmanager
async def scripted(
    script: Callable[..., object], tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP (or TLS) server answering each connection with `script(reader, writer)`; yields its base
    URL and the list of connections accepted so far (one int per connection)."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(len(accepted))
        try:
            await script(reader, writer)  # type: ignore[misc]
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", accepted
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


def request(url: str, *, body: bytes = b"", timeout: float = 2.0) -> httpx.Request:
    extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
    return httpx.Request("POST" if body else "GET", url, content=body, extensions=extensions)


async def send(transport: Http1Transport, req: httpx.Request) -> httpx.Response:
    response = await transport.handle_async_request(req)
    await response.aread()
    return response


async def test_the_sandbox_answers_over_one_kept_alive_connection(sandbox: Sandbox) -> None:
    transport = Http1Transport()
    try:
        body = json.dumps({"currency": "EUR"}).encode()
        for _ in range(3):
            answer = await send(transport, request(f"{sandbox.url}/admin/state"))
            assert answer.status_code == 200
            assert "holds" in answer.json()
        refused = await send(transport, request(f"{sandbox.url}/api/v1/inventory/reserve", body=body))
        assert refused.status_code == 400  # a 4xx is an answer, not a failure
        assert len(transport._idle[("http", "127.0.0.1", int(sandbox.url.rsplit(":", 1)[1]))]) == 1
    finally:
        await transport.aclose()


async def test_request_head_and_body_reach_the_peer() -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Answer: yes\r\n\r\nok")
        await writer.drain()

    async with scripted(echo) as (url, _):
        transport = Http1Transport()
        req = request(f"{url}/api/v1/things?x=1", body=b'{"a":1}')
        req.headers["Idempotency-Key"] = "k-1"
        answer = await send(transport, req)
        await transport.aclose()
    assert (answer.status_code, answer.content, answer.headers["x-answer"]) == (201, b"ok", "yes")
    head, body = seen[0]
    assert head.startswith(b"POST /api/v1/things?x=1 HTTP/1.1\r\n")
    assert b"\r\nIdempotency-Key: k-1\r\n" in head
    assert b"\r\nContent-Length: 7\r\n" in head
    assert body == b'{"a":1}'


async def test_chunked_and_close_delimited_answers_are_read_whole() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        await writer.drain()
        await read_request(reader)  # the connection was kept: a second request arrives on it
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil the close")
        await writer.drain()

    async with scripted(chunked) as (url, accepted):
        transport = Http1Transport()
        first = await send(transport, request(url))
        second = await send(transport, request(url))
        assert (first.content, second.content, len(accepted)) == (b"hello world", b"until the close", 1)
        assert transport._idle[("http", "127.0.0.1", int(url.rsplit(":", 1)[1]))] == []
        await transport.aclose()


async def test_a_connection_the_peer_closed_while_idle_is_not_reused() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()  # then the server closes: keep-alive was not honoured

    async with scripted(once) as (url, accepted):
        transport = Http1Transport()
        await send(transport, request(url))
        await asyncio.sleep(0.05)  # the close arrives while the connection idles in the pool
        answer = await send(transport, request(url))
        assert (answer.status_code, len(accepted)) == (200, 2)
        await transport.aclose()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"", httpx.RemoteProtocolError),  # closed without an answer
        (b"SSH-2.0-OpenSSH\r\n\r\n", httpx.RemoteProtocolError),  # not HTTP
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", httpx.RemoteProtocolError),
    ],
)
async def test_a_broken_answer_is_a_protocol_error(answer: bytes, error: type[Exception]) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()

    async with scripted(broken) as (url, _):
        transport = Http1Transport()
        with pytest.raises(error):
            await send(transport, request(url))
        await transport.aclose()


async def test_a_stalled_peer_is_a_read_timeout_and_a_closed_port_a_connect_error() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # until the client gives up and closes

    transport = Http1Transport()
    async with scripted(stall) as (url, _):
        with pytest.raises(httpx.ReadTimeout):
            await send(transport, request(url, timeout=0.2))
    with pytest.raises(httpx.ConnectError):
        await send(transport, request(url))  # the server is gone: nothing listens there now
    await transport.aclose()


async def test_calls_beyond_the_connection_limit_wait_for_a_slot_then_time_out() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(0.3)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with scripted(slow) as (url, _):
        transport = Http1Transport(max_connections=1)
        first = asyncio.create_task(send(transport, request(url)))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await send(transport, request(url, timeout=0.1))
        assert (await first).status_code == 200
        assert (await send(transport, request(url))).status_code == 200  # the slot came back
        await transport.aclose()


async def test_a_peer_over_tls_is_verified_against_the_trusted_authority(tmp_path) -> None:
    pki, stranger = Pki.make(tmp_path, "client"), Pki.make(tmp_path, "client", prefix="other-")
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(pki.server_cert_file, pki.server_key_file)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
        await writer.drain()

    async with scripted(answer, tls=server_side) as (url, _):
        trusting = Http1Transport(ssl_context=ssl.create_default_context(cafile=pki.ca_file))
        assert (await send(trusting, request(url))).content == b"secret"
        await trusting.aclose()
        suspicious = Http1Transport(ssl_context=ssl.create_default_context(cafile=stranger.ca_file))
        with pytest.raises(httpx.ConnectError):
            await send(suspicious, request(url))
        await suspicious.aclose()
