"""`booking-service serve`: the service's life from start to graceful stop.

With no DATABASE_URL it starts the embedded PostgreSQL in the data directory (and owns it), and with
no KAFKA_BOOTSTRAP_SERVERS an embedded broker; it applies the migrations, serves gRPC (BookingService,
health, reflection) and REST (the gateway, OpenAPI, docs) in one event loop, relays the outbox to
Kafka, sweeps expired and no-show bookings, and purges old idempotency keys. SIGTERM or SIGINT
drains: health turns NOT_SERVING and /readyz 503, in-flight calls finish, the relay publishes what
they committed, then the database closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from booking_service.adapters import migrations
from booking_service.adapters.database import check_reachable
from booking_service.adapters.embedded_postgres import DataDirLock, EmbeddedPostgres
from booking_service.bootstrap import PeerUrls, bootstrap
from booking_service.config import DEV_PAGE_TOKEN_SECRET, ConfigError, Settings, is_loopback
from booking_service.entrypoints import deployment, running
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.auth.jwks import JwksKeys
from booking_service.entrypoints.events import build_relay, events_broker
from booking_service.entrypoints.grpc.limits import CallLimits
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.entrypoints.http_limits import ConnectionLimits
from booking_service.entrypoints.readiness import Readiness
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from booking_service.entrypoints.sandbox import admin_url, in_process_url, peer_urls
from booking_service.entrypoints.tls import TlsFiles
from booking_service.observability import tracing
from booking_service.observability.metrics_endpoint import MetricsEndpoint

log = logging.getLogger("booking_service")
PURGE_INTERVAL_SECONDS = 600.0
#: Of SHUTDOWN_GRACE_SECONDS: the share calls in flight may take, and what is kept for closing.
_CALLS_SHARE, _CLOSING = 0.6, 1.0


async def serve(settings: Settings, *, worker: bool = False, dev: bool = False) -> None:
    """`worker`: one of `serve --workers N` (see workers.py): the supervisor has applied the
    migrations, and the ports are shared. `dev`: embedded stand-ins for whatever is not configured,
    even where a production setting is given (deployment.py); else such a half-configured service
    raises ConfigError."""
    settings.check()
    refuse_open_on_network(settings)
    if not worker:  # a worker's supervisor planned them: its environment names what it started
        deployment.plan(settings, dev=dev)
    with stop_signals() as stop, tracing.configure(settings):  # exits flushing the spans left
        async with dependencies(settings) as (database_url, bootstrap_servers, peers):
            if not worker:
                await prepare_schema(settings, database_url)
            async with _running(settings, database_url, bootstrap_servers, peers, worker=worker):
                await stop.wait()
                log.info(
                    "draining: finishing in-flight calls",
                    extra={"grace_seconds": settings.shutdown_grace.seconds},
                )
    log.info("booking-service stopped")


async def prepare_schema(settings: Settings, database_url: str) -> None:
    """Applies the migrations (MIGRATE_ON_START, the default), or checks a migration job did:
    ConfigError naming the schema's revision and the one needed otherwise."""
    session_url = settings.session_url(database_url)  # the migrations hold a lock across transactions
    if settings.migrate_on_start:
        await migrations.upgrade(session_url)
        return
    try:
        await migrations.require_current(session_url)
    except migrations.SchemaBehind as behind:
        raise ConfigError(str(behind)) from None


async def migrate(settings: Settings) -> None:
    async with database(settings, owner="migrate") as database_url:
        await migrations.upgrade(settings.session_url(database_url))
    log.info("migrations applied")


@contextlib.asynccontextmanager
async def dependencies(settings: Settings) -> AsyncIterator[tuple[str, str, PeerUrls]]:
    """The database's URL, the broker's address and the peers: the configured ones, or embedded
    ones (PostgreSQL, broker, sandbox) for as long as the block runs. Whatever runs embedded makes
    this process the data directory's owner (DataDirInUse if another one is): the embedded
    PostgreSQL lives there, and the embedded broker's and sandbox's addresses are published there
    for the operator commands, which a second serve must not overwrite or remove."""
    embedded = [d for d in deployment.dependencies(settings) if not d.configured]
    async with contextlib.AsyncExitStack() as stack:
        if settings.database_url and embedded:  # (the embedded PostgreSQL takes the lock itself)
            lock = DataDirLock(settings.data_dir, "serve")
            await asyncio.to_thread(lock.acquire)
            stack.callback(lock.release)
        database_url = await stack.enter_async_context(database(settings))
        bootstrap_servers = await stack.enter_async_context(events_broker(settings))
        peers = await stack.enter_async_context(peer_urls(settings))
        yield database_url, bootstrap_servers, peers


@contextlib.asynccontextmanager
async def database(settings: Settings, *, owner: str = "serve") -> AsyncIterator[str]:
    """The configured database's URL once it answers (else DatabaseUnreachable), or the embedded
    PostgreSQL's while it runs (DataDirInUse while another process holds the data directory; `owner`:
    the command holding it now)."""
    if settings.database_url:
        await check_reachable(settings.database_url, settings.db_connect_timeout.total_seconds())
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir, owner)
    try:
        url = await asyncio.to_thread(embedded.start)
        log.warning(
            "DATABASE_URL is not set: using the embedded PostgreSQL",
            extra={"data_dir": str(embedded.data_dir)},
        )
        with running.published(settings, running.DATABASE, url):
            yield url
    finally:
        await asyncio.to_thread(embedded.stop)


def _freeze_start_up() -> None:
    """Moves what start-up made and keeps (modules, protobuf descriptors, tables, pools) out of the
    cyclic collector's way (gc.freeze), so that a full collection walks what requests made, not
    the whole heap. Under 16 slot searches at once, full collections of the whole heap took up to
    80 ms each, about once a second: the searches' whole p99 (47 ms frozen, 86 ms not; their
    p50 25 ms either way; measured in process). Frozen objects are still freed when no longer
    referenced, only never searched for cycles."""
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def _running(
    settings: Settings, database_url: str, bootstrap_servers: str, peers: PeerUrls, *, worker: bool
) -> AsyncIterator[None]:
    """The servers and background jobs, from start to a drained stop. `worker`: one of
    `serve --workers N` (the ports are shared, /metrics answers for every worker)."""
    app = bootstrap(settings, database_url, peers)
    jwks = JwksKeys.from_settings(settings)
    try:
        guard = CallGuard.from_settings(settings, jwks)
        chain = interceptors(guard, CallLimits.from_settings(settings))
        tls = TlsFiles.from_settings(settings)
        grpc_server = GrpcServer(
            app.use_cases,
            settings.bind_host,
            settings.grpc_port,
            chain=chain,
            tls=tls,
            max_message_bytes=settings.max_request_bytes,
            max_connections=settings.max_connections,
            max_connection_age_seconds=settings.grpc_max_connection_age.total_seconds(),
            reuse_port=worker,
        )
        metrics = MetricsEndpoint(
            app.connections,
            app.engine,
            breakers={peer.name: peer.breaker for peer in app.peers},
            workers=worker,
        )
        readiness = Readiness(
            database_url,
            interval_seconds=settings.readiness_interval.total_seconds(),
            timeout_seconds=settings.readiness_timeout.total_seconds(),
        )
        readiness.on_change(grpc_server.set_serving)
        gateway = build_gateway(
            app.use_cases,
            readiness.is_ready,
            chain=chain,
            guard=guard,
            max_body_bytes=settings.max_request_bytes,
            metrics=metrics,
            events=settings,
        )
        rest_server = RestServer(
            gateway,
            settings.bind_host,
            settings.http_port,
            tls=tls,
            max_connections=settings.max_connections,
            limits=ConnectionLimits(
                header_timeout_seconds=settings.http_header_timeout.total_seconds(),
                body_timeout_seconds=settings.http_body_timeout.total_seconds(),
                max_header_bytes=settings.http_max_header_bytes,
                max_connections_per_address=settings.max_connections_per_address,
            ),
            reuse_port=worker,
        )
        relay = build_relay(settings, database_url, bootstrap_servers)
        scheme = "https" if tls else "http"
        sandbox = in_process_url(settings, peers)
        if jwks is not None:  # once, bounded; if it fails, calls are refused until run() fetches them
            await jwks.refresh()
        await grpc_server.start()
        await rest_server.start()
        await readiness.probe()  # health and /readyz say what the database says from the first call
        background = [
            asyncio.create_task(readiness.run()),
            asyncio.create_task(relay.run()),
            asyncio.create_task(metrics.run()),
            asyncio.create_task(
                _every(
                    PURGE_INTERVAL_SECONDS,
                    "purged expired idempotency keys",
                    app.use_cases.purge_idempotency_keys,
                )
            ),
            asyncio.create_task(
                _every(
                    settings.sweep_interval.total_seconds(),
                    "swept bookings past their deadlines",
                    app.use_cases.sweep,
                )
            ),
            asyncio.create_task(
                _every(
                    settings.recovery_interval.total_seconds(),
                    "recovered interrupted sagas",
                    app.use_cases.recover,
                )
            ),
        ]
        if jwks is not None:
            background.append(asyncio.create_task(jwks.run()))
        log.info(
            "booking-service serving",
            extra={
                "grpc_address": f"{settings.bind_host}:{grpc_server.port}",
                "rest_address": f"{scheme}://{settings.bind_host}:{rest_server.port}",
                "docs": f"{scheme}://{settings.bind_host}:{rest_server.port}/docs",
                "tls": "mutual" if settings.grpc_client_ca_file else ("on" if tls else "off"),
                "authentication": _authentication(settings),
                "dependencies": {d.part: d.mode for d in deployment.dependencies(settings)},
                **({"sandbox_admin": admin_url(sandbox)} if sandbox else {}),
            },
        )
        if guard.is_open:
            log.warning(
                "AUTHENTICATION IS OFF: any caller may read and change every booking. Configure "
                "AUTH_JWKS_URL or AUTH_JWT_PUBLIC_KEY_FILE (and GRPC_TLS_*) before this service holds "
                "real guests' data.",
                extra={"bind_host": settings.bind_host},
            )
        if not worker and settings.database_url and settings.page_token_secret == DEV_PAGE_TOKEN_SECRET:
            log.warning("PAGE_TOKEN_SECRET is not set: page tokens are signed with the development secret")
        _freeze_start_up()  # after the start-up lines: the ports answer already, the log says so at once
        yield
        # One budget for the whole stop (a container's stop timeout: Docker's is 10 s): calls in
        # flight get most of it, the relay what they leave, and a second is kept for closing.
        budget = settings.shutdown_grace.total_seconds()
        done_by = asyncio.get_running_loop().time() + budget
        calls = budget * _CALLS_SHARE
        # Watch streams never end on their own: each ends now with UNAVAILABLE naming its position
        # (clients resume on another replica), so that the servers' stop waits for calls only.
        await app.use_cases.watches.close()
        await asyncio.gather(grpc_server.stop(calls), rest_server.stop(calls))
        try:
            async with asyncio.timeout(max(0.0, done_by - asyncio.get_running_loop().time() - _CLOSING)):
                await relay.flushed()
        except TimeoutError:
            log.warning("some events are still in the outbox; they are published at the next start")
        relay.close()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    finally:
        if jwks is not None:
            await jwks.aclose()
        await app.aclose()


def refuse_open_on_network(settings: Settings) -> None:
    """An open service (no tokens, no client certificates) listens on loopback only, unless
    AUTH_ALLOW_OPEN says that is really meant (a trial container, a private network)."""
    if settings.authenticates or settings.auth_allow_open or is_loopback(settings.bind_host):
        return
    raise ConfigError(
        f"BIND_HOST={settings.bind_host} is not a loopback address and no authentication is configured: "
        "set AUTH_JWKS_URL or AUTH_JWT_PUBLIC_KEY_FILE, with AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE "
        "(or GRPC_CLIENT_CA_FILE), "
        "or AUTH_ALLOW_OPEN=true to serve anyone on the network"
    )


def _authentication(settings: Settings) -> str:
    if settings.bearer_tokens:
        return "bearer tokens" + (" and client certificates" if settings.grpc_client_ca_file else "")
    return "client certificates" if settings.grpc_client_ca_file else "OFF"


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event SIGTERM or SIGINT sets; held for the whole run, so that a second signal during the
    drain is noted rather than killing the process half-way (with the database still running)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("already stopping; waiting for in-flight calls", extra={"signal": sig.name})
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield stop
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _every(seconds: float, what: str, job: Callable[[], Awaitable[int]]) -> None:
    while True:
        try:
            done = await job()
            if done:
                log.info(what, extra={"count": done})
        except Exception:
            log.exception("periodic job failed; trying again later", extra={"job": what})
        await asyncio.sleep(seconds)
