"""/metrics on the REST port, scraped over real HTTP while the service works against the real
database, broker and sandbox peers: each metric moves with what the service did."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from booking_service.adapters.connections import Connections
from booking_service.adapters.database import create_engine
from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.bootstrap import Application
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from booking_service.observability.metrics_endpoint import MetricsEndpoint
from tests.e2e.events_support import event_world
from tests.e2e.peers_support import World, world

Make = Callable[..., pb.CreateBookingRequest]
BOOKINGS = "/api/v1/bookings"


@asynccontextmanager
async def metrics_of(app: Application) -> AsyncIterator[httpx.AsyncClient]:
    """A REST server for `app` that serves /metrics, wired as `booking-service serve` wires it."""
    endpoint = MetricsEndpoint(
        app.connections, app.engine, breakers={peer.name: peer.breaker for peer in app.peers}
    )
    server = RestServer(build_gateway(app.use_cases, app.is_ready, metrics=endpoint), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
            yield client
    finally:
        await server.stop(0)


class Scrape:
    """One scrape of /metrics, parsed."""

    def __init__(self, body: str) -> None:
        self.samples = [s for f in text_string_to_metric_families(body) for s in f.samples]

    def get(self, name: str, **labels: str) -> float | None:
        """The value of the sample with that name and those labels (None if there is none)."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
        return None

    def count(self, name: str, **labels: str) -> float:
        """A counter's value (0 before it was first touched)."""
        return self.get(name, **labels) or 0.0


async def scrape(client: httpx.AsyncClient) -> Scrape:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return Scrape(response.text)


async def unavailable(call: Awaitable[object]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE


@pytest.fixture
async def metrics(app: Application) -> AsyncIterator[httpx.AsyncClient]:
    async with metrics_of(app) as client:
        yield client


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:
    async with world(database_url, settings, sandbox) as running:
        yield running


async def test_metrics_is_prometheus_text_with_the_pool(metrics: httpx.AsyncClient, settings) -> None:
    response = await metrics.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE booking_db_pool_connections_in_use gauge" in response.text
    scraped = Scrape(response.text)
    assert scraped.get("booking_db_pool_size") == settings.db_pool_size
    assert scraped.get("booking_db_pool_connections_in_use") is not None
    for peer in ("inventory", "pricing", "payments"):
        assert scraped.get("booking_peer_circuit_state", peer=peer) == 0  # closed
    # The process itself (issue 15): CPU, memory and file descriptors.
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert (scraped.get(name) or 0) > 0, name


async def test_each_endpoint_shows_its_own_pool(app: Application, database_url: str, settings) -> None:
    """Many services in one process (as in these tests): no duplicated series, no crossed values."""
    other = create_engine(database_url)
    other_pool = Connections(database_url, pool_size=3)
    try:
        mine, theirs = MetricsEndpoint(app.connections, app.engine), MetricsEndpoint(other_pool, other)
        for _ in range(2):
            assert Scrape((await theirs.render())[0].decode()).get("booking_db_pool_size") == 3
            assert (
                Scrape((await mine.render())[0].decode()).get("booking_db_pool_size") == settings.db_pool_size
            )
    finally:
        await other_pool.aclose()
        await other.dispose()


async def test_a_slow_outbox_read_leaves_the_backlog_out_instead_of_hanging(private_database: str) -> None:
    engine = create_engine(private_database)
    blocker = await asyncpg.connect(private_database)
    try:
        endpoint = MetricsEndpoint(Connections(private_database), engine, timeout_seconds=0.5)
        errors = Scrape((await endpoint.render())[0].decode()).count(
            "booking_metrics_scrape_errors_total", source="outbox"
        )
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE booking_outbox IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            scraped = Scrape((await endpoint.render())[0].decode())
            assert time.monotonic() - started < 2
        assert scraped.get("booking_outbox_unsent_events") is None
        assert scraped.get("booking_db_pool_size") is not None  # the rest of the scrape stands
        assert scraped.count("booking_metrics_scrape_errors_total", source="outbox") == errors + 1
        assert Scrape((await endpoint.render())[0].decode()).get("booking_outbox_unsent_events") == 0
    finally:
        await blocker.close()
        await engine.dispose()


async def test_the_outbox_backlog_grows_with_a_booking_and_drains_with_the_relay(
    private_database: str, settings, kafka: EmbeddedKafka, peers, new_booking: Make
) -> None:
    async with event_world(private_database, settings, kafka, peers) as running, metrics_of(running.app) as m:
        before = await scrape(m)
        assert before.get("booking_outbox_unsent_events") == 0
        assert before.get("booking_outbox_oldest_unsent_age_seconds") == 0
        await running.stub.CreateBooking(new_booking())  # no relay runs yet
        waiting = await scrape(m)
        assert waiting.get("booking_outbox_unsent_events") == 1  # booking.created
        assert (waiting.get("booking_outbox_oldest_unsent_age_seconds") or 0) > 0

        running.start_relay()
        deadline = time.monotonic() + 30
        while (drained := await scrape(m)).get("booking_outbox_unsent_events") != 0:
            assert time.monotonic() < deadline, "the relay did not drain the outbox"
            await asyncio.sleep(0.1)
        assert drained.get("booking_outbox_oldest_unsent_age_seconds") == 0
        published = "booking_outbox_events_published_total"
        assert drained.count(published) - before.count(published) == 1


async def test_a_create_counts_its_saga_steps_and_peer_requests(
    metrics: httpx.AsyncClient, stub: booking_pb2_grpc.BookingServiceAsyncStub, new_booking: Make
) -> None:
    before = await scrape(metrics)
    await stub.CreateBooking(new_booking())  # a restaurant: priced and held, no payment
    after = await scrape(metrics)

    def moved(name: str, **labels: str) -> float:
        return after.count(name, **labels) - before.count(name, **labels)

    assert moved("booking_saga_steps_total", kind="create", step="started") == 1
    # Without a prepayment the hold is not written down before the last step (create.py says why).
    assert moved("booking_saga_steps_total", kind="create", step="reserved") == 0
    assert moved("booking_saga_compensations_total", kind="create") == 0
    assert moved("booking_peer_requests_total", peer="pricing", outcome="ok") == 1
    assert moved("booking_peer_requests_total", peer="inventory", outcome="ok") == 1
    assert moved("booking_peer_request_duration_seconds_count", peer="inventory") == 1


async def test_a_failed_create_counts_a_compensation(w: World, new_booking: Make) -> None:
    async with metrics_of(w.app) as m:
        before = await scrape(m)
        await w.fail_next("/api/v1/inventory/reserve", "error", count=2)  # both attempts
        await unavailable(w.stub.CreateBooking(new_booking()))
        after = await scrape(m)
    compensations = "booking_saga_compensations_total"
    assert after.count(compensations, kind="create") - before.count(compensations, kind="create") == 1
    failed = {"peer": "inventory", "outcome": "failed"}
    assert (
        after.count("booking_peer_requests_total", **failed)
        - before.count("booking_peer_requests_total", **failed)
        == 2
    )


async def test_a_release_left_to_recovery_counts_the_handoff_and_the_recovery(
    w: World, new_booking: Make
) -> None:
    booking = await w.stub.CreateBooking(new_booking())
    async with metrics_of(w.app) as m:
        before = await scrape(m)
        await w.faults(peer="inventory", down=True)
        await w.stub.CancelBooking(pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=1))
        handed = await scrape(m)
        await w.faults(peer="inventory", down=False)
        await asyncio.sleep(0.6)  # the breaker half-opens
        hold = w.sandbox.state.inventory.holds[booking.inventory_reservation_id]
        for _ in range(5):  # other tests' sagas in the shared database may be due first
            await w.recover()
            if hold.status == "released":
                break
        after = await scrape(m)
    assert (
        handed.count("booking_saga_handoffs_total", kind="release")
        - before.count("booking_saga_handoffs_total", kind="release")
        == 1
    )
    recoveries = "booking_saga_recoveries_total"
    assert after.count(recoveries, kind="release") - before.count(recoveries, kind="release") >= 1
    released = {"kind": "release", "step": "hold_released"}
    assert after.count("booking_saga_steps_total", **released) > before.count(
        "booking_saga_steps_total", **released
    )


async def test_a_dead_peer_shows_its_circuit_open_then_half_open(w: World, new_booking: Make) -> None:
    async with metrics_of(w.app) as m:
        await w.faults(peer="inventory", down=True)
        for _ in range(4):  # a failed create counts once: 3 open the breaker, the 4th is refused fast
            await unavailable(w.stub.CreateBooking(new_booking(unit_id="")))
        tripped = await scrape(m)
        assert tripped.get("booking_peer_circuit_state", peer="inventory") == 2
        assert tripped.get("booking_peer_circuit_state", peer="pricing") == 0
        assert tripped.count("booking_peer_requests_total", peer="inventory", outcome="short_circuited") > 0
        await w.faults(peer="inventory", down=False)
        await asyncio.sleep(0.6)  # open_interval 0.5 s: one trial call may go now
        assert (await scrape(m)).get("booking_peer_circuit_state", peer="inventory") == 1


async def test_calls_are_counted_on_both_transports(
    metrics: httpx.AsyncClient,
    stub: booking_pb2_grpc.BookingServiceAsyncStub,
    rest: httpx.AsyncClient,
    new_booking: Make,
) -> None:
    def calls(scraped: Scrape, transport: str, rpc: str, code: str) -> float:
        return sum(
            s.value
            for s in scraped.samples
            if s.name == "booking_calls_total"
            and s.labels.get("transport") == transport
            and s.labels.get("method", "").endswith(rpc)
            and s.labels.get("code") == code
        )

    before = await scrape(metrics)
    await stub.CreateBooking(new_booking())
    assert (await rest.get(f"{BOOKINGS}/{uuid.uuid4()}")).status_code == 404
    after = await scrape(metrics)
    assert calls(after, "grpc", "CreateBooking", "OK") - calls(before, "grpc", "CreateBooking", "OK") == 1
    assert (
        calls(after, "rest", "GetBooking", "NOT_FOUND") - calls(before, "rest", "GetBooking", "NOT_FOUND")
        == 1
    )
    durations = [
        s
        for s in after.samples
        if s.name == "booking_call_duration_seconds_count" and s.labels["transport"] == "rest"
    ]
    assert durations
