"""Shared fixtures: a real PostgreSQL, the wired application, and a real gRPC server on loopback.

The database is TEST_DATABASE_URL's server when that is set (CI points it at the machine's
PostgreSQL), otherwise an embedded PostgreSQL in a temporary directory. Either way the session gets
a fresh database of its own, migrated with Alembic, and drops it at the end. Tests stay independent
by using ids of their own (see `ids`), not by emptying tables.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc

from booking_service.adapters import migrations
from booking_service.adapters.embedded_postgres import EmbeddedPostgres
from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.http_server import AsgiServer
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from booking_service.sandbox.app import Sandbox as SandboxState
from booking_service.sandbox.app import SandboxApp

pytest_plugins = ["tests.tool_caches"]  # the tools' caches out of the checkout
STUCK_AFTER_SECONDS = 60

#: "Now" for the tests that run on the fixed clock: times are chosen relative to it.
NOW = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@dataclass
class Sandbox:
    app: SandboxApp
    url: str

    @property
    def state(self) -> SandboxState:
        return self.app.sandbox


class FakeClock:
    """A clock a test can move; starts at NOW."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("invariants", "the model-based invariant test (tests/e2e/test_invariants.py)")
    group.addoption(
        "--invariant-seed",
        type=int,
        default=None,
        help="seed of the invariant test's operations (else INVARIANT_SEED, else a fresh random one)",
    )
    group.addoption(
        "--long",
        action="store_true",
        help="the long runs: the invariant test's 5,000 operations and more kills, the fuzzers' "
        "(gRPC bytes, schemathesis) many more examples",
    )
    group.addoption(
        "--fuzz-seed",
        type=int,
        default=None,
        help="seed of the fuzzers (tests/e2e/test_grpc_fuzz.py, test_openapi.py; else FUZZ_SEED, "
        "else a fresh one)",
    )


def pytest_configure(config: pytest.Config) -> None:
    seed = config.getoption("--invariant-seed")
    if seed is None and os.environ.get("INVARIANT_SEED"):
        seed = int(os.environ["INVARIANT_SEED"])
    config.invariant_seed = seed if seed is not None else random.SystemRandom().randrange(2**32)  # type: ignore[attr-defined]
    fuzz_seed = config.getoption("--fuzz-seed")
    if fuzz_seed is None and os.environ.get("FUZZ_SEED"):
        fuzz_seed = int(os.environ["FUZZ_SEED"])
    config.fuzz_seed = fuzz_seed if fuzz_seed is not None else random.SystemRandom().randrange(2**32)  # type: ignore[attr-defined]
    config.addinivalue_line("markers", "invariants: the seeded invariant test (longer with --long)")


def pytest_report_header(config: pytest.Config) -> str:
    long = " (--long)" if config.getoption("--long") else ""
    return f"invariant seed: {config.invariant_seed}, fuzz seed: {config.fuzz_seed}{long}"  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        for item in items:
            if item.get_closest_marker("invariants"):
                item.add_marker(pytest.mark.timeout(3 * 3600))


#: Servers the tests must find, comma-separated (`.ci/run` sets it): a test that needs one that is
#: missing fails instead of skipping.
REQUIRED_SERVERS = "BOOKING_TEST_REQUIRES"


def missing_server(name: str, reason: str) -> NoReturn:
    """Skips the test for want of server `name`, or fails it when BOOKING_TEST_REQUIRES names it."""
    if name in os.environ.get(REQUIRED_SERVERS, "").replace(" ", "").split(","):
        pytest.fail(f"{reason}, and {REQUIRED_SERVERS} requires it", pytrace=False)
    pytest.skip(reason)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(autouse=True)
async def report_stuck_tasks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """If a test's event loop sits still for long, print every task's stack (a hang is otherwise mute)."""
    loop = asyncio.get_running_loop()

    def dump() -> None:
        print(f"\n--- {request.node.nodeid} is still running; its tasks:", file=sys.stderr)
        for task in asyncio.all_tasks(loop):
            print(f"task {task.get_name()}: {task.get_coro()!r}", file=sys.stderr)
            for frame in task.get_stack():
                code = frame.f_code
                print(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}", file=sys.stderr)

    handle = loop.call_later(STUCK_AFTER_SECONDS, dump)
    yield
    handle.cancel()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin URL of the PostgreSQL server the tests use.

    The embedded server's data lives outside pytest's base temporary directory: another pytest
    session of the same user tightens that directory to mode 0700 when it starts, and the server
    (which runs as its own user) would lose its data directory mid-run."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    folder = Path(tempfile.mkdtemp(prefix="booking-service-test-pg-"))
    embedded = EmbeddedPostgres(folder)
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test session."""
    url = await create_database(server_url, "booking_test")
    yield url
    await drop_database(server_url, url)


async def create_empty_database(server_url: str, prefix: str) -> str:
    """A new database on the test server with no schema; drop it with drop_database."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _with_database(server_url, name)


async def create_database(server_url: str, prefix: str) -> str:
    """A new database on the test server, migrated; drop it with drop_database."""
    url = await create_empty_database(server_url, prefix)
    await migrations.upgrade(url)
    return url


async def drop_database(server_url: str, url: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def private_database(server_url: str) -> AsyncIterator[str]:
    """A database of this test's own (for tests that read whole tables, such as the outbox)."""
    url = await create_database(server_url, "booking_private")
    yield url
    await drop_database(server_url, url)


@pytest.fixture(scope="session")
def kafka() -> Iterator[EmbeddedKafka]:
    """A real Kafka-protocol broker on loopback (librdkafka's mock cluster)."""
    broker = EmbeddedKafka()
    yield broker
    broker.close()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return replace(Settings(), db_pool_size=20, db_max_overflow=20)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[Sandbox]:
    """The sandbox peers (inventory, pricing, payments) on real HTTP on loopback, for the session."""
    app = SandboxApp()
    server = AsgiServer(app, "127.0.0.1", 0)
    await server.start()
    yield Sandbox(app, f"http://127.0.0.1:{server.port}")
    await server.stop(0)


@pytest.fixture
def peers(sandbox: Sandbox) -> PeerUrls:
    return PeerUrls(sandbox.url, sandbox.url, sandbox.url)


@pytest.fixture
async def app(
    database_url: str, settings: Settings, clock: FakeClock, peers: PeerUrls
) -> AsyncIterator[Application]:
    """The wired application on the test database and the sandbox peers, on this test's own clock."""
    application = bootstrap(settings, database_url, peers, clock=clock)
    yield application
    await application.aclose()


@pytest.fixture
async def stub(app: Application) -> AsyncIterator[booking_pb2_grpc.BookingServiceAsyncStub]:
    """A client of a real gRPC server on loopback serving `app`."""
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    yield booking_pb2_grpc.BookingServiceStub(channel)  # type: ignore[misc]
    await channel.close()
    await server.stop(0)


@pytest.fixture
async def rest(app: Application) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the REST gateway on real HTTP on loopback, serving `app` (the same as `stub`)."""
    server = RestServer(build_gateway(app.use_cases, app.is_ready), "127.0.0.1", 0)
    await server.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
        yield client
    await server.stop(0)


@pytest.fixture
def ids() -> Callable[[str], str]:
    """Ids unique to this test, so that tests sharing the database never meet."""
    suffix = uuid.uuid4().hex[:10]
    return lambda name: f"{name}-{suffix}"


@pytest.fixture
def new_booking(ids: Callable[[str], str]) -> Callable[..., pb.CreateBookingRequest]:
    """A valid CreateBookingRequest two days after NOW; keyword arguments override its fields."""

    def make(**overrides: object) -> pb.CreateBookingRequest:
        start = NOW + timedelta(days=2, hours=9)
        request = pb.CreateBookingRequest(
            guest=pb.Guest(
                guest_id=ids("guest"), name="Ada Lovelace", email="ada@example.com", phone="+4915112345678"
            ),
            venue=pb.Venue(
                venue_id=ids("venue"),
                venue_type=pb.VENUE_TYPE_RESTAURANT,
                name="Chez Nous",
                time_zone="Europe/Berlin",
            ),
            unit_id=ids("table"),
            party_size=4,
            special_requests="window seat",
        )
        request.start_time.FromDatetime(start)
        request.end_time.FromDatetime(start + timedelta(hours=2))
        for name, value in overrides.items():
            if isinstance(value, datetime):
                getattr(request, name).FromDatetime(value)
            elif hasattr(value, "DESCRIPTOR"):
                getattr(request, name).CopyFrom(value)
            else:
                setattr(request, name, value)
        return request

    return make


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
