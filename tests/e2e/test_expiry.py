"""A PENDING booking past its deadline is expired by whatever meets it first; no sweeper needed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb

from tests.conftest import FakeClock
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
PAST_DEADLINE = timedelta(minutes=16)


async def test_an_overdue_booking_cannot_be_confirmed_and_is_recorded_as_expired(
    stub, new_booking: Make, clock: FakeClock
) -> None:
    created = await stub.CreateBooking(new_booking())
    clock.advance(PAST_DEADLINE)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=created.booking_id,
                expected_version=1,
                status=pb.BOOKING_STATUS_CONFIRMED,
                idempotency_key="late-confirm",
            )
        )
    error = rich_error(raised.value)
    assert (error.code, error.reason, error.metadata["current_status"]) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVALID_TRANSITION",
        "EXPIRED",
    )
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert (fetched.status, fetched.version) == (pb.BOOKING_STATUS_EXPIRED, 2)
    assert (fetched.history[-1].source, fetched.history[-1].actor) == (
        pb.CHANGE_SOURCE_SYSTEM,
        "booking-service",
    )
    # The failed request stored nothing under its key: the same key works for a new request.
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=created.booking_id,
                expected_version=2,
                status=pb.BOOKING_STATUS_CONFIRMED,
                idempotency_key="late-confirm",
            )
        )
    assert rich_error(again.value).reason == "INVALID_TRANSITION"


async def test_an_overdue_booking_does_not_block_its_unit(stub, new_booking: Make, clock: FakeClock) -> None:
    request = new_booking()
    stale = await stub.CreateBooking(request)
    clock.advance(PAST_DEADLINE)
    check = pb.CheckAvailabilityRequest(venue_id=stale.venue.venue_id, unit_id=stale.unit_id, party_size=2)
    check.start_time.CopyFrom(stale.start_time)
    check.end_time.CopyFrom(stale.end_time)
    assert (await stub.CheckAvailability(check)).available
    request.guest.guest_id = "punctual-guest"
    fresh = await stub.CreateBooking(request)
    assert fresh.unit_id == stale.unit_id
    expired = await stub.GetBooking(pb.GetBookingRequest(booking_id=stale.booking_id))
    assert expired.status == pb.BOOKING_STATUS_EXPIRED


async def test_a_booking_confirmed_in_time_never_expires(stub, new_booking: Make, clock: FakeClock) -> None:
    created = await stub.CreateBooking(new_booking())
    clock.advance(timedelta(minutes=14))
    confirmed = await stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=created.booking_id, expected_version=1, status=pb.BOOKING_STATUS_CONFIRMED
        )
    )
    clock.advance(timedelta(days=1))
    assert not confirmed.HasField("expire_time")
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert fetched.status == pb.BOOKING_STATUS_CONFIRMED
