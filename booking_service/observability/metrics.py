"""The service's Prometheus metrics.

One registry of our own, not prometheus-client's process-wide default: what a library registers
there stays out of /metrics, and tests that build many Applications in one process never register
anything twice. Counters and histograms are updated where things happen (the call interceptor, the
saga log, the peer client, the outbox relay). Values that belong to one running service (its
database pool, its outbox, its peers' circuit breakers) are read at scrape time by the
MetricsEndpoint built with that service's engine and breakers, and exist only while it renders.

Labels hold only bounded sets named in code (transport, RPC name, status code, saga kind and step,
peer name, outcome): never ids, paths or guest data.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

log = logging.getLogger("booking_service.metrics")

REGISTRY = CollectorRegistry()
# The process's CPU seconds, resident memory, open and maximum file descriptors and start time
# (process_*), and the Python version (python_info): prometheus_client's own collectors.
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

#: 1 ms to 10 s: a read from the database to a create that waits on a slow peer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CALLS = Counter(
    "booking_calls",
    "Calls served, by transport (grpc, rest), RPC and gRPC status code.",
    ["transport", "method", "code"],
    registry=REGISTRY,
)
CALL_DURATION = Histogram(
    "booking_call_duration_seconds",
    "How long calls took to serve, by transport and RPC.",
    ["transport", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
SAGA_STEPS = Counter(
    "booking_saga_steps",
    "Saga steps written to the saga log, by saga kind and the step reached "
    "(a saga's start is 'started', or 'planned' for a release).",
    ["kind", "step"],
    registry=REGISTRY,
)
SAGA_COMPENSATIONS = Counter(
    "booking_saga_compensations",
    "Sagas undone (finished as compensated), by kind.",
    ["kind"],
    registry=REGISTRY,
)
SAGA_HANDOFFS = Counter(
    "booking_saga_handoffs",
    "Sagas left to the recovery worker because a step or compensation could not run now, by kind.",
    ["kind"],
    registry=REGISTRY,
)
SAGAS_NEEDING_ATTENTION = Counter(
    "booking_sagas_needing_attention",
    "Sagas given up on until an operator acts (a peer refused a step for good, or it kept failing "
    "past SAGA_MAX_ATTEMPTS), by kind: see `booking-service sagas list`.",
    ["kind"],
    registry=REGISTRY,
)
RECONCILE_DRIFTS = Gauge(
    "booking_reconcile_drifts",
    "Drifts between the bookings and the peers' own view found by the latest reconciliation, by kind "
    "(booking-service reconcile; RECONCILE_INTERVAL_SECONDS runs it in the service).",
    ["kind"],
    registry=REGISTRY,
)
SAGA_RECOVERIES = Counter(
    "booking_saga_recoveries",
    "Sagas the recovery worker took over after their lease ran out, by kind.",
    ["kind"],
    registry=REGISTRY,
)
PEER_REQUESTS = Counter(
    "booking_peer_requests",
    "HTTP requests to the peers (each attempt), by peer and outcome: ok, rejected (a 4xx answer), "
    "failed (no answer, a timeout or a 5xx) or short_circuited (refused by the open circuit).",
    ["peer", "outcome"],
    registry=REGISTRY,
)
PEER_REQUEST_DURATION = Histogram(
    "booking_peer_request_duration_seconds",
    "How long HTTP requests to the peers took (each attempt that went out), by peer.",
    ["peer"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
OUTBOX_PUBLISHED = Counter(
    "booking_outbox_events_published",
    "Outbox events the relay published (acknowledged by the broker) and marked sent.",
    registry=REGISTRY,
)
SCRAPE_ERRORS = Counter(
    "booking_metrics_scrape_errors",
    "Scrape-time reads that failed or timed out (their samples are left out of that scrape), by source.",
    ["source"],
    registry=REGISTRY,
)

#: The circuit breaker's states as the gauge's values.
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


def observe_call(transport: str, method: str, code: str, seconds: float) -> None:
    """Counts one finished call and its duration. `method` is the RPC's name (never a path or an id),
    `code` the gRPC status code's name (OK, NOT_FOUND...)."""
    key = (transport, method, code)
    series = _call_series.get(key)
    if series is None:  # labels() validates and locks on every lookup: done once per series
        series = _call_series[key] = (CALLS.labels(*key), CALL_DURATION.labels(transport, method))
    series[0].inc()
    series[1].observe(seconds)


_call_series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}


def observe_peer_request(peer: str, outcome: str, seconds: float | None = None) -> None:
    """Counts one attempt at a peer; `seconds` is None for an attempt that never went out."""
    PEER_REQUESTS.labels(peer, outcome).inc()
    if seconds is not None:
        PEER_REQUEST_DURATION.labels(peer).observe(seconds)


class Breaker(Protocol):
    """What the endpoint reads of a circuit breaker (adapters/peers/breaker.py)."""

    @property
    def state(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Snapshot:
    pool: tuple[int, int, int] | None  # in use, idle, size
    outbox: tuple[int, float] | None  # unsent, age of the oldest in seconds
    breakers: dict[str, str]


class _ScrapeTimeValues:
    """Registered once; yields the snapshot of the endpoint rendering right now (nothing otherwise),
    so every Application can have its endpoint without registering a collector of its own."""

    def __init__(self) -> None:
        self.snapshot: _Snapshot | None = None

    def collect(self) -> Iterable[Metric]:
        snapshot = self.snapshot
        if snapshot is None:
            return
        if snapshot.pool is not None:
            in_use, idle, size = snapshot.pool
            yield _gauge("booking_db_pool_connections_in_use", "Database connections checked out.", in_use)
            yield _gauge("booking_db_pool_connections_idle", "Database connections open and idle.", idle)
            yield _gauge(
                "booking_db_pool_size",
                "Database connections the pool keeps (it may open max_overflow more under load).",
                size,
            )
        if snapshot.outbox is not None:
            unsent, age = snapshot.outbox
            yield _gauge("booking_outbox_unsent_events", "Outbox events not yet published.", unsent)
            yield _gauge(
                "booking_outbox_oldest_unsent_age_seconds",
                "Age of the oldest unpublished outbox event (0 when none).",
                age,
            )
        states = GaugeMetricFamily(
            "booking_peer_circuit_state",
            "Circuit breaker state per peer: 0 closed, 1 half-open, 2 open.",
            labels=["peer"],
        )
        for peer, state in sorted(snapshot.breakers.items()):
            states.add_metric([peer], BREAKER_STATES.get(state, 2))
        yield states


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


_SCRAPE_TIME = _ScrapeTimeValues()
REGISTRY.register(_SCRAPE_TIME)
_RENDERING = threading.Lock()

# booking_outbox (adapters/tables.py): the partial index on unsent rows keeps this cheap. The age uses
# created_at and the database's clock: occurred_at comes from the service's (possibly fake) clock.
_OUTBOX_BACKLOG = text(
    "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) "
    "FROM booking_outbox WHERE sent_at IS NULL"
)


class MetricsEndpoint:
    """The body and content type of /metrics for one running service: its engine's pool and outbox,
    and its peers' breakers (by peer name)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        breakers: Mapping[str, Breaker] | None = None,
        timeout_seconds: float = 2.0,
    ) -> None:
        self._engine = engine
        self._breakers = dict(breakers or {})
        self._timeout = timeout_seconds

    async def render(self) -> tuple[bytes, str]:
        pool = self._pool()  # before the outbox query borrows a connection
        snapshot = _Snapshot(
            pool, await self._outbox(), {peer: b.state for peer, b in self._breakers.items()}
        )
        with _RENDERING:  # no await inside: another endpoint cannot swap the snapshot meanwhile
            _SCRAPE_TIME.snapshot = snapshot
            try:
                body = generate_latest(REGISTRY)
            finally:
                _SCRAPE_TIME.snapshot = None
        return body, CONTENT_TYPE_LATEST

    def _pool(self) -> tuple[int, int, int] | None:
        pool = self._engine.sync_engine.pool
        if not isinstance(pool, QueuePool):  # a NullPool, say, keeps no count
            return None
        return pool.checkedout(), pool.checkedin(), pool.size()

    async def _outbox(self) -> tuple[int, float] | None:
        """The backlog, or None if the database cannot say quickly (a scrape must never hang)."""
        statement_ms = str(int(self._timeout * 1000 / 2))
        try:
            async with asyncio.timeout(self._timeout), self._engine.connect() as conn:
                await conn.execute(
                    text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": statement_ms}
                )
                unsent, age = (await conn.execute(_OUTBOX_BACKLOG)).one()
        except Exception as exc:
            SCRAPE_ERRORS.labels("outbox").inc()
            log.warning("could not read the outbox backlog for /metrics", extra={"error": repr(exc)[:200]})
            return None
        return int(unsent), float(age)
