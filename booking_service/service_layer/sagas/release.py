"""Letting go of what a finished booking holds: its inventory hold, and its payment.

When a booking reaches a final status (cancelled, expired, no-show, completed), the same transaction
writes a release saga; it then runs at once, and the recovery worker finishes it if a peer is down.
It only moves forward (the booking's end is decided); each step is idempotent:

| step           | action                                                   | on failure            |
|----------------|----------------------------------------------------------|-----------------------|
| release_hold   | inventory release of the booking's reservation           | retried until it goes |
| settle_payment | uncaptured intent: cancel it; captured: refund as planned | retried until it goes |

What is refunded of a captured payment is planned with the transition: a cancellation refunds per
the frozen cancellation policy (a fee may be kept), an expired booking everything, a no-show or a
completed stay nothing.
"""

from __future__ import annotations

from booking_service.domain.errors import BookingError
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Money
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import step_key
from booking_service.service_layer.sagas import steps
from booking_service.service_layer.sagas.log import DONE, Saga
from booking_service.service_layer.unit_of_work import UnitOfWork

KIND = "release"
REFUND_ALL = -1


async def write(ctx: Context, uow: UnitOfWork, booking: Booking) -> Saga | None:
    """Writes the release saga of a booking that just reached a final status into the unit of
    work (so it commits with the transition); run it with run_now after the commit."""
    saga = plan(ctx, booking)
    if saga is not None:
        await uow.sagas.add(saga)
    return saga


def plan(ctx: Context, booking: Booking) -> Saga | None:
    """The release saga for a booking that just reached a final status, or None if it holds nothing."""
    if not booking.inventory_reservation_id and not booking.payment_intent_id:
        return None
    if booking.status is BookingStatus.CANCELLED:
        refund = booking.refunded.amount_minor if booking.refunded is not None else REFUND_ALL
    elif booking.status is BookingStatus.EXPIRED:
        refund = REFUND_ALL
    else:
        refund = 0
    data = {
        "reservation_id": booking.inventory_reservation_id,
        "intent_id": booking.payment_intent_id,
        "refund_minor": refund,
        "reason": f"booking {booking.status.value.lower()}",
    }
    saga = steps.new_saga(ctx, KIND, booking.booking_id, data)
    saga.step = "planned"
    return saga


async def run(ctx: Context, saga: Saga) -> None:
    """Carries the release out from where it stands (raises a peer's error if one is down)."""
    data = saga.data
    if saga.step == "planned":
        if data["reservation_id"]:
            await ctx.peers.inventory.release(step_key(saga.booking_id, "release"), data["reservation_id"])
        await steps.record(ctx, saga, "hold_released")
    if saga.step == "hold_released":
        if data["intent_id"]:
            await _settle_payment(ctx, saga)
        await steps.finish(ctx, saga, DONE)


async def run_now(ctx: Context, saga: Saga) -> None:
    """Runs a release right after the transition that planned it; if a peer is down, the recovery
    worker finishes it later (the caller's change stands either way)."""
    try:
        await run(ctx, saga)
    except BookingError as error:
        await steps.hand_to_recovery(ctx, saga, error.message)


async def _settle_payment(ctx: Context, saga: Saga) -> None:
    payments = ctx.peers.payments
    intent = await payments.get(saga.data["intent_id"])
    if intent.status == "requires_confirmation":
        intent = await payments.cancel(step_key(saga.booking_id, "void"), intent.intent_id)
    if not intent.captured:
        return
    planned = saga.data["refund_minor"]
    outstanding = intent.amount.amount_minor - intent.refunded.amount_minor
    amount = outstanding if planned == REFUND_ALL else min(planned, outstanding)
    if amount > 0:
        refund_id = await payments.refund(
            step_key(saga.booking_id, "refund"),
            intent.intent_id,
            Money(amount, intent.amount.currency),
            saga.data["reason"],
        )
        saga.data["refund_id"] = refund_id
