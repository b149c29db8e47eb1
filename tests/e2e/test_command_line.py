"""`booking-service serve` and `migrate` as a user runs them: a real process, the embedded
PostgreSQL, grpcurl with reflection (no proto files), SIGTERM, and a restart on the same data."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    # A secret of the tests' own: with a production setting given, the development one is refused.
    # The in-process sandbox on any free port: its default, 8003, may be another run's.
    return {
        **env,
        "LOG_FORMAT": "json",
        "PAGE_TOKEN_SECRET": "the tests' page token secret, 32 characters or more",
        "SANDBOX_PORT": "0",
        **extra,
    }


def grpcurl(port: int, *args: str, data: dict | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "grpcurl"), "-plaintext"]
    if data is not None:
        command += ["-d", json.dumps(data)]
    return subprocess.run(
        [*command, f"127.0.0.1:{port}", *args], capture_output=True, text=True, timeout=30, check=False
    )


class Service:
    """A running `booking-service serve`, its log going to a file (a pipe nobody reads would fill)."""

    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        self.process, self.log_path = process, log

    @property
    def log(self) -> str:
        return self.log_path.read_text()


def wait_until_serving(service: Service, port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(f"serve exited early:\n{service.log}")
        if '"SERVING"' in grpcurl(port, "grpc.health.v1.Health/Check").stdout:
            return
        time.sleep(0.3)
    raise AssertionError("serve did not become ready")


def start_line(service: Service) -> dict[str, Any]:
    """The `booking-service serving` log line (written just after the ports answer)."""
    for _ in range(100):
        for line in service.log.splitlines():
            if "booking-service serving" in line:
                found: dict[str, Any] = json.loads(line)
                return found
        time.sleep(0.1)
    raise AssertionError(f"no start line:\n{service.log}")


@contextmanager
def serve(
    data_dir: Path, port: int, log: Path, http_port: int = 0, *, dev: bool = False, **env: str
) -> Iterator[Service]:
    """`serve` on loopback; `dev` for embedded stand-ins beside a configured dependency (deployment.py)."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            [
                str(BIN / "booking-service"),
                "serve",
                "--data-dir",
                str(data_dir),
                "--grpc-port",
                str(port),
                "--http-port",
                str(http_port or free_port()),
                "--host",
                "127.0.0.1",
                *(["--dev"] if dev else []),
            ],
            env=environment(**env),
            stdout=sink,
            stderr=sink,
            text=True,
        )
    service = Service(process, log)
    try:
        wait_until_serving(service, port)
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise


def booking_request(start: datetime) -> dict:
    return {
        "guest": {"guest_id": "cli-guest", "name": "Katherine Johnson", "email": "kj@example.com"},
        "venue": {
            "venue_id": "cli-venue",
            "venue_type": "VENUE_TYPE_HOTEL",
            "name": "Orbit",
            "time_zone": "America/New_York",
        },
        "unit_id": "room-101",
        "start_time": start.isoformat().replace("+00:00", "Z"),
        "end_time": (start + timedelta(days=2)).isoformat().replace("+00:00", "Z"),
        "party_size": 2,
        "idempotency_key": "cli-create-1",
    }


def test_serve_with_the_embedded_database_answers_grpcurl_and_survives_a_restart(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    start = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    with serve(data_dir, port, tmp_path / "first.log") as first:
        banner = next(
            json.loads(line) for line in first.log.splitlines() if "booking-service serving" in line
        )
        assert set(banner["dependencies"].values()) == {"embedded"}, banner  # nothing configured
        listed = grpcurl(port, "list")
        assert listed.stdout.split() == [
            "booking.v1.BookingService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        described = grpcurl(port, "describe", "booking.v1.BookingService.CreateBooking")
        assert (
            "rpc CreateBooking ( .booking.v1.CreateBookingRequest ) returns ( .booking.v1.Booking )"
            in described.stdout
        )
        created = grpcurl(port, "booking.v1.BookingService/CreateBooking", data=booking_request(start))
        assert created.returncode == 0, created.stderr
        booking = json.loads(created.stdout)
        assert booking["status"] == "BOOKING_STATUS_PENDING"

        second = subprocess.run(
            [
                str(BIN / "booking-service"),
                "serve",
                "--data-dir",
                str(data_dir),
                "--grpc-port",
                str(free_port()),
            ],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert f"pid {first.process.pid}" in second.stderr
        assert "already running" in second.stderr

        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=30) == 0
        log = first.log
        assert "draining" in log
        assert "booking-service stopped" in log
        access = [json.loads(line) for line in log.splitlines() if '"message": "rpc"' in line]
        assert {(a["method"], a["code"]) for a in access} >= {
            ("/booking.v1.BookingService/CreateBooking", "OK")
        }

    http_port = free_port()
    with serve(data_dir, port, tmp_path / "second.log", http_port=http_port):
        fetched = grpcurl(
            port, "booking.v1.BookingService/GetBooking", data={"booking_id": booking["booking_id"]}
        )
        assert fetched.returncode == 0, fetched.stderr
        assert json.loads(fetched.stdout)["booking_reference"] == booking["booking_reference"]
        rest = f"http://127.0.0.1:{http_port}"
        over_rest = httpx.get(f"{rest}/api/v1/bookings/reference/{booking['booking_reference']}")
        assert over_rest.json()["booking_id"] == booking["booking_id"]
        assert httpx.get(f"{rest}/readyz").json() == {"status": "ready"}
        replayed = grpcurl(port, "booking.v1.BookingService/CreateBooking", data=booking_request(start))
        assert json.loads(replayed.stdout) == booking


def test_migrate_builds_the_schema_on_the_configured_database(database_url: str) -> None:
    result = subprocess.run(
        [str(BIN / "booking-service"), "migrate"],
        env=environment(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "migrations applied" in result.stderr


def test_a_bad_setting_is_refused_with_its_name() -> None:
    result = subprocess.run(
        [str(BIN / "booking-service"), "serve"],
        env=environment(GRPC_PORT="not-a-port"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "GRPC_PORT" in result.stderr


def test_a_half_configured_service_refuses_to_start_naming_what_is_missing() -> None:
    result = subprocess.run(
        [str(BIN / "booking-service"), "serve", "--grpc-port", "0", "--http-port", "0"],
        env=environment(DATABASE_URL="postgresql://db.invalid/bookings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "configured for production (DATABASE_URL)" in result.stderr
    for missing in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "INVENTORY_SERVICE_URL",
        "PRICING_SERVICE_URL",
        "PAYMENT_SERVICE_URL",
    ):
        assert missing in result.stderr
    assert "Traceback" not in result.stderr


def test_a_stop_fits_its_budget_with_a_call_in_flight_and_the_broker_gone(
    tmp_path: Path, database_url: str
) -> None:
    """SHUTDOWN_GRACE_SECONDS is the whole stop: a call stuck on a slow peer and a relay that cannot
    reach its broker used to take the grace each, one after the other (past a container's stop
    timeout, and then SIGKILL)."""
    data_dir, port, budget = tmp_path / "data", free_port(), 3.0
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nobody listens: nothing is delivered
        "SHUTDOWN_GRACE_SECONDS": str(budget),
        "PEER_TIMEOUT_SECONDS": "30",
        "PEER_RETRIES": "0",
    }
    with serve(data_dir, port, tmp_path / "serve.log", dev=True, **env) as service:
        start = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
        made = grpcurl(port, "booking.v1.BookingService/CreateBooking", data=booking_request(start))
        assert made.returncode == 0, made.stderr  # its event waits in the outbox: no broker takes it
        sandbox = (data_dir / "sandbox.url").read_text().strip()
        slow = {"peer": "pricing", "latency_ms": 20_000}
        httpx.post(f"{sandbox}/admin/faults", json=slow).raise_for_status()
        start += timedelta(days=1)
        create = [
            "-d",
            json.dumps(booking_request(start)),
            f"127.0.0.1:{port}",
            "booking.v1.BookingService/CreateBooking",
        ]
        stuck = subprocess.Popen(
            [str(BIN / "grpcurl"), "-plaintext", "-max-time", "60", *create],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # the create waits on pricing
        began = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=30) == 0
        took = time.monotonic() - began
        stuck.kill()
        assert took < budget + 1.5, f"the stop took {took:.1f} s of a {budget:g} s budget"
