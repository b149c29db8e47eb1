"""`booking-service health`: one grpc.health.v1 Check against the service on this machine, for the
image's HEALTHCHECK and any orchestrator's exec probe.

It dials localhost on GRPC_PORT the way the service listens: in plaintext, or over TLS when
GRPC_TLS_CERT_FILE is set. Over TLS it trusts HEALTH_CA_FILE, else the service's own certificate
(enough for a self-signed one; the certificate must name localhost either way), and presents
HEALTH_CLIENT_CERT_FILE / HEALTH_CLIENT_KEY_FILE when the service demands client certificates.
Health checks need no token. Exit codes are Docker's: 0 healthy, 1 not (2 is reserved there).
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from booking_service.config import Settings

#: Longer than a Check takes on a live service, shorter than any sensible HEALTHCHECK --timeout.
TIMEOUT_SECONDS = 2.0
_SERVING = health_pb2.HealthCheckResponse.SERVING


def check(settings: Settings, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Whether the service answers SERVING, and one line saying what the probe saw."""
    target = f"localhost:{settings.grpc_port}"
    try:
        channel = _channel(settings, target)
    except (OSError, ValueError) as problem:
        return False, f"{target}: cannot set up TLS for the probe: {problem}"
    try:
        with channel:
            request = health_pb2.HealthCheckRequest(service="")
            answer = health_pb2_grpc.HealthStub(channel).Check(request, timeout=timeout)
    except grpc.RpcError as error:
        return False, f"{target}: {_describe(error, settings)}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    return answer.status == _SERVING, f"{target}: {status}"


def _channel(settings: Settings, target: str) -> grpc.Channel:
    if settings.grpc_tls_cert_file is None:
        return grpc.insecure_channel(target)
    if (settings.health_client_cert_file is None) != (settings.health_client_key_file is None):
        raise ValueError("HEALTH_CLIENT_CERT_FILE and HEALTH_CLIENT_KEY_FILE go together")
    root = settings.health_ca_file or settings.grpc_tls_cert_file
    cert, key = settings.health_client_cert_file, settings.health_client_key_file
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )
    return grpc.secure_channel(target, credentials)


def _describe(error: grpc.RpcError, settings: Settings) -> str:
    if not isinstance(error, grpc.Call):
        return type(error).__name__
    details = (error.details() or "").split("\n")[0][:200]
    line = f"{error.code().name}: {details}" if details else error.code().name
    if settings.grpc_client_ca_file is not None and settings.health_client_cert_file is None:
        line += " (mutual TLS: set HEALTH_CLIENT_CERT_FILE and HEALTH_CLIENT_KEY_FILE)"
    elif error.code() == grpc.StatusCode.UNAVAILABLE:
        line += f" (is `booking-service serve` running, on GRPC_PORT {settings.grpc_port}?)"
    return line
