"""/metrics under `booking-service serve --workers 2`, a real supervisor and its workers: whichever
worker answers, a scrape counts every worker's calls, and a worker killed and started again takes
nothing away from the totals (issue 15: each scrape used to see one worker's counters)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.e2e.test_command_line import environment, free_port
from tests.e2e.test_workers import _count, _log, children, wait_ready, workers_command

pytestmark = pytest.mark.slow

POOL_SIZE = 3
GET_BOOKING = "/booking.v1.BookingService/GetBooking"
MISSING = "/api/v1/bookings/00000000-0000-4000-8000-000000000000"


def scrape(base: str) -> list[Sample]:
    """One scrape over a new connection (the kernel picks the worker that answers)."""
    with httpx.Client(base_url=base, timeout=10) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    families = list(text_string_to_metric_families(response.text))
    names = Counter(f.name for f in families)
    assert not [n for n, c in names.items() if c > 1], "each metric once per scrape"
    return [s for f in families for s in f.samples]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def calls(base: str, count: int) -> None:
    for _ in range(count):  # a new connection each time: the kernel spreads them across the workers
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get(MISSING).status_code == 404


def test_one_scrape_counts_every_worker(tmp_path: Path, database_url: str) -> None:
    grpc_port, http_port, log = free_port(), free_port(), tmp_path / "serve.log"
    with log.open("w") as sink:
        supervisor = subprocess.Popen(
            workers_command(grpc_port, http_port, "--dev"),
            env=environment(
                DATABASE_URL=database_url,
                BOOKING_DATA_DIR=str(tmp_path / "data"),
                DB_POOL_SIZE=str(POOL_SIZE),
            ),
            stdout=sink,
            stderr=sink,
            text=True,
        )
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_ready(f"{base}/readyz", supervisor, log)
        deadline = time.monotonic() + 30
        while (
            len(workers := children(supervisor.pid)) < 2 or _count(log, "booking-service serving") < 2
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 2
        (started,) = [e for e in _log(log) if e.get("message") == "workers started"]
        directory = Path(started["metrics_dir"])
        assert directory.stat().st_mode & 0o077 == 0, "private to the service's user"
        first = 60
        calls(base, first)
        served = Counter(e["pid"] for e in _log(log) if e.get("message") == "rpc")
        assert set(served) == set(workers), f"both workers answered calls: {served}"
        assert sum(served.values()) == first
        time.sleep(1.5)  # the workers publish their pool every second
        for _ in range(12):  # scrapes are not calls: they count in neither booking_calls_total
            samples = scrape(base)  # nor the call histogram, whichever worker answers
            assert total(samples, "booking_calls_total") == first
            assert total(samples, "booking_calls_total", method=GET_BOOKING, code="NOT_FOUND") == first
            assert total(samples, "booking_call_duration_seconds_count") == first
            assert _pids(samples) == set(workers), "each worker's process metrics, by pid"
            assert total(samples, "booking_db_pool_size") == 2 * POOL_SIZE, "the live workers' pools"
            assert len([s for s in samples if s.name == "booking_outbox_unsent_events"]) == 1
            states = [s for s in samples if s.name == "booking_peer_circuit_state"]
            assert sorted(s.labels["peer"] for s in states) == ["inventory", "payments", "pricing"]
            assert all(s.value == 0 and "pid" not in s.labels for s in states)

        victim = workers[0]
        subprocess.run(["kill", "-9", str(victim)], check=True)
        deadline = time.monotonic() + 60
        while _count(log, "booking-service serving") < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _count(log, "booking-service serving") == 3, "the dead worker was started again"
        replaced = children(supervisor.pid)
        assert victim not in replaced
        assert len(replaced) == 2
        time.sleep(1.5)
        for _ in range(6):  # the dead worker's calls still count: no counter went backwards
            samples = scrape(base)
            assert total(samples, "booking_calls_total") == first
            assert total(samples, "booking_call_duration_seconds_count") == first
            assert _pids(samples) == set(replaced)
            assert total(samples, "booking_db_pool_size") == 2 * POOL_SIZE, "the dead pool is gone"

        more = 20
        calls(base, more)
        for _ in range(6):
            assert total(scrape(base), "booking_calls_total") == first + more
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0, log.read_text()
    assert not directory.exists(), "the supervisor removes its metrics directory at stop"


def _pids(samples: list[Sample]) -> set[int]:
    return {int(s.labels["pid"]) for s in samples if s.name == "process_start_time_seconds"}
