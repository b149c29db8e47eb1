"""A crash in the middle of creating a booking group: kill -9 the service once every item is held
and the group's intent is opened (its answer never comes), restart it, and watch the recovery worker
release every hold and void the intent (sandbox peers in a process of their own, so their state
survives); `booking-service sagas list` shows the group's saga."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc

from tests.e2e.test_command_line import BIN
from tests.e2e.test_crash_recovery import _up, process, restartable, wait_for

pytestmark = pytest.mark.slow


def test_a_group_create_killed_half_way_is_compensated_after_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    sandbox_port, sandbox_url, grpc_port, env, serve = restartable(database_url, tmp_path)
    venue = f"crash-group-{os.getpid()}-{time.time_ns()}"
    start = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    request = pb.CreateBookingGroupRequest(
        guest=pb.Guest(guest_id="crash-guest", name="Crash Test"),
        venue=pb.Venue(venue_id=venue, venue_type=pb.VENUE_TYPE_HOTEL, time_zone="Europe/Berlin"),
        idempotency_key=f"crash-{venue}",
    )
    for room in ("room-1", "room-2", "room-3"):
        item = gpb.BookingGroupItem(unit_id=room, party_size=2)
        item.start_time.FromDatetime(start)
        item.end_time.FromDatetime(start + timedelta(days=2))
        request.items.append(item)

    def state() -> dict:  # type: ignore[type-arg]
        return httpx.get(f"{sandbox_url}/admin/state").json()  # type: ignore[no-any-return]

    def holds() -> list[str]:
        return sorted(h["status"] for h in state()["holds"] if h["venue_id"] == venue)

    def intents() -> list[str]:  # the sandbox is this test's own: every intent is the group's
        return [i["status"] for i in state()["intents"]]

    with process(
        [str(BIN / "booking-service"), "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)],
        tmp_path / "sandbox.log",
    ):
        wait_for(lambda: _up(sandbox_url), what="the sandbox")
        httpx.post(f"{sandbox_url}/admin/faults", json={"hang_seconds": 120}).raise_for_status()
        httpx.post(
            f"{sandbox_url}/admin/fail-next",
            json={"path": "/api/v1/payments/intents", "mode": "timeout_after"},
        ).raise_for_status()
        with process(serve, tmp_path / "serve-1.log", **env) as first:
            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            stub = booking_pb2_grpc.BookingServiceStub(channel)
            grpc.channel_ready_future(channel).result(timeout=60)
            pending = stub.CreateBookingGroup.future(request, timeout=120)
            wait_for(lambda: intents() == ["requires_confirmation"], what="the group's intent")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            channel.close()
            with pytest.raises(grpc.RpcError):
                pending.result()
        assert holds() == ["held"] * 3  # the crash left three holds and an open intent
        assert intents() == ["requires_confirmation"]

        with process(serve, tmp_path / "serve-2.log", **env):
            wait_for(lambda: holds() == ["released"] * 3, what="the recovery")
            wait_for(lambda: intents() == ["canceled"], what="the void")
            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            grpc.channel_ready_future(channel).result(timeout=60)
            retried = booking_pb2_grpc.BookingServiceStub(channel).CreateBookingGroup(request, timeout=30)
            assert [b.status for b in retried.bookings] == [
                pb.BOOKING_STATUS_PENDING
            ] * 3  # the key was freed
            channel.close()
        assert "recovering a saga" in (tmp_path / "serve-2.log").read_text()
