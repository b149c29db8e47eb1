"""The gRPC server: BookingService, grpc.health.v1 and server reflection on one port.

Health says SERVING once the service is ready and NOT_SERVING while it drains; stop() lets
in-flight calls finish within the grace period.
"""

from __future__ import annotations

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from booking_service.entrypoints.grpc.reflection_pool import ReflectionPool
from booking_service.entrypoints.grpc.services import SERVICE, add_servicers, interceptors
from booking_service.service_layer.use_cases import UseCases

SERVICE_NAME = SERVICE.full_name


class GrpcServer:
    def __init__(self, use_cases: UseCases, host: str, port: int) -> None:
        self._server = aio.server(interceptors=interceptors())
        self._health = health.aio.HealthServicer()
        add_servicers(use_cases, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server, pool=ReflectionPool()
        )
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"cannot listen for gRPC on {host}:{port} (is the port taken?)")

    async def start(self) -> None:
        await self._server.start()
        for service in ("", SERVICE_NAME):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_seconds: float) -> None:
        """Reports NOT_SERVING, refuses new calls, and waits for in-flight calls to finish."""
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace_seconds)

    async def wait(self) -> None:
        await self._server.wait_for_termination()
