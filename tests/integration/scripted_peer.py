"""A scripted peer: a TCP (or TLS) server on 127.0.0.1:0 that answers each connection by running a
script that reads requests and writes raw bytes, for what a peer may do on the wire."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Scripted:
    url: str
    #: Connections accepted so far.
    connections: int = 0
    #: Every request head (and body) read by `read_request`, in order.
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: Set when a request arrives.
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = (head, await reader.readexactly(length))
        self.requests.append(request)
        self.arrived.set()
        return request


def answer(status: int, body: bytes = b"{}", *, extra: bytes = b"") -> bytes:
    """A complete HTTP/1.1 answer with a Content-Length body; `extra` header lines end in CRLF."""
    head = b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (status, len(body))
    return head + extra + b"\r\n" + body


@asynccontextmanager
async def scripted(
    script: Callable[[Scripted, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Scripted]:
    """Serves until the block ends; each connection runs `script(peer, reader, writer)`."""
    peer = Scripted("")
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.connections += 1
        tasks.add(task := asyncio.current_task())  # type: ignore[arg-type]
        try:
            await script(peer, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            tasks.discard(task)  # type: ignore[arg-type]
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    peer.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        yield peer
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await server.wait_closed()
