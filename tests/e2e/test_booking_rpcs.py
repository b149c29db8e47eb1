"""Every RPC over a real gRPC channel on loopback, on a real PostgreSQL: happy paths and each error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from google.protobuf import field_mask_pb2

from tests.conftest import NOW
from tests.helpers import rich_error

ACTOR = (("x-actor", "front-desk-7"),)
Stub = object
Make = Callable[..., pb.CreateBookingRequest]


async def fails(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value


async def test_create_returns_a_pending_booking(stub, new_booking: Make) -> None:
    request = new_booking(idempotency_key="create-1")
    booking = await stub.CreateBooking(request, metadata=ACTOR)
    assert booking.status == pb.BOOKING_STATUS_PENDING
    assert booking.version == 1
    assert booking.booking_reference.startswith("BK-")
    assert (booking.guest, booking.venue, booking.unit_id) == (request.guest, request.venue, request.unit_id)
    assert (booking.start_time, booking.end_time) == (request.start_time, request.end_time)
    assert (booking.party_size, booking.special_requests) == (4, "window seat")
    assert booking.idempotency_key == "create-1"
    assert booking.create_time.ToDatetime(tzinfo=NOW.tzinfo) == NOW
    assert booking.expire_time.ToDatetime(tzinfo=NOW.tzinfo) == NOW + timedelta(minutes=15)
    assert [(h.version, h.to_status, h.actor) for h in booking.history] == [
        (1, pb.BOOKING_STATUS_PENDING, "front-desk-7")
    ], "every answer carries the history"


async def test_get_returns_the_booking_with_its_history(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking(), metadata=ACTOR)
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    [entry] = fetched.history
    assert (entry.from_status, entry.to_status, entry.version) == (
        pb.BOOKING_STATUS_UNSPECIFIED,
        pb.BOOKING_STATUS_PENDING,
        1,
    )
    assert (entry.actor, entry.source) == ("front-desk-7", pb.CHANGE_SOURCE_API)
    assert fetched == created


async def test_get_by_reference_forgives_case_and_dashes(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    typed = created.booking_reference.lower().replace("-", "")
    fetched = await stub.GetBookingByReference(pb.GetBookingByReferenceRequest(booking_reference=typed))
    assert fetched.booking_id == created.booking_id


async def test_a_missing_booking_is_not_found(stub) -> None:
    missing = "00000000-0000-4000-8000-00000000dead"
    for call in (
        stub.GetBooking(pb.GetBookingRequest(booking_id=missing)),
        stub.GetBookingByReference(pb.GetBookingByReferenceRequest(booking_reference="BK-00000000")),
        stub.UpdateBooking(pb.UpdateBookingRequest(booking_id=missing, expected_version=1, party_size=2)),
        stub.CancelBooking(pb.CancelBookingRequest(booking_id=missing, expected_version=1)),
        stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=missing, expected_version=1, status=pb.BOOKING_STATUS_CONFIRMED
            )
        ),
    ):
        error = rich_error(await fails(call))
        assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "BOOKING_NOT_FOUND")


async def test_malformed_ids_are_invalid_arguments(stub) -> None:
    error = rich_error(await fails(stub.GetBooking(pb.GetBookingRequest(booking_id="42; DROP TABLE"))))
    assert (error.code, list(error.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["booking_id"])
    error = rich_error(
        await fails(stub.GetBookingByReference(pb.GetBookingByReferenceRequest(booking_reference="nope")))
    )
    assert list(error.violations) == ["booking_reference"]


async def test_invalid_input_lists_every_violated_field(stub, new_booking: Make) -> None:
    request = new_booking(party_size=0, start_time=NOW - timedelta(days=1), end_time=NOW - timedelta(days=2))
    request.guest.email = "not-an-email"
    request.venue.venue_type = 99  # not a VenueType
    request.venue.time_zone = "Nowhere/Special"
    error = rich_error(await fails(stub.CreateBooking(request)))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_REQUEST"
    assert set(error.violations) == {
        "party_size",
        "start_time",
        "end_time",
        "guest.email",
        "venue.venue_type",
        "venue.time_zone",
    }


async def test_a_taken_unit_is_refused(stub, new_booking: Make) -> None:
    first = await stub.CreateBooking(new_booking())
    overlapping = new_booking(
        start_time=NOW + timedelta(days=2, hours=10), end_time=NOW + timedelta(days=2, hours=12)
    )
    overlapping.guest.guest_id = "someone-else"
    error = rich_error(await fails(stub.CreateBooking(overlapping)))
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE")
    assert error.metadata["unit_id"] == first.unit_id
    # Back to back is not an overlap ([start, end) windows), and another unit is free.
    await stub.CreateBooking(
        new_booking(start_time=NOW + timedelta(days=2, hours=11), end_time=NOW + timedelta(days=2, hours=12))
    )
    await stub.CreateBooking(new_booking(unit_id="another-table"))


async def test_update_changes_the_given_fields_and_records_them(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    updated = await stub.UpdateBooking(
        pb.UpdateBookingRequest(
            booking_id=created.booking_id, expected_version=1, party_size=6, special_requests="birthday cake"
        ),
        metadata=ACTOR,
    )
    assert (updated.version, updated.party_size, updated.special_requests) == (2, 6, "birthday cake")
    assert (updated.booking_id, updated.booking_reference) == (created.booking_id, created.booking_reference)
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert list(fetched.history[-1].changed_fields) == ["party_size", "special_requests"]
    assert fetched.history[-1].actor == "front-desk-7"


async def test_update_mask_can_clear_fields(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    updated = await stub.UpdateBooking(
        pb.UpdateBookingRequest(
            booking_id=created.booking_id,
            expected_version=1,
            update_mask=field_mask_pb2.FieldMask(paths=["special_requests", "unit_id", "guest.phone"]),
        )
    )
    assert (updated.special_requests, updated.unit_id, updated.guest.phone) == ("", "", "")
    assert updated.guest.email == created.guest.email


async def test_update_mask_names_only_updatable_fields(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    error = rich_error(
        await fails(
            stub.UpdateBooking(
                pb.UpdateBookingRequest(
                    booking_id=created.booking_id,
                    expected_version=1,
                    update_mask=field_mask_pb2.FieldMask(paths=["status", "venue.venue_id"]),
                )
            )
        )
    )
    assert (error.code, list(error.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["update_mask"])


async def test_a_stale_version_is_aborted_and_says_the_current_one(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    await stub.UpdateBooking(
        pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, party_size=3)
    )
    for call in (
        stub.UpdateBooking(
            pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, party_size=5)
        ),
        stub.CancelBooking(pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=1)),
        stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=created.booking_id, expected_version=1, status=pb.BOOKING_STATUS_CONFIRMED
            )
        ),
    ):
        error = rich_error(await fails(call))
        assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "VERSION_MISMATCH")
        assert error.metadata["current_version"] == "2"
        assert "version 2" in error.message
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert (fetched.version, fetched.party_size, fetched.status) == (2, 3, pb.BOOKING_STATUS_PENDING)


async def test_a_missing_version_is_an_invalid_argument(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    error = rich_error(
        await fails(stub.CancelBooking(pb.CancelBookingRequest(booking_id=created.booking_id)))
    )
    assert list(error.violations) == ["expected_version"]


async def test_cancel_releases_the_unit_and_keeps_the_reason(stub, new_booking: Make) -> None:
    request = new_booking()
    created = await stub.CreateBooking(request)
    cancelled = await stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=1, reason="plans changed")
    )
    assert (cancelled.status, cancelled.cancellation_reason, cancelled.version) == (
        pb.BOOKING_STATUS_CANCELLED,
        "plans changed",
        2,
    )
    assert cancelled.cancel_time.ToDatetime(tzinfo=NOW.tzinfo) == NOW
    assert not cancelled.HasField("expire_time")
    request.guest.guest_id = "next-guest"
    await stub.CreateBooking(request)  # the unit is free again at once
    error = rich_error(
        await fails(
            stub.CancelBooking(pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=2))
        )
    )
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_TRANSITION")
    assert error.metadata["current_status"] == "CANCELLED"


async def test_a_closed_booking_cannot_be_updated(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    await stub.CancelBooking(pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=1))
    error = rich_error(
        await fails(
            stub.UpdateBooking(
                pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=2, party_size=2)
            )
        )
    )
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "BOOKING_CLOSED")


async def test_status_changes_walk_the_lifecycle(stub, new_booking: Make) -> None:
    booking = await stub.CreateBooking(new_booking())
    for version, status in enumerate(
        (pb.BOOKING_STATUS_CONFIRMED, pb.BOOKING_STATUS_CHECKED_IN, pb.BOOKING_STATUS_COMPLETED), start=1
    ):
        booking = await stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=booking.booking_id, expected_version=version, status=status
            ),
            metadata=ACTOR,
        )
        assert (booking.status, booking.version) == (status, version + 1)
    assert booking.HasField("confirm_time")
    assert booking.HasField("check_in_time")
    assert booking.HasField("complete_time")
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert [(h.from_status, h.to_status) for h in fetched.history] == [
        (pb.BOOKING_STATUS_UNSPECIFIED, pb.BOOKING_STATUS_PENDING),
        (pb.BOOKING_STATUS_PENDING, pb.BOOKING_STATUS_CONFIRMED),
        (pb.BOOKING_STATUS_CONFIRMED, pb.BOOKING_STATUS_CHECKED_IN),
        (pb.BOOKING_STATUS_CHECKED_IN, pb.BOOKING_STATUS_COMPLETED),
    ]


@pytest.mark.parametrize("status", [pb.BOOKING_STATUS_UNSPECIFIED, 42])
async def test_an_unknown_status_is_an_invalid_argument(stub, new_booking: Make, status: int) -> None:
    created = await stub.CreateBooking(new_booking())
    error = rich_error(
        await fails(
            stub.UpdateBookingStatus(
                pb.UpdateBookingStatusRequest(
                    booking_id=created.booking_id, expected_version=1, status=status
                )
            )
        )
    )
    assert (error.code, list(error.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["status"])


async def test_a_no_show_before_the_grace_period_is_too_early(stub, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    await stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=created.booking_id, expected_version=1, status=pb.BOOKING_STATUS_CONFIRMED
        )
    )
    error = rich_error(
        await fails(
            stub.UpdateBookingStatus(
                pb.UpdateBookingStatusRequest(
                    booking_id=created.booking_id, expected_version=2, status=pb.BOOKING_STATUS_NO_SHOW
                )
            )
        )
    )
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TRANSITION_TOO_EARLY")
    assert error.metadata["not_before"]
