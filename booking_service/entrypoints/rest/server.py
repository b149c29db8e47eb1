"""The REST server: the gateway on uvicorn, in the same process and event loop as gRPC."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import grpc

from booking_service.config import Settings
from booking_service.entrypoints import asyncapi
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.grpc.in_process import InProcessInvoker
from booking_service.entrypoints.grpc.services import SERVICE, add_servicers, interceptors
from booking_service.entrypoints.http_limits import ConnectionLimits
from booking_service.entrypoints.http_server import AsgiServer
from booking_service.entrypoints.rest import openapi
from booking_service.entrypoints.rest.docs import DocsAssets
from booking_service.entrypoints.rest.gateway import RestGateway
from booking_service.entrypoints.rest.routes import RouteTable
from booking_service.entrypoints.tls import TlsFiles
from booking_service.observability.metrics_endpoint import MetricsEndpoint
from booking_service.service_layer.use_cases import UseCases

TITLE = "booking-service"


def build_gateway(
    use_cases: UseCases,
    ready: Callable[[], Awaitable[bool]],
    *,
    chain: Sequence[grpc.aio.ServerInterceptor] | None = None,
    guard: CallGuard | None = None,
    max_body_bytes: int = 1 << 20,
    metrics: MetricsEndpoint | None = None,
    events: Settings | None = None,
) -> RestGateway:
    """`chain` and `guard`: the ones the gRPC server uses (the guard also decides who reads /metrics);
    `events`: the settings whose events /asyncapi.json describes (None: the defaults')."""
    routes = RouteTable.from_services([SERVICE])
    document = openapi.build(routes, openapi.Comments.packaged(), title=TITLE, version="v1")
    invoker = InProcessInvoker(
        lambda server: add_servicers(use_cases, server), interceptors() if chain is None else chain
    )
    return RestGateway(
        invoker,
        routes,
        ready=ready,
        openapi=document,
        asyncapi=asyncapi.document_for(events or Settings()),
        docs=DocsAssets(TITLE),
        guard=guard or CallGuard(),
        max_body_bytes=max_body_bytes,
        metrics=metrics,
    )


class RestServer(AsgiServer):
    def __init__(
        self,
        gateway: RestGateway,
        host: str,
        port: int,
        *,
        tls: TlsFiles | None = None,
        max_connections: int | None = None,
        limits: ConnectionLimits | None = None,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(
            gateway,
            host,
            port,
            tls=tls.server_context() if tls else None,
            max_connections=max_connections,
            limits=limits,
            reuse_port=reuse_port,
            what="REST",
        )
        self.gateway = gateway

    async def stop(self, grace_seconds: float) -> None:
        """Reports not ready, stops accepting, and lets requests in flight finish."""
        self.gateway.draining = True
        await super().stop(grace_seconds)
