"""The HTTP engine under the peer clients: httpx's requests and responses over aiohttp (httpx-aiohttp).

Chosen by measurement (bench/peer_cpu.py, client CPU per POST to the sandbox peer in another
process; README "Inventory, pricing and payments"): aiohttp's C parser (llhttp) costs a fraction of
httpx's default transport (httpcore on anyio), and unlike the hand-written HTTP/1.1 client it
replaced it is maintained: informational answers (`103 Early Hints`) are skipped, a connection
whose answer was not read cleanly to its end (bytes left after the body, Transfer-Encoding with
Content-Length) never goes back to the pool, and CR/LF in a request header is refused.

One aiohttp session per peer, made on first use inside the running loop: a keep-alive pool of
`max_connections` (100), idle connections closed after `keepalive_seconds`, no cookies, no
redirects, no decompression (the peer clients ask for `identity`).

Failures leave as httpx exceptions (what PeerHttp's retry rule reads): httpx-aiohttp maps
aiohttp's connection and timeout errors; anything else aiohttp raises for an unreadable answer
(aiohttp.ClientError) leaves here as httpx.RemoteProtocolError. A request that cannot be written
(a header value with CR or LF) raises ValueError and is never sent.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

#: Connections per peer (in use and idle together).
MAX_CONNECTIONS = 100


class _Stream(httpx.AsyncByteStream):
    """The answer's body as aiohttp reads it (16 KiB at a time), with aiohttp's errors as httpx's."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner, self._request = inner, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except aiohttp.ClientError as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=self._request) from exc

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except aiohttp.ClientError as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=self._request) from exc


class PeerTransport(AiohttpTransport):
    """httpx-aiohttp's transport with every aiohttp failure mapped to an httpx exception."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except aiohttp.ClientError as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request) from exc
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Stream(response.stream, request)
        return response


def peer_transport(
    *, keepalive_seconds: float = 4.0, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncBaseTransport:
    """The transport of one peer. `keepalive_seconds`: how long an idle connection stays pooled
    (below the 5 s after which uvicorn, the sandbox's server, closes it). `ssl_context`: whom to
    trust over https (the system's authorities when None)."""
    context = ssl_context or ssl.create_default_context()

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=MAX_CONNECTIONS, keepalive_timeout=keepalive_seconds, ssl=context
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return PeerTransport(client=session)
