"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the load generator.

httpx costs the load generator more CPU per request than the service spends answering a GET, and on
a two-core machine the generator's CPU is taken from the service; this client does only what the
benchmark needs (one connection, one request at a time, Content-Length bodies).
"""

from __future__ import annotations

import asyncio


class NotAnswered(ConnectionError):
    """The connection ended before any byte of an answer."""


class Http1Connection:
    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """One request's status and body. A kept-alive connection the server closed while it was
        idle (uvicorn's keep-alive timeout, 5 s) fails before any byte of an answer: the request
        never reached the application, so it is sent once more on a new connection, as HTTP
        clients do for a request that was not processed (RFC 9110, 9.2.2). The open loop leaves
        some of its connections idle that long."""
        reused = self._writer is not None
        try:
            return await self._exchange(method, path, body)
        except NotAnswered:
            if not reused:
                raise
        return await self._exchange(method, path, body)

    async def _exchange(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            self._writer.write(head.encode() + b"\r\n" + body)
            status_line = await self._reader.readline()
        except ConnectionError as failed:
            await self.close()
            raise NotAnswered(str(failed)) from failed
        if not status_line:
            await self.close()
            raise NotAnswered("the server closed the connection")
        try:
            return await self._rest_of_answer(status_line)
        except (ConnectionError, asyncio.IncompleteReadError):
            await self.close()
            raise

    async def _rest_of_answer(self, status_line: bytes) -> tuple[int, bytes]:
        assert self._reader is not None
        length, close = 0, False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return int(status_line.split()[1]), payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
