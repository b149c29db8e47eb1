"""The composition root: the only place that builds engines and clients and wires dependencies.

Nothing is created at import time; tests call bootstrap() with their own database, peers and clock.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from booking_service.adapters.booking_reads import PostgresBookingReads, fetch
from booking_service.adapters.connections import Connections
from booking_service.adapters.database import SessionLimits, create_engine, open_session
from booking_service.adapters.outbox_watch import PostgresChangeFeed
from booking_service.adapters.peers.breaker import CircuitBreaker
from booking_service.adapters.peers.clients import InventoryClient, PaymentsClient, PricingClient
from booking_service.adapters.peers.engine import peer_transport
from booking_service.adapters.peers.http import PeerHttp
from booking_service.adapters.unit_of_work import PostgresUnitOfWork
from booking_service.config import Settings
from booking_service.domain.deadlines import Deadlines
from booking_service.observability.sql_tracing import trace_statements
from booking_service.service_layer.context import Context
from booking_service.service_layer.page_tokens import PageTokens
from booking_service.service_layer.peers import Inventory, Peers
from booking_service.service_layer.policy import Clock, Policy, utc_now
from booking_service.service_layer.search_inventory import CachedChecks, HoldsTold, checks_for_search
from booking_service.service_layer.use_cases import UseCases
from booking_service.service_layer.watch import WatchHub, WatchSettings

#: The engine's pool: it serves only what runs SQLAlchemy Core off the request path (a /metrics
#: scrape's outbox backlog), one connection kept, a few more while several are in use at once.
ENGINE_POOL_SIZE = 1
ENGINE_MAX_OVERFLOW = 4


@dataclass(frozen=True, slots=True)
class PeerUrls:
    inventory: str
    pricing: str
    payments: str


@dataclass(frozen=True, slots=True)
class Application:
    """The wired service: its use cases and the resources it must close: the request pool
    (`connections`: every unit of work and read) and SQLAlchemy's engine (`engine`: the Core
    statements off the request path, /metrics' outbox backlog; a small pool of its own)."""

    use_cases: UseCases
    connections: Connections
    engine: AsyncEngine
    peers: list[PeerHttp] = field(default_factory=list)
    #: The slot search's inventory answers (None when SLOT_SEARCH_CACHE_SECONDS is 0).
    search_checks: CachedChecks | None = None

    async def is_ready(self) -> bool:
        """Whether the database answers, on a connection of the request pool."""
        try:
            await fetch(self.connections, "SELECT 1")
        except Exception:
            return False
        return True

    async def aclose(self) -> None:
        await self.use_cases.watches.close()
        if self.search_checks is not None:
            await self.search_checks.aclose()
        for peer in self.peers:
            await peer.aclose()
        await self.connections.aclose()
        await self.engine.dispose()


def session_limits(settings: Settings) -> SessionLimits:
    """The limits every database session keeps, from DB_*_SECONDS (adapters/database.py)."""
    return SessionLimits(
        connect=settings.db_connect_timeout.total_seconds(),
        statement=settings.db_statement_timeout.total_seconds(),
        lock=settings.db_lock_timeout.total_seconds(),
        keepalive=max(1, int(settings.db_keepalive.total_seconds())),
    )


def bootstrap(
    settings: Settings, database_url: str, peer_urls: PeerUrls, *, clock: Clock = utc_now
) -> Application:
    """The service on `database_url` (DATABASE_URL, or the embedded database's): its request pool
    (DB_POOL_SIZE, DB_MAX_OVERFLOW, DB_POOL_TIMEOUT_SECONDS), and behind a transaction pooler
    (DB_TRANSACTION_POOLING) each unit of work's limits as SET LOCAL. The engine, off the request
    path, keeps ENGINE_POOL_SIZE connections (and ENGINE_MAX_OVERFLOW more while used)."""
    limits = session_limits(settings)
    pooling = settings.db_transaction_pooling
    connections = Connections(
        database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        timeout_seconds=settings.db_pool_timeout.total_seconds(),
        limits=limits,
        transaction_pooling=pooling,
    )
    engine = create_engine(
        database_url,
        pool_size=ENGINE_POOL_SIZE,
        max_overflow=ENGINE_MAX_OVERFLOW,
        pool_timeout_seconds=settings.db_pool_timeout.total_seconds(),
        limits=limits,
        transaction_pooling=pooling,
    )
    per_transaction = limits.per_transaction() if pooling else None
    trace_statements(engine)
    policy = Policy(
        deadlines=Deadlines(pending_timeout=settings.pending_timeout, no_show_grace=settings.no_show_grace),
        idempotency_ttl=settings.idempotency_key_ttl,
        limits=settings.booking_limits,
        default_venue_time_zone=settings.default_venue_time_zone,
        slot_search_concurrency=settings.slot_search_concurrency,
        slot_search_cache=settings.slot_search_cache,
    )

    def peer(name: str, url: str) -> PeerHttp:
        breaker = CircuitBreaker(
            failures_to_open=settings.peer_failures_to_open,
            open_seconds=settings.peer_open_interval.total_seconds(),
        )
        return PeerHttp(
            name,
            url,
            timeout=settings.peer_timeout.total_seconds(),
            retries=settings.peer_retries,
            breaker=breaker,
            transport=peer_transport(keepalive_seconds=settings.peer_keepalive.total_seconds()),
            max_response_bytes=settings.peer_max_response_bytes,
        )

    inventory, pricing, payments = (
        peer("inventory", peer_urls.inventory),
        peer("pricing", peer_urls.pricing),
        peer("payments", peer_urls.payments),
    )
    inventory_client: Inventory = InventoryClient(inventory)
    search_checks = checks_for_search(inventory_client, policy.slot_search_cache)
    if search_checks is not None:  # this process's holds reach its kept answers at once
        inventory_client = HoldsTold(inventory_client, search_checks)
    ctx = Context(
        uow=lambda: PostgresUnitOfWork(
            connections, per_transaction=per_transaction, guest_contact=settings.events_guest_contact
        ),
        clock=clock,
        policy=policy,
        peers=Peers(inventory_client, PricingClient(pricing), PaymentsClient(payments)),
        reads=PostgresBookingReads(connections),
        saga_lease=settings.saga_lease,
        saga_max_attempts=settings.saga_max_attempts,
        search_checks=search_checks,
    )
    feed = PostgresChangeFeed(
        connections,
        settings.database_session_url or database_url,  # LISTEN needs a session of its own
        functools.partial(
            open_session, limits=limits, application="booking-service-watch", startup=not pooling
        ),
    )
    watches = WatchHub(
        feed,
        WatchSettings(
            keepalive=settings.watch_keepalive,
            buffer_events=settings.watch_buffer_events,
            max_streams=settings.watch_max_streams,
        ),
    )
    use_cases = UseCases(ctx, PageTokens(settings.page_token_secret.encode()), watches)
    return Application(use_cases, connections, engine, [inventory, pricing, payments], search_checks)
