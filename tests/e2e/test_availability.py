"""CheckAvailability: this service's own conflicts on a unit, reported by source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb

from tests.conftest import NOW
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]


def query(booking: pb.CreateBookingRequest | pb.Booking, **fields: object) -> pb.CheckAvailabilityRequest:
    request = pb.CheckAvailabilityRequest(
        venue_id=booking.venue.venue_id, unit_id=booking.unit_id, party_size=2
    )
    request.start_time.CopyFrom(booking.start_time)
    request.end_time.CopyFrom(booking.end_time)
    for name, value in fields.items():
        setattr(request, name, value)
    return request


async def test_a_free_unit_is_available(stub, new_booking: Make) -> None:
    answer = await stub.CheckAvailability(query(new_booking()))
    assert answer.available
    assert list(answer.conflicts) == []
    assert [(c.source, c.available) for c in answer.checks] == [
        (pb.AVAILABILITY_SOURCE_BOOKINGS, True),
        (pb.AVAILABILITY_SOURCE_INVENTORY, True),
    ]


async def test_a_held_unit_lists_the_conflicts(stub, new_booking: Make) -> None:
    held = await stub.CreateBooking(new_booking())
    answer = await stub.CheckAvailability(query(held))
    assert not answer.available
    assert [b.booking_id for b in answer.conflicts] == [held.booking_id]
    assert answer.checks[0].reason
    # The booking itself, when rescheduling it, is no conflict.
    assert (await stub.CheckAvailability(query(held, exclude_booking_id=held.booking_id))).available


async def test_a_conflict_names_the_booking_never_its_guest(stub, new_booking: Make) -> None:
    """Whoever may ask about availability learns which booking is in the way and when, not whose it
    is: the answer carries no name, email, phone or guest id of the other booking's guest."""
    held = await stub.CreateBooking(new_booking())
    answer = await stub.CheckAvailability(query(held))
    expected = pb.ConflictingBooking(
        booking_id=held.booking_id,
        booking_reference=held.booking_reference,
        status=held.status,
        unit_id=held.unit_id,
        start_time=held.start_time,
        end_time=held.end_time,
    )
    assert list(answer.conflicts) == [expected]
    assert list(answer.conflicting_bookings) == []  # deprecated, never filled
    wire = answer.SerializeToString()
    for value in (held.guest.name, held.guest.email, held.guest.phone, held.guest.guest_id):
        assert value
        assert value.encode() not in wire


async def test_released_units_are_available_again(stub, new_booking: Make) -> None:
    held = await stub.CreateBooking(new_booking())
    await stub.CancelBooking(pb.CancelBookingRequest(booking_id=held.booking_id, expected_version=1))
    assert (await stub.CheckAvailability(query(held))).available


async def test_a_bad_question_is_an_invalid_argument(stub, new_booking: Make) -> None:
    request = query(new_booking(), party_size=0, venue_id="")
    request.end_time.CopyFrom(request.start_time)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CheckAvailability(request)
    error = rich_error(raised.value)
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert set(error.violations) == {"venue_id", "end_time", "party_size"}


async def test_a_later_window_on_the_same_unit_is_available(stub, new_booking: Make) -> None:
    held = await stub.CreateBooking(new_booking())
    later = query(held)
    later.start_time.FromDatetime(NOW + timedelta(days=2, hours=11))  # the held booking ends then
    later.end_time.FromDatetime(NOW + timedelta(days=2, hours=13))
    assert (await stub.CheckAvailability(later)).available
