"""The REST server: the gateway on uvicorn, in the same process and event loop as gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn

from booking_service.entrypoints.grpc.in_process import InProcessInvoker
from booking_service.entrypoints.grpc.services import SERVICE, add_servicers, interceptors
from booking_service.entrypoints.rest import openapi
from booking_service.entrypoints.rest.docs import DocsAssets
from booking_service.entrypoints.rest.gateway import RestGateway
from booking_service.entrypoints.rest.routes import RouteTable
from booking_service.service_layer.use_cases import UseCases

TITLE = "booking-service"


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: `booking-service serve` owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_gateway(use_cases: UseCases, ready: Callable[[], Awaitable[bool]]) -> RestGateway:
    routes = RouteTable.from_services([SERVICE])
    document = openapi.build(routes, openapi.Comments.packaged(), title=TITLE, version="v1")
    invoker = InProcessInvoker(lambda server: add_servicers(use_cases, server), interceptors())
    return RestGateway(invoker, routes, ready=ready, openapi=document, docs=DocsAssets(TITLE))


def _listen(host: str, port: int) -> socket.socket:
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


class RestServer:
    def __init__(self, gateway: RestGateway, host: str, port: int) -> None:
        self.gateway = gateway
        self._socket = _listen(host, port)
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            gateway,
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
        """Reports not ready, stops accepting, and lets requests in flight finish."""
        self.gateway.draining = True
        self._server.config.timeout_graceful_shutdown = int(grace_seconds) or None
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()
