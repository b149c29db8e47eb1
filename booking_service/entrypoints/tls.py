"""TLS for both ports from GRPC_TLS_CERT_FILE / GRPC_TLS_KEY_FILE, and mutual TLS with
GRPC_CLIENT_CA_FILE: a client without a certificate signed by that CA is refused in the handshake,
before any call is read. REST is served with the same certificate and the same client CA, so that
the gateway is no plaintext side door to the service."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from booking_service.config import Settings


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TlsFiles | None:
        if settings.grpc_tls_cert_file is None or settings.grpc_tls_key_file is None:
            return None
        return cls(settings.grpc_tls_cert_file, settings.grpc_tls_key_file, settings.grpc_client_ca_file)

    def grpc_credentials(self) -> grpc.ServerCredentials:
        client_ca = self.client_ca_file.read_bytes() if self.client_ca_file else None
        return grpc.ssl_server_credentials(
            [(self.key_file.read_bytes(), self.cert_file.read_bytes())],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )

    def server_context(self) -> ssl.SSLContext:
        """The REST port's TLS context: TLS 1.2 or later with Python's secure defaults
        (ssl.create_default_context), the service's certificate, and with a client CA, a client
        certificate signed by it required in the handshake."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        if self.client_ca_file is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(self.client_ca_file))
        return context
