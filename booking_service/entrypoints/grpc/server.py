"""The gRPC server: BookingService, grpc.health.v1 and server reflection on one port.

Calls larger than max_message_bytes are refused (RESOURCE_EXHAUSTED) before they are read whole.
BookingService requests are decoded inside the interceptor chain (raw_requests.py), so bytes that
do not decode are INVALID_ARGUMENT MALFORMED_REQUEST with a request id, a log line and a metric.
Health says SERVING once the service is ready, NOT_SERVING while the database does not answer
(set_serving, driven by readiness.py) and while it drains; stop() lets in-flight calls finish within
the grace period.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from booking_service.entrypoints.grpc.reflection_pool import ReflectionPool
from booking_service.entrypoints.grpc.services import SERVICE, add_servicers, interceptors
from booking_service.entrypoints.listening import diagnose, listen
from booking_service.entrypoints.tls import TlsFiles
from booking_service.service_layer.use_cases import UseCases

SERVICE_NAME = SERVICE.full_name


class GrpcServer:
    def __init__(
        self,
        use_cases: UseCases,
        host: str,
        port: int,
        *,
        chain: Sequence[aio.ServerInterceptor] | None = None,
        tls: TlsFiles | None = None,
        max_message_bytes: int = 4 << 20,
        max_connections: int | None = None,
        max_connection_age_seconds: float = 0,
        reuse_port: bool = False,
    ) -> None:
        """`max_connection_age_seconds`: a connection older than this is ended with GOAWAY (its
        calls finish within as long again), so that clients reconnect, through their balancer, to
        any replica; 0: never. Raises listening.CannotListen when host:port cannot be had."""
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            # gRPC shares ports by default; only workers of one `serve --workers` may (a second
            # service started on a taken port must fail, not silently take half the calls).
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ]
        if max_connections is not None:
            options.append(("grpc.max_allowed_incoming_connections", max_connections))
        if max_connection_age_seconds > 0:
            age_ms = int(max_connection_age_seconds * 1000)
            options += [("grpc.max_connection_age_ms", age_ms), ("grpc.max_connection_age_grace_ms", age_ms)]
        self._server = aio.server(interceptors=interceptors() if chain is None else chain, options=options)
        self._health = health.aio.HealthServicer()
        add_servicers(use_cases, self._server, raw_requests=True)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server, pool=ReflectionPool()
        )
        bare = host.strip("[]")
        address = f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"  # IPv6 in brackets (RFC 3986)
        if port:  # a port that cannot be had is refused here, before gRPC core logs its own lines
            listen("gRPC", host, port, reuse_port=reuse_port).close()
        try:  # grpcio raises RuntimeError("Failed to bind ...") (older releases returned port 0)
            if tls is None:
                self.port = self._server.add_insecure_port(address)
            else:
                self.port = self._server.add_secure_port(address, tls.grpc_credentials())
        except RuntimeError:
            self.port = 0
        if self.port == 0:
            raise diagnose("gRPC", host, port, reuse_port=reuse_port)

    async def start(self) -> None:
        await self._server.start()
        for service in ("", SERVICE_NAME):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)

    async def set_serving(self, serving: bool) -> None:
        """What health says while the service runs (Readiness: whether the database answers); once
        the drain began it stays NOT_SERVING."""
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in ("", SERVICE_NAME):
            await self._health.set(service, status)

    async def stop(self, grace_seconds: float) -> None:
        """Reports NOT_SERVING, refuses new calls, and waits for in-flight calls to finish."""
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace_seconds)

    async def wait(self) -> None:
        await self._server.wait_for_termination()
