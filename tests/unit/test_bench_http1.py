"""The load generator's HTTP/1.1 client (bench/http1.py) against a server that closes a kept-alive
connection while it is idle, as uvicorn does after its keep-alive timeout: the next request on it
fails before any byte of an answer, and is sent once more on a new connection. Seen in a benchmark
run: the open loop counted these as the service's errors (8 ConnectionErrors in 37,000 GETs)."""

from __future__ import annotations

import asyncio

import pytest

from bench.http1 import Http1Connection, NotAnswered

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def closing_server(*, answer_then_close: bool) -> tuple[asyncio.Server, list[int]]:
    """Answers each connection's first request, then closes it (idle) or, with
    `answer_then_close` false, closes every connection without answering."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.readuntil(b"\r\n\r\n")
        if answer_then_close:
            writer.write(ANSWER)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, connections


async def test_a_connection_closed_while_idle_is_opened_again_and_the_request_sent_once_more() -> None:
    server, connections = await closing_server(answer_then_close=True)
    port = server.sockets[0].getsockname()[1]
    client = Http1Connection("127.0.0.1", port)
    assert await client.request("GET", "/a") == (200, b"ok")
    await asyncio.sleep(0.05)  # the server has closed it meanwhile
    assert await client.request("GET", "/b") == (200, b"ok")
    assert len(connections) == 2
    await client.close()
    server.close()


async def test_a_new_connection_closed_unanswered_is_an_error() -> None:
    server, connections = await closing_server(answer_then_close=False)
    port = server.sockets[0].getsockname()[1]
    client = Http1Connection("127.0.0.1", port)
    with pytest.raises(NotAnswered):
        await client.request("GET", "/a")
    assert len(connections) == 1  # not sent again: nothing says the server did not process it
    server.close()
