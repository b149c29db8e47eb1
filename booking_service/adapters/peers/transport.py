"""A lean HTTP/1.1 transport for the peer clients: httpx's API on a small keep-alive pool of asyncio
streams.

httpx's default transport (httpcore on anyio) cost about 0.5 ms of CPU per request on this
machine, three times what the sandbox peer spends answering it; two peer calls made it the largest
part of a CreateBooking (bench/run.py --profile CreateBooking). This transport does what the peer
calls need and no more: HTTP/1.1 over TCP or TLS, persistent connections, bodies by Content-Length,
chunked or read to the close, httpx's timeouts (connect, write, read, pool) and httpx's exceptions,
so that PeerHttp's retry rules see the same failures as before. The transport is the seam httpx
gives for this (STYLE.md); tests still swap in httpx.MockTransport.

Exceptions: ConnectError/ConnectTimeout (nothing was sent), WriteError/WriteTimeout, ReadError/
ReadTimeout, RemoteProtocolError (an answer that is not HTTP/1.1, or a connection closed mid-answer),
PoolTimeout. A pooled connection that the peer closed while idle is noticed before reuse and dropped.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

#: Header lines longer than this, or more of them than _MAX_HEADERS, are a protocol error.
_MAX_HEAD_BYTES = 64 * 1024
_MAX_HEADERS = 200


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        """False once the peer closed it (EOF already received) or it is closing."""
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class Http1Transport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._keepalive = max_keepalive_connections
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._ssl = ssl_context
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}", request=request)
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        with _raising(httpx.PoolTimeout, request):
            async with asyncio.timeout(timeout.get("pool")):
                await self._slots.acquire()
        try:
            connection = await self._connection(origin, timeout.get("connect"), request)
            try:
                status, headers, body, keep = await self._exchange(connection, request, timeout)
            except BaseException:
                connection.close()
                raise
            if keep and not self._closed and len(self._idle.setdefault(origin, [])) < self._keepalive:
                self._idle[origin].append(connection)
            else:
                connection.close()
        finally:
            self._slots.release()
        return httpx.Response(status, headers=headers, content=body, extensions={"http_version": b"HTTP/1.1"})

    async def _connection(
        self, origin: tuple[str, str, int], connect_timeout: float | None, request: httpx.Request
    ) -> _Connection:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection
            connection.close()
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()  # loading the CA bundle once, not per connection
            context = self._ssl
        with _raising(httpx.ConnectTimeout, request), _failing(httpx.ConnectError, request):
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(host, port, ssl=context, limit=_MAX_HEAD_BYTES)
        return _Connection(reader, writer)

    async def _exchange(
        self, connection: _Connection, request: httpx.Request, limits: dict[str, float | None]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Sends the request and reads the whole answer; the bool says whether to keep the connection."""
        body = await request.aread()
        head = [f"{request.method} {request.url.raw_path.decode('ascii')} HTTP/1.1\r\n".encode("ascii")]
        head += [name + b": " + value + b"\r\n" for name, value in request.headers.raw]
        if body and "content-length" not in request.headers:
            head.append(b"Content-Length: %d\r\n" % len(body))
        writer, reader = connection.writer, connection.reader
        with _raising(httpx.WriteTimeout, request), _failing(httpx.WriteError, request):
            async with asyncio.timeout(limits.get("write")):
                writer.write(b"".join(head) + b"\r\n" + body)
                await writer.drain()
        with _raising(httpx.ReadTimeout, request), _failing(httpx.ReadError, request):
            async with asyncio.timeout(limits.get("read")):
                status, headers, keep, length, chunked = await _read_head(reader, request)
                if request.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                    content = b""
                elif chunked:
                    content = await _read_chunked(reader, request)
                elif length is not None:
                    content = await reader.readexactly(length)
                else:
                    content, keep = await reader.read(), False  # delimited by the close
        return status, headers, content, keep and request.headers.get("connection") != "close"

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()


async def _read_head(
    reader: asyncio.StreamReader, request: httpx.Request
) -> tuple[int, list[tuple[bytes, bytes]], bool, int | None, bool]:
    """Status, headers, whether the connection stays open, Content-Length, and whether chunked."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        ) from exc
    except asyncio.LimitOverrunError as exc:
        raise httpx.RemoteProtocolError("The response head is too large.", request=request) from exc
    lines = raw[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not code.isdigit() or len(lines) > _MAX_HEADERS:
        raise httpx.RemoteProtocolError(f"Not an HTTP/1.1 answer: {lines[0][:80]!r}", request=request)
    headers: list[tuple[bytes, bytes]] = []
    keep = version == b"HTTP/1.1"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise httpx.RemoteProtocolError("A malformed response header.", request=request)
        name, value = name.strip(), value.strip()
        headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length":
            if not value.isdigit():
                raise httpx.RemoteProtocolError("A malformed Content-Length.", request=request)
            length = int(value)
        elif lowered == b"transfer-encoding":
            chunked = value.lower().endswith(b"chunked")
        elif lowered == b"connection":
            tokens = {token.strip().lower() for token in value.split(b",")}
            keep = b"close" not in tokens and (keep or b"keep-alive" in tokens)
    return int(code), headers, keep, length, chunked


async def _read_chunked(reader: asyncio.StreamReader, request: httpx.Request) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise httpx.RemoteProtocolError("A malformed chunk size.", request=request) from exc
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise httpx.RemoteProtocolError("A chunk without its line end.", request=request)


@contextmanager
def _raising(error: type[httpx.TimeoutException], request: httpx.Request) -> Iterator[None]:
    """An expired asyncio.timeout leaves as httpx's timeout of that phase."""
    try:
        yield
    except TimeoutError as exc:
        raise error(str(exc) or f"{error.__name__} after the configured timeout", request=request) from exc


@contextmanager
def _failing(error: type[httpx.TransportError], request: httpx.Request) -> Iterator[None]:
    """A failed socket leaves as httpx's error of that phase (connect, write, read)."""
    try:
        yield
    except TimeoutError:
        raise  # an OSError too, but the phase's timeout (_raising) names it
    except asyncio.IncompleteReadError as exc:
        raise httpx.RemoteProtocolError(
            "The peer closed the connection in the middle of its answer.", request=request
        ) from exc
    except (OSError, asyncio.LimitOverrunError, ssl.SSLError) as exc:
        raise error(f"{type(exc).__name__}: {exc}", request=request) from exc
