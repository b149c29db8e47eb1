"""A unit refused only because of turnover buffers (D4): create, reschedule and CheckAvailability
say which booking's times and which buffer keep it off, with the buffer's value and source (the
venue's policy and version), as README "Booking rules per venue" promises of every refusal; the
code and reason stay ALREADY_EXISTS / UNIT_UNAVAILABLE."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb

from tests.conftest import NOW
from tests.e2e.test_venue_policy import policy_request, source
from tests.helpers import RichError, rich_error

Make = Callable[..., pb.CreateBookingRequest]
#: 19:00 UTC two days after NOW: the first booking lasts to 21:00, its buffer_after to 21:15.
SEVEN = NOW.replace(hour=19) + timedelta(days=2)
HOUR = timedelta(hours=1)


async def refused(call: Any) -> RichError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE")
    return error


async def buffered_venue(stub: Any, new_booking: Make) -> tuple[pb.CreateBookingRequest, pb.Booking]:
    """A venue whose policy (version 1) sets buffer_after to 15 minutes, and unit t booked from
    19:00 to 21:00 under it."""
    first = new_booking(start_time=SEVEN, end_time=SEVEN + 2 * HOUR, unit_id="t")
    await stub.UpdateVenuePolicy(policy_request(first.venue.venue_id, buffer_after=timedelta(minutes=15)))
    return first, await stub.CreateBooking(first)


def iso(at: datetime) -> str:
    return at.isoformat()


def assert_names_the_buffer(message: str, venue: str) -> None:
    assert "already booked" not in message
    assert f"booked from {iso(SEVEN)} to {iso(SEVEN + 2 * HOUR)}" in message, message
    assert f"that booking's buffer_after of 15 minutes ({source(venue)})" in message, message


async def test_a_create_refused_by_a_buffer_names_it(
    stub: Any, rest: httpx.AsyncClient, new_booking: Make
) -> None:
    """The reported case: 21:00 to 22:00 overlaps no booking, only the first's 15 minutes after."""
    first, _ = await buffered_venue(stub, new_booking)
    venue = first.venue.venue_id
    second = new_booking(
        venue=first.venue, unit_id="t", start_time=SEVEN + 2 * HOUR, end_time=SEVEN + 3 * HOUR
    )
    error = await refused(stub.CreateBooking(second))
    assert_names_the_buffer(error.message, venue)
    assert f"which ends 0 seconds before {iso(SEVEN + 2 * HOUR)} to {iso(SEVEN + 3 * HOUR)}" in error.message
    assert error.metadata["held_buffer_after"] == f"900s ({source(venue)})"
    assert error.metadata["held_end_time"] == iso(SEVEN + 2 * HOUR)
    # over REST the same words (409)
    body = {
        "guest": {"guest_id": "guest-9", "name": "Alan Turing"},
        "venue": {"venue_id": venue, "venue_type": "VENUE_TYPE_RESTAURANT"},
        "unit_id": "t",
        "start_time": iso(SEVEN + 2 * HOUR),
        "end_time": iso(SEVEN + 3 * HOUR),
        "party_size": 2,
    }
    answer = await rest.post("/api/v1/bookings", json=body)
    assert answer.status_code == 409
    assert_names_the_buffer(answer.json()["message"], venue)
    # an overlap of the times themselves says so, with no buffer
    overlap = new_booking(venue=first.venue, unit_id="t", start_time=SEVEN + HOUR, end_time=SEVEN + 3 * HOUR)
    plain = await refused(stub.CreateBooking(overlap))
    assert f"overlapping {iso(SEVEN + HOUR)} to {iso(SEVEN + 3 * HOUR)}" in plain.message
    assert "buffer" not in plain.message


async def test_a_reschedule_refused_by_a_buffer_names_it(stub: Any, new_booking: Make) -> None:
    """The exclusion constraint refuses the move (the inventory knows no buffers): the refusal is
    worded with the booking in the way, read after."""
    first, _ = await buffered_venue(stub, new_booking)
    later = new_booking(
        venue=first.venue, unit_id="t", start_time=SEVEN + 3 * HOUR, end_time=SEVEN + 4 * HOUR
    )
    made = await stub.CreateBooking(later)
    move = pb.UpdateBookingRequest(booking_id=made.booking_id, expected_version=made.version)
    move.start_time.FromDatetime(SEVEN + 2 * HOUR)
    move.end_time.FromDatetime(SEVEN + 3 * HOUR)
    error = await refused(stub.UpdateBooking(move))
    assert_names_the_buffer(error.message, first.venue.venue_id)
    assert error.metadata["held_buffer_after"] == f"900s ({source(first.venue.venue_id)})"


async def test_check_availability_names_the_buffer(stub: Any, new_booking: Make) -> None:
    first, _ = await buffered_venue(stub, new_booking)
    check = pb.CheckAvailabilityRequest(venue_id=first.venue.venue_id, unit_id="t", party_size=2)
    check.start_time.FromDatetime(SEVEN + 2 * HOUR)
    check.end_time.FromDatetime(SEVEN + 3 * HOUR)
    answer = await stub.CheckAvailability(check)
    assert not answer.available
    reason = answer.checks[0].reason
    assert reason.startswith("unit t is held by 1 overlapping booking(s): ")
    assert_names_the_buffer(reason, first.venue.venue_id)
