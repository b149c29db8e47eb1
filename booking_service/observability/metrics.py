"""The service's Prometheus metrics: their definitions, and the helpers that update them.

One registry of our own, not prometheus-client's process-wide default: what a library registers
there stays out of /metrics, and tests that build many Applications in one process never register
anything twice. Counters and histograms are updated where things happen (the call interceptor, the
saga log, the peer client, the outbox relay). Values that belong to one running service (its
database pool, its outbox, its peers' circuit breakers) are read at scrape time by its
MetricsEndpoint (metrics_endpoint.py), under the names below.

Under `serve --workers N` every worker writes its metrics to files that a scrape merges
(prometheus_client's multiprocess mode, multiprocess.py): counters and histograms are summed over
every worker that ever ran, and each gauge says how its workers' values combine (its
`multiprocess_mode`). The WORKER_* gauges exist for that mode only: each worker publishes its pool
and breakers into them.

Labels hold only bounded sets named in code (transport, RPC name, status code, saga kind and step,
peer name, outcome): never ids, paths or guest data.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

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
    "(set by the process that ran the reconciliation; `booking-service reconcile` reports the same in its "
    "output and exit status).",
    ["kind"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",  # under workers: the latest run's, whichever worker ran it
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
SLOT_SEARCH_INVENTORY_ANSWERS = Counter(
    "booking_slot_search_inventory_answers",
    "The inventory answers SearchAvailableSlots used, by how they were had (service_layer/"
    "answer_cache.py): fresh (kept, young), stale (kept, refreshed in the background), miss (asked "
    "the inventory and waited) or shared (waited on a check another search started).",
    ["outcome"],
    registry=REGISTRY,
)
OUTBOX_PUBLISHED = Counter(
    "booking_outbox_events_published",
    "Outbox events the relay published (acknowledged by the broker) and marked sent.",
    registry=REGISTRY,
)
OUTBOX_NOT_DELIVERED = Counter(
    "booking_outbox_events_not_delivered",
    "Outbox events the broker refused or did not confirm (a nack, a failed delivery, no report in "
    "time, a lost connection), and those of the same bookings held back behind them; all retried.",
    registry=REGISTRY,
)
SCRAPE_ERRORS = Counter(
    "booking_metrics_scrape_errors",
    "Scrape-time reads that failed or timed out (their samples are left out of that scrape), by source.",
    ["source"],
    registry=REGISTRY,
)

#: The scrape-time gauges of the database pool, (name, help): in use, idle, size.
POOL_GAUGES = (
    ("booking_db_pool_connections_in_use", "Database connections checked out."),
    ("booking_db_pool_connections_idle", "Database connections open and idle."),
    (
        "booking_db_pool_size",
        "Database connections the pool keeps (it may open max_overflow more under load).",
    ),
)
#: The scrape-time gauges of the outbox, (name, help): unsent events, age of the oldest.
OUTBOX_GAUGES = (
    ("booking_outbox_unsent_events", "Outbox events not yet published."),
    (
        "booking_outbox_oldest_unsent_age_seconds",
        "Age of the oldest unpublished outbox event (0 when none).",
    ),
)
BREAKER_GAUGE = (
    "booking_peer_circuit_state",
    "Circuit breaker state per peer: 0 closed, 1 half-open, 2 open.",
)
#: The circuit breaker's states as the gauge's values, ordered by severity (a maximum is the worst).
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

# Under workers only (registered nowhere: a scrape reads them from the workers' files). The pool's
# numbers are summed over the live workers (a dead worker's connections closed with it); a peer's
# circuit is the worst state among the live workers' breakers (each worker has its own).
WORKER_POOL = tuple(
    Gauge(name, documentation, multiprocess_mode="livesum", registry=None)
    for name, documentation in POOL_GAUGES
)
WORKER_BREAKER_STATE = Gauge(*BREAKER_GAUGE, ["peer"], multiprocess_mode="livemax", registry=None)


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
