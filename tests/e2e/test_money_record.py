"""The booking's money record is the truth (issue 13): one money- or hold-changing operation per
booking at a time, refunds counted once the payment service confirmed them, permanent peer refusals
given to an operator instead of retried forever, and no reschedule that buys back a refund."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from tests.conftest import NOW
from tests.e2e.peers_support import World, assert_converged, hotel_booking, world
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:
    async with world(database_url, settings, sandbox) as running:
        yield running


async def fails(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value


def confirming(booking: pb.Booking) -> pb.UpdateBookingStatusRequest:
    return pb.UpdateBookingStatusRequest(
        booking_id=booking.booking_id, expected_version=booking.version, status=S.BOOKING_STATUS_CONFIRMED
    )


async def get(w: World, booking_id: str) -> pb.Booking:
    return await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))


async def saga_rows(w: World, booking_id: str) -> list[tuple[str, str, str]]:
    async with w.app.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT kind, status, error FROM booking_sagas WHERE booking_id = :id AND kind <> 'create'"
                " ORDER BY created_at, kind"  # one fake-clock instant: confirm before release
            ),
            {"id": booking_id},
        )
        return [(r.kind, r.status, r.error) for r in rows]


async def event_types(w: World, booking_id: str) -> list[tuple[int, str]]:
    async with w.app.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT booking_version, event_type FROM booking_outbox WHERE booking_id = :id ORDER BY id"),
            {"id": booking_id},
        )
        return [(r.booking_version, r.event_type) for r in rows]


# --- one money or hold change per booking at a time ---------------------------------------------------


async def test_a_cancel_racing_a_slow_confirmation_is_refused_and_moves_no_money(
    w: World, new_booking: Make
) -> None:
    """Found: the cancel won, the confirm was told VERSION_MISMATCH, and the card was captured then
    refunded without the booking saying so."""
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    await w.faults(peer="payments", latency_ms=250)  # under the 400 ms peer timeout
    confirmation = asyncio.ensure_future(w.stub.UpdateBookingStatus(confirming(booking)))
    await w.holding(booking.booking_id, "confirm")
    cancel = pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=1, reason="changed mind")
    error = rich_error(await fails(w.stub.CancelBooking(cancel)))
    assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "CONTENTION")
    confirmed = await confirmation
    assert confirmed.status == S.BOOKING_STATUS_CONFIRMED
    assert confirmed.payment.status == pb.PAYMENT_STATUS_CAPTURED
    assert confirmed.payment.captured.amount_minor == 24000
    intent = w.sandbox.state.payments.intents[booking.payment_intent_id]
    assert (intent.status, intent.refunded_minor) == ("succeeded", 0)
    # The cancel had nothing done for it: no history row of its own, the hold still held.
    stored = await get(w, booking.booking_id)
    assert [h.to_status for h in stored.history] == [S.BOOKING_STATUS_PENDING, S.BOOKING_STATUS_CONFIRMED]
    assert stored.history[-1].changed_fields == ["status", "payment"]
    assert w.sandbox.state.inventory.holds[booking.inventory_reservation_id].status == "held"
    assert await event_types(w, booking.booking_id) == [
        (1, "booking.created"),
        (2, "booking.payment_captured"),
        (2, "booking.status_changed"),
        (2, "booking.confirmed"),
    ]
    await assert_converged(w, booking.venue.venue_id)


async def test_a_confirmation_after_a_cancel_takes_no_money(w: World, new_booking: Make) -> None:
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    await w.faults(peer="payments", latency_ms=250)  # the cancel's release saga voids slowly
    cancelling = asyncio.ensure_future(
        w.stub.CancelBooking(pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=1))
    )
    await w.holding(booking.booking_id, "release")
    error = rich_error(await fails(w.stub.UpdateBookingStatus(confirming(booking))))
    assert error.code == grpc.StatusCode.ABORTED
    assert error.reason in ("VERSION_MISMATCH", "CONTENTION")
    await cancelling
    assert w.sandbox.state.payments.intents[booking.payment_intent_id].status == "canceled"
    stored = await get(w, booking.booking_id)
    assert stored.payment.status == pb.PAYMENT_STATUS_VOIDED
    assert not stored.HasField("refunded")  # nothing was captured
    await assert_converged(w, booking.venue.venue_id)


async def test_a_change_while_a_reschedule_moves_the_hold_is_refused(w: World, new_booking: Make) -> None:
    booking = await w.stub.CreateBooking(new_booking())
    await w.faults(peer="inventory", latency_ms=250)
    moved = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=1, party_size=3)
    rescheduling = asyncio.ensure_future(w.stub.UpdateBooking(moved))
    await w.holding(booking.booking_id, "update")
    for racing in (
        w.stub.UpdateBookingStatus(confirming(booking)),
        w.stub.UpdateBooking(
            pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=1, special_requests="cot")
        ),
    ):
        error = rich_error(await fails(racing))
        assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "CONTENTION")
    assert (await rescheduling).party_size == 3
    await assert_converged(w, booking.venue.venue_id)


# --- refunds count once the payment service confirmed them -------------------------------------------


async def test_a_refund_is_not_claimed_before_the_payment_service_made_it(
    w: World, new_booking: Make
) -> None:
    booking = await w.stub.UpdateBookingStatus(
        confirming(await w.stub.CreateBooking(hotel_booking(new_booking)))
    )
    await w.faults(peer="payments", down=True)
    cancelled = await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=booking.version)
    )
    assert cancelled.status == S.BOOKING_STATUS_CANCELLED
    assert cancelled.refunded.amount_minor == 0
    assert cancelled.payment.refund_pending.amount_minor == 24000
    assert str_money(cancelled.payment.refund_pending) == "240.00 EUR"
    assert [r.status for r in cancelled.payment.refunds] == [pb.REFUND_STATUS_REQUESTED]
    assert w.sandbox.state.payments.intents[booking.payment_intent_id].refunded_minor == 0
    assert (await get(w, booking.booking_id)).payment.refunds[0].status == pb.REFUND_STATUS_REQUESTED

    await w.faults(peer="payments", down=False)
    await asyncio.sleep(0.6)  # the payments circuit, opened by the outage, lets a trial through
    await w.recover()
    refunded = await get(w, booking.booking_id)
    assert refunded.refunded.amount_minor == 24000
    assert refunded.payment.refunds[0].status == pb.REFUND_STATUS_SUCCEEDED
    assert (refunded.version, "booking.refund_succeeded") in await event_types(w, booking.booking_id)
    assert await saga_rows(w, booking.booking_id) == [("confirm", "done", ""), ("release", "done", "")]
    await assert_converged(w, booking.venue.venue_id)


def str_money(money: pb.Money) -> str:
    from booking_service.domain.values import Money

    return str(Money(money.amount_minor, money.currency))


# --- a peer that refuses for good: an operator, not an endless retry -----------------------------------


async def test_a_hold_the_inventory_lost_needs_attention_and_the_refund_still_runs(
    w: World, new_booking: Make
) -> None:
    """Found: after a restart of the in-process sandbox, the release got 404 "no reservation" and
    was retried every lease period for ever, and the refund behind it never ran."""
    booking = await w.stub.UpdateBookingStatus(
        confirming(await w.stub.CreateBooking(hotel_booking(new_booking)))
    )
    del w.sandbox.state.inventory.holds[booking.inventory_reservation_id]  # the peer forgot it
    cancelled = await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=booking.version)
    )
    assert cancelled.status == S.BOOKING_STATUS_CANCELLED
    assert w.sandbox.state.payments.intents[booking.payment_intent_id].refunded_minor == 24000
    [(kind, status, error)] = [row for row in await saga_rows(w, booking.booking_id) if row[0] == "release"]
    assert (kind, status) == ("release", "needs_attention")
    assert booking.inventory_reservation_id in error
    stored = await get(w, booking.booking_id)
    assert stored.refunded.amount_minor == 24000
    assert stored.attention[0].saga_kind == "release"
    assert booking.inventory_reservation_id in stored.attention[0].reason
    types = [t for _, t in await event_types(w, booking.booking_id)]
    assert types[-2:] == ["booking.refund_succeeded", "booking.attention_needed"]
    assert await w.recover() == 0  # not retried: nothing left running


async def test_a_peer_that_keeps_failing_is_given_up_on_after_the_budget(w: World, new_booking: Make) -> None:
    booking = await w.stub.CreateBooking(new_booking())
    await w.faults(peer="inventory", down=True)
    await w.stub.CancelBooking(pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=1))
    budget = w.app.use_cases.ctx.saga_max_attempts
    for _ in range(budget):
        assert await w.recover() == 1
    [(_, status, error)] = await saga_rows(w, booking.booking_id)
    assert status == "needs_attention"
    assert "inventory" in error
    assert await w.recover() == 0
    assert (await get(w, booking.booking_id)).attention[0].saga_kind == "release"


# --- what a reschedule may change ---------------------------------------------------------------------


async def test_a_reschedule_after_the_free_cancellation_does_not_buy_back_the_fee(
    w: World, new_booking: Make
) -> None:
    """Found: moving a prepaid stay past its deadline re-froze the policy with a new free_until, and
    an immediate cancel refunded everything."""
    booking = await w.stub.UpdateBookingStatus(
        confirming(await w.stub.CreateBooking(hotel_booking(new_booking)))
    )
    w.clock.advance(timedelta(days=10))  # past 18:00 (Berlin) the day before arrival: 50% fee
    later = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=booking.version)
    later.start_time.FromDatetime(NOW + timedelta(days=30, hours=5))  # two nights, same price
    later.end_time.FromDatetime(NOW + timedelta(days=32, hours=1))
    moved = await w.stub.UpdateBooking(later)
    assert moved.pricing.cancellation.free_until == booking.pricing.cancellation.free_until
    cancelled = await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=moved.version)
    )
    assert cancelled.payment.refund_pending.amount_minor == 12000  # the fee is kept
    await assert_converged(w, booking.venue.venue_id)


async def test_price_changed_speaks_in_major_units_and_does_not_claim_a_payment(
    w: World, new_booking: Make
) -> None:
    """Found: "The new stay costs 12000 EUR, not the 36000 paid for" on a PENDING booking."""
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))  # two nights, 240.00 EUR
    longer = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=1)
    longer.end_time.FromDatetime(NOW + timedelta(days=13, hours=1))  # three nights
    error = rich_error(await fails(w.stub.UpdateBooking(longer)))
    assert error.reason == "PRICE_CHANGED"
    assert "360.00 EUR" in error.message
    assert "240.00 EUR" in error.message
    assert "paid for" not in error.message
    assert await saga_rows(w, booking.booking_id) == [("update", "compensated", error.message)]
