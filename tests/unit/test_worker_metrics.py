"""How the workers' metrics combine in one scrape (observability/multiprocess.py): each worker here is
a real process writing the service's own metric definitions into the supervisor's directory, and
the scrape is the registry a worker serves."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.ext.asyncio import create_async_engine

from booking_service.adapters.connections import Connections
from booking_service.observability import multiprocess
from booking_service.observability.metrics_endpoint import MetricsEndpoint
from booking_service.observability.multiprocess import WorkersDirectory, merged_registry, workers_directory

#: One worker's life: a call served, its pool and breakers published, a reconciliation's finding.
WORKER = textwrap.dedent(
    """
    import os
    import sys
    from booking_service.observability import metrics, multiprocess

    assert multiprocess.directory() is not None, "prometheus_client saw the directory at import"
    in_use, size, inventory, drifts = (int(a) for a in sys.argv[1:])
    metrics.observe_call("grpc", "/booking.v1.BookingService/GetBooking", "OK", 0.003)
    for gauge, value in zip(metrics.WORKER_POOL, (in_use, size - in_use, size)):
        gauge.set(value)
    metrics.WORKER_BREAKER_STATE.labels("inventory").set(inventory)
    metrics.WORKER_BREAKER_STATE.labels("pricing").set(0)
    metrics.RECONCILE_DRIFTS.labels("hold_without_active_booking").set(drifts)
    print(os.getpid())
    """
)


def worker(directory: WorkersDirectory, *args: int) -> int:
    """Runs one worker to its end; its pid."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *map(str, args)],
        env={**os.environ, **directory.environment()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def scrape(path: Path) -> list[Sample]:
    body = generate_latest(merged_registry(path)).decode()
    return [s for f in text_string_to_metric_families(body) for s in f.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    found = [s for s in samples if s.name == name and s.labels == labels]
    assert len(found) <= 1, found
    return found[0].value if found else None


def test_counters_sum_over_every_worker_and_gauges_by_their_mode() -> None:
    with workers_directory() as directory:
        first = worker(directory, 2, 5, 2, 7)  # its inventory circuit open
        second = worker(directory, 1, 5, 0, 3)  # the later reconciliation
        directory.running([first, second])
        samples = scrape(directory.path)
        calls = {"code": "OK", "method": "/booking.v1.BookingService/GetBooking", "transport": "grpc"}
        assert value(samples, "booking_calls_total", **calls) == 2
        histogram = {k: calls[k] for k in ("method", "transport")}
        assert value(samples, "booking_call_duration_seconds_count", **histogram) == 2
        assert value(samples, "booking_db_pool_connections_in_use") == 3  # livesum
        assert value(samples, "booking_db_pool_size") == 10
        assert value(samples, "booking_peer_circuit_state", peer="inventory") == 2  # livemax: the worst
        assert value(samples, "booking_peer_circuit_state", peer="pricing") == 0
        assert value(samples, "booking_reconcile_drifts", kind="hold_without_active_booking") == 3
        assert not [s for s in samples if s.name.startswith("booking_") and "pid" in s.labels]

        directory.exited(first)  # the supervisor saw it die: its pool and breakers leave the merge
        samples = scrape(directory.path)
        assert value(samples, "booking_calls_total", **calls) == 2, "a dead worker's calls still count"
        assert value(samples, "booking_call_duration_seconds_count", **histogram) == 2
        assert value(samples, "booking_db_pool_connections_in_use") == 1
        assert value(samples, "booking_db_pool_size") == 5
        assert value(samples, "booking_peer_circuit_state", peer="inventory") == 0
        directory.exited(second)
        samples = scrape(directory.path)
        assert value(samples, "booking_reconcile_drifts", kind="hold_without_active_booking") == 3, (
            "the latest finding outlives the worker that made it"
        )
        assert value(samples, "booking_db_pool_size") is None
    assert not directory.path.exists()


def test_process_metrics_per_running_worker() -> None:
    with workers_directory() as directory:
        assert directory.path.stat().st_mode & 0o777 == 0o700
        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            directory.running([os.getpid(), sleeper.pid, 2**22 + 1])  # the last one does not exist
            samples = scrape(directory.path)
        finally:
            sleeper.kill()
            sleeper.wait()
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        pids = {s.labels["pid"] for s in samples if s.name == name}
        assert pids == {str(os.getpid()), str(sleeper.pid)}, name
    assert len([s for s in samples if s.name == "python_info"]) == 1


def test_a_single_process_serves_its_own_registry() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert multiprocess.directory() is None  # the test process was started without the directory
    pool = Connections("postgresql://nobody@127.0.0.1:1/none")
    MetricsEndpoint(pool, engine)
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        MetricsEndpoint(pool, engine, workers=True)
