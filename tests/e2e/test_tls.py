"""TLS and mutual TLS on both ports: with a client CA configured, a client without a certificate, or
with one from another CA, is refused in the handshake; the right one is served and its certificate's
name is the actor in the history."""

from __future__ import annotations

import asyncio
import signal
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from google.protobuf import json_format

from booking_service.bootstrap import Application
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.http_limits import ConnectionLimits
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from booking_service.entrypoints.tls import TlsFiles
from tests.e2e.security_support import Pki
from tests.e2e.test_command_line import BIN, environment, free_port

Make = Callable[..., pb.CreateBookingRequest]


@dataclass
class Ports:
    grpc: int
    rest: int


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.make(tmp_path_factory.mktemp("pki"), "front-desk")


@pytest.fixture(scope="module")
def rogue(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.make(tmp_path_factory.mktemp("rogue"), "mallory", prefix="rogue-")


async def _serve(app: Application, tls: TlsFiles) -> AsyncIterator[Ports]:
    guard = CallGuard(client_certificates=tls.client_ca_file is not None)
    chain = interceptors(guard)
    server = GrpcServer(app.use_cases, "127.0.0.1", 0, chain=chain, tls=tls)
    rest = RestServer(
        build_gateway(app.use_cases, app.is_ready, chain=chain, guard=guard), "127.0.0.1", 0, tls=tls
    )
    await server.start()
    await rest.start()
    yield Ports(server.port, rest.port)
    await rest.stop(0)
    await server.stop(0)


@pytest.fixture
async def mutual(app: Application, pki: Pki) -> AsyncIterator[Ports]:
    async for ports in _serve(app, TlsFiles(pki.server_cert_file, pki.server_key_file, pki.ca_file)):
        yield ports


def channel(port: int, ca: Path, cert: Path | None = None, key: Path | None = None) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )
    return grpc.aio.secure_channel(f"localhost:{port}", credentials)


def client_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert and key:
        context.load_cert_chain(str(cert), str(key))
    return context


async def get(port: int, ca: Path, cert: Path | None = None, key: Path | None = None) -> grpc.StatusCode:
    async with channel(port, ca, cert, key) as ch:
        stub = booking_pb2_grpc.BookingServiceStub(ch)  # type: ignore[no-untyped-call]
        try:
            await stub.GetBooking(
                pb.GetBookingRequest(booking_id="00000000-0000-4000-8000-000000000000"), timeout=5
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


async def test_grpc_refuses_clients_without_a_certificate_from_the_ca(
    mutual: Ports, pki: Pki, rogue: Pki
) -> None:
    assert await get(mutual.grpc, pki.ca_file) == grpc.StatusCode.UNAVAILABLE
    assert await get(mutual.grpc, pki.ca_file, rogue.client_cert_file, rogue.client_key_file) == (
        grpc.StatusCode.UNAVAILABLE
    )
    served = await get(mutual.grpc, pki.ca_file, pki.client_cert_file, pki.client_key_file)
    assert served == grpc.StatusCode.NOT_FOUND, "the handshake passed and the call ran"


async def test_grpc_client_certificate_names_the_actor(mutual: Ports, pki: Pki, new_booking: Make) -> None:
    async with channel(mutual.grpc, pki.ca_file, pki.client_cert_file, pki.client_key_file) as ch:
        stub = booking_pb2_grpc.BookingServiceStub(ch)  # type: ignore[no-untyped-call]
        created = await stub.CreateBooking(new_booking(), metadata=(("x-actor", "forged"),))
        booking = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert [entry.actor for entry in booking.history] == ["front-desk"]


async def test_rest_refuses_clients_without_a_certificate_from_the_ca(
    mutual: Ports, pki: Pki, rogue: Pki, new_booking: Make
) -> None:
    url = f"https://localhost:{mutual.rest}"
    for refused in (
        client_context(pki.ca_file),
        client_context(pki.ca_file, rogue.client_cert_file, rogue.client_key_file),
    ):
        async with httpx.AsyncClient(base_url=url, verify=refused, timeout=5) as client:
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                await client.get("/healthz")
    good = client_context(pki.ca_file, pki.client_cert_file, pki.client_key_file)
    async with httpx.AsyncClient(base_url=url, verify=good, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200
        created = await client.post("/api/v1/bookings", json=_json(new_booking()))
        assert created.status_code == 200, created.text
        booking = (await client.get(f"/api/v1/bookings/{created.json()['booking_id']}")).json()
    assert [entry["actor"] for entry in booking["history"]] == ["front-desk"]


async def test_server_only_tls_refuses_plaintext(app: Application, pki: Pki) -> None:
    async for ports in _serve(app, TlsFiles(pki.server_cert_file, pki.server_key_file)):
        assert await get(ports.grpc, pki.ca_file) == grpc.StatusCode.NOT_FOUND
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports.grpc}") as plain:
            stub = booking_pb2_grpc.BookingServiceStub(plain)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetBooking(pb.GetBookingRequest(booking_id="x"), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def _json(request: pb.CreateBookingRequest) -> dict[str, object]:
    return json_format.MessageToDict(request, preserving_proto_field_name=True)


async def test_a_tls_handshake_that_never_comes_is_cut_at_the_head_timeout(
    app: Application, pki: Pki
) -> None:
    """Connections that never send a TLS hello are closed after the head timeout (asyncio's own
    handshake timeout is 60 s), and a client that does say hello is served meanwhile."""
    tls = TlsFiles(pki.server_cert_file, pki.server_key_file)
    limits = ConnectionLimits(header_timeout_seconds=0.5)
    rest = RestServer(build_gateway(app.use_cases, app.is_ready), "127.0.0.1", 0, tls=tls, limits=limits)
    await rest.start()
    silent = [await asyncio.open_connection("127.0.0.1", rest.port) for _ in range(50)]
    try:
        async with httpx.AsyncClient(verify=client_context(pki.ca_file), timeout=5) as client:
            answer = await client.get(f"https://localhost:{rest.port}/readyz")
            assert answer.status_code == 200
        for reader, _ in silent:  # each is closed by the server: end of stream, well before 60 s
            assert await asyncio.wait_for(reader.read(100), timeout=5) == b""
    finally:
        for _, writer in silent:
            writer.close()
        await rest.stop(0)


def test_https_on_the_event_loop_serve_runs_answers_every_connection(pki: Pki, tmp_path: Path) -> None:
    """`serve` runs on uvloop, where a TLS transport is no asyncio.Transport, and a client may send
    its Finished and its request in one write: 60 fresh HTTPS connections, each answered 200 (an
    earlier TLS layer refused every one under uvloop and lost about one in five on asyncio)."""
    http_port = free_port()
    env = environment(
        GRPC_TLS_CERT_FILE=str(pki.server_cert_file), GRPC_TLS_KEY_FILE=str(pki.server_key_file)
    )
    command = [
        str(BIN / "booking-service"),
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--grpc-port",
        str(free_port()),
        "--http-port",
        str(http_port),
        "--host",
        "127.0.0.1",
    ]
    with (tmp_path / "serve.log").open("w") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, text=True)
    try:
        context = client_context(pki.ca_file)
        url = f"https://localhost:{http_port}/healthz"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(url, verify=context, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            log = (tmp_path / "serve.log").read_text()
            assert process.poll() is None, log
            assert time.monotonic() < deadline, log
            time.sleep(0.3)
        statuses = [httpx.get(url, verify=context, timeout=5).status_code for _ in range(60)]
        assert statuses == [200] * 60
        assert "Traceback" not in (tmp_path / "serve.log").read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
