"""Every allowed and every forbidden transition, through the RPC, driven from the one table."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb

from booking_service.domain.status import TRANSITIONS, BookingStatus
from tests.conftest import FakeClock
from tests.helpers import rich_error

S = BookingStatus
LATER = timedelta(days=30)  # past every deadline (pending expiry, no-show grace)
TIME_DRIVEN = {S.EXPIRED, S.NO_SHOW}


def path_to(status: BookingStatus) -> list[BookingStatus]:
    """The statuses a new booking passes through to reach `status` (breadth-first in the table)."""
    paths = deque([[S.PENDING]])
    while paths:
        path = paths.popleft()
        if path[-1] is status:
            return path[1:]
        paths.extend([*path, nxt] for nxt in TRANSITIONS[path[-1]])
    raise AssertionError(f"{status} is unreachable")


def proto(status: BookingStatus) -> int:
    return pb.BookingStatus.Value(f"BOOKING_STATUS_{status.value}")


async def move(stub, booking: pb.Booking, status: BookingStatus, clock: FakeClock) -> pb.Booking:
    if status in TIME_DRIVEN:
        clock.advance(LATER)
    return await stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=booking.version, status=proto(status)
        )
    )


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)), ids=lambda s: s.value)
async def test_transition(
    stub, new_booking: Callable[..., pb.CreateBookingRequest], clock: FakeClock, current: S, target: S
) -> None:
    booking = await stub.CreateBooking(new_booking())
    for status in path_to(current):
        booking = await move(stub, booking, status, clock)
    assert booking.status == proto(current)
    if target in TRANSITIONS[current]:
        moved = await move(stub, booking, target, clock)
        assert (moved.status, moved.version) == (proto(target), booking.version + 1)
        return
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=booking.booking_id, expected_version=booking.version, status=proto(target)
            )
        )
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_TRANSITION")
    assert error.metadata["current_status"] == current.value
    unchanged = await stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert (unchanged.status, unchanged.version) == (booking.status, booking.version)
