"""`booking-service serve --workers N`: N processes serving the same two ports, so that the service
uses every core (one Python process runs on one).

The supervisor owns what must exist once: the embedded PostgreSQL, the embedded broker and the
sandbox peers (each only when not configured), and the migrations. Each worker is a `serve --worker`
given those addresses in its environment; it binds the ports with SO_REUSEPORT and the kernel spreads
new connections across the workers. Everything a worker runs in the background is safe to run N
times: the relay's partitions are taken under advisory locks, sagas are recovered under a fencing
counter, and the sweeper's changes are conditional updates. SIGTERM or SIGINT is passed on to every
worker, which drains as a single `serve` does; a worker that dies is started again.

The workers write their metrics to a directory the supervisor creates for them and removes at stop
(observability/multiprocess.py), so that a scrape answered by any worker counts them all; a worker
that exits is marked dead there, and its replacement writes files of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

from booking_service.config import ConfigError, Settings
from booking_service.entrypoints import deployment
from booking_service.entrypoints.listening import listen
from booking_service.entrypoints.sandbox import admin_url, in_process_url
from booking_service.entrypoints.serve import (
    dependencies,
    prepare_schema,
    refuse_open_on_network,
    stop_signals,
)
from booking_service.observability.multiprocess import WorkersDirectory, workers_directory

log = logging.getLogger("booking_service")
#: A worker that dies more often than this is not restarted again: the supervisor stops.
MAX_RESTARTS_PER_MINUTE = 5


async def supervise(settings: Settings, workers: int, *, dev: bool = False) -> int:
    """Runs `workers` serving processes until SIGTERM; the exit status for the command line. `dev`:
    as for serve (deployment.plan); the workers are then given the stand-ins' addresses."""
    settings.check()
    refuse_open_on_network(settings)
    deployment.plan(settings, dev=dev)
    if settings.grpc_port == 0 or settings.http_port == 0:
        raise ConfigError("--workers needs fixed ports (GRPC_PORT and HTTP_PORT must not be 0)")
    for what, port in (("gRPC", settings.grpc_port), ("REST", settings.http_port)):
        # Free now (no worker holds them yet), else CannotListen before anything starts: the workers
        # share them (SO_REUSEPORT), so one that fails to bind would only be started again and again.
        listen(what, settings.bind_host, port).close()
    with stop_signals() as stop, workers_directory() as metrics:
        async with dependencies(settings) as (database_url, bootstrap_servers, peers):
            await prepare_schema(settings, database_url)
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                # The embedded broker's address (RabbitMQ's URL is in the environment already).
                **({} if settings.rabbitmq else {"KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers}),
                "INVENTORY_SERVICE_URL": peers.inventory,
                "PRICING_SERVICE_URL": peers.pricing,
                "PAYMENT_SERVICE_URL": peers.payments,
                "GRPC_PORT": str(settings.grpc_port),
                "HTTP_PORT": str(settings.http_port),
                "BIND_HOST": settings.bind_host,
                "BOOKING_DATA_DIR": str(settings.data_dir),
                **metrics.environment(),
            }
            sandbox = in_process_url(settings, peers)
            started = {"sandbox_admin": admin_url(sandbox)} if sandbox else {}
            grace = settings.shutdown_grace.total_seconds()
            return await _run_workers(env, workers, stop, grace, metrics, started)


async def _run_workers(
    env: dict[str, str],
    count: int,
    stop: asyncio.Event,
    grace: float,
    metrics: WorkersDirectory,
    started: dict[str, str],
) -> int:
    """`started`: what the "workers started" line adds (the sandbox's admin URL, when it runs here)."""
    processes = [await _spawn(env, index) for index in range(count)]
    metrics.running(p.pid for p in processes)
    log.info(
        "workers started",
        extra={
            "workers": count,
            "pids": [p.pid for p in processes],
            "metrics_dir": str(metrics.path),
            **started,
        },
    )
    restarts: list[float] = []
    status = 0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await stop.wait()
        for index, process in enumerate(processes):
            if process.returncode is None or stop.is_set():
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60] + [now]
            log.error("worker exited", extra={"worker": index, "exit_status": process.returncode})
            metrics.exited(process.pid)
            if len(restarts) > MAX_RESTARTS_PER_MINUTE:
                log.error("workers keep dying; stopping the service")
                stop.set()
                status = 1
                break
            processes[index] = await _spawn(env, index)
            metrics.running(p.pid for p in processes)
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(grace + 10):
            await asyncio.gather(*(p.wait() for p in processes))
    except TimeoutError:
        for process in processes:
            if process.returncode is None:
                process.kill()
    log.info("workers stopped")
    return status


async def _spawn(env: dict[str, str], index: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "booking_service.entrypoints.cli",
        "serve",
        "--worker",
        env={**env, "BOOKING_WORKER_INDEX": str(index)},
    )
