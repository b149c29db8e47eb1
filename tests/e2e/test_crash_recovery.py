"""A crash between two saga steps: kill -9 the service mid-create, restart it, and watch the
recovery worker compensate (sandbox peers in a process of their own, so their state survives)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc

from tests.e2e.test_command_line import BIN, environment, free_port

pytestmark = pytest.mark.slow


def wait_for(check, timeout: float = 30, what: str = "it") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout} s")


@contextmanager
def process(args: list[str], log: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        proc = subprocess.Popen(args, env=environment(**env), stdout=sink, stderr=sink)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def restartable(database_url: str, tmp_path: Path) -> tuple[int, str, int, dict[str, str], list[str]]:
    """A serve to kill and start again: its own sandbox's port and URL (the sandbox is started by
    the test, apart, so that it outlives the kills), the gRPC port, the environment (a short saga
    lease, frequent recovery, peer calls that may hang for a minute) and the command."""
    sandbox_port, grpc_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        "DATABASE_URL": database_url,
        "INVENTORY_SERVICE_URL": sandbox_url,
        "PRICING_SERVICE_URL": sandbox_url,
        "PAYMENT_SERVICE_URL": sandbox_url,
        "SAGA_LEASE_SECONDS": "2",
        "RECOVERY_INTERVAL_SECONDS": "0.5",
        "PEER_TIMEOUT_SECONDS": "60",
    }
    serve = [
        str(BIN / "booking-service"),
        "serve",
        "--dev",  # the database and peers are real, the broker embedded
        "--data-dir",
        str(tmp_path / "data"),
        "--host",
        "127.0.0.1",
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(free_port()),
    ]
    return sandbox_port, sandbox_url, grpc_port, env, serve


def test_a_create_killed_between_steps_is_compensated_after_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    sandbox_port, sandbox_url, grpc_port, env, serve = restartable(database_url, tmp_path)
    venue = f"crash-hotel-{os.getpid()}-{time.time_ns()}"
    start = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    request = pb.CreateBookingRequest(
        guest=pb.Guest(guest_id="crash-guest", name="Crash Test"),
        venue=pb.Venue(venue_id=venue, venue_type=pb.VENUE_TYPE_HOTEL, time_zone="Europe/Berlin"),
        unit_id="room-1",
        party_size=2,
        idempotency_key=f"crash-{venue}",
    )
    request.start_time.FromDatetime(start)
    request.end_time.FromDatetime(start + timedelta(days=2))

    def state() -> dict:
        return httpx.get(f"{sandbox_url}/admin/state").json()

    def mine(kind: str) -> list[dict]:
        holds = {h["booking_id"] for h in state()["holds"] if h["venue_id"] == venue}
        items = state()[kind]
        return [x for x in items if x.get("venue_id") == venue or x.get("booking_id") in holds]

    with process(
        [str(BIN / "booking-service"), "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)],
        tmp_path / "sandbox.log",
    ):
        wait_for(lambda: _up(sandbox_url), what="the sandbox")
        # The intent gets opened, then its answer never comes: the saga is between two steps.
        httpx.post(f"{sandbox_url}/admin/faults", json={"hang_seconds": 120}).raise_for_status()
        httpx.post(
            f"{sandbox_url}/admin/fail-next",
            json={"path": "/api/v1/payments/intents", "mode": "timeout_after"},
        ).raise_for_status()
        with process(serve, tmp_path / "serve-1.log", **env) as first:
            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            stub = booking_pb2_grpc.BookingServiceStub(channel)
            grpc.channel_ready_future(channel).result(timeout=60)
            pending = stub.CreateBooking.future(request, timeout=120)
            wait_for(lambda: len(mine("intents")) == 1, what="the intent")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            channel.close()
            with pytest.raises(grpc.RpcError):
                pending.result()
        assert [h["status"] for h in mine("holds")] == ["held"]  # the crash left a hold and an intent
        assert [i["status"] for i in mine("intents")] == ["requires_confirmation"]

        with process(serve, tmp_path / "serve-2.log", **env):
            wait_for(lambda: [h["status"] for h in mine("holds")] == ["released"], what="the recovery")
            wait_for(lambda: [i["status"] for i in mine("intents")] == ["canceled"], what="the void")
            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            grpc.channel_ready_future(channel).result(timeout=60)
            retried = booking_pb2_grpc.BookingServiceStub(channel).CreateBooking(request, timeout=30)
            assert retried.status == pb.BOOKING_STATUS_PENDING  # the key was freed: the retry runs afresh
            listed = booking_pb2_grpc.BookingServiceStub(channel).ListVenueBookings(
                pb.ListVenueBookingsRequest(venue_id=venue), timeout=30
            )
            assert [b.booking_id for b in listed.bookings] == [retried.booking_id]
            assert sorted(h["status"] for h in mine("holds")) == ["held", "released"]
            channel.close()
        log = (tmp_path / "serve-2.log").read_text()
        assert "recovering a saga" in log
        assert any(
            json.loads(line).get("message") == "recovering a saga"
            for line in log.splitlines()
            if line.startswith("{")
        )


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/admin/state", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
