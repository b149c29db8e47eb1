"""A request whose saga the recovery worker takes over while the request still runs (its lease ran out
while a peer was slow: a long client deadline, a stalled process). The request stops touching the
saga and answers UNAVAILABLE, never INTERNAL (CI's invariant run, seed 3887362706, saw a create
answered INTERNAL so); a change that committed before its release saga was taken over answers as
committed. The recovery worker then finishes or compensates, and the booking, the holds and the
money agree."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from tests.e2e.peers_support import World, assert_converged, hotel_booking, world
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus
#: Slower than the saga takes to be taken over here, quicker than the 400 ms peer timeout.
SLOW_MS = 300


@pytest.fixture
async def w(private_database: str, settings: Any, sandbox: Any) -> AsyncIterator[World]:
    async with world(private_database, settings, sandbox) as running:
        yield running


async def running_saga(w: World, kind: str, where: str, value: str) -> None:
    """Waits (bounded) until a running saga of that kind exists for the booking or key."""
    for _ in range(300):
        async with w.app.engine.connect() as connection:
            found = await connection.scalar(
                text(
                    f"SELECT count(*) FROM booking_sagas WHERE kind = :k AND status = 'running' AND {where}"
                ),
                {"k": kind, "v": value},
            )
        if found:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no running {kind} saga")


async def take_over(w: World) -> None:
    """What the recovery worker of another process does first: lets every lease run out and takes
    the sagas over (their fencing token bumped), without running them yet."""
    w.clock.advance(timedelta(minutes=5))
    ctx = w.app.use_cases.ctx
    uow = ctx.uow()
    async with uow:
        taken = await uow.sagas.take_over_due(ctx.clock(), ctx.clock() + ctx.saga_lease, 100)
        await uow.commit()
    assert taken, "a saga to take over"


async def unavailable(call: Awaitable[Any], *, taken_over: bool = True) -> None:
    """The call fails UNAVAILABLE: for the take-over, naming the booking, or (`taken_over=False`)
    for the peer failure that came first."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "PEER_UNAVAILABLE"), error
    assert ("booking_id" in error.metadata) is taken_over, error


@pytest.mark.parametrize("then", ["steps succeed", "a step fails"])
async def test_a_create_taken_over_answers_unavailable_and_leaves_no_hold(
    w: World, new_booking: Make, then: str
) -> None:
    request = hotel_booking(
        new_booking, unit_id=f"room-{uuid.uuid4().hex[:8]}", idempotency_key=uuid.uuid4().hex
    )
    await w.faults(peer="pricing", latency_ms=SLOW_MS)
    if then == "a step fails":  # and its compensation finds the saga taken over
        await w.fail_next("/api/v1/inventory/reserve", "error", count=2)
    call = asyncio.ensure_future(w.stub.CreateBooking(request))
    await running_saga(w, "create", "data->'idempotency'->>1 = :v", request.idempotency_key)
    await take_over(w)
    await unavailable(call, taken_over=then == "steps succeed")
    await w.faults(peer="pricing", latency_ms=0)
    await w.recover()
    await assert_converged(w, request.venue.venue_id)
    listing = await w.stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=request.venue.venue_id))
    assert list(listing.bookings) == []
    await asyncio.sleep(0.6)  # the circuit the failures may have opened lets a trial through
    again = await w.stub.CreateBooking(request)  # the key was let go: the retry runs afresh
    assert again.status == S.BOOKING_STATUS_PENDING


async def test_a_confirm_taken_over_answers_unavailable_and_recovery_confirms_the_payment(
    w: World, new_booking: Make
) -> None:
    booking = await w.stub.CreateBooking(hotel_booking(new_booking, unit_id=f"room-{uuid.uuid4().hex[:8]}"))
    await w.faults(peer="payments", latency_ms=SLOW_MS)
    call = asyncio.ensure_future(
        w.stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=booking.booking_id, expected_version=1, status=S.BOOKING_STATUS_CONFIRMED
            )
        )
    )
    await w.holding(booking.booking_id, "confirm")
    await take_over(w)
    await unavailable(call)
    await w.faults(peer="payments", latency_ms=0)
    await w.recover()
    stored = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert stored.status == S.BOOKING_STATUS_CONFIRMED
    assert stored.payment.captured.amount_minor == booking.price.amount_minor
    await assert_converged(w, booking.venue.venue_id)


async def test_a_reschedule_taken_over_answers_unavailable_and_keeps_the_stored_stay(
    w: World, new_booking: Make
) -> None:
    booking = await w.stub.CreateBooking(new_booking(unit_id=f"table-{uuid.uuid4().hex[:8]}"))
    await w.faults(peer="inventory", latency_ms=SLOW_MS)
    later = pb.Booking()  # the same table a day later: the same price
    later.start_time.FromDatetime(booking.start_time.ToDatetime() + timedelta(days=1))
    later.end_time.FromDatetime(booking.end_time.ToDatetime() + timedelta(days=1))
    call = asyncio.ensure_future(
        w.stub.UpdateBooking(
            pb.UpdateBookingRequest(
                booking_id=booking.booking_id,
                expected_version=1,
                start_time=later.start_time,
                end_time=later.end_time,
                update_mask={"paths": ["start_time", "end_time"]},
            )
        )
    )
    await w.holding(booking.booking_id, "update")
    await take_over(w)
    await unavailable(call)
    await w.faults(peer="inventory", latency_ms=0)
    await w.recover()
    stored = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert (stored.start_time, stored.end_time) == (booking.start_time, booking.end_time)
    await assert_converged(w, booking.venue.venue_id)


async def test_a_cancel_whose_release_is_taken_over_answers_as_committed(
    w: World, new_booking: Make, caplog: pytest.LogCaptureFixture
) -> None:
    booking = await w.stub.CreateBooking(hotel_booking(new_booking, unit_id=f"room-{uuid.uuid4().hex[:8]}"))
    await w.faults(peer="inventory", latency_ms=SLOW_MS)
    call = asyncio.ensure_future(
        w.stub.CancelBooking(pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=1))
    )
    await running_saga(w, "release", "booking_id = CAST(:v AS uuid)", booking.booking_id)
    await take_over(w)
    cancelled = await call
    assert cancelled.status == S.BOOKING_STATUS_CANCELLED
    assert [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    ] == []  # expected, not a fault
    await w.faults(peer="inventory", latency_ms=0)
    await w.recover()
    await assert_converged(w, booking.venue.venue_id)
