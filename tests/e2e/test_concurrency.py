"""No double booking, optimistic locking and idempotency under real concurrency (one PostgreSQL,
many calls in flight at once over real gRPC)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb

from tests.conftest import NOW
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]


async def outcomes(calls: list) -> list[pb.Booking | grpc.aio.AioRpcError]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, grpc.aio.AioRpcError):
            raise result
    return results


async def test_thirty_concurrent_creates_for_one_unit_leave_exactly_one_booking(
    stub, new_booking: Make
) -> None:
    template = new_booking()
    requests = []
    for i in range(30):
        request = pb.CreateBookingRequest()
        request.CopyFrom(template)
        request.guest.guest_id = f"{template.guest.guest_id}-{i}"
        start = NOW + timedelta(days=2, hours=9, minutes=i)  # all windows overlap one another
        request.start_time.FromDatetime(start)
        request.end_time.FromDatetime(start + timedelta(hours=1))
        requests.append(request)
    results = await outcomes([stub.CreateBooking(r) for r in requests])
    won = [r for r in results if isinstance(r, pb.Booking)]
    lost = [rich_error(r) for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(won) == 1
    assert {(e.code, e.reason) for e in lost} == {(grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE")}
    listed = await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=template.venue.venue_id))
    assert [b.booking_id for b in listed.bookings] == [won[0].booking_id]


async def test_twenty_concurrent_creates_with_one_key_make_one_booking(stub, new_booking: Make) -> None:
    request = new_booking(idempotency_key="one-key-for-twenty")
    results = await outcomes([stub.CreateBooking(request) for _ in range(20)])
    assert all(isinstance(r, pb.Booking) for r in results), results
    assert len({r.SerializeToString(deterministic=True) for r in results}) == 1
    listed = await stub.ListGuestBookings(pb.ListGuestBookingsRequest(guest_id=request.guest.guest_id))
    assert len(listed.bookings) == 1
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=results[0].booking_id))
    assert len(fetched.history) == 1


async def test_the_same_key_with_another_request_is_refused_and_changes_nothing(
    stub, new_booking: Make
) -> None:
    first = await stub.CreateBooking(new_booking(idempotency_key="reused"))
    different = new_booking(idempotency_key="reused", party_size=7, unit_id="another-unit")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateBooking(different)
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED")
    listed = await stub.ListGuestBookings(pb.ListGuestBookingsRequest(guest_id=different.guest.guest_id))
    assert [b.booking_id for b in listed.bookings] == [first.booking_id]
    assert listed.bookings[0].party_size == 4
    # The first request replays as often as it is asked, even after the booking moved on.
    await stub.CancelBooking(pb.CancelBookingRequest(booking_id=first.booking_id, expected_version=1))
    assert await stub.CreateBooking(new_booking(idempotency_key="reused")) == first


async def test_a_request_refused_by_validation_stores_nothing(stub, new_booking: Make) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.CreateBooking(new_booking(idempotency_key="fix-and-retry", party_size=0))
    fixed = await stub.CreateBooking(new_booking(idempotency_key="fix-and-retry"))
    assert fixed.party_size == 4


async def test_keys_are_scoped_to_the_method(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking(idempotency_key="same-key"))
    cancelled = await stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=1, idempotency_key="same-key")
    )
    assert cancelled.status == pb.BOOKING_STATUS_CANCELLED


@pytest.mark.parametrize(
    "change",
    [
        lambda b, key: (
            "UpdateBooking",
            pb.UpdateBookingRequest(booking_id=b, expected_version=1, party_size=5, idempotency_key=key),
        ),
        lambda b, key: (
            "CancelBooking",
            pb.CancelBookingRequest(booking_id=b, expected_version=1, reason="x", idempotency_key=key),
        ),
        lambda b, key: (
            "UpdateBookingStatus",
            pb.UpdateBookingStatusRequest(
                booking_id=b, expected_version=1, status=pb.BOOKING_STATUS_CONFIRMED, idempotency_key=key
            ),
        ),
    ],
    ids=["update", "cancel", "status"],
)
async def test_a_retried_change_is_done_once(stub, new_booking: Make, change) -> None:
    created = await stub.CreateBooking(new_booking())
    method, request = change(created.booking_id, f"retry-{created.booking_id}")
    results = await outcomes([getattr(stub, method)(request) for _ in range(10)])
    assert all(isinstance(r, pb.Booking) for r in results), results
    assert {r.version for r in results} == {2}
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert (fetched.version, len(fetched.history)) == (2, 2)


async def test_two_concurrent_changes_from_one_version_one_wins(stub, new_booking: Make) -> None:
    for _ in range(5):
        created = await stub.CreateBooking(new_booking(unit_id=""))
        results = await outcomes(
            [
                stub.UpdateBooking(
                    pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, party_size=2)
                ),
                stub.UpdateBooking(
                    pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, party_size=3)
                ),
                stub.UpdateBookingStatus(
                    pb.UpdateBookingStatusRequest(
                        booking_id=created.booking_id, expected_version=1, status=pb.BOOKING_STATUS_CONFIRMED
                    )
                ),
                stub.CancelBooking(
                    pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=1)
                ),
            ]
        )
        won = [r for r in results if isinstance(r, pb.Booking)]
        lost = Counter(
            (rich_error(r).code, rich_error(r).reason) for r in results if not isinstance(r, pb.Booking)
        )
        assert len(won) == 1
        # The losers are told to re-read (VERSION_MISMATCH), or, while the winner is still moving
        # the booking's inventory hold, to retry shortly (CONTENTION).
        assert sum(lost.values()) == 3
        assert {code for code, _ in lost} == {grpc.StatusCode.ABORTED}
        assert {reason for _, reason in lost} <= {"VERSION_MISMATCH", "CONTENTION"}
        fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
        assert fetched.version == 2
        assert len(fetched.history) == 2


async def test_a_reschedule_onto_a_taken_slot_changes_nothing(stub, new_booking: Make) -> None:
    evening = NOW + timedelta(days=2, hours=18)
    mine = await stub.CreateBooking(new_booking())
    theirs = new_booking(start_time=evening, end_time=evening + timedelta(hours=2))
    theirs.guest.guest_id = "their-guest"
    await stub.CreateBooking(theirs)
    before = await stub.GetBooking(pb.GetBookingRequest(booking_id=mine.booking_id))
    request = pb.UpdateBookingRequest(booking_id=mine.booking_id, expected_version=1, party_size=2)
    request.start_time.FromDatetime(evening + timedelta(hours=1))
    request.end_time.FromDatetime(evening + timedelta(hours=3))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.UpdateBooking(request)
    assert rich_error(raised.value).reason == "UNIT_UNAVAILABLE"
    assert await stub.GetBooking(pb.GetBookingRequest(booking_id=mine.booking_id)) == before


async def test_a_reschedule_frees_the_old_slot_at_once(stub, new_booking: Make) -> None:
    original = new_booking()
    mine = await stub.CreateBooking(original)
    request = pb.UpdateBookingRequest(booking_id=mine.booking_id, expected_version=1)
    later = NOW + timedelta(days=3, hours=9)
    request.start_time.FromDatetime(later)
    request.end_time.FromDatetime(later + timedelta(hours=2))
    moved = await stub.UpdateBooking(request)
    assert (moved.booking_id, moved.booking_reference, moved.version) == (
        mine.booking_id,
        mine.booking_reference,
        2,
    )
    original.guest.guest_id = "next-in-line"
    taken = await stub.CreateBooking(original)
    assert taken.unit_id == mine.unit_id
