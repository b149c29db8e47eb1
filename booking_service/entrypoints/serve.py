"""`booking-service serve`: the service's life from start to graceful stop.

With no DATABASE_URL it starts the embedded PostgreSQL in the data directory (and owns it), applies
the migrations, serves gRPC (BookingService, health, reflection) and REST (the gateway, OpenAPI,
docs) in one event loop, and purges old idempotency keys now and then. SIGTERM or SIGINT drains:
health turns NOT_SERVING and /readyz 503, in-flight calls finish, then the database closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from booking_service.adapters import migrations
from booking_service.adapters.embedded_postgres import EmbeddedPostgres
from booking_service.bootstrap import bootstrap
from booking_service.config import DEV_PAGE_TOKEN_SECRET, Settings
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.rest.server import RestServer, build_gateway

log = logging.getLogger("booking_service")
PURGE_INTERVAL_SECONDS = 600.0


async def serve(settings: Settings) -> None:
    async with database(settings) as database_url:
        await migrations.upgrade(database_url)
        app = bootstrap(settings, database_url)
        try:
            server = GrpcServer(app.use_cases, settings.bind_host, settings.grpc_port)
            rest = RestServer(
                build_gateway(app.use_cases, app.is_ready), settings.bind_host, settings.http_port
            )
            await server.start()
            await rest.start()
            log.info(
                "booking-service serving",
                extra={
                    "grpc_address": f"{settings.bind_host}:{server.port}",
                    "rest_address": f"http://{settings.bind_host}:{rest.port}",
                    "docs": f"http://{settings.bind_host}:{rest.port}/docs",
                },
            )
            if settings.database_url and settings.page_token_secret == DEV_PAGE_TOKEN_SECRET:
                log.warning(
                    "PAGE_TOKEN_SECRET is not set: page tokens are signed with the development secret"
                )
            purger = asyncio.create_task(_every(PURGE_INTERVAL_SECONDS, app.use_cases.purge_idempotency_keys))
            await _until_signalled()
            log.info(
                "draining: finishing in-flight calls",
                extra={"grace_seconds": settings.shutdown_grace.seconds},
            )
            grace = settings.shutdown_grace.total_seconds()
            await asyncio.gather(server.stop(grace), rest.stop(grace))
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
        finally:
            await app.aclose()
    log.info("booking-service stopped")


async def migrate(settings: Settings) -> None:
    async with database(settings) as database_url:
        await migrations.upgrade(database_url)
    log.info("migrations applied")


@contextlib.asynccontextmanager
async def database(settings: Settings):  # type: ignore[no-untyped-def]
    """The configured database's URL, or the embedded PostgreSQL's while it runs."""
    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    try:
        url = await asyncio.to_thread(embedded.start)
        log.warning(
            "DATABASE_URL is not set: using the embedded PostgreSQL",
            extra={"data_dir": str(embedded.data_dir)},
        )
        yield url
    finally:
        await asyncio.to_thread(embedded.stop)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _every(seconds: float, job: Callable[[], Awaitable[int]]) -> None:
    while True:
        try:
            done = await job()
            if done:
                log.info("purged expired idempotency keys", extra={"count": done})
        except Exception:
            log.exception("periodic job failed; trying again later")
        await asyncio.sleep(seconds)
