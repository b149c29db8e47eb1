"""/metrics for one running service: what the registry holds, plus the values read at scrape time.

Which registry a scrape serves is decided here and only here (_served_registry): a single `serve`
serves metrics.REGISTRY, this process's own; a worker of `serve --workers N` serves every worker's
files merged (multiprocess.py). Either way the outbox backlog is read by the scrape itself, once,
by the process that answers. The pool and the breakers are this service's own in a single `serve`,
read at scrape time; a worker publishes its own into the WORKER_* gauges every PUBLISH_SECONDS (and
just before answering a scrape) so that a scrape on any worker sums, or takes the worst of, them all.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from booking_service.observability import multiprocess
from booking_service.observability.metrics import (
    BREAKER_GAUGE,
    BREAKER_STATES,
    OUTBOX_GAUGES,
    POOL_GAUGES,
    REGISTRY,
    SCRAPE_ERRORS,
    WORKER_BREAKER_STATE,
    WORKER_POOL,
)

log = logging.getLogger("booking_service.metrics")
#: How often a worker publishes its pool and breakers for the other workers' scrapes, in seconds.
PUBLISH_SECONDS = 1.0


class Breaker(Protocol):
    """What the endpoint reads of a circuit breaker (adapters/peers/breaker.py)."""

    @property
    def state(self) -> str: ...


class PoolStats(Protocol):
    """What the endpoint reads of the request pool (adapters/connections.py)."""

    def stats(self) -> tuple[int, int, int]:
        """Connections in use, idle, and the pool's configured size."""
        ...


@dataclass(frozen=True, slots=True)
class _Snapshot:
    pool: tuple[int, int, int] | None  # in use, idle, size
    outbox: tuple[int, float] | None  # unsent, age of the oldest in seconds
    breakers: dict[str, str] | None  # None under workers: the merged files hold them


class _ScrapeTimeValues:
    """Registered once per registry; yields the snapshot of the endpoint rendering right now
    (nothing otherwise), so every Application can have its endpoint without registering a
    collector of its own."""

    def __init__(self) -> None:
        self.snapshot: _Snapshot | None = None

    def collect(self) -> Iterable[Metric]:
        snapshot = self.snapshot
        if snapshot is None:
            return
        if snapshot.pool is not None:
            for (name, documentation), count in zip(POOL_GAUGES, snapshot.pool, strict=True):
                yield GaugeMetricFamily(name, documentation, value=count)
        if snapshot.outbox is not None:
            for (name, documentation), value in zip(OUTBOX_GAUGES, snapshot.outbox, strict=True):
                yield GaugeMetricFamily(name, documentation, value=value)
        if snapshot.breakers is not None:
            states = GaugeMetricFamily(*BREAKER_GAUGE, labels=["peer"])
            for peer, state in sorted(snapshot.breakers.items()):
                states.add_metric([peer], BREAKER_STATES.get(state, 2))
            yield states


_SCRAPE_TIME = _ScrapeTimeValues()
REGISTRY.register(_SCRAPE_TIME)
_RENDERING = threading.Lock()


def _served_registry(workers: bool) -> CollectorRegistry:
    """The one rule for what /metrics serves (see the module's docstring). RuntimeError for a worker
    whose prometheus_client is not in multiprocess mode (PROMETHEUS_MULTIPROC_DIR was not in its
    environment when prometheus_client was first imported)."""
    if not workers:
        return REGISTRY
    path = multiprocess.directory()
    if path is None:
        raise RuntimeError(
            f"a worker's metrics need {multiprocess.DIRECTORY_VARIABLE} set before prometheus_client "
            "is imported (the supervisor sets it in the worker's environment)"
        )
    return _merged(path)


@functools.cache
def _merged(path: Path) -> CollectorRegistry:
    return multiprocess.merged_registry(path, _SCRAPE_TIME)


# booking_outbox (adapters/tables.py): the partial index on unsent rows keeps this cheap. The age uses
# created_at and the database's clock: occurred_at comes from the service's (possibly fake) clock.
_OUTBOX_BACKLOG = text(
    "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) "
    "FROM booking_outbox WHERE sent_at IS NULL"
)


class MetricsEndpoint:
    """The body and content type of /metrics for one running service: its request pool, its outbox
    (read through its engine, off the request path), and its peers' breakers (by peer name)."""

    def __init__(
        self,
        pool: PoolStats,
        engine: AsyncEngine,
        *,
        breakers: Mapping[str, Breaker] | None = None,
        timeout_seconds: float = 2.0,
        workers: bool = False,
    ) -> None:
        """`timeout_seconds`: the bound on the outbox query. `workers`: this process is one of
        `serve --workers N`, and a scrape answers for all of them (RuntimeError if prometheus_client
        was imported before PROMETHEUS_MULTIPROC_DIR was set)."""
        self._pool_stats = pool
        self._engine = engine
        self._breakers = dict(breakers or {})
        self._timeout = timeout_seconds
        self._workers = workers
        self._registry = _served_registry(workers)

    async def render(self) -> tuple[bytes, str]:
        if self._workers:
            self._publish()  # this worker's own numbers as of now; the others' are at most 1 s old
            snapshot = _Snapshot(None, await self._outbox(), None)
        else:
            pool = self._pool()
            states = {peer: b.state for peer, b in self._breakers.items()}
            snapshot = _Snapshot(pool, await self._outbox(), states)
        with _RENDERING:  # no await inside: another endpoint cannot swap the snapshot meanwhile
            _SCRAPE_TIME.snapshot = snapshot
            try:
                body = generate_latest(self._registry)
            finally:
                _SCRAPE_TIME.snapshot = None
        return body, CONTENT_TYPE_LATEST

    async def run(self) -> None:
        """Under workers, publishes this worker's pool and breakers every PUBLISH_SECONDS until
        cancelled; returns at once otherwise (a single `serve` reads them at scrape time)."""
        if not self._workers:
            return
        while True:
            self._publish()
            await asyncio.sleep(PUBLISH_SECONDS)

    def _publish(self) -> None:
        pool = self._pool()
        if pool is not None:
            for gauge, value in zip(WORKER_POOL, pool, strict=True):
                gauge.set(value)
        for peer, breaker in self._breakers.items():
            WORKER_BREAKER_STATE.labels(peer).set(BREAKER_STATES.get(breaker.state, 2))

    def _pool(self) -> tuple[int, int, int] | None:
        return self._pool_stats.stats()

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
