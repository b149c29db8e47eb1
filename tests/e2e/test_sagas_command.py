"""`booking-service sagas list|retry|resolve` as an operator runs it: a real process on the test
database and the sandbox peers, acting on sagas given up on by the service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from booking.v1 import booking_pb2 as pb

from tests.e2e.peers_support import World, hotel_booking, run_command, world

Make = Callable[..., pb.CreateBookingRequest]
pytestmark = pytest.mark.slow


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:
    async with world(database_url, settings, sandbox) as running:
        yield running


async def sagas(w: World, database_url: str, data_dir: Path, *args: str) -> tuple[int, str]:
    return await run_command(w, database_url, data_dir, "sagas", *args)


async def stuck_release(w: World, new_booking: Make) -> tuple[pb.Booking, object]:
    """A cancelled prepaid booking whose hold the inventory lost: its release needs attention."""
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    booking = await w.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=1, status=pb.BOOKING_STATUS_CONFIRMED
        )
    )
    hold = w.sandbox.state.inventory.holds.pop(booking.inventory_reservation_id)
    await w.stub.CancelBooking(pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=2))
    return booking, hold


async def get(w: World, booking_id: str) -> pb.Booking:
    return await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))


async def test_an_operator_lists_and_retries_a_saga_once_the_peer_is_fixed(
    w: World, new_booking: Make, database_url: str, tmp_path: Path
) -> None:
    booking, hold = await stuck_release(w, new_booking)
    code, out = await sagas(w, database_url, tmp_path, "list", "--booking", booking.booking_id, "--json")
    assert code == 0, out
    [listed] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert (listed["kind"], listed["status"], listed["booking_id"]) == (
        "release",
        "needs_attention",
        booking.booking_id,
    )
    assert booking.inventory_reservation_id in listed["error"]

    code, out = await sagas(w, database_url, tmp_path, "retry", listed["saga_id"])  # still lost
    assert code == 1, out
    assert "needs_attention" in out
    w.sandbox.state.inventory.holds[booking.inventory_reservation_id] = hold  # the peer is fixed
    code, out = await sagas(w, database_url, tmp_path, "retry", listed["saga_id"], "--actor", "ops-ana")
    assert code == 0, out
    assert hold.status == "released"  # type: ignore[attr-defined]
    stored = await get(w, booking.booking_id)
    assert list(stored.attention) == []
    assert stored.history[-1].actor == "ops-ana"
    code, out = await sagas(w, database_url, tmp_path, "list", "--booking", booking.booking_id)
    assert out.strip() == "no sagas", out


async def test_an_operator_resolves_a_saga_settled_by_hand(
    w: World, new_booking: Make, database_url: str, tmp_path: Path
) -> None:
    booking, _ = await stuck_release(w, new_booking)
    code, out = await sagas(w, database_url, tmp_path, "list", "--booking", booking.booking_id)
    assert code == 0, out
    assert "needs_attention" in out
    saga_id = out.splitlines()[1].split()[0]
    code, out = await sagas(w, database_url, tmp_path, "resolve", saga_id)
    assert code == 2  # --note is required
    code, out = await sagas(
        w, database_url, tmp_path, "resolve", saga_id, "--note", "the hotel confirmed the room is free"
    )
    assert code == 0, out
    stored = await get(w, booking.booking_id)
    assert list(stored.attention) == []
    assert stored.history[-1].reason == "resolved by an operator: the hotel confirmed the room is free"
    code, out = await sagas(w, database_url, tmp_path, "resolve", saga_id, "--note", "again")
    assert code == 1
    assert "resolved" in out
    code, out = await sagas(
        w, database_url, tmp_path, "list", "--status", "resolved", "--booking", booking.booking_id
    )
    assert saga_id in out
    for bad in (
        ["retry", f"{saga_id} "],
        ["resolve", f"{{{saga_id}}}", "--note", "n"],
        ["list", "--booking", "x"],
    ):
        code, out = await sagas(w, database_url, tmp_path, *bad)
        assert code == 1, out  # a clear refusal, not the database's error
        assert "(a UUID)" in out, out
        assert "Traceback" not in out, out
