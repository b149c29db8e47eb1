"""The REST server: the gateway on uvicorn, in the same process and event loop as gRPC."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from booking_service.entrypoints.grpc.in_process import InProcessInvoker
from booking_service.entrypoints.grpc.services import SERVICE, add_servicers, interceptors
from booking_service.entrypoints.http_server import AsgiServer
from booking_service.entrypoints.rest import openapi
from booking_service.entrypoints.rest.docs import DocsAssets
from booking_service.entrypoints.rest.gateway import RestGateway
from booking_service.entrypoints.rest.routes import RouteTable
from booking_service.service_layer.use_cases import UseCases

TITLE = "booking-service"


def build_gateway(use_cases: UseCases, ready: Callable[[], Awaitable[bool]]) -> RestGateway:
    routes = RouteTable.from_services([SERVICE])
    document = openapi.build(routes, openapi.Comments.packaged(), title=TITLE, version="v1")
    invoker = InProcessInvoker(lambda server: add_servicers(use_cases, server), interceptors())
    return RestGateway(invoker, routes, ready=ready, openapi=document, docs=DocsAssets(TITLE))


class RestServer(AsgiServer):
    def __init__(self, gateway: RestGateway, host: str, port: int) -> None:
        super().__init__(gateway, host, port)
        self.gateway = gateway

    async def stop(self, grace_seconds: float) -> None:
        """Reports not ready, stops accepting, and lets requests in flight finish."""
        self.gateway.draining = True
        await super().stop(grace_seconds)
