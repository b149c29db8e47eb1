"""`booking-service health` as the image's HEALTHCHECK runs it: a real process asking grpc.health.v1
on localhost:GRPC_PORT, in plaintext and over mutual TLS; 0 when SERVING, 1 otherwise."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from booking_service.bootstrap import Application
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.tls import TlsFiles
from tests.e2e import test_command_line as command_line
from tests.e2e.security_support import Pki


async def health(**env: str) -> tuple[int, str]:
    """Runs the probe without blocking the loop (the server under test answers on this loop)."""
    process = await asyncio.create_subprocess_exec(
        str(command_line.BIN / "booking-service"),
        "health",
        env=command_line.environment(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    return await process.wait(), output.decode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.make(tmp_path_factory.mktemp("pki"), "health-probe")


@pytest.fixture
async def mutual_tls(app: Application, pki: Pki) -> AsyncIterator[int]:
    """A gRPC server that refuses clients without a certificate from the CA; yields its port."""
    tls = TlsFiles(pki.server_cert_file, pki.server_key_file, pki.ca_file)
    chain = interceptors(CallGuard(client_certificates=True))
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain, tls=tls)
    await server.start()
    yield server.port
    await server.stop(0)


async def test_nothing_listening_is_unhealthy() -> None:
    code, output = await health(GRPC_PORT=str(command_line.free_port()))
    assert code == 1
    assert "UNAVAILABLE" in output
    assert len(output.strip().splitlines()) == 1


async def test_mutual_tls_needs_the_probe_s_own_certificate(mutual_tls: int, pki: Pki) -> None:
    service = {
        "GRPC_PORT": str(mutual_tls),
        "GRPC_TLS_CERT_FILE": str(pki.server_cert_file),
        "GRPC_TLS_KEY_FILE": str(pki.server_key_file),
        "GRPC_CLIENT_CA_FILE": str(pki.ca_file),
        "HEALTH_CA_FILE": str(pki.ca_file),
    }
    code, output = await health(**service)
    assert code == 1
    assert "HEALTH_CLIENT_CERT_FILE" in output, "says what is missing"

    client = {"HEALTH_CLIENT_CERT_FILE": str(pki.client_cert_file)}
    code, output = await health(**service, **client)
    assert (code, output.strip()) == (
        1,
        f"localhost:{mutual_tls}: cannot set up TLS for the probe: "
        "HEALTH_CLIENT_CERT_FILE and HEALTH_CLIENT_KEY_FILE go together",
    )

    client["HEALTH_CLIENT_KEY_FILE"] = str(pki.client_key_file)
    code, output = await health(**service, **client)
    assert (code, output.strip()) == (0, f"localhost:{mutual_tls}: SERVING")


@pytest.mark.slow
def test_the_real_service_is_healthy_until_it_stops(tmp_path: Path, database_url: str) -> None:
    port = command_line.free_port()

    def probe() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(command_line.BIN / "booking-service"), "health"],
            env=command_line.environment(GRPC_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    with command_line.serve(
        tmp_path / "data", port, tmp_path / "serve.log", dev=True, DATABASE_URL=database_url
    ):
        healthy = probe()
        assert (healthy.returncode, healthy.stdout.strip()) == (0, f"localhost:{port}: SERVING")
    stopped = probe()
    assert stopped.returncode == 1
    assert stopped.stdout.startswith(f"localhost:{port}: UNAVAILABLE")
