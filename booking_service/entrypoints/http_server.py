"""An ASGI application on uvicorn, inside the service's own event loop (REST gateway, sandbox peers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import uvicorn

from booking_service.entrypoints.http_limits import ConnectionLimits, LimitedConfig, LimitedProtocol
from booking_service.entrypoints.listening import listen


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling (`booking-service serve` owns SIGTERM and SIGINT), on
    sockets it is given, with TLS done by the event loop itself (asyncio's or uvloop's) under a
    handshake timeout: uvicorn hands its SSL context to create_server without one, and the loop's
    default gave a client that never finishes its hello a minute per connection (the HTTP protocol,
    with its head timeout and per-address cap, only sees a connection once the handshake is done)."""

    def __init__(self, config: uvicorn.Config, tls: ssl.SSLContext | None, handshake_seconds: float) -> None:
        super().__init__(config)
        self._tls, self._handshake_seconds = tls, handshake_seconds

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        assert sockets, "AsgiServer listens itself and passes its socket"
        await self.lifespan.startup()  # lifespan="off": nothing to wait for
        config, loop = self.config, asyncio.get_running_loop()

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=_loop
            )

        self.servers = [
            await loop.create_server(
                create_protocol,
                sock=sock,
                ssl=self._tls,
                ssl_handshake_timeout=self._handshake_seconds if self._tls is not None else None,
                backlog=config.backlog,
            )
            for sock in sockets
        ]
        self.started = True


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
        what: str = "HTTP",
    ) -> None:
        """`tls`: the TLS context (the handshake must end within the head timeout: _EmbeddedServer);
        `max_connections`: above it uvicorn answers 503 at once; `limits`: the head timeout and
        size, and the connections per client address (http_limits.py); `what`: the server's name in
        listening.CannotListen, raised when host:port cannot be had."""
        self._socket = listen(what, host, port, reuse_port=reuse_port)
        self.port = int(self._socket.getsockname()[1])
        limits = limits or ConnectionLimits()
        config = LimitedConfig(
            app,
            limits=limits,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=None,
            limit_concurrency=max_connections,
            http=_ClientCertificateProtocol if tls else LimitedProtocol,
        )
        self._server = _EmbeddedServer(config, tls, limits.header_timeout_seconds)
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
