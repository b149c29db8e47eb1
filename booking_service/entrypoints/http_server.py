"""An ASGI application on uvicorn, inside the service's own event loop (REST gateway, sandbox peers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from booking_service.entrypoints.http_limits import ConnectionLimits, LimitedConfig, LimitedProtocol


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: `booking-service serve` owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket. Made with proto IPPROTO_TCP (socket.create_server leaves it 0): asyncio
    turns Nagle's algorithm off only for such sockets, and with it on every answer waits ~40 ms for a
    delayed ACK."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # serve --workers: every worker listens on the port, the kernel spreads connections
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


class _ClientCertificateProtocol(LimitedProtocol):
    """The limited HTTP/1.1 protocol, telling the app the common name of the client's certificate
    (scope["extensions"]["tls"]["client_common_name"]), as gRPC's auth context does."""

    _client_common_name = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        certificate = ssl_object.getpeercert() if ssl_object is not None else None
        for rdn in (certificate or {}).get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    self._client_common_name = str(value)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._client_common_name:
            self.scope["extensions"] = {"tls": {"client_common_name": self._client_common_name}}


class _TlsHandshake(asyncio.Protocol):
    """TLS in front of the HTTP protocol, with the handshake bounded by the head timeout.

    uvicorn hands its SSL context to asyncio's create_server, which gives a client 60 s to finish
    the handshake, and the HTTP protocol (the head timeout, the cap per address) only sees the
    connection once it is done: a client that opens connections and never says hello held each for
    a minute. Here the TCP connection is accepted in the clear and upgraded with asyncio's
    start_tls, whose handshake must end within the head timeout (else the connection is closed),
    before the HTTP protocol is given the TLS transport."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        assert isinstance(config, _TlsConfig)
        self._context, self._timeout = config.tls_context, config.limits.header_timeout_seconds
        self._http = _ClientCertificateProtocol(config, server_state, app_state, _loop)
        self._upgrade: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # the client's hello is read by the TLS layer start_tls puts in
        self._upgrade = asyncio.get_running_loop().create_task(self._handshake(transport))

    async def _handshake(self, transport: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        try:
            secured = await loop.start_tls(
                transport, self._http, self._context, server_side=True, ssl_handshake_timeout=self._timeout
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError):
            transport.abort()  # start_tls closed it already on most failures; a refusal needs no answer
            return
        if secured is None:
            transport.abort()
            return
        self._http.connection_made(secured)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._upgrade is not None and not self._upgrade.done():
            self._upgrade.cancel()


class _TlsConfig(LimitedConfig):
    """The limited settings, with the TLS context _TlsHandshake upgrades connections with."""

    def __init__(self, app: Any, *, tls_context: ssl.SSLContext, **options: Any) -> None:
        super().__init__(app, **options)
        self.tls_context = tls_context


class AsgiServer:
    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        max_connections: int | None = None,
        limits: ConnectionLimits | None = None,
        reuse_port: bool = False,
    ) -> None:
        """`tls`: the TLS context (TLS is then negotiated within the head timeout, _TlsHandshake);
        `max_connections`: above it uvicorn answers 503 at once; `limits`: the head timeout and
        size, and the connections per client address (http_limits.py)."""
        self._socket = listen(host, port, reuse_port=reuse_port)
        self.port = int(self._socket.getsockname()[1])
        options: dict[str, Any] = {
            "limits": limits or ConnectionLimits(),
            "lifespan": "off",
            "log_config": None,
            "access_log": False,
            "server_header": False,
            "timeout_graceful_shutdown": None,
            "limit_concurrency": max_connections,
        }
        config = (
            _TlsConfig(app, tls_context=tls, http=_TlsHandshake, **options)
            if tls is not None
            else LimitedConfig(app, http=LimitedProtocol, **options)
        )
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
            await asyncio.sleep(0.01)

    async def stop(self, grace_seconds: float) -> None:
        """Stops accepting, and lets requests in flight finish within the grace period."""
        self._server.config.timeout_graceful_shutdown = int(grace_seconds) or None
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()
