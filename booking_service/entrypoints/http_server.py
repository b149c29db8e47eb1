"""An ASGI application on uvicorn, inside the service's own event loop (REST gateway, sandbox peers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: `booking-service serve` owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Made with proto IPPROTO_TCP (socket.create_server leaves it 0): asyncio
    turns Nagle's algorithm off only for such sockets, and with it on every answer waits ~40 ms for a
    delayed ACK."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


class AsgiServer:
    def __init__(self, app: Any, host: str, port: int) -> None:
        self._socket = listen(host, port)
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=None,
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
